//! LID ↔ phone-number mappings (part of `ProtocolStore`).
//!
//! Owns the `wa_lid_pn` rows (LID → mapping) and their reverse index
//! `wa_pn_lid` (`lp(phone) ‖ lid` → `updated_at ‖ write sequence`), plus the
//! `pn_seq` counter row of `wa_meta`. A phone may have had several LIDs; the
//! reverse index keeps them all so `get_pn_mapping` can return the one with
//! the newest `updated_at` (ties: the later write), and verifies it against
//! the forward row, so a stale index row can never answer.

use super::codec::{counter, from_json, parse_pn_order, pn_order, to_json};
use super::keys::{SessionPrefix, split_part};
use super::{BackendError, RedbBackend, WaResult, get, scan};
use crate::store::keys::{KeyWrite, TableName};
use crate::store::tables::{WA_LID_PN, WA_META, WA_PN_LID};
use whatsapp_rust::wacore::store::traits::LidPnMappingEntry;

/// `wa_meta` name of the reverse-index write counter.
const PN_SEQ: &[u8] = b"pn_seq";

/// Upserts `entries` in `tx`: forward row, reverse row, and removal of the
/// reverse row of a LID that moved to another phone.
fn put_rows(
    tx: &KeyWrite<'_>,
    p: &SessionPrefix,
    entries: &[LidPnMappingEntry],
) -> Result<(), BackendError> {
    let mut forward = tx.open_table(WA_LID_PN)?;
    let mut reverse = tx.open_table(WA_PN_LID)?;
    let mut meta = tx.open_table(WA_META)?;
    let seq_key = p.key().last(PN_SEQ);
    let mut seq = counter(get(&meta, &seq_key)?.as_deref());
    for entry in entries {
        let fkey = p.key().last(entry.lid.as_bytes());
        // A garbled old row cannot name its phone; get_pn_mapping's forward
        // check keeps any reverse row it leaves behind from answering.
        let old = get(&forward, &fkey)?
            .and_then(|row| from_json::<LidPnMappingEntry>(WA_LID_PN.name(), &row).ok());
        if let Some(old) = old.filter(|old| old.phone_number != entry.phone_number) {
            let rkey = p
                .key()
                .part(old.phone_number.as_bytes())?
                .last(old.lid.as_bytes());
            reverse.remove(rkey.as_slice())?;
        }
        seq += 1;
        let rkey = p
            .key()
            .part(entry.phone_number.as_bytes())?
            .last(entry.lid.as_bytes());
        reverse.insert(rkey.as_slice(), pn_order(entry.updated_at, seq).as_slice())?;
        forward.insert(
            fkey.as_slice(),
            to_json(WA_LID_PN.name(), entry)?.as_slice(),
        )?;
    }
    meta.insert(seq_key.as_slice(), seq.to_be_bytes().as_slice())?;
    Ok(())
}

impl RedbBackend {
    pub(super) async fn lid_get(&self, lid: &str) -> WaResult<Option<LidPnMappingEntry>> {
        let lid = lid.to_string();
        self.read(move |tx, p| {
            get(&tx.open_table(WA_LID_PN)?, &p.key().last(lid.as_bytes()))?
                .map(|row| from_json(WA_LID_PN.name(), &row))
                .transpose()
        })
        .await
    }

    pub(super) async fn lid_by_phone(&self, phone: &str) -> WaResult<Option<LidPnMappingEntry>> {
        let phone = phone.to_string();
        self.read(move |tx, p| {
            let prefix = p.key().part(phone.as_bytes())?.done();
            let mut candidates = Vec::new();
            for (key, value) in scan(&tx.open_table(WA_PN_LID)?, prefix)? {
                let Some((_, lid)) = p.strip(&key).and_then(split_part) else {
                    continue;
                };
                if let Ok(order) = parse_pn_order(WA_PN_LID.name(), &value) {
                    candidates.push((order, lid.to_vec()));
                }
            }
            candidates.sort_unstable_by_key(|c| std::cmp::Reverse(c.0));
            let forward = tx.open_table(WA_LID_PN)?;
            for (_, lid) in candidates {
                let Some(row) = get(&forward, &p.key().last(&lid))? else {
                    continue;
                };
                let Ok(entry) = from_json::<LidPnMappingEntry>(WA_LID_PN.name(), &row) else {
                    continue;
                };
                if entry.phone_number == phone {
                    return Ok(Some(entry));
                }
            }
            Ok(None)
        })
        .await
    }

    pub(super) async fn lid_put(&self, entries: Vec<LidPnMappingEntry>) -> WaResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write(move |tx, p| put_rows(tx, p, &entries)).await
    }

    /// Every mapping of the session; garbled rows are skipped with a warning.
    pub(super) async fn lid_all(&self) -> WaResult<Vec<LidPnMappingEntry>> {
        self.read(move |tx, p| {
            let rows = scan(&tx.open_table(WA_LID_PN)?, p.as_bytes().to_vec())?;
            Ok(rows
                .into_iter()
                .filter_map(|(_, row)| match from_json(WA_LID_PN.name(), &row) {
                    Ok(entry) => Some(entry),
                    Err(e) => {
                        tracing::warn!(error = %e, "skipping a garbled LID mapping");
                        None
                    }
                })
                .collect())
        })
        .await
    }

    /// Whether the reverse index has a row for `(phone, lid)` (tests of the
    /// stale-row cleanup).
    #[cfg(test)]
    pub(super) async fn pn_index_has(&self, phone: &str, lid: &str) -> WaResult<bool> {
        use crate::store::keys::ReadKeys;
        let (phone, lid) = (phone.to_string(), lid.to_string());
        self.read(move |tx, p| {
            let key = p.key().part(phone.as_bytes())?.last(lid.as_bytes());
            Ok(tx.open_table(WA_PN_LID)?.get(key.as_slice())?.is_some())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DEFAULT_CACHE_BYTES, Store};
    use whatsapp_rust::wacore::store::traits::ProtocolStore;

    fn entry(lid: &str, phone: &str, updated_at: i64) -> LidPnMappingEntry {
        LidPnMappingEntry {
            lid: lid.into(),
            phone_number: phone.into(),
            created_at: 0,
            updated_at,
            learning_source: "test".into(),
        }
    }

    #[tokio::test]
    async fn a_lid_moving_phones_drops_its_old_index_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
        let b = RedbBackend::new(store, "s");
        b.put_lid_mapping(&entry("L", "P", 1)).await.expect("put");
        assert!(b.pn_index_has("P", "L").await.expect("index"));
        b.put_lid_mapping(&entry("L", "Q", 2)).await.expect("move");
        assert!(
            !b.pn_index_has("P", "L").await.expect("index"),
            "stale row left"
        );
        assert!(b.pn_index_has("Q", "L").await.expect("index"));
        assert!(b.get_pn_mapping("P").await.expect("pn").is_none());
        // Same phone again: the row is rewritten, not duplicated.
        b.put_lid_mappings(&[entry("L", "Q", 3), entry("M", "Q", 3)])
            .await
            .expect("batch");
        let newest = b.get_pn_mapping("Q").await.expect("pn").map(|e| e.lid);
        assert_eq!(
            newest.as_deref(),
            Some("M"),
            "equal updated_at: later write wins"
        );
    }
}
