//! The outbox's jobs: recording events with one job per matching
//! subscription, handing due jobs to the delivery workers and settling their
//! outcomes.
//!
//! [`record_events`] works inside a write transaction a domain method of the
//! store already has open (an inbound message and its webhook jobs commit
//! together), so an event is never recorded without its jobs; that method
//! rings the bell after its commit. Must not know about HTTP: the delivery
//! decisions (backoff, dead-lettering) are made by `webhook`, which passes
//! [`Outcome`]s back.

use super::subscriptions::{SubStats, all_subs, read_stats, to_json, write_stats};
use crate::event::Event;
use crate::store::tables::*;
use crate::store::{Store, StoreError};
use rand::Rng;
use redb::{Database, ReadableDatabase, ReadableTable, WriteTransaction};

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// `META` key of the last sequence number given out.
pub(crate) const SEQ_KEY: &str = "event_seq";
/// `META` key of the log's total size in bytes.
pub(crate) const LOG_BYTES_KEY: &str = "event_log_bytes";
/// `META` key of the number of events in the log.
pub(crate) const LOG_COUNT_KEY: &str = "event_log_count";
/// `SETTINGS` key of the random prefix of event ids (unique per database, so a
/// wiped box never repeats an id a receiver has already seen).
const EPOCH_KEY: &str = "event_id_epoch";

/// An event as the log holds it: the event plus its sequence number and id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedEvent {
    /// Global sequence number (the `/events` cursor and SSE `id`).
    pub seq: u64,
    /// Stable unique id, the same on every retry (`webhook-id`, `X-WA-Request-ID`).
    pub id: String,
    /// When it was recorded, Unix ms (retention by age).
    pub recorded_at: i64,
    /// The event itself.
    pub event: Event,
}

/// The state of one delivery job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The event's chat, so ordering can be decided without loading the event.
    pub chat: Option<String>,
    /// When the job was created, Unix ms (the retry window counts from here).
    pub created_at: i64,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this time, Unix ms.
    pub next_at: i64,
    /// HTTP status of the last attempt, if it got a response.
    pub last_status: Option<u16>,
    /// What went wrong last time.
    pub last_error: Option<String>,
    /// When it was dead-lettered, Unix ms.
    #[serde(default)]
    pub dead_at: Option<i64>,
}

/// A job handed to a delivery worker, with its event.
#[derive(Debug, Clone)]
pub struct DueJob {
    /// The event's sequence number (the job key within its subscription).
    pub seq: u64,
    /// The job state when it was handed out.
    pub job: JobRecord,
    /// The event to deliver.
    pub event: LoggedEvent,
}

/// What a worker learned from one attempt.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// 2xx: the job is done.
    Delivered { seq: u64 },
    /// Failed; try again at `next_at`.
    Retry {
        seq: u64,
        next_at: i64,
        status: Option<u16>,
        error: String,
    },
    /// Failed for good: move to the dead letters.
    Dead {
        seq: u64,
        status: Option<u16>,
        error: String,
    },
}

/// The result of scanning a subscription's jobs.
#[derive(Debug, Default)]
pub struct Scan {
    /// Jobs to start now, in seq order, at most one per chat.
    pub due: Vec<DueJob>,
    /// The earliest `next_at` among jobs that were not due yet.
    pub next_at: Option<i64>,
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(
    table: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        reason: e.to_string(),
    })
}

fn epoch(tx: &WriteTransaction) -> Result<String, StoreError> {
    let mut t = tx.open_table(SETTINGS)?;
    if let Some(v) = t.get(EPOCH_KEY)? {
        return Ok(hex::encode(v.value()));
    }
    let mut b = [0u8; 4];
    rand::rng().fill_bytes(&mut b);
    t.insert(EPOCH_KEY, b.as_slice())?;
    Ok(hex::encode(b))
}

/// Adds `delta` to a `META` counter.
pub(crate) fn bump(tx: &WriteTransaction, key: &str, delta: i64) -> Result<u64, StoreError> {
    let mut meta = tx.open_table(META)?;
    let cur = meta.get(key)?.map(|v| v.value()).unwrap_or(0);
    let new = cur.saturating_add_signed(delta);
    meta.insert(key, new)?;
    Ok(new)
}

