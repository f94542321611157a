//! Differential conformance, part 2: `ProtocolStore` and `MsgSecretStore`,
//! against wacore's `InMemoryBackend`, plus the atomicity contracts checked
//! under concurrency on redb. Documented, deliberate differences from the
//! reference:
//! - `get_pn_mapping` returns the mapping with the newest `updated_at` among
//!   the LIDs still mapped to the phone (as the SQLite store's `ORDER BY
//!   updated_at DESC`). The reference returns the last-written LID and loses
//!   the phone entirely when that LID moves to another phone.
//! - `store_sent_message` keeps every row until the expiry sweep; the
//!   reference also evicts the oldest above 4096 rows to bound RAM.

mod backend_support;

use backend_support::pair;
use std::sync::Arc;
use whatsapp_rust::wacore::store::traits::*;
use whatsapp_rust::wacore::time::now_secs;

fn mapping(lid: &str, phone: &str, updated_at: i64) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid: lid.into(),
        phone_number: phone.into(),
        created_at: 1,
        updated_at,
        learning_source: "usync".into(),
    }
}

fn lid_of(entry: Option<LidPnMappingEntry>) -> Option<String> {
    entry.map(|e| e.lid)
}

#[tokio::test]
async fn sender_key_devices_match_reference() {
    let p = pair();
    same!(p, |b| b
        .set_sender_key_status("g1@g.us", &[("a:1@lid", true), ("b:2@lid", false)])
        .await);
    same!(p, |b| b
        .set_sender_key_status("g1@g.us0", &[("a:1@lid", true)])
        .await);
    same!(p, |b| b
        .set_sender_key_status("g2@g.us", &[("a:1@lid", false), ("c@lid", true)])
        .await);
    same!(p, |b| b
        .set_sender_key_status("g1@g.us", &[("b:2@lid", true)])
        .await);
    let g1 = same_unordered!(p, |b| b.get_sender_key_devices("g1@g.us").await);
    assert_eq!(
        g1.len(),
        2,
        "a group name that prefixes another stays apart"
    );
    same!(p, |b| b.delete_sender_key_device_rows(&["a:1@lid"]).await);
    same!(p, |b| b.delete_sender_key_device_rows(&[]).await);
    let g2 = same_unordered!(p, |b| b.get_sender_key_devices("g2@g.us").await);
    assert_eq!(g2, vec![("c@lid".to_string(), true)]);
    same_unordered!(p, |b| b.get_sender_key_devices("g1@g.us0").await);
    same!(p, |b| b.clear_sender_key_devices("g1@g.us").await);
    assert!(same_unordered!(p, |b| b.get_sender_key_devices("g1@g.us").await).is_empty());
    same_unordered!(p, |b| b.get_sender_key_devices("g2@g.us").await);
    same!(p, |b| b.clear_all_sender_key_devices().await);
    assert!(same_unordered!(p, |b| b.get_sender_key_devices("g2@g.us").await).is_empty());
}

#[tokio::test]
async fn lid_mappings_match_reference_while_updates_are_in_order() {
    let p = pair();
    same!(p, |b| b.put_lid_mapping(&mapping("L1", "P", 10)).await);
    same!(p, |b| b
        .put_lid_mappings(&[mapping("L2", "P", 20), mapping("L9", "Q", 21)])
        .await);
    assert_eq!(
        lid_of(same!(p, |b| b.get_pn_mapping("P").await)).as_deref(),
        Some("L2")
    );
    same!(p, |b| b.put_lid_mapping(&mapping("L1", "P", 30)).await);
    assert_eq!(
        lid_of(same!(p, |b| b.get_pn_mapping("P").await)).as_deref(),
        Some("L1")
    );
    assert_eq!(
        same!(p, |b| b.get_lid_mapping("L1").await).map(|e| e.updated_at),
        Some(30)
    );
    same!(p, |b| b.get_lid_mapping("nope").await);
    same!(p, |b| b.get_pn_mapping("nope").await);
    let all = same_unordered!(p, |b| b.get_all_lid_mappings().await);
    assert_eq!(all.len(), 3);
}

