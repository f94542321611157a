//! Reading the event log (`/events`, SSE) and keeping it small (retention).
//!
//! Retention removes events by age and by total size, oldest first, but only
//! events no job needs any more (delivered everywhere, or never subscribed).
//! An undelivered event is never pruned: when only those are left and the log
//! is still over its cap, [`LogStatus::over_cap`] says so (status, metrics).

use super::jobs::{LOG_BYTES_KEY, LOG_COUNT_KEY, LoggedEvent, SEQ_KEY, bump, decode};
use crate::store::tables::*;
use crate::store::{Store, StoreError};
use redb::{ReadableDatabase, ReadableTable};

/// Most events one pruning transaction removes (keeps transactions short).
pub const PRUNE_BATCH: usize = 2000;

/// Retention limits.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Delivered events older than this (ms) are removed.
    pub max_age_ms: i64,
    /// Delivered events are removed, oldest first, while the log is larger.
    pub max_bytes: u64,
}

/// The log's size and health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStatus {
    /// Events in the log.
    pub events: u64,
    /// Their total size in bytes (record bytes, before redb overhead).
    pub bytes: u64,
    /// The last sequence number given out.
    pub last_seq: u64,
    /// The oldest sequence number still in the log.
    pub first_seq: Option<u64>,
    /// Over the size cap, with only undelivered events left to remove.
    pub over_cap: bool,
}

impl Store {
    /// Up to `limit` events with `seq > after`, oldest first; only `session`'s
    /// when given.
    pub async fn events_after(
        &self,
        session: Option<String>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<LoggedEvent>, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read()?;
            let log = tx.open_table(EVENT_LOG)?;
            let mut out = Vec::new();
            for row in log.range(after.saturating_add(1)..)? {
                let (_, v) = row?;
                let ev: LoggedEvent = decode("event_log", v.value())?;
                if session.as_deref().is_none_or(|s| s == ev.event.session) {
                    out.push(ev);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// The log's size, without deciding anything.
    pub async fn log_status(&self, retention: Retention) -> Result<LogStatus, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read()?;
            let meta = tx.open_table(META)?;
            let get = |k: &str| -> Result<u64, StoreError> {
                Ok(meta.get(k)?.map(|v| v.value()).unwrap_or(0))
            };
            let log = tx.open_table(EVENT_LOG)?;
            let first_seq = log.first()?.map(|(k, _)| k.value());
            let bytes = get(LOG_BYTES_KEY)?;
            Ok(LogStatus {
                events: get(LOG_COUNT_KEY)?,
                bytes,
                last_seq: get(SEQ_KEY)?,
                first_seq,
                over_cap: bytes > retention.max_bytes,
            })
        })
        .await
    }

    /// Removes up to [`PRUNE_BATCH`] events the retention rules allow, oldest
    /// first, skipping those a job still needs. Returns how many it removed.
    pub async fn prune_events(&self, retention: Retention, now_ms: i64) -> Result<u64, StoreError> {
        self.run(move |db| {
            let tx = db.begin_write()?;
            let mut bytes = {
                let meta = tx.open_table(META)?;
                meta.get(LOG_BYTES_KEY)?.map(|v| v.value()).unwrap_or(0)
            };
            let mut victims = Vec::new();
            let mut freed = 0u64;
            {
                let log = tx.open_table(EVENT_LOG)?;
                let refs = tx.open_table(EVENT_REFS)?;
                for row in log.iter()? {
                    if victims.len() >= PRUNE_BATCH {
                        break;
                    }
                    let (k, v) = row?;
                    let seq = k.value();
                    let size = v.value().len() as u64;
                    let ev: LoggedEvent = decode("event_log", v.value())?;
                    let too_old = now_ms - ev.recorded_at > retention.max_age_ms;
                    let too_big = bytes > retention.max_bytes;
                    if !too_old && !too_big {
                        break;
                    }
                    if refs.get(seq)?.is_some() {
                        continue;
                    }
                    victims.push(seq);
                    bytes = bytes.saturating_sub(size);
                    freed += size;
                }
            }
            {
                let mut log = tx.open_table(EVENT_LOG)?;
                for seq in &victims {
                    log.remove(*seq)?;
                }
            }
            bump(&tx, LOG_BYTES_KEY, -(freed as i64))?;
            bump(&tx, LOG_COUNT_KEY, -(victims.len() as i64))?;
            tx.commit()?;
            Ok(victims.len() as u64)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::store::{DEFAULT_CACHE_BYTES, Format, Outcome, Subscription};

    fn ev(chat: &str) -> Event {
        Event {
            session: "s1".into(),
            event: "message.received".into(),
            chat: Some(chat.into()),
            timestamp: 1,
            payload: serde_json::json!({ "text": "x".repeat(100) }),
            me: None,
        }
    }

    #[tokio::test]
    async fn retention_keeps_undelivered_events_and_reports_the_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
        let sub = store
            .create_subscription(Subscription {
                id: 0,
                session: Some("s1".into()),
                main: true,
                url: "http://127.0.0.1:9/".into(),
                events: vec![],
                format: Format::Json,
                secrets: vec![],
                headers: vec![],
                form_token: None,
                created_at: 0,
            })
            .await
            .expect("sub");
        let seqs = store
            .append_events((0..10).map(|i| ev(&format!("c{i}"))).collect())
            .await
            .expect("append");
        // Deliver the even ones.
        let outcomes: Vec<Outcome> = seqs
            .iter()
            .filter(|s| *s % 2 == 0)
            .map(|s| Outcome::Delivered { seq: *s })
            .collect();
        let s2 = sub.id;
        store.apply_outcomes(s2, outcomes).await.expect("ack");
        let tight = Retention {
            max_age_ms: i64::MAX,
            max_bytes: 1,
        };
        let removed = store.prune_events(tight, 0).await.expect("prune");
        assert_eq!(removed, 5, "only the delivered events go");
        let left = store.events_after(None, 0, 100).await.expect("read");
        assert!(left.iter().all(|e| e.seq % 2 == 1), "{left:?}");
        let st = store.log_status(tight).await.expect("status");
        assert_eq!(st.events, 5);
        assert!(st.over_cap, "undelivered events keep the log over its cap");
        assert_eq!(st.last_seq, 10);
        // Age-based: a generous cap removes nothing while events are young.
        let loose = Retention {
            max_age_ms: 1000,
            max_bytes: u64::MAX,
        };
        let now = crate::store::now_ms();
        store
            .apply_outcomes(
                s2,
                (1..=9)
                    .step_by(2)
                    .map(|seq| Outcome::Delivered { seq })
                    .collect(),
            )
            .await
            .expect("ack rest");
        assert_eq!(store.prune_events(loose, now).await.expect("prune"), 0);
        assert_eq!(
            store
                .prune_events(loose, now + 10_000)
                .await
                .expect("prune"),
            5
        );
        // Sequence numbers are never reused after pruning.
        let next = store.append_events(vec![ev("c")]).await.expect("append");
        assert_eq!(next, vec![11]);
    }
}
