//! The guard's rows: each session's fair-use counters, the decision taken
//! on each accepted send, and the suppression list (recipients who opted
//! out, or whom the operator blocked).
//!
//! The counters and the decision are written in the transaction that
//! accepts the send (`messages::guarded`), so a crash can neither lose a
//! decision nor count a send twice. Opt-outs found in inbound messages are
//! written in the transaction that commits the message (`messages::commit`).
//! What a decision is, is the guard's business (`crate::guard`): this file
//! only stores it.

use super::tables::{META, POLICY_LOG, SESSION_RECORD, SUPPRESSED};
use super::{Store, StoreError};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// A session's fair-use counters: sends accepted on local day `day` and in
/// local month `month` (see `guard::period`). A count of an earlier period is
/// a zero for the current one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Local day number the daily count belongs to.
    pub day: i64,
    /// Sends accepted that day.
    pub day_used: u64,
    /// Local month number the monthly count belongs to.
    pub month: i64,
    /// Sends accepted that month.
    pub month_used: u64,
}

/// One recipient on a session's suppression list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// The recipient's number (digits, no `+`).
    pub phone: String,
    /// Why: `recipient_requested_stop`, or the operator's reason.
    pub reason: String,
    /// `keyword` (the recipient sent an opt-out keyword) or `api`.
    pub source: String,
    /// When, Unix ms.
    pub at: i64,
    /// The message that opted out, for `keyword`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_text: Option<String>,
}

/// What the guard decides a send on, read in the accepting transaction.
#[derive(Debug, Clone)]
pub struct SendFacts {
    /// The session's name (per-session settings are keyed by name or id).
    pub session_name: String,
    /// Its counters as stored.
    pub usage: Usage,
    /// The recipient's suppression entry, if it has one.
    pub suppressed: Option<Suppression>,
}

/// A send the guard let through: the counters to store and the decision to
/// keep beside the message.
#[derive(Debug, Clone)]
pub struct Allowed {
    /// The session's counters including this send.
    pub usage: Usage,
    /// The decision (purpose, counters used), stored under the message id.
    pub decision: serde_json::Value,
}

/// An opt-out or opt-in found in an inbound message, committed with it.
#[derive(Debug, Clone)]
pub enum OptChange {
    /// Put this recipient on the list.
    Out(Suppression),
    /// Take this number off the list.
    In(String),
}

pub(in crate::store) fn suppression_key(session: &str, phone: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(session.len() + 1 + phone.len());
    k.extend_from_slice(session.as_bytes());
    k.push(0);
    k.extend_from_slice(phone.as_bytes());
    k
}

/// Bits of a packed counter row that hold the count (the period number is above).
const COUNT_BITS: u32 = 40;

/// The `meta` keys of a session's daily and monthly counters. They live in
/// `meta` (`period << 40 | count`), which every accepted send writes anyway
/// (the message sequence number), so counting costs no extra table per commit.
fn usage_keys(session: &str) -> (String, String) {
    (
        format!("guard_day\0{session}"),
        format!("guard_month\0{session}"),
    )
}

fn unpack(v: u64) -> (i64, u64) {
    ((v >> COUNT_BITS) as i64, v & ((1 << COUNT_BITS) - 1))
}

fn pack(period: i64, count: u64) -> u64 {
    ((period.max(0) as u64) << COUNT_BITS) | count.min((1 << COUNT_BITS) - 1)
}

fn read_usage(
    meta: &impl ReadableTable<&'static str, u64>,
    session: &str,
) -> Result<Usage, StoreError> {
    let (dk, mk) = usage_keys(session);
    let (day, day_used) = meta
        .get(dk.as_str())?
        .map(|v| unpack(v.value()))
        .unwrap_or((0, 0));
    let (month, month_used) = meta
        .get(mk.as_str())?
        .map(|v| unpack(v.value()))
        .unwrap_or((0, 0));
    Ok(Usage {
        day,
        day_used,
        month,
        month_used,
    })
}

fn decode<T: for<'de> Deserialize<'de>>(table: &'static str, b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt {
        table,
        reason: e.to_string(),
    })
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Db(e.to_string()))
}

