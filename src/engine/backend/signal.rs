//! `SignalStore`: identities, sessions, prekeys, signed prekeys, sender keys.
//!
//! Owns the `wa_identity`, `wa_session`, `wa_prekey`, `wa_signed_prekey` and
//! `wa_sender_key` rows of a session. Records are the library's own bytes;
//! a prekey row carries one leading "uploaded" flag byte.

use super::codec::{flagged, identity, split_flagged};
use super::{RedbBackend, WaResult, any_with_prefix, get, scan};
use crate::store::keys::{KeyTable, ReadKeys, TableName};
use crate::store::tables::{WA_IDENTITY, WA_PREKEY, WA_SENDER_KEY, WA_SESSION, WA_SIGNED_PREKEY};
use bytes::Bytes;
use std::sync::Arc;
use whatsapp_rust::async_trait;
use whatsapp_rust::wacore::store::traits::SignalStore;

type Def = KeyTable;

impl RedbBackend {
    /// Reads one row of a table keyed by a single string.
    async fn get_by_str(&self, def: Def, key: &str) -> WaResult<Option<Vec<u8>>> {
        let key = key.to_string();
        self.read(move |tx, p| get(&tx.open_table(def)?, &p.key().last(key.as_bytes())))
            .await
    }

    /// Writes rows of a table keyed by a single string, in one transaction.
    async fn put_by_str(&self, def: Def, rows: Vec<(Arc<str>, Bytes)>) -> WaResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.write(move |tx, p| {
            let mut table = tx.open_table(def)?;
            for (key, value) in &rows {
                table.insert(p.key().last(key.as_bytes()).as_slice(), value.as_ref())?;
            }
            Ok(())
        })
        .await
    }

    /// Deletes one row of a table keyed by a single string.
    async fn delete_by_str(&self, def: Def, key: &str) -> WaResult<()> {
        let key = key.to_string();
        self.write(move |tx, p| {
            tx.open_table(def)?
                .remove(p.key().last(key.as_bytes()).as_slice())?;
            Ok(())
        })
        .await
    }

    /// Reads a row keyed by a `u32` id.
    async fn get_by_id(&self, def: Def, id: u32) -> WaResult<Option<Vec<u8>>> {
        self.read(move |tx, p| get(&tx.open_table(def)?, &p.key().last(&id.to_be_bytes())))
            .await
    }

    /// Whether the prekey `id` is stored and marked uploaded (`None`: absent).
    /// Not part of the trait: wacore never reads the flag back, tests do.
    pub async fn prekey_uploaded(&self, id: u32) -> WaResult<Option<bool>> {
        match self.get_by_id(WA_PREKEY, id).await? {
            Some(row) => Ok(Some(split_flagged(WA_PREKEY.name(), &row)?.0)),
            None => Ok(None),
        }
    }
}

fn one(key: &str, value: &[u8]) -> Vec<(Arc<str>, Bytes)> {
    vec![(Arc::from(key), Bytes::copy_from_slice(value))]
}

#[async_trait]
impl SignalStore for RedbBackend {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> WaResult<()> {
        self.put_by_str(WA_IDENTITY, one(address, &key)).await
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> WaResult<()> {
        let rows = identities
            .iter()
            .map(|(a, k)| (a.clone(), Bytes::copy_from_slice(k)))
            .collect();
        self.put_by_str(WA_IDENTITY, rows).await
    }

    async fn load_identity(&self, address: &str) -> WaResult<Option<[u8; 32]>> {
        match self.get_by_str(WA_IDENTITY, address).await? {
            Some(row) => Ok(Some(identity(WA_IDENTITY.name(), &row)?)),
            None => Ok(None),
        }
    }

    async fn delete_identity(&self, address: &str) -> WaResult<()> {
        self.delete_by_str(WA_IDENTITY, address).await
    }

