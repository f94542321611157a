//! Differential conformance, part 1: `SignalStore`, `AppSyncStore` and
//! `DeviceStore`. Every call runs against wacore's `InMemoryBackend` (the
//! reference) and `RedbBackend`, and the results must agree; contracts the
//! reference cannot show (uploaded flags, byte order of ids) are asserted on
//! redb directly. Documented, deliberate differences from the reference:
//! - `DeviceStore::create` returns the constant `DEVICE_ID` (one device per
//!   session); the reference counts up from 1 per call. Both store a fresh
//!   `Device` with random keys, so created devices are compared per backend.
//! - The reference does not keep the prekey "uploaded" flag (its
//!   `mark_prekeys_uploaded` is a no-op placeholder); redb keeps it, and the
//!   flag is checked on redb alone via `RedbBackend::prekey_uploaded`.

mod backend_support;

use backend_support::pair;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use wago::engine::backend::DEVICE_ID;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::traits::*;

fn bytes_opt(v: Option<Bytes>) -> Option<Vec<u8>> {
    v.map(|b| b.to_vec())
}

#[tokio::test]
async fn identities_and_sessions_match_reference() {
    let p = pair();
    let a1: Arc<str> = "111@s.whatsapp.net".into();
    let a2: Arc<str> = "111:7@lid".into();
    same!(p, |b| b.put_identity("111@s.whatsapp.net", [1; 32]).await);
    same!(p, |b| b
        .put_identities_batch(&[(a1.clone(), [2; 32]), (a2.clone(), [3; 32])])
        .await);
    let got = same!(p, |b| b.load_identity("111@s.whatsapp.net").await);
    assert_eq!(got, Some([2; 32]), "batch overwrites the single put");
    same!(p, |b| b.load_identity("nobody@s.whatsapp.net").await);
    same!(p, |b| b.delete_identity(&a2).await);
    assert_eq!(same!(p, |b| b.load_identity(&a2).await), None);

    same!(p, |b| b.put_session("222:1@s.whatsapp.net", b"rec-1").await);
    same!(p, |b| b
        .put_sessions_batch(&[
            ("222:1@s.whatsapp.net".into(), Bytes::from_static(b"rec-2")),
            ("333@lid".into(), Bytes::from_static(b"rec-3")),
        ])
        .await);
    let got = same!(p, |b| b
        .get_session("222:1@s.whatsapp.net")
        .await
        .map(bytes_opt));
    assert_eq!(got.as_deref(), Some(&b"rec-2"[..]));
    assert!(same!(p, |b| b.has_session("333@lid").await));
    same!(p, |b| b.delete_session("333@lid").await);
    assert!(!same!(p, |b| b.has_session("333@lid").await));
    same!(p, |b| b.get_session("333@lid").await.map(bytes_opt));
}

#[tokio::test]
async fn has_signal_state_for_user_is_a_prefix_scan() {
    let p = pair();
    same!(p, |b| b.put_session("4455:3@s.whatsapp.net", b"s").await);
    same!(p, |b| b.put_identity("7788@lid", [9; 32]).await);
    same!(p, |b| b.put_session("99@s.whatsapp.net", b"s").await);
    // (user, expected): `user:dev@…`, `user@…`, and prefixes that are not users.
    let cases = [
        ("4455", true),
        ("7788", true),
        ("99", true),
        ("445", false),
        ("4455:3", true), // `4455:3@…` starts with `4455:3@`
        ("9", false),
        ("77880", false),
        ("", false),
    ];
    for (user, want) in cases {
        let got = same!(p, |b| b.has_signal_state_for_user(user).await);
        assert_eq!(got, want, "user {user:?}");
    }
    same!(p, |b| b.delete_session("4455:3@s.whatsapp.net").await);
    assert!(!same!(p, |b| b.has_signal_state_for_user("4455").await));
}

