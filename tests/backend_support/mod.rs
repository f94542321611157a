//! Shared helpers of the `backend_*` integration tests: a reference
//! (in-memory) backend paired with a redb one, result normalisation for
//! comparing them, and a tiny deterministic PRNG.
#![allow(dead_code)]

pub mod random;

use serde::Serialize;
use std::path::Path;
use tempfile::TempDir;
use wago::engine::backend::RedbBackend;
use wago::store::{DEFAULT_CACHE_BYTES, Store};
use whatsapp_rust::wacore::store::InMemoryBackend;

/// The reference backend and the one under test, fed the same calls.
pub struct Pair {
    pub mem: InMemoryBackend,
    pub redb: RedbBackend,
    pub store: Store,
    pub dir: TempDir,
}

/// Opens (creating) a store in `dir`.
pub fn open_store(dir: &Path) -> Store {
    Store::open(dir, DEFAULT_CACHE_BYTES).expect("open store")
}

/// A fresh pair on a fresh temporary store, session `"s1"`.
pub fn pair() -> Pair {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    Pair {
        mem: InMemoryBackend::new(),
        redb: RedbBackend::new(store.clone(), "s1"),
        store,
        dir,
    }
}

/// A serde value for comparing results of types without `PartialEq`.
pub fn norm<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("result serialises")
}

/// Like [`norm`], for lists whose order the trait leaves unspecified.
pub fn norm_unordered<T: Serialize>(value: &[T]) -> serde_json::Value {
    let mut items: Vec<serde_json::Value> = value.iter().map(norm).collect();
    items.sort_by_key(|v| v.to_string());
    serde_json::Value::Array(items)
}

/// Runs `$call` with `$b` bound to each backend of `$pair`; both must
/// succeed with equal results (compared as JSON). Yields the redb result.
#[macro_export]
macro_rules! same {
    ($pair:expr, |$b:ident| $call:expr) => {{
        let mem = {
            let $b = &$pair.mem;
            $call
        };
        let red = {
            let $b = &$pair.redb;
            $call
        };
        let mem = mem.expect(concat!("in-memory: ", stringify!($call)));
        let red = red.expect(concat!("redb: ", stringify!($call)));
        assert_eq!(
            $crate::backend_support::norm(&mem),
            $crate::backend_support::norm(&red),
            "{}",
            stringify!($call)
        );
        red
    }};
}

/// Like [`same!`] for `Vec` results whose order is unspecified.
#[macro_export]
macro_rules! same_unordered {
    ($pair:expr, |$b:ident| $call:expr) => {{
        let mem = {
            let $b = &$pair.mem;
            $call
        };
        let red = {
            let $b = &$pair.redb;
            $call
        };
        let mem = mem.expect(concat!("in-memory: ", stringify!($call)));
        let red = red.expect(concat!("redb: ", stringify!($call)));
        assert_eq!(
            $crate::backend_support::norm_unordered(&mem),
            $crate::backend_support::norm_unordered(&red),
            "{}",
            stringify!($call)
        );
        red
    }};
}

/// Runs `$call` on both backends, checking only that both succeed.
#[macro_export]
macro_rules! both {
    ($pair:expr, |$b:ident| $call:expr) => {{
        let mem = {
            let $b = &$pair.mem;
            $call
        };
        let red = {
            let $b = &$pair.redb;
            $call
        };
        (
            mem.expect(concat!("in-memory: ", stringify!($call))),
            red.expect(concat!("redb: ", stringify!($call))),
        )
    }};
}

/// SplitMix64: a tiny, stable, seedable generator (no dependency, so the
/// op sequence of a seed never changes under a crate upgrade).
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Writes one or more rows into every `wa_*` table for `backend`, with
/// values derived from `tag` so sessions can be told apart.
pub async fn fill(backend: &RedbBackend, tag: &str) {
    use whatsapp_rust::wacore::appstate::hash::HashState;
    use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
    use whatsapp_rust::wacore::store::traits::*;
    let t = tag.as_bytes();
    backend.create().await.expect("create");
    backend
        .put_identity("100@s.whatsapp.net", [t[0]; 32])
        .await
        .expect("identity");
    backend
        .put_session("100:1@s.whatsapp.net", t)
        .await
        .expect("session");
    backend.store_prekey(5, t, false).await.expect("prekey");
    backend
        .store_signed_prekey(1, t)
        .await
        .expect("signed prekey");
    backend
        .put_sender_key("g@g.us::100", t)
        .await
        .expect("sender key");
    let key = AppStateSyncKey {
        key_data: t.to_vec(),
        fingerprint: vec![],
        timestamp: 1,
    };
    backend.set_sync_key(b"kid", key).await.expect("sync key");
    let state = HashState {
        version: 3,
        ..HashState::default()
    };
    backend
        .set_version("regular", state)
        .await
        .expect("version");
    let mac = AppStateMutationMAC {
        index_mac: vec![1; 32],
        value_mac: t.to_vec(),
    };
    backend
        .put_mutation_macs("regular", 3, &[mac])
        .await
        .expect("macs");
    backend
        .set_sender_key_status("g@g.us", &[("100:1@lid", true)])
        .await
        .expect("skd");
    let lid = LidPnMappingEntry {
        lid: "L100".into(),
        phone_number: "100".into(),
        created_at: 1,
        updated_at: 2,
        learning_source: tag.into(),
    };
    backend.put_lid_mapping(&lid).await.expect("lid");
    backend
        .save_base_key("100@lid", "m", t)
        .await
        .expect("base key");
    let record = DeviceListRecord {
        user: "100".into(),
        devices: vec![DeviceInfo::new(0, None)],
        timestamp: 1,
        phash: Some(tag.into()),
        raw_id: None,
    };
    backend
        .update_device_list(record)
        .await
        .expect("device list");
    backend
        .put_group_metadata("g@g.us", t)
        .await
        .expect("group");
    backend
        .store_received_tc_token("100@lid", t, 10)
        .await
        .expect("tc");
    backend
        .store_sent_message("100@lid", "m", t)
        .await
        .expect("sent");
    backend
        .store_pending_inbound("100@lid", "100@lid", "i", t)
        .await
        .expect("inbound");
    backend
        .put_msg_secret("100@lid", "100@lid", "m", &[t[0]; 32])
        .await
        .expect("secret");
}