    async fn get_session(&self, address: &str) -> WaResult<Option<Bytes>> {
        Ok(self.get_by_str(WA_SESSION, address).await?.map(Bytes::from))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> WaResult<()> {
        self.put_by_str(WA_SESSION, one(address, session)).await
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> WaResult<()> {
        self.put_by_str(WA_SESSION, sessions.to_vec()).await
    }

    async fn delete_session(&self, address: &str) -> WaResult<()> {
        self.delete_by_str(WA_SESSION, address).await
    }

    async fn has_session(&self, address: &str) -> WaResult<bool> {
        let key = address.to_string();
        self.read(move |tx, p| {
            Ok(tx
                .open_table(WA_SESSION)?
                .get(p.key().last(key.as_bytes()).as_slice())?
                .is_some())
        })
        .await
    }

    /// Prefix scans for `user@…` and `user:…` in sessions and identities.
    async fn has_signal_state_for_user(&self, user: &str) -> WaResult<bool> {
        let user = user.to_string();
        self.read(move |tx, p| {
            for def in [WA_SESSION, WA_IDENTITY] {
                let table = tx.open_table(def)?;
                for sep in ["@", ":"] {
                    let prefix = p.key().last(format!("{user}{sep}").as_bytes());
                    if any_with_prefix(&table, prefix)? {
                        return Ok(true);
                    }
                }
            }
            Ok(false)
        })
        .await
    }

    async fn store_prekey(&self, id: u32, record: &[u8], uploaded: bool) -> WaResult<()> {
        self.store_prekeys_batch(&[(id, Bytes::copy_from_slice(record))], uploaded)
            .await
    }

    async fn store_prekeys_batch(&self, keys: &[(u32, Bytes)], uploaded: bool) -> WaResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys = keys.to_vec();
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_PREKEY)?;
            for (id, record) in &keys {
                let key = p.key().last(&id.to_be_bytes());
                table.insert(key.as_slice(), flagged(uploaded, record).as_slice())?;
            }
            Ok(())
        })
        .await
    }

    async fn load_prekey(&self, id: u32) -> WaResult<Option<Bytes>> {
        match self.get_by_id(WA_PREKEY, id).await? {
            Some(row) => {
                let (_, record) = split_flagged(WA_PREKEY.name(), &row)?;
                Ok(Some(Bytes::copy_from_slice(record)))
            }
            None => Ok(None),
        }
    }

    async fn load_prekeys_batch(&self, ids: &[u32]) -> WaResult<Vec<(u32, Bytes)>> {
        let ids = ids.to_vec();
        self.read(move |tx, p| {
            let table = tx.open_table(WA_PREKEY)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(row) = get(&table, &p.key().last(&id.to_be_bytes()))? {
                    let (_, record) = split_flagged(WA_PREKEY.name(), &row)?;
                    out.push((id, Bytes::copy_from_slice(record)));
                }
            }
            Ok(out)
        })
        .await
    }

    /// Update only: an id that is no longer stored stays absent.
    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> WaResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_PREKEY)?;
            for id in ids {
                let key = p.key().last(&id.to_be_bytes());
                let Some(row) = get(&table, &key)? else {
                    continue;
                };
                let (uploaded, record) = split_flagged(WA_PREKEY.name(), &row)?;
                if !uploaded {
                    table.insert(key.as_slice(), flagged(true, record).as_slice())?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn remove_prekey(&self, id: u32) -> WaResult<()> {
        self.write(move |tx, p| {
            tx.open_table(WA_PREKEY)?
                .remove(p.key().last(&id.to_be_bytes()).as_slice())?;
            Ok(())
        })
        .await
    }

    /// The last key of the session's range: ids are big-endian, so key order
    /// is numeric order.
    async fn get_max_prekey_id(&self) -> WaResult<u32> {
        self.read(move |tx, p| {
            let table = tx.open_table(WA_PREKEY)?;
            let last = table.last_with_prefix(p.as_bytes().to_vec())?;
            let Some((key, _)) = last else {
                return Ok(0);
            };
            let id = p
                .strip(&key)
                .and_then(|rest| <[u8; 4]>::try_from(rest).ok())
                .ok_or_else(|| super::BackendError::corrupt(WA_PREKEY.name(), "prekey id key"))?;
            Ok(u32::from_be_bytes(id))
        })
        .await
    }

    async fn store_signed_prekey(&self, id: u32, record: &[u8]) -> WaResult<()> {
        let record = record.to_vec();
        self.write(move |tx, p| {
            let key = p.key().last(&id.to_be_bytes());
            tx.open_table(WA_SIGNED_PREKEY)?
                .insert(key.as_slice(), record.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn load_signed_prekey(&self, id: u32) -> WaResult<Option<Vec<u8>>> {
        self.get_by_id(WA_SIGNED_PREKEY, id).await
    }

    /// Skips rows whose key is not a 4-byte id (they cannot be asked for).
    async fn load_all_signed_prekeys(&self) -> WaResult<Vec<(u32, Vec<u8>)>> {
        self.read(move |tx, p| {
            let rows = scan(&tx.open_table(WA_SIGNED_PREKEY)?, p.as_bytes().to_vec())?;
            Ok(rows
                .into_iter()
                .filter_map(|(key, value)| {
                    let id = <[u8; 4]>::try_from(p.strip(&key)?).ok()?;
                    Some((u32::from_be_bytes(id), value))
                })
                .collect())
        })
        .await
    }

    async fn remove_signed_prekey(&self, id: u32) -> WaResult<()> {
        self.write(move |tx, p| {
            tx.open_table(WA_SIGNED_PREKEY)?
                .remove(p.key().last(&id.to_be_bytes()).as_slice())?;
            Ok(())
        })
        .await
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> WaResult<()> {
        self.put_by_str(WA_SENDER_KEY, one(address, record)).await
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> WaResult<()> {
        self.put_by_str(WA_SENDER_KEY, sender_keys.to_vec()).await
    }

    async fn get_sender_key(&self, address: &str) -> WaResult<Option<Vec<u8>>> {
        self.get_by_str(WA_SENDER_KEY, address).await
    }

    async fn delete_sender_key(&self, address: &str) -> WaResult<()> {
        self.delete_by_str(WA_SENDER_KEY, address).await
    }
}