/// Records `events` in the log inside the caller's write transaction, with one
/// pending job per matching subscription, and returns their sequence numbers.
///
/// Nothing is visible until the caller commits; after committing, the caller
/// rings the bell (`Bell::events_committed`) so the workers look at once.
pub(in crate::store) fn record_events(
    tx: &WriteTransaction,
    events: &[Event],
) -> Result<Vec<u64>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let subs = all_subs(tx)?;
    let epoch = epoch(tx)?;
    let now = now_ms();
    let first = {
        let meta = tx.open_table(META)?;
        meta.get(SEQ_KEY)?.map(|v| v.value()).unwrap_or(0) + 1
    };
    let mut stats: HashMap<u64, SubStats> = HashMap::new();
    let mut seqs = Vec::with_capacity(events.len());
    let mut bytes = 0i64;
    {
        let mut log = tx.open_table(EVENT_LOG)?;
        let mut jobs = tx.open_table(PENDING_JOB)?;
        let mut refs = tx.open_table(EVENT_REFS)?;
        for (i, ev) in events.iter().enumerate() {
            let seq = first + i as u64;
            let logged = LoggedEvent {
                seq,
                id: format!("evt_{epoch}_{seq}"),
                recorded_at: now,
                event: ev.clone(),
            };
            let rec = to_json(&logged)?;
            bytes += rec.len() as i64;
            log.insert(seq, rec.as_slice())?;
            let job = JobRecord {
                chat: ev.chat.clone(),
                created_at: now,
                attempts: 0,
                next_at: 0,
                last_status: None,
                last_error: None,
                dead_at: None,
            };
            let job = to_json(&job)?;
            let mut n = 0u32;
            for sub in subs
                .iter()
                .filter(|s| s.wants(&ev.session, &ev.event, ev.chat.as_deref()))
            {
                jobs.insert((sub.id, seq), job.as_slice())?;
                n += 1;
                let st = match stats.entry(sub.id) {
                    std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(read_stats(tx, sub.id)?)
                    }
                };
                st.pending += 1;
            }
            if n > 0 {
                refs.insert(seq, n)?;
            }
            seqs.push(seq);
        }
    }
    for (id, st) in &stats {
        write_stats(tx, *id, st)?;
    }
    let last = first + events.len() as u64 - 1;
    tx.open_table(META)?.insert(SEQ_KEY, last)?;
    bump(tx, LOG_BYTES_KEY, bytes)?;
    bump(tx, LOG_COUNT_KEY, events.len() as i64)?;
    Ok(seqs)
}

/// One job fewer needs event `seq`; when none does, it may be pruned.
pub(crate) fn release_event(tx: &WriteTransaction, seq: u64) -> Result<(), StoreError> {
    let mut refs = tx.open_table(EVENT_REFS)?;
    let n = refs.get(seq)?.map(|v| v.value()).unwrap_or(0);
    if n <= 1 {
        refs.remove(seq)?;
    } else {
        refs.insert(seq, n - 1)?;
    }
    Ok(())
}

/// Finds the jobs of `sub` to start now: scans at most `scan_limit` pending
/// jobs in seq order, skipping those in `in_flight`, and keeps order per chat:
/// a chat with a job in flight (`busy_chats`) or waiting for a retry gets
/// nothing newer. Jobs without a chat are independent.
pub fn scan_due(
    db: &Database,
    sub: u64,
    now: i64,
    in_flight: &HashSet<u64>,
    busy_chats: &HashSet<String>,
    want: usize,
    scan_limit: usize,
) -> Result<Scan, StoreError> {
    let tx = db.begin_read()?;
    let jobs = tx.open_table(PENDING_JOB)?;
    let log = tx.open_table(EVENT_LOG)?;
    let mut blocked: HashSet<String> = busy_chats.clone();
    let mut scan = Scan::default();
    for row in jobs.range((sub, 0)..=(sub, u64::MAX))?.take(scan_limit) {
        if scan.due.len() >= want {
            break;
        }
        let (k, v) = row?;
        let seq = k.value().1;
        if in_flight.contains(&seq) {
            continue;
        }
        let job: JobRecord = decode("pending_job", v.value())?;
        if let Some(chat) = &job.chat
            && blocked.contains(chat)
        {
            continue;
        }
        if job.next_at > now {
            scan.next_at = Some(scan.next_at.map_or(job.next_at, |t| t.min(job.next_at)));
            if let Some(chat) = &job.chat {
                blocked.insert(chat.clone());
            }
            continue;
        }
        if let Some(chat) = &job.chat {
            blocked.insert(chat.clone());
        }
        let Some(ev) = log.get(seq)? else {
            return Err(StoreError::Corrupt {
                table: "event_log",
                reason: format!("job ({sub}, {seq}) has no event"),
            });
        };
        let event: LoggedEvent = decode("event_log", ev.value())?;
        scan.due.push(DueJob { seq, job, event });
    }
    Ok(scan)
}