/// Asserts every row [`fill`] wrote with `tag` reads back.
pub async fn check_filled(backend: &RedbBackend, tag: &str) {
    use whatsapp_rust::wacore::store::traits::*;
    let t = tag.as_bytes();
    assert!(backend.exists().await.expect("exists"), "{tag}: device");
    assert_eq!(
        backend
            .load_identity("100@s.whatsapp.net")
            .await
            .expect("identity"),
        Some([t[0]; 32])
    );
    let session = backend
        .get_session("100:1@s.whatsapp.net")
        .await
        .expect("session");
    assert_eq!(session.as_deref(), Some(t), "{tag}: session");
    assert_eq!(
        backend.load_prekey(5).await.expect("prekey").as_deref(),
        Some(t)
    );
    assert_eq!(
        backend.load_signed_prekey(1).await.expect("spk").as_deref(),
        Some(t)
    );
    assert_eq!(
        backend
            .get_sender_key("g@g.us::100")
            .await
            .expect("sk")
            .as_deref(),
        Some(t)
    );
    assert_eq!(
        backend
            .get_sync_key(b"kid")
            .await
            .expect("sync")
            .map(|k| k.key_data),
        Some(t.to_vec())
    );
    assert_eq!(
        backend.get_latest_sync_key_id().await.expect("latest"),
        Some(b"kid".to_vec())
    );
    assert_eq!(
        backend
            .get_version("regular")
            .await
            .expect("version")
            .version,
        3
    );
    assert_eq!(
        backend
            .get_mutation_mac("regular", &[1; 32])
            .await
            .expect("mac")
            .as_deref(),
        Some(t)
    );
    let devices = backend.get_sender_key_devices("g@g.us").await.expect("skd");
    assert_eq!(devices, vec![("100:1@lid".to_string(), true)]);
    let by_pn = backend
        .get_pn_mapping("100")
        .await
        .expect("pn")
        .map(|e| e.learning_source);
    assert_eq!(by_pn.as_deref(), Some(tag), "{tag}: pn mapping");
    assert!(
        backend
            .has_same_base_key("100@lid", "m", t)
            .await
            .expect("base key")
    );
    let list = backend
        .get_devices("100")
        .await
        .expect("devices")
        .and_then(|r| r.phash);
    assert_eq!(list.as_deref(), Some(tag));
    assert_eq!(
        backend
            .get_group_metadata("g@g.us")
            .await
            .expect("group")
            .as_deref(),
        Some(t)
    );
    let tc = backend
        .get_tc_token("100@lid")
        .await
        .expect("tc")
        .map(|e| e.token);
    assert_eq!(tc.as_deref(), Some(t));
    let inbound = backend
        .get_pending_inbound("100@lid", "100@lid", "i")
        .await
        .expect("inbound");
    assert_eq!(inbound.as_deref(), Some(t));
    let secret = backend
        .get_msg_secret("100@lid", "100@lid", "m")
        .await
        .expect("secret");
    assert_eq!(secret, Some(vec![t[0]; 32]));
    // Taking consumes the row; put it back so checking changes nothing.
    let sent = backend
        .take_sent_message("100@lid", "m")
        .await
        .expect("sent");
    assert_eq!(sent.as_deref(), Some(t), "{tag}: sent message");
    backend
        .store_sent_message("100@lid", "m", t)
        .await
        .expect("restore");
}

/// Rows per `wa_*` table under the key prefix `session ‖ 0x00`.
pub fn raw_row_counts(store: &Store, session: &str) -> Vec<(String, usize)> {
    use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableHandle};
    let prefix = format!("{session}\0");
    let tx = store
        .database()
        .expect("database")
        .begin_read()
        .expect("read tx");
    wago::store::tables::WA_TABLES
        .iter()
        .map(|def| {
            let table = tx.open_table(*def).expect("table");
            assert!(table.len().is_ok());
            let n = table
                .iter()
                .expect("iter")
                .filter(|row| {
                    let (k, _) = row.as_ref().expect("row");
                    k.value().starts_with(prefix.as_bytes())
                })
                .count();
            (def.name().to_string(), n)
        })
        .collect()
}