#[tokio::test]
async fn prekeys_match_reference_and_marking_never_resurrects() {
    let p = pair();
    assert_eq!(same!(p, |b| b.get_max_prekey_id().await), 0);
    let keys: Vec<(u32, Bytes)> = [1u32, 255, 256, 70_000]
        .iter()
        .map(|id| (*id, Bytes::from(format!("pk-{id}"))))
        .collect();
    same!(p, |b| b.store_prekeys_batch(&keys, false).await);
    same!(p, |b| b.store_prekey(3, b"pk-3", true).await);
    // Big-endian ids: 70000 > 256 > 255 even though their bytes differ in length order.
    assert_eq!(same!(p, |b| b.get_max_prekey_id().await), 70_000);
    let got = same!(p, |b| b.load_prekey(256).await.map(bytes_opt));
    assert_eq!(got.as_deref(), Some(&b"pk-256"[..]));
    let batch = same!(p, |b| b.load_prekeys_batch(&[1, 2, 3, 70_000]).await.map(
        |v| v
            .into_iter()
            .map(|(id, r)| (id, r.to_vec()))
            .collect::<Vec<_>>()
    ));
    assert_eq!(
        batch.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [1, 3, 70_000]
    );

    same!(p, |b| b.remove_prekey(256).await);
    same!(p, |b| b.remove_prekey(70_000).await);
    same!(p, |b| b
        .mark_prekeys_uploaded(&[1, 256, 70_000, 4242])
        .await);
    assert_eq!(same!(p, |b| b.load_prekey(256).await.map(bytes_opt)), None);
    assert_eq!(same!(p, |b| b.get_max_prekey_id().await), 255);
    assert_eq!(p.redb.prekey_uploaded(1).await.expect("flag"), Some(true));
    assert_eq!(
        p.redb.prekey_uploaded(255).await.expect("flag"),
        Some(false)
    );
    assert_eq!(p.redb.prekey_uploaded(3).await.expect("flag"), Some(true));
    assert_eq!(p.redb.prekey_uploaded(256).await.expect("flag"), None);
    assert_eq!(p.redb.prekey_uploaded(4242).await.expect("flag"), None);
}

#[tokio::test]
async fn signed_prekeys_and_sender_keys_match_reference() {
    let p = pair();
    for id in [1u32, 2, 300] {
        same!(p, |b| b
            .store_signed_prekey(id, format!("spk-{id}").as_bytes())
            .await);
    }
    same!(p, |b| b.store_signed_prekey(2, b"spk-2b").await);
    assert_eq!(
        same!(p, |b| b.load_signed_prekey(2).await),
        Some(b"spk-2b".to_vec())
    );
    same!(p, |b| b.remove_signed_prekey(1).await);
    same!(p, |b| b.load_signed_prekey(1).await);
    let all = same_unordered!(p, |b| b.load_all_signed_prekeys().await);
    assert_eq!(all.len(), 2);

    same!(p, |b| b.put_sender_key("g1::u1", b"sk1").await);
    same!(p, |b| b
        .put_sender_keys_batch(&[
            ("g1::u1".into(), Bytes::from_static(b"sk1b")),
            ("g2::u1".into(), Bytes::from_static(b"sk2")),
        ])
        .await);
    assert_eq!(
        same!(p, |b| b.get_sender_key("g1::u1").await),
        Some(b"sk1b".to_vec())
    );
    same!(p, |b| b.delete_sender_key("g2::u1").await);
    assert_eq!(same!(p, |b| b.get_sender_key("g2::u1").await), None);
}

fn sync_key(n: u8) -> AppStateSyncKey {
    AppStateSyncKey {
        key_data: vec![n; 32],
        fingerprint: vec![n, n],
        timestamp: i64::from(n) * 1000,
    }
}

