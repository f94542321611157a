//! Differential conformance, part 3b: a seeded pseudo-random sequence of
//! a few thousand `ProtocolStore` and `MsgSecretStore` calls over small key
//! spaces, run against wacore's `InMemoryBackend` and `RedbBackend` and
//! compared after every call.
//!
//! Documented differences, handled explicitly below:
//! - `get_pn_mapping`: redb returns the newest `updated_at` among LIDs still
//!   mapped to the phone; the reference can forget a phone whose latest LID
//!   moved. The check: redb must equal the newest mapping in the reference's
//!   own `get_all_lid_mappings`, and must equal the reference whenever the
//!   reference answers. `updated_at` grows with every put, as in the library.
//! - Time-based sweeps of sent and pending-inbound rows use cutoffs far from
//!   "now", since both stores stamp rows with the wall clock.

mod backend_support;

use backend_support::random::*;
use backend_support::{Pair, SplitMix, pair};
use std::sync::Arc;
use whatsapp_rust::wacore::store::traits::*;
use whatsapp_rust::wacore::time::now_secs;

const SEED: u64 = 0x0DDB_A110;
const STEPS: u64 = 2000;

#[tokio::test]
async fn random_protocol_and_secret_ops_match_reference() {
    let p = pair();
    let mut r = SplitMix(SEED);
    let mut clock: i64 = 0;
    let mut ops_seen = [0u32; 8];
    for step in 0..STEPS {
        let _guard = StepGuard { seed: SEED, step };
        clock += 10;
        let family = r.below(8) as usize;
        ops_seen[family] += 1;
        match family {
            0 => sender_key_devices(&p, &mut r).await,
            1 => lid_mappings(&p, &mut r, clock).await,
            2 => base_keys_and_devices(&p, &mut r).await,
            3 => group_metadata(&p, &mut r).await,
            4 => tc_tokens(&p, &mut r).await,
            5 => sent_messages(&p, &mut r).await,
            6 => pending_inbound(&p, &mut r).await,
            _ => msg_secrets(&p, &mut r).await,
        }
    }
    assert!(
        ops_seen.iter().all(|n| *n > 150),
        "every family exercised: {ops_seen:?}"
    );
}

async fn sender_key_devices(p: &Pair, r: &mut SplitMix) {
    let group = *r.pick(GROUPS);
    match r.below(10) {
        0..=3 => {
            let devices: Vec<(String, bool)> = (0..=r.below(3))
                .map(|_| (address(r), r.chance(50)))
                .collect();
            let entries: Vec<(&str, bool)> =
                devices.iter().map(|(d, k)| (d.as_str(), *k)).collect();
            same!(p, |b| b.set_sender_key_status(group, &entries).await);
        }
        4..=6 => {
            same_unordered!(p, |b| b.get_sender_key_devices(group).await);
        }
        7 => {
            same!(p, |b| b.clear_sender_key_devices(group).await);
        }
        8 => {
            let devices: Vec<String> = (0..=r.below(3)).map(|_| address(r)).collect();
            let refs: Vec<&str> = devices.iter().map(String::as_str).collect();
            same!(p, |b| b.delete_sender_key_device_rows(&refs).await);
        }
        _ => {
            if r.chance(20) {
                same!(p, |b| b.clear_all_sender_key_devices().await);
            }
        }
    }
}

fn mapping(r: &mut SplitMix, updated_at: i64) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid: r.pick(LIDS).to_string(),
        phone_number: r.pick(PHONES).to_string(),
        created_at: 1,
        updated_at,
        learning_source: format!("src{}", r.below(3)),
    }
}