/// Reads what the guard needs about a send to `phone` inside `tx`.
pub(in crate::store) fn facts(
    tx: &WriteTransaction,
    session: &str,
    phone: &str,
) -> Result<SendFacts, StoreError> {
    let session_name = match tx.open_table(SESSION_RECORD)?.get(session)? {
        Some(v) => super::sessions::decode(v.value())?.name,
        None => String::new(),
    };
    let usage = read_usage(&tx.open_table(META)?, session)?;
    let suppressed = match tx
        .open_table(SUPPRESSED)?
        .get(suppression_key(session, phone).as_slice())?
    {
        Some(v) => Some(decode("suppressed", v.value())?),
        None => None,
    };
    Ok(SendFacts {
        session_name,
        usage,
        suppressed,
    })
}

pub(in crate::store) fn put_usage(
    tx: &WriteTransaction,
    session: &str,
    usage: &Usage,
) -> Result<(), StoreError> {
    let (dk, mk) = usage_keys(session);
    let mut meta = tx.open_table(META)?;
    meta.insert(dk.as_str(), pack(usage.day, usage.day_used))?;
    meta.insert(mk.as_str(), pack(usage.month, usage.month_used))?;
    Ok(())
}

/// Applies an opt change inside `tx`; returns whether the list changed
/// (a second STOP, or a START from someone not on it, changes nothing).
pub(in crate::store) fn apply_opt(
    tx: &WriteTransaction,
    session: &str,
    change: &OptChange,
) -> Result<bool, StoreError> {
    let mut t = tx.open_table(SUPPRESSED)?;
    match change {
        OptChange::Out(s) => {
            let k = suppression_key(session, &s.phone);
            if t.get(k.as_slice())?.is_some() {
                return Ok(false);
            }
            t.insert(k.as_slice(), encode(s)?.as_slice())?;
            Ok(true)
        }
        OptChange::In(phone) => Ok(t
            .remove(suppression_key(session, phone).as_slice())?
            .is_some()),
    }
}

/// Deletes a session's counters and suppression list inside `tx`.
pub(in crate::store) fn delete_session_rows_in(
    tx: &WriteTransaction,
    session: &str,
) -> Result<(), StoreError> {
    let (dk, mk) = usage_keys(session);
    let mut meta = tx.open_table(META)?;
    meta.remove(dk.as_str())?;
    meta.remove(mk.as_str())?;
    let start = suppression_key(session, "");
    let mut end = start.clone();
    end.push(0xff);
    tx.open_table(SUPPRESSED)?
        .retain_in(start.as_slice()..end.as_slice(), |_, _| false)?;
    tx.open_table(POLICY_LOG)?
        .retain_in(start.as_slice()..end.as_slice(), |_, _| false)?;
    Ok(())
}

/// Refusals kept per session in the policy log (older ones are dropped).
pub const MAX_POLICY_LOG: u64 = 1000;

