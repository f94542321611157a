//! Several sessions in one redb file: isolation, `wipe_session`, persistence
//! across a reopen, bad stored bytes, and unusable session ids.

mod backend_support;

use backend_support::{check_filled, fill, open_store, raw_row_counts};
use wago::engine::backend::{RedbBackend, wipe_session, wipe_session_in};
use wago::store::tables::{WA_MSG_SECRET, WA_PREKEY, WA_SENT_MESSAGE, WA_TC_TOKEN};
use whatsapp_rust::wacore::store::error::StoreError;
use whatsapp_rust::wacore::store::traits::*;

#[tokio::test]
async fn sessions_in_one_file_do_not_see_each_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    // "till" is a prefix of "till2": the 0x00 separator must keep them apart.
    let till = RedbBackend::new(store.clone(), "till");
    let till2 = RedbBackend::new(store.clone(), "till2");
    fill(&till, "A").await;

    assert!(!till2.exists().await.expect("exists"));
    assert!(
        till2
            .get_session("100:1@s.whatsapp.net")
            .await
            .expect("get")
            .is_none()
    );
    assert!(!till2.has_signal_state_for_user("100").await.expect("scan"));
    assert_eq!(till2.get_max_prekey_id().await.expect("max"), 0);
    assert!(
        till2
            .load_all_signed_prekeys()
            .await
            .expect("all")
            .is_empty()
    );
    assert!(
        till2
            .get_latest_sync_key_id()
            .await
            .expect("latest")
            .is_none()
    );
    assert!(till2.get_all_lid_mappings().await.expect("all").is_empty());
    assert!(till2.get_pn_mapping("100").await.expect("pn").is_none());
    assert!(
        till2
            .get_all_tc_token_jids()
            .await
            .expect("jids")
            .is_empty()
    );
    assert!(
        till2
            .get_sender_key_devices("g@g.us")
            .await
            .expect("skd")
            .is_empty()
    );
    assert_eq!(
        till2
            .delete_expired_sent_messages(i64::MAX)
            .await
            .expect("sweep"),
        0
    );
    assert_eq!(
        till2
            .delete_expired_pending_inbound(i64::MAX)
            .await
            .expect("sweep"),
        0
    );
    assert_eq!(
        till2
            .delete_expired_msg_secrets(i64::MAX)
            .await
            .expect("sweep"),
        0
    );
    assert_eq!(
        till2
            .delete_expired_tc_tokens(i64::MAX, i64::MAX)
            .await
            .expect("sweep"),
        0
    );
    till2.clear_all_sender_key_devices().await.expect("clear");
    till2.clear_mutation_macs("regular").await.expect("clear");

    fill(&till2, "B").await;
    check_filled(&till, "A").await;
    check_filled(&till2, "B").await;
}

#[tokio::test]
async fn wipe_session_removes_exactly_one_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let a = RedbBackend::new(store.clone(), "a");
    let b = RedbBackend::new(store.clone(), "b");
    fill(&a, "A").await;
    fill(&b, "B").await;
    let before_a = raw_row_counts(&store, "a");
    let before_b = raw_row_counts(&store, "b");
    assert!(
        before_a.iter().all(|(_, n)| *n > 0),
        "fill must reach every table: {before_a:?}"
    );
    let total: usize = before_a.iter().map(|(_, n)| n).sum();

    let db_store = store.clone();
    let removed = tokio::task::spawn_blocking(move || {
        wipe_session(&db_store.database().expect("database"), "a")
    })
    .await
    .expect("task")
    .expect("wipe");
    assert_eq!(removed as usize, total);
    assert!(raw_row_counts(&store, "a").iter().all(|(_, n)| *n == 0));
    assert_eq!(raw_row_counts(&store, "b"), before_b);
    assert!(!a.exists().await.expect("exists"));
    assert!(a.get_pn_mapping("100").await.expect("pn").is_none());
    check_filled(&b, "B").await;

    // Inside a caller's transaction: nothing goes unless it commits.
    let tx = store
        .database()
        .expect("database")
        .begin_write()
        .expect("tx");
    assert_eq!(
        wipe_session_in(&tx, "b").expect("wipe in tx") as usize,
        total
    );
    tx.abort().expect("abort");
    check_filled(&b, "B").await;
    assert_eq!(b.wipe().await.expect("wipe b"), total as u64);
    assert!(raw_row_counts(&store, "b").iter().all(|(_, n)| *n == 0));
    assert!(
        wipe_session(&store.database().expect("database"), "a\0").is_err(),
        "bad id refused"
    );
}

#[tokio::test]
async fn rows_survive_closing_and_reopening_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open_store(dir.path());
        fill(&RedbBackend::new(store.clone(), "s"), "P").await;
        fill(&RedbBackend::new(store, "t"), "Q").await;
    }
    let store = open_store(dir.path());
    check_filled(&RedbBackend::new(store.clone(), "s"), "P").await;
    check_filled(&RedbBackend::new(store, "t"), "Q").await;
}

