//! Differential conformance, part 3a: a seeded pseudo-random sequence of
//! a few thousand `SignalStore`, `AppSyncStore` and `DeviceStore` calls over
//! small key spaces (so keys collide, get overwritten, deleted and
//! re-created), run against wacore's `InMemoryBackend` and `RedbBackend`
//! and compared after every call. Part 3b
//! (`backend_conformance_random_protocol.rs`) does the same for
//! `ProtocolStore` and `MsgSecretStore`.

mod backend_support;

use backend_support::random::*;
use backend_support::{Pair, SplitMix, pair};
use bytes::Bytes;
use std::sync::Arc;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::traits::*;

const SEED: u64 = 0x5EED_F00D;
const STEPS: u64 = 2000;

fn bytes_opt(v: Option<Bytes>) -> Option<Vec<u8>> {
    v.map(|b| b.to_vec())
}

fn pairs(v: Vec<(u32, Bytes)>) -> Vec<(u32, Vec<u8>)> {
    v.into_iter().map(|(id, r)| (id, r.to_vec())).collect()
}

#[tokio::test]
async fn random_signal_appsync_device_ops_match_reference() {
    let p = pair();
    let mut r = SplitMix(SEED);
    let mut device = Device::new();
    let mut ops_seen = [0u32; 8];
    for step in 0..STEPS {
        let _guard = StepGuard { seed: SEED, step };
        let family = r.below(8) as usize;
        ops_seen[family] += 1;
        match family {
            0 => identities(&p, &mut r).await,
            1 => sessions(&p, &mut r).await,
            2 => prekeys(&p, &mut r).await,
            3 => signed_and_sender_keys(&p, &mut r).await,
            4 => sync_keys_and_versions(&p, &mut r).await,
            5 => mutation_macs(&p, &mut r).await,
            6 => device_rows(&p, &mut r, &mut device).await,
            _ => user_scan(&p, &mut r).await,
        }
    }
    assert!(
        ops_seen.iter().all(|n| *n > 150),
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