fn policy_key(session: &str, seq: u64) -> Vec<u8> {
    let mut k = suppression_key(session, "");
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl Store {
    /// Appends a refusal to the session's policy log, dropping the entry
    /// [`MAX_POLICY_LOG`] older. One small commit per refusal: the API's
    /// request rates per token bound how many a flood can cause.
    pub async fn log_refusal(
        &self,
        session: &str,
        entry: serde_json::Value,
    ) -> Result<(), StoreError> {
        let session = session.to_string();
        self.run(move |db| {
            let tx = db.begin_write()?;
            {
                let seq_key = format!("policy_seq\0{session}");
                let mut meta = tx.open_table(META)?;
                let seq = meta.get(seq_key.as_str())?.map(|v| v.value()).unwrap_or(0) + 1;
                meta.insert(seq_key.as_str(), seq)?;
                let mut log = tx.open_table(POLICY_LOG)?;
                let mut entry = entry;
                entry["seq"] = seq.into();
                log.insert(
                    policy_key(&session, seq).as_slice(),
                    encode(&entry)?.as_slice(),
                )?;
                if seq > MAX_POLICY_LOG {
                    log.remove(policy_key(&session, seq - MAX_POLICY_LOG).as_slice())?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The session's policy log after `after` (a `seq`), oldest first.
    pub async fn policy_log(
        &self,
        session: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let session = session.to_string();
        self.run(move |db| {
            let tx = db.begin_read()?;
            let t = tx.open_table(POLICY_LOG)?;
            let start = policy_key(&session, after.saturating_add(1));
            let end = policy_key(&session, u64::MAX);
            let mut out = Vec::new();
            for row in t.range(start.as_slice()..=end.as_slice())? {
                if out.len() >= limit {
                    break;
                }
                let (_, v) = row?;
                out.push(decode("policy_log", v.value())?);
            }
            Ok(out)
        })
        .await
    }

    /// The session's fair-use counters as stored.
    pub async fn usage(&self, session: &str) -> Result<Usage, StoreError> {
        let session = session.to_string();
        self.run(move |db| {
            let tx = db.begin_read()?;
            read_usage(&tx.open_table(META)?, &session)
        })
        .await
    }

    /// Puts a recipient on the session's suppression list (replacing an
    /// earlier entry). Returns whether it was new.
    pub async fn suppress(&self, session: &str, s: Suppression) -> Result<bool, StoreError> {
        let session = session.to_string();
        self.run(move |db| {
            let tx = db.begin_write()?;
            let new = {
                let mut t = tx.open_table(SUPPRESSED)?;
                t.insert(
                    suppression_key(&session, &s.phone).as_slice(),
                    encode(&s)?.as_slice(),
                )?
                .is_none()
            };
            tx.commit()?;
            Ok(new)
        })
        .await
    }

    /// Takes a number off the session's suppression list; whether it was on it.
    pub async fn unsuppress(&self, session: &str, phone: &str) -> Result<bool, StoreError> {
        let (session, phone) = (session.to_string(), phone.to_string());
        self.run(move |db| {
            let tx = db.begin_write()?;
            let removed = apply_opt(&tx, &session, &OptChange::In(phone))?;
            tx.commit()?;
            Ok(removed)
        })
        .await
    }

    /// The session's suppression list, by number.
    pub async fn suppressed(&self, session: &str) -> Result<Vec<Suppression>, StoreError> {
        let session = session.to_string();
        self.run(move |db| {
            let tx = db.begin_read()?;
            let t = tx.open_table(SUPPRESSED)?;
            let start = suppression_key(&session, "");
            let mut end = start.clone();
            end.push(0xff);
            let mut out = Vec::new();
            for row in t.range(start.as_slice()..end.as_slice())? {
                let (_, v) = row?;
                out.push(decode("suppressed", v.value())?);
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DEFAULT_CACHE_BYTES;

    fn entry(phone: &str) -> Suppression {
        Suppression {
            phone: phone.into(),
            reason: "asked".into(),
            source: "api".into(),
            at: 1,
            message_text: None,
        }
    }

    #[test]
    fn counters_pack_and_unpack() {
        for (period, count) in [(0, 0), (20_581, 3), (24_316, 31_000_000)] {
            assert_eq!(unpack(pack(period, count)), (period, count));
        }
    }

    #[tokio::test]
    async fn the_suppression_list_is_per_session_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
            assert!(store.suppress("s", entry("155")).await.expect("put"));
            assert!(!store.suppress("s", entry("155")).await.expect("again"));
            assert!(store.suppress("s", entry("156")).await.expect("put"));
            assert!(store.suppress("t", entry("155")).await.expect("put"));
            assert!(store.unsuppress("t", "155").await.expect("del"));
            assert!(!store.unsuppress("t", "155").await.expect("del"));
        }
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("reopen");
        let list = store.suppressed("s").await.expect("list");
        let phones: Vec<&str> = list.iter().map(|s| s.phone.as_str()).collect();
        assert_eq!(phones, ["155", "156"]);
        assert!(store.suppressed("t").await.expect("list").is_empty());
        for i in 0..3 {
            let e = serde_json::json!({ "error": format!("e{i}") });
            store.log_refusal("s", e).await.expect("log");
        }
        let log = store.policy_log("s", 1, 10).await.expect("log");
        let codes: Vec<&str> = log.iter().filter_map(|e| e["error"].as_str()).collect();
        assert_eq!(codes, ["e1", "e2"], "after seq 1, oldest first");
        assert!(store.policy_log("t", 0, 10).await.expect("log").is_empty());
        assert_eq!(store.usage("s").await.expect("usage"), Usage::default());
    }
}