#[tokio::test]
async fn app_state_sync_matches_reference() {
    let p = pair();
    assert_eq!(same!(p, |b| b.get_latest_sync_key_id().await), None);
    same!(p, |b| b.set_sync_key(b"k1", sync_key(1)).await);
    same!(p, |b| b.set_sync_key(b"k2", sync_key(2)).await);
    same!(p, |b| b.set_sync_key(b"k1", sync_key(3)).await);
    assert_eq!(
        same!(p, |b| b.get_latest_sync_key_id().await),
        Some(b"k1".to_vec())
    );
    let k1 = same!(p, |b| b.get_sync_key(b"k1").await).expect("k1 stored");
    assert_eq!(k1.timestamp, 3000);
    same!(p, |b| b.get_sync_key(b"missing").await);

    let fresh = same!(p, |b| b.get_version("regular").await);
    assert_eq!(
        fresh.version, 0,
        "an unknown collection starts at version 0"
    );
    let mut state = HashState {
        version: 7,
        hash: [5; 128],
        ..HashState::default()
    };
    state.index_value_map =
        HashMap::from([("idx-a".to_string(), vec![1, 2]), ("b".to_string(), vec![])]);
    same!(p, |b| b.set_version("regular", state.clone()).await);
    assert_eq!(same!(p, |b| b.get_version("regular").await).version, 7);
    same!(p, |b| b.get_version("regular_low").await);

    let mac = |i: u8, v: u8| AppStateMutationMAC {
        index_mac: vec![i; 32],
        value_mac: vec![v; 4],
    };
    same!(p, |b| b
        .put_mutation_macs("regular", 7, &[mac(1, 10), mac(2, 20)])
        .await);
    // "regular_low" starts with "regular": the length prefix keeps them apart.
    same!(p, |b| b
        .put_mutation_macs("regular_low", 1, &[mac(1, 11), mac(3, 33)])
        .await);
    assert_eq!(
        same!(p, |b| b.get_mutation_mac("regular", &[1; 32]).await),
        Some(vec![10; 4])
    );
    let many = |m: HashMap<[u8; 32], Vec<u8>>| {
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort();
        v
    };
    let got = same!(p, |b| b
        .get_mutation_macs("regular", &[[1; 32], [2; 32], [3; 32]])
        .await
        .map(many));
    assert_eq!(got.len(), 2);
    same!(p, |b| b
        .delete_mutation_macs("regular", &[vec![1; 32], vec![9; 32]])
        .await);
    assert_eq!(
        same!(p, |b| b.get_mutation_mac("regular", &[1; 32]).await),
        None
    );
    same!(p, |b| b.clear_mutation_macs("regular").await);
    assert_eq!(
        same!(p, |b| b.get_mutation_mac("regular", &[2; 32]).await),
        None
    );
    assert_eq!(
        same!(p, |b| b.get_mutation_mac("regular_low", &[3; 32]).await),
        Some(vec![33; 4]),
        "clearing one collection keeps the others"
    );
}

#[tokio::test]
async fn device_store_matches_reference_except_the_created_id() {
    let p = pair();
    assert!(!same!(p, |b| b.exists().await));
    assert!(same!(p, |b| b.load().await.map(|d| d.is_none())));
    let (_, id) = both!(p, |b| b.create().await);
    assert_eq!(id, DEVICE_ID);
    assert!(same!(p, |b| b.exists().await));
    let first = p.redb.load().await.expect("load").expect("created device");
    let (_, again) = both!(p, |b| b.create().await);
    assert_eq!(again, DEVICE_ID);
    let second = p.redb.load().await.expect("load").expect("device");
    assert_eq!(
        serde_json::to_value(&first).expect("json"),
        serde_json::to_value(&second).expect("json"),
        "create must not replace an existing device"
    );

    let mut device = first;
    device.push_name = "Till 2".into();
    device.next_pre_key_id = 813;
    device.login_counter = 4;
    same!(p, |b| b.save(&device).await);
    let loaded = same!(p, |b| b.load().await).expect("saved device");
    assert_eq!(
        (loaded.push_name.as_str(), loaded.next_pre_key_id),
        ("Till 2", 813)
    );
}
