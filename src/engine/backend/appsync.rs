//! `AppSyncStore`: app-state sync keys, collection versions, mutation MACs.
//!
//! Owns the `wa_sync_key`, `wa_appstate_version` and `wa_mutation_mac` rows
//! of a session, and the `latest_sync_key_id` row of `wa_meta`.

use super::codec::{from_json, to_json};
use super::{RedbBackend, WaResult, get, remove_prefix};
use crate::store::keys::TableName;
use crate::store::tables::{WA_APPSTATE_VERSION, WA_META, WA_MUTATION_MAC, WA_SYNC_KEY};
use std::collections::HashMap;
use whatsapp_rust::async_trait;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::traits::{AppStateSyncKey, AppSyncStore};

/// `wa_meta` name of the most recently stored sync key id.
const LATEST_SYNC_KEY_ID: &[u8] = b"latest_sync_key_id";

#[async_trait]
impl AppSyncStore for RedbBackend {
    async fn get_sync_key(&self, key_id: &[u8]) -> WaResult<Option<AppStateSyncKey>> {
        let key_id = key_id.to_vec();
        self.read(move |tx, p| {
            get(&tx.open_table(WA_SYNC_KEY)?, &p.key().last(&key_id))?
                .map(|row| from_json(WA_SYNC_KEY.name(), &row))
                .transpose()
        })
        .await
    }

    /// Stores the key and records it as the latest, in one transaction.
    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> WaResult<()> {
        let key_id = key_id.to_vec();
        self.write(move |tx, p| {
            let row = to_json(WA_SYNC_KEY.name(), &key)?;
            tx.open_table(WA_SYNC_KEY)?
                .insert(p.key().last(&key_id).as_slice(), row.as_slice())?;
            tx.open_table(WA_META)?.insert(
                p.key().last(LATEST_SYNC_KEY_ID).as_slice(),
                key_id.as_slice(),
            )?;
            Ok(())
        })
        .await
    }

    /// An unknown collection is at the default (empty) state.
    async fn get_version(&self, name: &str) -> WaResult<HashState> {
        let name = name.to_string();
        self.read(move |tx, p| {
            match get(
                &tx.open_table(WA_APPSTATE_VERSION)?,
                &p.key().last(name.as_bytes()),
            )? {
                Some(row) => from_json(WA_APPSTATE_VERSION.name(), &row),
                None => Ok(HashState::default()),
            }
        })
        .await
    }

    async fn set_version(&self, name: &str, state: HashState) -> WaResult<()> {
        let name = name.to_string();
        self.write(move |tx, p| {
            let row = to_json(WA_APPSTATE_VERSION.name(), &state)?;
            tx.open_table(WA_APPSTATE_VERSION)?
                .insert(p.key().last(name.as_bytes()).as_slice(), row.as_slice())?;
            Ok(())
        })
        .await
    }

    /// `version` is not stored: like the reference store, MACs are keyed by
    /// collection and index MAC only.
    async fn put_mutation_macs(
        &self,
        name: &str,
        _version: u64,
        mutations: &[AppStateMutationMAC],
    ) -> WaResult<()> {
        let name = name.to_string();
        let mutations = mutations.to_vec();
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_MUTATION_MAC)?;
            for m in &mutations {
                let key = p.key().part(name.as_bytes())?.last(&m.index_mac);
                table.insert(key.as_slice(), m.value_mac.as_slice())?;
            }
            Ok(())
        })
        .await
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> WaResult<Option<Vec<u8>>> {
        let name = name.to_string();
        let index_mac = index_mac.to_vec();
        self.read(move |tx, p| {
            let key = p.key().part(name.as_bytes())?.last(&index_mac);
            get(&tx.open_table(WA_MUTATION_MAC)?, &key)
        })
        .await
    }

    /// One read transaction for the whole batch.
    async fn get_mutation_macs(
        &self,
        name: &str,
        index_macs: &[[u8; 32]],
    ) -> WaResult<HashMap<[u8; 32], Vec<u8>>> {
        let name = name.to_string();
        let index_macs = index_macs.to_vec();
        self.read(move |tx, p| {
            let table = tx.open_table(WA_MUTATION_MAC)?;
            let base = p.key().part(name.as_bytes())?.done();
            let mut out = HashMap::with_capacity(index_macs.len());
            for index_mac in index_macs {
                let mut key = base.clone();
                key.extend_from_slice(&index_mac);
                if let Some(mac) = get(&table, &key)? {
                    out.insert(index_mac, mac);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> WaResult<()> {
        let name = name.to_string();
        let index_macs = index_macs.to_vec();
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_MUTATION_MAC)?;
            for index_mac in &index_macs {
                let key = p.key().part(name.as_bytes())?.last(index_mac);
                table.remove(key.as_slice())?;
            }
            Ok(())
        })
        .await
    }

    async fn clear_mutation_macs(&self, name: &str) -> WaResult<()> {
        let name = name.to_string();
        self.write(move |tx, p| {
            let prefix = p.key().part(name.as_bytes())?.done();
            remove_prefix(&mut tx.open_table(WA_MUTATION_MAC)?, prefix)?;
            Ok(())
        })
        .await
    }

    async fn get_latest_sync_key_id(&self) -> WaResult<Option<Vec<u8>>> {
        self.read(move |tx, p| get(&tx.open_table(WA_META)?, &p.key().last(LATEST_SYNC_KEY_ID)))
            .await
    }
}