/// Settles the outcomes of `sub`'s attempts in one write transaction (group
/// commit: one fsync for every attempt that finished meanwhile).
fn apply_outcomes(db: &Database, sub: u64, outcomes: &[Outcome]) -> Result<(), StoreError> {
    let tx = db.begin_write()?;
    if tx.open_table(SUB_RECORD)?.get(sub)?.is_none() {
        // Deleted meanwhile, with its jobs: nothing to settle.
        return Ok(());
    }
    let mut st = read_stats(&tx, sub)?;
    let now = now_ms();
    {
        let mut jobs = tx.open_table(PENDING_JOB)?;
        let mut dead = tx.open_table(DEAD_JOB)?;
        for o in outcomes {
            match o {
                Outcome::Delivered { seq } => {
                    if jobs.remove((sub, *seq))?.is_some() {
                        st.pending = st.pending.saturating_sub(1);
                        st.delivered += 1;
                        release_event(&tx, *seq)?;
                    }
                }
                Outcome::Retry {
                    seq,
                    next_at,
                    status,
                    error,
                } => {
                    let Some(mut job) = jobs
                        .get((sub, *seq))?
                        .map(|v| decode::<JobRecord>("pending_job", v.value()))
                        .transpose()?
                    else {
                        continue;
                    };
                    job.attempts += 1;
                    job.next_at = *next_at;
                    job.last_status = *status;
                    job.last_error = Some(error.clone());
                    jobs.insert((sub, *seq), to_json(&job)?.as_slice())?;
                    st.retried += 1;
                }
                Outcome::Dead { seq, status, error } => {
                    let Some(mut job) = jobs
                        .remove((sub, *seq))?
                        .map(|v| decode::<JobRecord>("pending_job", v.value()))
                        .transpose()?
                    else {
                        continue;
                    };
                    job.attempts += 1;
                    job.last_status = *status;
                    job.last_error = Some(error.clone());
                    job.dead_at = Some(now);
                    dead.insert((sub, *seq), to_json(&job)?.as_slice())?;
                    st.pending = st.pending.saturating_sub(1);
                    st.dead += 1;
                }
            }
        }
    }
    write_stats(&tx, sub, &st)?;
    tx.commit()?;
    Ok(())
}

impl Store {
    /// Records `events` in their own transaction, commits (durably) and
    /// rings the bell. Returns their sequence numbers. For events that go
    /// with no other write.
    pub async fn append_events(&self, events: Vec<Event>) -> Result<Vec<u64>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.commit_events(|_| Ok(((), events)))
            .await
            .map(|((), seqs)| seqs)
    }

    /// Runs `work` in one write transaction, records the events it returns
    /// there with their jobs, commits, then rings the bell. Returns what
    /// `work` returned and the events' sequence numbers. The one place a
    /// write that produces events is committed, so none can forget to ring.
    pub(in crate::store) async fn commit_events<T, F>(
        &self,
        work: F,
    ) -> Result<(T, Vec<u64>), StoreError>
    where
        F: FnOnce(&WriteTransaction) -> Result<(T, Vec<Event>), StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (out, seqs) = self
            .run(move |db| {
                let tx = db.begin_write()?;
                let (out, events) = work(&tx)?;
                let seqs = record_events(&tx, &events)?;
                tx.commit()?;
                Ok((out, seqs))
            })
            .await?;
        self.bell().events_committed(&seqs);
        Ok((out, seqs))
    }

    /// The jobs of subscription `sub` to start now (see `scan_due`): at most
    /// `want`, looking at no more than `scan_limit` pending jobs, skipping
    /// `in_flight` and keeping order per chat (`busy_chats` get nothing).
    pub async fn scan_due(
        &self,
        sub: u64,
        now: i64,
        in_flight: HashSet<u64>,
        busy_chats: HashSet<String>,
        want: usize,
        scan_limit: usize,
    ) -> Result<Scan, StoreError> {
        self.run(move |db| scan_due(db, sub, now, &in_flight, &busy_chats, want, scan_limit))
            .await
    }

    /// Settles the outcomes of `sub`'s attempts in one transaction (group
    /// commit). A subscription deleted meanwhile settles nothing.
    pub async fn apply_outcomes(&self, sub: u64, outcomes: Vec<Outcome>) -> Result<(), StoreError> {
        self.run(move |db| apply_outcomes(db, sub, &outcomes)).await
    }

    /// The oldest pending job of `sub`: (seq, created_at).
    pub async fn oldest_pending(&self, sub: u64) -> Result<Option<(u64, i64)>, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read()?;
            let jobs = tx.open_table(PENDING_JOB)?;
            let Some(row) = jobs.range((sub, 0)..=(sub, u64::MAX))?.next() else {
                return Ok(None);
            };
            let (k, v) = row?;
            let job: JobRecord = decode("pending_job", v.value())?;
            Ok(Some((k.value().1, job.created_at)))
        })
        .await
    }
}

