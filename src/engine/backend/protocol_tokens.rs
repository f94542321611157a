//! Trusted-contact (tc) tokens (part of `ProtocolStore`).
//!
//! Owns the `wa_tc_token` rows (jid → JSON `TcTokenEntry`). The touch and
//! store-received methods are read-modify-writes inside one write
//! transaction, so the two writers of a row (sender-side issuance and the
//! privacy notification path) can never drop each other's field.

use super::codec::{from_json, to_json, utf8};
use super::{RedbBackend, WaResult, get, remove_where, scan};
use crate::store::keys::TableName;
use crate::store::tables::WA_TC_TOKEN;
use whatsapp_rust::wacore::store::traits::TcTokenEntry;

/// Whether a row has no live state left (see `delete_expired_tc_tokens`).
fn expired(entry: &TcTokenEntry, token_cutoff: i64, sender_cutoff: i64) -> bool {
    let token_live = !entry.token.is_empty() && entry.token_timestamp >= token_cutoff;
    let sender_live = entry.sender_timestamp.is_some_and(|ts| ts >= sender_cutoff);
    !(token_live || sender_live)
}

impl RedbBackend {
    pub(super) async fn tc_get(&self, jid: &str) -> WaResult<Option<TcTokenEntry>> {
        let jid = jid.to_string();
        self.read(move |tx, p| {
            get(&tx.open_table(WA_TC_TOKEN)?, &p.key().last(jid.as_bytes()))?
                .map(|row| from_json(WA_TC_TOKEN.name(), &row))
                .transpose()
        })
        .await
    }

    pub(super) async fn tc_put(&self, jid: &str, entry: &TcTokenEntry) -> WaResult<()> {
        let jid = jid.to_string();
        let entry = entry.clone();
        self.write(move |tx, p| {
            let row = to_json(WA_TC_TOKEN.name(), &entry)?;
            tx.open_table(WA_TC_TOKEN)?
                .insert(p.key().last(jid.as_bytes()).as_slice(), row.as_slice())?;
            Ok(())
        })
        .await
    }

    pub(super) async fn tc_delete(&self, jid: &str) -> WaResult<()> {
        let jid = jid.to_string();
        self.write(move |tx, p| {
            tx.open_table(WA_TC_TOKEN)?
                .remove(p.key().last(jid.as_bytes()).as_slice())?;
            Ok(())
        })
        .await
    }

    /// Every jid with a token row; non-UTF-8 keys are skipped.
    pub(super) async fn tc_all_jids(&self) -> WaResult<Vec<String>> {
        self.read(move |tx, p| {
            let rows = scan(&tx.open_table(WA_TC_TOKEN)?, p.as_bytes().to_vec())?;
            Ok(rows
                .iter()
                .filter_map(|(key, _)| utf8(WA_TC_TOKEN.name(), p.strip(key)?).ok())
                .collect())
        })
        .await
    }

    /// Garbled rows count as expired: they can never be read back.
    pub(super) async fn tc_delete_expired(
        &self,
        token_cutoff: i64,
        sender_cutoff: i64,
    ) -> WaResult<u32> {
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_TC_TOKEN)?;
            let removed = remove_where(&mut table, p.as_bytes().to_vec(), |_, row| {
                from_json::<TcTokenEntry>(WA_TC_TOKEN.name(), row)
                    .map_or(true, |e| expired(&e, token_cutoff, sender_cutoff))
            })?;
            Ok(u32::try_from(removed).unwrap_or(u32::MAX))
        })
        .await
    }

    /// Applies `change` to the row of `jid` (or to `None`) atomically.
    async fn tc_update(
        &self,
        jid: &str,
        change: impl FnOnce(Option<TcTokenEntry>) -> Option<TcTokenEntry> + Send + 'static,
    ) -> WaResult<()> {
        let jid = jid.to_string();
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_TC_TOKEN)?;
            let key = p.key().last(jid.as_bytes());
            let old = get(&table, &key)?
                .map(|row| from_json::<TcTokenEntry>(WA_TC_TOKEN.name(), &row))
                .transpose()?;
            if let Some(new) = change(old) {
                table.insert(
                    key.as_slice(),
                    to_json(WA_TC_TOKEN.name(), &new)?.as_slice(),
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Moves the sender bucket forward only (max), keeping any token bytes;
    /// inserts a byte-less placeholder when the row is absent.
    pub(super) async fn tc_touch_sender(&self, jid: &str, sender_timestamp: i64) -> WaResult<()> {
        self.tc_update(jid, move |old| {
            Some(match old {
                Some(entry) => TcTokenEntry {
                    sender_timestamp: Some(
                        entry
                            .sender_timestamp
                            .map_or(sender_timestamp, |e| e.max(sender_timestamp)),
                    ),
                    ..entry
                },
                None => TcTokenEntry {
                    token: Vec::new(),
                    token_timestamp: sender_timestamp,
                    sender_timestamp: Some(sender_timestamp),
                },
            })
        })
        .await
    }

    /// Newer-wins store of a received token, keeping the sender bucket.
    pub(super) async fn tc_store_received(
        &self,
        jid: &str,
        token: &[u8],
        token_timestamp: i64,
    ) -> WaResult<()> {
        let token = token.to_vec();
        self.tc_update(jid, move |old| match old {
            Some(entry) if !entry.token.is_empty() && token_timestamp < entry.token_timestamp => {
                None
            }
            old => Some(TcTokenEntry {
                token,
                token_timestamp,
                sender_timestamp: old.and_then(|e| e.sender_timestamp),
            }),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_lives_while_either_bucket_is_live() {
        let entry = |token: &[u8], ts, sender| TcTokenEntry {
            token: token.to_vec(),
            token_timestamp: ts,
            sender_timestamp: sender,
        };
        // (entry, token_cutoff, sender_cutoff, expired?)
        let cases = [
            (entry(b"t", 10, None), 10, 0, false),
            (entry(b"t", 9, None), 10, 0, true),
            (entry(b"", 99, None), 10, 0, true),
            (entry(b"", 0, Some(5)), 10, 5, false),
            (entry(b"t", 0, Some(4)), 10, 5, true),
        ];
        for (e, tc, sc, want) in cases {
            assert_eq!(expired(&e, tc, sc), want, "{e:?} {tc} {sc}");
        }
    }
}