#[tokio::test]
async fn pn_mapping_is_the_newest_lid_still_mapped_to_the_phone() {
    let p = pair();
    both!(p, |b| b.put_lid_mapping(&mapping("L1", "P", 10)).await);
    both!(p, |b| b.put_lid_mapping(&mapping("L2", "P", 20)).await);
    // L2 moves to another phone: P's newest remaining LID is L1.
    both!(p, |b| b.put_lid_mapping(&mapping("L2", "P2", 30)).await);
    let redb = p.redb.get_pn_mapping("P").await.expect("redb");
    assert_eq!(lid_of(redb).as_deref(), Some("L1"));
    let mem = p.mem.get_pn_mapping("P").await.expect("mem");
    assert!(
        mem.is_none(),
        "reference forgets P here (documented difference)"
    );
    assert_eq!(
        lid_of(same!(p, |b| b.get_pn_mapping("P2").await)).as_deref(),
        Some("L2")
    );

    // A later write with an older updated_at does not win on redb.
    both!(p, |b| b.put_lid_mapping(&mapping("L3", "Q", 50)).await);
    both!(p, |b| b.put_lid_mapping(&mapping("L4", "Q", 40)).await);
    let redb = p.redb.get_pn_mapping("Q").await.expect("redb");
    assert_eq!(lid_of(redb).as_deref(), Some("L3"));
    // Equal updated_at: the later write wins, as on the reference.
    both!(p, |b| b.put_lid_mapping(&mapping("L5", "R", 60)).await);
    both!(p, |b| b.put_lid_mapping(&mapping("L6", "R", 60)).await);
    assert_eq!(
        lid_of(same!(p, |b| b.get_pn_mapping("R").await)).as_deref(),
        Some("L6")
    );
}

#[tokio::test]
async fn base_keys_device_lists_and_group_metadata_match_reference() {
    let p = pair();
    same!(p, |b| b.save_base_key("u@lid", "m1", b"bk1").await);
    assert!(same!(p, |b| b
        .has_same_base_key("u@lid", "m1", b"bk1")
        .await));
    assert!(!same!(p, |b| b
        .has_same_base_key("u@lid", "m1", b"other")
        .await));
    assert!(!same!(p, |b| b
        .has_same_base_key("u@lid", "m2", b"bk1")
        .await));
    same!(p, |b| b.delete_base_key("u@lid", "m1").await);
    assert!(!same!(p, |b| b
        .has_same_base_key("u@lid", "m1", b"bk1")
        .await));

    let record = |user: &str, n: u32| DeviceListRecord {
        user: user.into(),
        devices: (0..n)
            .map(|d| DeviceInfo::new(d, Some(d + 1)).with_hosting(d == 2))
            .collect(),
        timestamp: i64::from(n),
        phash: Some(format!("2:{n}")),
        raw_id: Some(n),
    };
    same!(p, |b| b.update_device_list(record("100", 2)).await);
    same!(p, |b| b
        .update_device_lists(vec![record("100", 3), record("200", 1)])
        .await);
    let got = same!(p, |b| b.get_devices("100").await).expect("stored");
    assert_eq!(got.devices.len(), 3);
    same!(p, |b| b.delete_devices("200").await);
    assert!(same!(p, |b| b.get_devices("200").await).is_none());

    same!(p, |b| b.put_group_metadata("g@g.us", b"v1").await);
    same!(p, |b| b.put_group_metadata("g@g.us", b"v2").await);
    assert_eq!(
        same!(p, |b| b.get_group_metadata("g@g.us").await),
        Some(b"v2".to_vec())
    );
    same!(p, |b| b.delete_group_metadata("g@g.us").await);
    assert_eq!(same!(p, |b| b.get_group_metadata("g@g.us").await), None);
}