pub use crate::event::now_ms;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DEFAULT_CACHE_BYTES, Format, Subscription};

    fn ev(chat: Option<&str>) -> Event {
        Event {
            session: "s1".into(),
            event: "message.received".into(),
            chat: chat.map(str::to_string),
            timestamp: 1,
            payload: serde_json::json!({}),
            me: None,
        }
    }

    fn sub(session: Option<&str>, events: &[&str]) -> Subscription {
        Subscription {
            id: 0,
            session: session.map(str::to_string),
            main: false,
            url: "http://127.0.0.1:9/".into(),
            events: events.iter().map(|s| s.to_string()).collect(),
            format: Format::Json,
            secrets: vec![],
            headers: vec![],
            form_token: None,
            created_at: 0,
        }
    }

    #[tokio::test]
    async fn jobs_per_matching_subscription_and_order_per_chat() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
        let a = store
            .create_subscription(sub(Some("s1"), &[]))
            .await
            .expect("a");
        let other = store
            .create_subscription(sub(Some("s2"), &[]))
            .await
            .expect("b");
        let calls = store
            .create_subscription(sub(None, &["Call"]))
            .await
            .expect("c");
        // seq 1: chat x, 2: chat x, 3: chat y, 4: no chat, 5: no chat
        let seqs = store
            .append_events(vec![
                ev(Some("x")),
                ev(Some("x")),
                ev(Some("y")),
                ev(None),
                ev(None),
            ])
            .await
            .expect("append");
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        let stats = store.subscription_stats().await.expect("stats");
        let pending = |id| stats.iter().find(|(i, _)| *i == id).map(|(_, s)| s.pending);
        assert_eq!(pending(a.id), Some(5));
        assert_eq!(
            pending(other.id),
            Some(0),
            "another session's subscription gets nothing"
        );
        assert_eq!(pending(calls.id), Some(0), "filtered out");

        let id = a.id;
        let scan = |skip: Vec<u64>, busy: Vec<&str>| {
            let busy: HashSet<String> = busy.into_iter().map(str::to_string).collect();
            let skip: HashSet<u64> = skip.into_iter().collect();
            let store = store.clone();
            async move {
                store
                    .scan_due(id, now_ms(), skip, busy, 10, 100)
                    .await
                    .expect("scan")
            }
        };
        let due = |s: &Scan| s.due.iter().map(|d| d.seq).collect::<Vec<_>>();
        assert_eq!(
            due(&scan(vec![], vec![]).await),
            vec![1, 3, 4, 5],
            "one job per chat"
        );
        assert_eq!(
            due(&scan(vec![1], vec!["x"]).await),
            vec![3, 4, 5],
            "x busy"
        );
        assert_eq!(
            due(&scan(vec![1], vec![]).await),
            vec![2, 3, 4, 5],
            "x delivered, not yet committed"
        );
        // A retry scheduled later blocks its chat's newer jobs.
        let later = now_ms() + 60_000;
        store
            .apply_outcomes(
                id,
                vec![Outcome::Retry {
                    seq: 1,
                    next_at: later,
                    status: Some(503),
                    error: "HTTP 503".into(),
                }],
            )
            .await
            .expect("retry");
        let s = scan(vec![], vec![]).await;
        assert_eq!(due(&s), vec![3, 4, 5]);
        assert_eq!(s.next_at, Some(later));
        // Dead-lettering frees the chat.
        store
            .apply_outcomes(
                id,
                vec![Outcome::Dead {
                    seq: 1,
                    status: None,
                    error: "gone".into(),
                }],
            )
            .await
            .expect("dead");
        assert_eq!(due(&scan(vec![], vec![]).await), vec![2, 3, 4, 5]);
        let st = store.subscription_stats().await.expect("stats");
        let s = st
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, s)| *s)
            .expect("stats");
        assert_eq!((s.pending, s.retried, s.dead), (4, 1, 1));
    }
}
