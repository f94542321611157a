//! Differential conformance, part 3: a seeded pseudo-random sequence of a
//! few thousand calls over small key spaces (so keys collide, get
//! overwritten, deleted and re-created), run against wacore's
//! `InMemoryBackend` and `RedbBackend` and compared after every call.
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

use backend_support::{Pair, SplitMix, pair};
use bytes::Bytes;
use std::sync::Arc;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::traits::*;
use whatsapp_rust::wacore::time::now_secs;

const SEED: u64 = 0x5EED_F00D;
const STEPS: u64 = 3000;

const USERS: &[&str] = &["100", "1000", "101", "20"];
const SERVERS: &[&str] = &["s.whatsapp.net", "lid"];
const DEVICES: &[&str] = &["", ":1", ":23"];
const NAMES: &[&str] = &["regular", "regular_low", "critical_block"];
const GROUPS: &[&str] = &["g1@g.us", "g10@g.us", "g2@g.us"];
const JIDS: &[&str] = &["a@lid", "b@lid", "a@s.whatsapp.net"];
const LIDS: &[&str] = &["L1", "L2", "L3", "L4"];
const PHONES: &[&str] = &["P1", "P2", "P3"];
const IDS: &[&str] = &["m1", "m2", "m3"];

/// Names the step that failed, if the comparison panics.
struct StepGuard(u64);

impl Drop for StepGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("differential mismatch at step {} (seed {SEED:#x})", self.0);
        }
    }
}

fn address(r: &mut SplitMix) -> String {
    format!("{}{}@{}", r.pick(USERS), r.pick(DEVICES), r.pick(SERVERS))
}

fn blob(r: &mut SplitMix) -> Vec<u8> {
    let len = r.below(12) as usize;
    r.bytes(len)
}

fn bytes_opt(v: Option<Bytes>) -> Option<Vec<u8>> {
    v.map(|b| b.to_vec())
}

fn pairs(v: Vec<(u32, Bytes)>) -> Vec<(u32, Vec<u8>)> {
    v.into_iter().map(|(id, r)| (id, r.to_vec())).collect()
}

#[tokio::test]
async fn random_op_sequence_matches_reference_step_by_step() {
    let p = pair();
    let mut r = SplitMix(SEED);
    let mut device = Device::new();
    let mut clock: i64 = 0;
    let mut ops_seen = [0u32; 16];
    for step in 0..STEPS {
        let _guard = StepGuard(step);
        clock += 10;
        let family = r.below(16) as usize;
        ops_seen[family] += 1;
        match family {
            0 => identities(&p, &mut r).await,
            1 => sessions(&p, &mut r).await,
            2 => prekeys(&p, &mut r).await,
            3 => signed_and_sender_keys(&p, &mut r).await,
            4 => sync_keys_and_versions(&p, &mut r).await,
            5 => mutation_macs(&p, &mut r).await,
            6 => sender_key_devices(&p, &mut r).await,
            7 => lid_mappings(&p, &mut r, clock).await,
            8 => base_keys_and_devices(&p, &mut r).await,
            9 => group_metadata(&p, &mut r).await,
            10 => tc_tokens(&p, &mut r).await,
            11 => sent_messages(&p, &mut r).await,
            12 => pending_inbound(&p, &mut r).await,
            13 => msg_secrets(&p, &mut r).await,
            14 => device_rows(&p, &mut r, &mut device).await,
            _ => user_scan(&p, &mut r).await,
        }
    }
    assert!(
        ops_seen.iter().all(|n| *n > 100),
        "every family exercised: {ops_seen:?}"
    );
}

async fn identities(p: &Pair, r: &mut SplitMix) {
    let a = address(r);
    match r.below(4) {
        0 => {
            let key = [r.below(256) as u8; 32];
            same!(p, |b| b.put_identity(&a, key).await);
        }
        1 => {
            let batch: Vec<(Arc<str>, [u8; 32])> = (0..=r.below(3))
                .map(|_| (Arc::from(address(r)), [r.below(256) as u8; 32]))
                .collect();
            same!(p, |b| b.put_identities_batch(&batch).await);
        }
        2 => {
            same!(p, |b| b.load_identity(&a).await);
        }
        _ => {
            same!(p, |b| b.delete_identity(&a).await);
        }
    }
}

async fn sessions(p: &Pair, r: &mut SplitMix) {
    let a = address(r);
    match r.below(5) {
        0 => {
            let v = blob(r);
            same!(p, |b| b.put_session(&a, &v).await);
        }
        1 => {
            let batch: Vec<(Arc<str>, Bytes)> = (0..=r.below(3))
                .map(|_| (Arc::from(address(r)), Bytes::from(blob(r))))
                .collect();
            same!(p, |b| b.put_sessions_batch(&batch).await);
        }
        2 => {
            same!(p, |b| b.get_session(&a).await.map(bytes_opt));
        }
        3 => {
            same!(p, |b| b.has_session(&a).await);
        }
        _ => {
            same!(p, |b| b.delete_session(&a).await);
        }
    }
}

async fn user_scan(p: &Pair, r: &mut SplitMix) {
    let user = match r.below(3) {
        0 => format!("{}{}", r.pick(USERS), r.pick(DEVICES)),
        1 => r.pick(USERS)[..2].to_string(),
        _ => r.pick(USERS).to_string(),
    };
    same!(p, |b| b.has_signal_state_for_user(&user).await);
}