#[tokio::test]
async fn tc_tokens_match_reference() {
    let p = pair();
    let entry = |token: &[u8], ts, sender| TcTokenEntry {
        token: token.to_vec(),
        token_timestamp: ts,
        sender_timestamp: sender,
    };
    same!(p, |b| b
        .put_tc_token("a@lid", &entry(b"ta", 100, None))
        .await);
    same!(p, |b| b.touch_tc_token_sender_timestamp("a@lid", 50).await);
    same!(p, |b| b.touch_tc_token_sender_timestamp("a@lid", 40).await);
    let a = same!(p, |b| b.get_tc_token("a@lid").await).expect("a");
    assert_eq!(
        (a.token.as_slice(), a.sender_timestamp),
        (&b"ta"[..], Some(50))
    );
    // Placeholder from a touch, then a real token fills it keeping the bucket.
    same!(p, |b| b.touch_tc_token_sender_timestamp("b@lid", 70).await);
    same!(p, |b| b.store_received_tc_token("b@lid", b"tb", 10).await);
    let b_row = same!(p, |b| b.get_tc_token("b@lid").await).expect("b");
    assert_eq!(
        (
            b_row.token.as_slice(),
            b_row.token_timestamp,
            b_row.sender_timestamp
        ),
        (&b"tb"[..], 10, Some(70))
    );
    // Newer wins: a stale token does not clobber, an equal-or-newer one does.
    same!(p, |b| b.store_received_tc_token("b@lid", b"stale", 9).await);
    same!(p, |b| b
        .store_received_tc_token("b@lid", b"fresh", 10)
        .await);
    assert_eq!(
        same!(p, |b| b.get_tc_token("b@lid").await).map(|e| e.token),
        Some(b"fresh".to_vec())
    );
    same!(p, |b| b.store_received_tc_token("c@lid", b"tc", 5).await);
    same_unordered!(p, |b| b.get_all_tc_token_jids().await);
    // (token_cutoff, sender_cutoff): a: token 100/sender 50, b: 10/70, c: 5/none.
    for (tc, sc) in [(0, 0), (6, 0), (101, 60), (200, 200)] {
        same!(p, |b| b.delete_expired_tc_tokens(tc, sc).await);
        same_unordered!(p, |b| b.get_all_tc_token_jids().await);
    }
    same!(p, |b| b
        .put_tc_token("d@lid", &entry(b"td", 1, Some(1)))
        .await);
    same!(p, |b| b.delete_tc_token("d@lid").await);
    assert!(same!(p, |b| b.get_tc_token("d@lid").await).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tc_token_and_secret_updates_are_atomic_under_concurrency() {
    let p = pair();
    let backend = Arc::new(p.redb);
    let mut tasks = Vec::new();
    for i in 0..16i64 {
        let b = backend.clone();
        tasks.push(tokio::spawn(async move {
            b.touch_tc_token_sender_timestamp("x@lid", 100 + i).await?;
            b.store_received_tc_token("x@lid", format!("tok-{i}").as_bytes(), 200 + i)
                .await?;
            let entry = MsgSecretEntry {
                chat: "c@s.whatsapp.net".into(),
                sender: "c@s.whatsapp.net".into(),
                msg_id: "M".into(),
                secret: [i as u8; 32],
                expires_at: 1000 + i,
                message_ts: 500 + i,
            };
            b.put_msg_secrets(vec![entry]).await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("write");
    }
    let row = backend
        .get_tc_token("x@lid")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.sender_timestamp, Some(115), "no touch may be lost");
    assert_eq!(
        (row.token, row.token_timestamp),
        (b"tok-15".to_vec(), 215),
        "newest token wins"
    );
    let (_, ts) = backend
        .get_msg_secret_with_ts("c@s.whatsapp.net", "c@s.whatsapp.net", "M")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(ts, 515, "the newest parent time survives every merge");
    assert_eq!(
        backend
            .delete_expired_msg_secrets(1014)
            .await
            .expect("sweep"),
        0,
        "deadline 1015 kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn take_sent_message_is_an_atomic_read_and_delete() {
    let p = pair();
    same!(p, |b| b.store_sent_message("c@lid", "m1", b"payload").await);
    same!(p, |b| b.store_sent_message("c@lid", "m2", b"two").await);
    assert_eq!(
        same!(p, |b| b.take_sent_message("c@lid", "m1").await),
        Some(b"payload".to_vec())
    );
    assert_eq!(same!(p, |b| b.take_sent_message("c@lid", "m1").await), None);
    let backend = Arc::new(p.redb);
    let takers: Vec<_> = (0..8)
        .map(|_| {
            let b = backend.clone();
            tokio::spawn(async move { b.take_sent_message("c@lid", "m2").await })
        })
        .collect();
    let mut winners = 0;
    for t in takers {
        if t.await.expect("task").expect("take").is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one concurrent take gets the payload");
}

#[tokio::test]
async fn sent_message_and_pending_inbound_sweeps_match_reference() {
    let p = pair();
    let now = now_secs();
    same!(p, |b| b.store_sent_message("c@lid", "m1", b"one").await);
    same!(p, |b| b
        .store_pending_inbound("c@lid", "s1@lid", "id", b"in-1")
        .await);
    same!(p, |b| b
        .store_pending_inbound("c@lid", "s2@lid", "id", b"in-2")
        .await);
    same!(p, |b| b
        .store_pending_inbound_batch(&[
            PendingInboundRow {
                chat: "d@lid",
                sender: "s@lid",
                id: "x",
                message: b"in-3"
            },
            PendingInboundRow {
                chat: "d@lid",
                sender: "s@lid",
                id: "y",
                message: b"in-4"
            },
        ])
        .await);
    assert_eq!(
        same!(p, |b| b.get_pending_inbound("c@lid", "s2@lid", "id").await),
        Some(b"in-2".to_vec())
    );
    same!(p, |b| b
        .delete_pending_inbound("c@lid", "s1@lid", "id")
        .await);
    assert_eq!(
        same!(p, |b| b.get_pending_inbound("c@lid", "s1@lid", "id").await),
        None
    );
    same!(p, |b| b
        .delete_pending_inbound_batch(&[PendingInboundKey {
            chat: "d@lid",
            sender: "s@lid",
            id: "x"
        }])
        .await);
    same!(p, |b| b.get_pending_inbound("d@lid", "s@lid", "x").await);

    assert_eq!(
        same!(p, |b| b.delete_expired_sent_messages(now - 3600).await),
        0
    );
    assert_eq!(
        same!(p, |b| b.delete_expired_pending_inbound(now - 3600).await),
        0
    );
    assert_eq!(
        same!(p, |b| b.delete_expired_sent_messages(now + 3600).await),
        1
    );
    assert_eq!(
        same!(p, |b| b.delete_expired_pending_inbound(now + 3600).await),
        2
    );
    same!(p, |b| b.take_sent_message("c@lid", "m1").await);
    same!(p, |b| b.get_pending_inbound("d@lid", "s@lid", "y").await);
}

#[tokio::test]
async fn msg_secrets_merge_like_the_reference() {
    let p = pair();
    let e = |id: &str, secret: u8, expires_at, message_ts| MsgSecretEntry {
        chat: "g@g.us".into(),
        sender: "u@lid".into(),
        msg_id: id.into(),
        secret: [secret; 32],
        expires_at,
        message_ts,
    };
    same!(p, |b| b
        .put_msg_secret("g@g.us", "u@lid", "plain", &[7; 32])
        .await);
    let n = same!(p, |b| b
        .put_msg_secrets(vec![e("a", 1, 100, 10), e("b", 2, 50, 0), e("c", 3, 30, 3)])
        .await);
    assert_eq!(n, 3);
    // Re-put: later deadline wins, 0 never shrinks to a deadline, 0 ts never clobbers.
    same!(p, |b| b
        .put_msg_secrets(vec![e("a", 4, 80, 0), e("b", 5, 0, 9), e("c", 6, 40, 2)])
        .await);
    assert_eq!(
        same!(p, |b| b
            .get_msg_secret_with_ts("g@g.us", "u@lid", "a")
            .await),
        Some((vec![4; 32], 10))
    );
    assert_eq!(
        same!(p, |b| b.get_msg_secret("g@g.us", "u@lid", "b").await),
        Some(vec![5; 32])
    );
    same!(p, |b| b
        .get_msg_secret_with_ts("g@g.us", "u@lid", "plain")
        .await);
    same!(p, |b| b.get_msg_secret("g@g.us", "other@lid", "a").await);
    // Deadlines now: a=100, b=never, c=40, plain=never. Sweep is "at or before".
    assert_eq!(same!(p, |b| b.delete_expired_msg_secrets(39).await), 0);
    assert_eq!(same!(p, |b| b.delete_expired_msg_secrets(40).await), 1);
    assert_eq!(
        same!(p, |b| b.delete_expired_msg_secrets(i64::MAX).await),
        1
    );
    same!(p, |b| b.get_msg_secret("g@g.us", "u@lid", "b").await);
}
