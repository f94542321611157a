//! Sent-message retry store and the pending-inbound durability buffer
//! (part of `ProtocolStore`).
//!
//! Owns the `wa_sent_message` (`lp(chat) ‖ id`) and `wa_pending_inbound`
//! (`lp(chat) ‖ lp(sender) ‖ id`) rows; both values are
//! `stored_at (unix s) ‖ bytes`, and the expiry sweeps compare `stored_at`.
//! `take_sent_message` reads and deletes in one write transaction, so a retry
//! receipt consumes a payload at most once.

use super::codec::{split_timestamped, timestamped};
use super::keys::{SessionPrefix, chat_sender_id_key};
use super::{BackendError, RedbBackend, WaResult, get, remove_where};
use crate::store::keys::{KeyTable, TableName};
use crate::store::tables::{WA_PENDING_INBOUND, WA_SENT_MESSAGE};
use whatsapp_rust::wacore::store::traits::{PendingInboundKey, PendingInboundRow};
use whatsapp_rust::wacore::time::now_secs;

fn sent_key(p: &SessionPrefix, chat: &str, id: &str) -> Result<Vec<u8>, BackendError> {
    Ok(p.key().part(chat.as_bytes())?.last(id.as_bytes()))
}

/// An owned pending-inbound key.
type InboundKey = (String, String, String);

impl RedbBackend {
    pub(super) async fn sent_store(&self, chat: &str, id: &str, payload: &[u8]) -> WaResult<()> {
        let (chat, id, payload) = (chat.to_string(), id.to_string(), payload.to_vec());
        let now = now_secs();
        self.write(move |tx, p| {
            let key = sent_key(p, &chat, &id)?;
            tx.open_table(WA_SENT_MESSAGE)?
                .insert(key.as_slice(), timestamped(now, &payload).as_slice())?;
            Ok(())
        })
        .await
    }

    /// Atomic read-and-delete.
    pub(super) async fn sent_take(&self, chat: &str, id: &str) -> WaResult<Option<Vec<u8>>> {
        let (chat, id) = (chat.to_string(), id.to_string());
        self.write(move |tx, p| {
            let key = sent_key(p, &chat, &id)?;
            let mut table = tx.open_table(WA_SENT_MESSAGE)?;
            let Some(row) = table.remove(key.as_slice())? else {
                return Ok(None);
            };
            let (_, payload) = split_timestamped(WA_SENT_MESSAGE.name(), &row)?;
            Ok(Some(payload.to_vec()))
        })
        .await
    }

    /// Removes rows stored before `cutoff` (and garbled rows).
    pub(super) async fn sweep_before(&self, def: KeyTable, cutoff: i64) -> WaResult<u32> {
        self.write(move |tx, p| {
            let mut table = tx.open_table(def)?;
            let removed = remove_where(&mut table, p.as_bytes().to_vec(), |_, row| {
                split_timestamped("", row).map_or(true, |(ts, _)| ts < cutoff)
            })?;
            Ok(u32::try_from(removed).unwrap_or(u32::MAX))
        })
        .await
    }

    /// Buffers inbound messages (one transaction for all rows).
    pub(super) async fn inbound_store(&self, rows: Vec<(InboundKey, Vec<u8>)>) -> WaResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let now = now_secs();
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_PENDING_INBOUND)?;
            for ((chat, sender, id), message) in &rows {
                let key = chat_sender_id_key(p, chat, sender, id)?;
                table.insert(key.as_slice(), timestamped(now, message).as_slice())?;
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn inbound_get(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
    ) -> WaResult<Option<Vec<u8>>> {
        let (chat, sender, id) = (chat.to_string(), sender.to_string(), id.to_string());
        self.read(move |tx, p| {
            let key = chat_sender_id_key(p, &chat, &sender, &id)?;
            match get(&tx.open_table(WA_PENDING_INBOUND)?, &key)? {
                Some(row) => {
                    let (_, message) = split_timestamped(WA_PENDING_INBOUND.name(), &row)?;
                    Ok(Some(message.to_vec()))
                }
                None => Ok(None),
            }
        })
        .await
    }

    /// Removes buffered inbound messages (one transaction for all keys).
    pub(super) async fn inbound_delete(&self, keys: Vec<InboundKey>) -> WaResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_PENDING_INBOUND)?;
            for (chat, sender, id) in &keys {
                table.remove(chat_sender_id_key(p, chat, sender, id)?.as_slice())?;
            }
            Ok(())
        })
        .await
    }
}

/// Owned copies of a batch of pending-inbound rows.
pub(super) fn own_rows(rows: &[PendingInboundRow<'_>]) -> Vec<(InboundKey, Vec<u8>)> {
    rows.iter()
        .map(|r| {
            (
                (r.chat.to_string(), r.sender.to_string(), r.id.to_string()),
                r.message.to_vec(),
            )
        })
        .collect()
}

/// Owned copies of a batch of pending-inbound keys.
pub(super) fn own_keys(keys: &[PendingInboundKey<'_>]) -> Vec<InboundKey> {
    keys.iter()
        .map(|k| (k.chat.to_string(), k.sender.to_string(), k.id.to_string()))
        .collect()
}
