//! `MsgSecretStore`: per-message secrets for add-on decryption (poll votes,
//! reactions, edits).
//!
//! Owns the `wa_msg_secret` rows (`lp(chat) ‖ lp(sender) ‖ msg id` →
//! `secret ‖ expires_at ‖ message_ts`). A batch upsert merges with existing
//! rows inside one write transaction, with wacore's merge rules: a deadline
//! never shrinks (`0` = never wins) and a known parent time is never
//! clobbered by `0`.

use super::codec::SecretRow;
use super::keys::chat_sender_id_key;
use super::{RedbBackend, WaResult, get, remove_where};
use crate::store::keys::TableName;
use crate::store::tables::WA_MSG_SECRET;
use whatsapp_rust::async_trait;
use whatsapp_rust::wacore::store::traits::{
    MsgSecretEntry, MsgSecretStore, merge_msg_secret_expiry, merge_msg_secret_message_ts,
};

#[async_trait]
impl MsgSecretStore for RedbBackend {
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> WaResult<usize> {
        if entries.is_empty() {
            return Ok(0);
        }
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_MSG_SECRET)?;
            for e in &entries {
                let key = chat_sender_id_key(p, &e.chat, &e.sender, &e.msg_id)?;
                let incoming = SecretRow {
                    secret: e.secret,
                    expires_at: e.expires_at,
                    message_ts: e.message_ts,
                };
                // A garbled old row is replaced rather than merged.
                let old = get(&table, &key)?
                    .and_then(|row| SecretRow::decode(WA_MSG_SECRET.name(), &row).ok());
                let row = match old {
                    Some(old) => SecretRow {
                        secret: e.secret,
                        expires_at: merge_msg_secret_expiry(old.expires_at, e.expires_at),
                        message_ts: merge_msg_secret_message_ts(old.message_ts, e.message_ts),
                    },
                    None => incoming,
                };
                table.insert(key.as_slice(), row.encode().as_slice())?;
            }
            Ok(entries.len())
        })
        .await
    }

    async fn get_msg_secret(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> WaResult<Option<Vec<u8>>> {
        Ok(self
            .get_msg_secret_with_ts(chat, sender, msg_id)
            .await?
            .map(|(secret, _)| secret))
    }

    async fn get_msg_secret_with_ts(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> WaResult<Option<(Vec<u8>, i64)>> {
        let (chat, sender, id) = (chat.to_string(), sender.to_string(), msg_id.to_string());
        self.read(move |tx, p| {
            let key = chat_sender_id_key(p, &chat, &sender, &id)?;
            match get(&tx.open_table(WA_MSG_SECRET)?, &key)? {
                Some(row) => {
                    let row = SecretRow::decode(WA_MSG_SECRET.name(), &row)?;
                    Ok(Some((row.secret.to_vec(), row.message_ts)))
                }
                None => Ok(None),
            }
        })
        .await
    }

    /// Removes rows whose non-zero deadline is at or before the cutoff, and
    /// garbled rows.
    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> WaResult<u32> {
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_MSG_SECRET)?;
            let removed = remove_where(&mut table, p.as_bytes().to_vec(), |_, row| {
                SecretRow::decode("", row).map_or(true, |r| {
                    r.expires_at != 0 && r.expires_at <= cutoff_timestamp
                })
            })?;
            Ok(u32::try_from(removed).unwrap_or(u32::MAX))
        })
        .await
    }
}