async fn lid_mappings(p: &Pair, r: &mut SplitMix, clock: i64) {
    match r.below(5) {
        0 => {
            let entry = mapping(r, clock);
            same!(p, |b| b.put_lid_mapping(&entry).await);
        }
        1 => {
            let entries: Vec<_> = (0..=r.below(3))
                .map(|i| mapping(r, clock + i as i64))
                .collect();
            same!(p, |b| b.put_lid_mappings(&entries).await);
        }
        2 => {
            let lid = *r.pick(LIDS);
            same!(p, |b| b.get_lid_mapping(lid).await);
        }
        3 => {
            let phone = *r.pick(PHONES);
            let all = p.mem.get_all_lid_mappings().await.expect("mem all");
            let newest = all
                .into_iter()
                .filter(|e| e.phone_number == phone)
                .max_by_key(|e| e.updated_at);
            let red = p.redb.get_pn_mapping(phone).await.expect("redb pn");
            let json = backend_support::norm;
            assert_eq!(json(&red), json(&newest), "pn mapping of {phone}");
            if let Some(mem) = p.mem.get_pn_mapping(phone).await.expect("mem pn") {
                assert_eq!(json(&Some(mem)), json(&red), "reference answered {phone}");
            }
        }
        _ => {
            same_unordered!(p, |b| b.get_all_lid_mappings().await);
        }
    }
}

async fn base_keys_and_devices(p: &Pair, r: &mut SplitMix) {
    let a = address(r);
    let id = *r.pick(IDS);
    let user = *r.pick(USERS);
    let record = |r: &mut SplitMix, user: &str| DeviceListRecord {
        user: user.to_string(),
        devices: (0..r.below(3) as u32)
            .map(|d| DeviceInfo::new(d, r.chance(50).then_some(d)).with_hosting(r.chance(20)))
            .collect(),
        timestamp: r.below(1000) as i64,
        phash: r.chance(50).then(|| format!("2:{}", r.below(99))),
        raw_id: r.chance(50).then(|| r.below(9) as u32),
    };
    match r.below(8) {
        0 => {
            let key = vec![r.below(3) as u8];
            same!(p, |b| b.save_base_key(&a, id, &key).await);
        }
        1 => {
            let key = vec![r.below(3) as u8];
            same!(p, |b| b.has_same_base_key(&a, id, &key).await);
        }
        2 => {
            same!(p, |b| b.delete_base_key(&a, id).await);
        }
        3 => {
            let rec = record(r, user);
            same!(p, |b| b.update_device_list(rec.clone()).await);
        }
        4 => {
            let recs: Vec<_> = (0..=r.below(3))
                .map(|_| {
                    let u = *r.pick(USERS);
                    record(r, u)
                })
                .collect();
            same!(p, |b| b.update_device_lists(recs.clone()).await);
        }
        5 | 6 => {
            same!(p, |b| b.get_devices(user).await);
        }
        _ => {
            same!(p, |b| b.delete_devices(user).await);
        }
    }
}

async fn group_metadata(p: &Pair, r: &mut SplitMix) {
    let group = *r.pick(GROUPS);
    match r.below(3) {
        0 => {
            let v = blob(r);
            same!(p, |b| b.put_group_metadata(group, &v).await);
        }
        1 => {
            same!(p, |b| b.get_group_metadata(group).await);
        }
        _ => {
            same!(p, |b| b.delete_group_metadata(group).await);
        }
    }
}

async fn tc_tokens(p: &Pair, r: &mut SplitMix) {
    let jid = *r.pick(JIDS);
    let ts = |r: &mut SplitMix| r.below(100) as i64;
    match r.below(8) {
        0 => {
            let entry = TcTokenEntry {
                token: blob(r),
                token_timestamp: ts(r),
                sender_timestamp: r.chance(50).then(|| ts(r)),
            };
            same!(p, |b| b.put_tc_token(jid, &entry).await);
        }
        1 | 2 => {
            same!(p, |b| b.get_tc_token(jid).await);
        }
        3 => {
            same!(p, |b| b.delete_tc_token(jid).await);
        }
        4 => {
            same_unordered!(p, |b| b.get_all_tc_token_jids().await);
        }
        5 => {
            let (tc, sc) = (ts(r), ts(r));
            same!(p, |b| b.delete_expired_tc_tokens(tc, sc).await);
        }
        6 => {
            let t = ts(r);
            same!(p, |b| b.touch_tc_token_sender_timestamp(jid, t).await);
        }
        _ => {
            let (token, t) = (blob(r), ts(r));
            same!(p, |b| b.store_received_tc_token(jid, &token, t).await);
        }
    }
}