async fn prekeys(p: &Pair, r: &mut SplitMix) {
    // Ids straddle a byte boundary so key order must be numeric order.
    let id = |r: &mut SplitMix| 250 + r.below(12) as u32;
    match r.below(7) {
        0 => {
            let (i, v, up) = (id(r), blob(r), r.chance(50));
            same!(p, |b| b.store_prekey(i, &v, up).await);
        }
        1 => {
            let keys: Vec<(u32, Bytes)> = (0..=r.below(4))
                .map(|_| (id(r), Bytes::from(blob(r))))
                .collect();
            let up = r.chance(50);
            same!(p, |b| b.store_prekeys_batch(&keys, up).await);
        }
        2 => {
            let i = id(r);
            same!(p, |b| b.load_prekey(i).await.map(bytes_opt));
        }
        3 => {
            let ids: Vec<u32> = (0..=r.below(4)).map(|_| id(r)).collect();
            same!(p, |b| b.load_prekeys_batch(&ids).await.map(pairs));
        }
        4 => {
            let ids: Vec<u32> = (0..=r.below(4)).map(|_| id(r)).collect();
            same!(p, |b| b.mark_prekeys_uploaded(&ids).await);
            for i in ids {
                let exists = p.mem.load_prekey(i).await.expect("mem").is_some();
                let flag = p.redb.prekey_uploaded(i).await.expect("flag");
                assert_eq!(flag, exists.then_some(true), "prekey {i} after marking");
            }
        }
        5 => {
            let i = id(r);
            same!(p, |b| b.remove_prekey(i).await);
        }
        _ => {
            same!(p, |b| b.get_max_prekey_id().await);
        }
    }
}

async fn signed_and_sender_keys(p: &Pair, r: &mut SplitMix) {
    let id = r.below(4) as u32;
    let a = format!("{}::{}", r.pick(GROUPS), address(r));
    match r.below(8) {
        0 => {
            let v = blob(r);
            same!(p, |b| b.store_signed_prekey(id, &v).await);
        }
        1 => {
            same!(p, |b| b.load_signed_prekey(id).await);
        }
        2 => {
            same_unordered!(p, |b| b.load_all_signed_prekeys().await);
        }
        3 => {
            same!(p, |b| b.remove_signed_prekey(id).await);
        }
        4 => {
            let v = blob(r);
            same!(p, |b| b.put_sender_key(&a, &v).await);
        }
        5 => {
            let batch: Vec<(Arc<str>, Bytes)> = (0..=r.below(3))
                .map(|_| {
                    (
                        Arc::from(format!("{}::{}", r.pick(GROUPS), address(r))),
                        Bytes::from(blob(r)),
                    )
                })
                .collect();
            same!(p, |b| b.put_sender_keys_batch(&batch).await);
        }
        6 => {
            same!(p, |b| b.get_sender_key(&a).await);
        }
        _ => {
            same!(p, |b| b.delete_sender_key(&a).await);
        }
    }
}

async fn sync_keys_and_versions(p: &Pair, r: &mut SplitMix) {
    let key_id = vec![r.below(4) as u8];
    let name = *r.pick(NAMES);
    match r.below(5) {
        0 => {
            let key = AppStateSyncKey {
                key_data: blob(r),
                fingerprint: blob(r),
                timestamp: r.below(1000) as i64,
            };
            same!(p, |b| b.set_sync_key(&key_id, key.clone()).await);
        }
        1 => {
            same!(p, |b| b.get_sync_key(&key_id).await);
        }
        2 => {
            same!(p, |b| b.get_latest_sync_key_id().await);
        }
        3 => {
            let mut state = HashState {
                version: r.below(100),
                mac_mismatch_fatal: r.chance(10),
                ..HashState::default()
            };
            state.hash[r.below(128) as usize] = r.below(256) as u8;
            for _ in 0..r.below(4) {
                state
                    .index_value_map
                    .insert(format!("i{}", r.below(8)), blob(r));
            }
            same!(p, |b| b.set_version(name, state.clone()).await);
        }
        _ => {
            same!(p, |b| b.get_version(name).await);
        }
    }
}

async fn mutation_macs(p: &Pair, r: &mut SplitMix) {
    let name = *r.pick(NAMES);
    let index = |r: &mut SplitMix| [r.below(6) as u8; 32];
    match r.below(5) {
        0 => {
            let macs: Vec<AppStateMutationMAC> = (0..=r.below(3))
                .map(|_| AppStateMutationMAC {
                    index_mac: index(r).to_vec(),
                    value_mac: blob(r),
                })
                .collect();
            let version = r.below(50);
            same!(p, |b| b.put_mutation_macs(name, version, &macs).await);
        }
        1 => {
            let i = index(r);
            same!(p, |b| b.get_mutation_mac(name, &i).await);
        }
        2 => {
            let ids: Vec<[u8; 32]> = (0..=r.below(4)).map(|_| index(r)).collect();
            let sorted = |m: std::collections::HashMap<[u8; 32], Vec<u8>>| {
                let mut v: Vec<_> = m.into_iter().collect();
                v.sort();
                v
            };
            same!(p, |b| b.get_mutation_macs(name, &ids).await.map(sorted));
        }
        3 => {
            let ids: Vec<Vec<u8>> = (0..=r.below(3)).map(|_| index(r).to_vec()).collect();
            same!(p, |b| b.delete_mutation_macs(name, &ids).await);
        }
        _ => {
            if r.chance(30) {
                same!(p, |b| b.clear_mutation_macs(name).await);
            }
        }
    }
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

async fn device_rows(p: &Pair, r: &mut SplitMix, device: &mut Device) {
    match r.below(3) {
        0 => {
            device.push_name = format!("name-{}", r.below(50));
            device.next_pre_key_id = r.below(1000) as u32;
            device.server_has_prekeys = r.chance(50);
            same!(p, |b| b.save(device).await);
        }
        1 => {
            same!(p, |b| b.load().await);
        }
        _ => {
            same!(p, |b| b.exists().await);
        }
    }
}
