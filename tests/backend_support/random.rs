//! Shared pieces of the seeded random differential tests: small key
//! spaces (so keys collide), generators, and a guard naming the failing step.

use super::SplitMix;

pub const USERS: &[&str] = &["100", "1000", "101", "20"];
pub const SERVERS: &[&str] = &["s.whatsapp.net", "lid"];
pub const DEVICES: &[&str] = &["", ":1", ":23"];
pub const NAMES: &[&str] = &["regular", "regular_low", "critical_block"];
pub const GROUPS: &[&str] = &["g1@g.us", "g10@g.us", "g2@g.us"];
pub const JIDS: &[&str] = &["a@lid", "b@lid", "a@s.whatsapp.net"];
pub const LIDS: &[&str] = &["L1", "L2", "L3", "L4"];
pub const PHONES: &[&str] = &["P1", "P2", "P3"];
pub const IDS: &[&str] = &["m1", "m2", "m3"];

/// Names the step (and seed) that failed, if the comparison panics.
pub struct StepGuard {
    pub seed: u64,
    pub step: u64,
}

impl Drop for StepGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "differential mismatch at step {} (seed {:#x})",
                self.step, self.seed
            );
        }
    }
}

/// A Signal address `user[:device]@server` from the small key space.
pub fn address(r: &mut SplitMix) -> String {
    format!("{}{}@{}", r.pick(USERS), r.pick(DEVICES), r.pick(SERVERS))
}

/// 0 to 11 random bytes.
pub fn blob(r: &mut SplitMix) -> Vec<u8> {
    let len = r.below(12) as usize;
    r.bytes(len)
}