/// A cutoff far enough from now that the wall clock cannot flip a result.
fn far_cutoff(r: &mut SplitMix) -> i64 {
    let now = now_secs();
    *r.pick(&[i64::MIN, 0, now - 86_400, now + 86_400, i64::MAX])
}

async fn sent_messages(p: &Pair, r: &mut SplitMix) {
    let (chat, id) = (*r.pick(JIDS), *r.pick(IDS));
    match r.below(4) {
        0 | 1 => {
            let v = blob(r);
            same!(p, |b| b.store_sent_message(chat, id, &v).await);
        }
        2 => {
            same!(p, |b| b.take_sent_message(chat, id).await);
        }
        _ => {
            if r.chance(30) {
                let cutoff = far_cutoff(r);
                same!(p, |b| b.delete_expired_sent_messages(cutoff).await);
            }
        }
    }
}

async fn pending_inbound(p: &Pair, r: &mut SplitMix) {
    let (chat, sender, id) = (*r.pick(JIDS), *r.pick(JIDS), *r.pick(IDS));
    match r.below(6) {
        0 => {
            let v = blob(r);
            same!(p, |b| b.store_pending_inbound(chat, sender, id, &v).await);
        }
        1 => {
            let msgs: Vec<(&str, &str, &str, Vec<u8>)> = (0..=r.below(3))
                .map(|_| (*r.pick(JIDS), *r.pick(JIDS), *r.pick(IDS), blob(r)))
                .collect();
            let rows: Vec<PendingInboundRow<'_>> = msgs
                .iter()
                .map(|(chat, sender, id, message)| PendingInboundRow {
                    chat,
                    sender,
                    id,
                    message,
                })
                .collect();
            same!(p, |b| b.store_pending_inbound_batch(&rows).await);
        }
        2 => {
            same!(p, |b| b.get_pending_inbound(chat, sender, id).await);
        }
        3 => {
            same!(p, |b| b.delete_pending_inbound(chat, sender, id).await);
        }
        4 => {
            let keys: Vec<PendingInboundKey<'_>> = (0..=r.below(3))
                .map(|_| {
                    let (chat, sender, id) = (*r.pick(JIDS), *r.pick(JIDS), *r.pick(IDS));
                    PendingInboundKey { chat, sender, id }
                })
                .collect();
            same!(p, |b| b.delete_pending_inbound_batch(&keys).await);
        }
        _ => {
            if r.chance(30) {
                let cutoff = far_cutoff(r);
                same!(p, |b| b.delete_expired_pending_inbound(cutoff).await);
            }
        }
    }
}

async fn msg_secrets(p: &Pair, r: &mut SplitMix) {
    let (chat, sender, id) = (*r.pick(JIDS), *r.pick(JIDS), *r.pick(IDS));
    let entry = |r: &mut SplitMix| MsgSecretEntry {
        chat: Arc::from(*r.pick(JIDS)),
        sender: Arc::from(*r.pick(JIDS)),
        msg_id: Arc::from(*r.pick(IDS)),
        secret: [r.below(256) as u8; 32],
        expires_at: *r.pick(&[0, 10, 20, 30]),
        message_ts: *r.pick(&[0, 5, 7]),
    };
    match r.below(6) {
        0 => {
            let secret = [r.below(256) as u8; 32];
            same!(p, |b| b.put_msg_secret(chat, sender, id, &secret).await);
        }
        1 | 2 => {
            let entries: Vec<_> = (0..=r.below(3)).map(|_| entry(r)).collect();
            same!(p, |b| b.put_msg_secrets(entries.clone()).await);
        }
        3 => {
            same!(p, |b| b.get_msg_secret(chat, sender, id).await);
        }
        4 => {
            same!(p, |b| b.get_msg_secret_with_ts(chat, sender, id).await);
        }
        _ => {
            let cutoff = *r.pick(&[0, 10, 15, 25]);
            same!(p, |b| b.delete_expired_msg_secrets(cutoff).await);
        }
    }
}