/// Symptom guarded against: a garbled row (disk fault, older build) must not
/// panic the client; point reads report it, sweeps clear it.
#[tokio::test]
async fn garbled_rows_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    let backend = RedbBackend::new(store.clone(), "s");
    backend
        .put_msg_secret("c", "c", "ok", &[1; 32])
        .await
        .expect("secret");
    let mut sent_key = b"s\0".to_vec();
    sent_key.extend_from_slice(&[0, 0, 0, 1, b'c']);
    sent_key.extend_from_slice(b"m");
    let mut secret_key = b"s\0".to_vec();
    secret_key.extend_from_slice(&[0, 0, 0, 1, b'c', 0, 0, 0, 1, b'c']);
    secret_key.extend_from_slice(b"bad");
    let mut prekey_key = b"s\0".to_vec();
    prekey_key.extend_from_slice(&9u32.to_be_bytes());
    {
        let tx = store
            .database()
            .expect("database")
            .begin_write()
            .expect("tx");
        tx.open_table(WA_SENT_MESSAGE)
            .expect("t")
            .insert(sent_key.as_slice(), &[1u8, 2][..])
            .expect("put");
        tx.open_table(WA_MSG_SECRET)
            .expect("t")
            .insert(secret_key.as_slice(), &[3u8][..])
            .expect("put");
        tx.open_table(WA_PREKEY)
            .expect("t")
            .insert(prekey_key.as_slice(), &[7u8, 1][..])
            .expect("put");
        tx.open_table(WA_TC_TOKEN)
            .expect("t")
            .insert(&b"s\0j"[..], &b"{not json"[..])
            .expect("put");
        tx.commit().expect("commit");
    }
    let err = backend
        .take_sent_message("c", "m")
        .await
        .expect_err("garbled payload");
    assert!(matches!(err, StoreError::Serialization(_)), "{err:?}");
    assert!(backend.get_msg_secret("c", "c", "bad").await.is_err());
    assert!(backend.load_prekey(9).await.is_err());
    assert!(backend.mark_prekeys_uploaded(&[9]).await.is_err());
    assert!(backend.get_tc_token("j").await.is_err());
    assert_eq!(
        backend.get_all_tc_token_jids().await.expect("listing"),
        vec!["j".to_string()]
    );
    // Sweeps clear garbled rows and keep good ones.
    assert_eq!(
        backend
            .delete_expired_sent_messages(i64::MIN)
            .await
            .expect("sweep"),
        1
    );
    assert_eq!(
        backend.delete_expired_msg_secrets(0).await.expect("sweep"),
        1
    );
    assert_eq!(
        backend
            .delete_expired_tc_tokens(i64::MIN, i64::MIN)
            .await
            .expect("sweep"),
        1
    );
    assert!(
        backend
            .get_msg_secret("c", "c", "ok")
            .await
            .expect("good row")
            .is_some()
    );
}

#[tokio::test]
async fn unusable_session_ids_fail_every_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(dir.path());
    for id in ["", "a\0b"] {
        let backend = RedbBackend::new(store.clone(), id);
        let err = backend
            .put_session("x@lid", b"s")
            .await
            .expect_err("write refused");
        assert!(matches!(err, StoreError::Validation(_)), "{err:?}");
        assert!(backend.exists().await.is_err());
        assert!(backend.wipe().await.is_err());
    }
    assert!(raw_row_counts(&store, "a").iter().all(|(_, n)| *n == 0));
}

/// A file written before the key store existed (schema 1) gains the `wa_*`
/// tables on open, keeping its other data.
#[tokio::test]
async fn a_schema_1_file_upgrades_to_the_key_store() {
    use redb::ReadableDatabase;
    use wago::store::tables::{META, SETTINGS, WA_TABLES};
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = redb::Database::create(dir.path().join(wago::store::DB_FILE)).expect("create");
        let tx = db.begin_write().expect("tx");
        tx.open_table(META)
            .expect("meta")
            .insert("schema_version", 1)
            .expect("v1");
        tx.open_table(SETTINGS)
            .expect("settings")
            .insert("k", &b"v"[..])
            .expect("setting");
        tx.commit().expect("commit");
    }
    let store = open_store(dir.path());
    {
        let tx = store
            .database()
            .expect("database")
            .begin_read()
            .expect("read");
        let version = tx
            .open_table(META)
            .expect("meta")
            .get("schema_version")
            .expect("get");
        assert_eq!(
            version.map(|v| v.value()),
            Some(wago::store::SCHEMA_VERSION)
        );
        for def in WA_TABLES {
            tx.open_table(*def).expect("key-store table exists");
        }
        let setting = tx
            .open_table(SETTINGS)
            .expect("settings")
            .get("k")
            .expect("get");
        assert_eq!(setting.map(|v| v.value().to_vec()), Some(b"v".to_vec()));
    }
    fill(&RedbBackend::new(store.clone(), "s"), "U").await;
    check_filled(&RedbBackend::new(store, "s"), "U").await;
}
