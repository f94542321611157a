//! Dead letters: jobs that exhausted their retries. Listed with their last
//! status and error, replayed (back to pending, due now, attempts reset) or
//! discarded (the event is released for retention).

use super::jobs::{JobRecord, LoggedEvent, decode, now_ms, release_event};
use super::subscriptions::{read_stats, to_json, write_stats};
use crate::store::tables::*;
use crate::store::{Store, StoreError};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

/// One dead letter with its event.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The subscription it was for.
    pub subscription: u64,
    /// The job's state when it gave up.
    pub job: JobRecord,
    /// The event (absent only if the log lost it, which retention never does).
    pub event: Option<LoggedEvent>,
    /// The event's sequence number.
    pub seq: u64,
}

/// Which dead letters to list.
#[derive(Debug, Clone, Default)]
pub struct DeadFilter {
    /// Only these subscriptions (the caller's, for a session).
    pub subscriptions: Vec<u64>,
    /// Only this normalized event name.
    pub event: Option<String>,
    /// Only seq greater than this (paging cursor).
    pub after: u64,
    /// At most this many.
    pub limit: usize,
}

fn replay_in(tx: &WriteTransaction, sub: u64, seqs: &[u64]) -> Result<u64, StoreError> {
    let mut n = 0;
    let mut st = read_stats(tx, sub)?;
    {
        let mut dead = tx.open_table(DEAD_JOB)?;
        let mut pending = tx.open_table(PENDING_JOB)?;
        for seq in seqs {
            let Some(mut job) = dead
                .remove((sub, *seq))?
                .map(|v| decode::<JobRecord>("dead_job", v.value()))
                .transpose()?
            else {
                continue;
            };
            job.attempts = 0;
            job.next_at = 0;
            job.dead_at = None;
            job.created_at = now_ms();
            pending.insert((sub, *seq), to_json(&job)?.as_slice())?;
            st.pending += 1;
            st.dead = st.dead.saturating_sub(1);
            n += 1;
        }
    }
    write_stats(tx, sub, &st)?;
    Ok(n)
}

impl Store {
    /// Lists dead letters, by subscription then seq.
    pub async fn dead_letters(&self, f: DeadFilter) -> Result<Vec<DeadLetter>, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read()?;
            let dead = tx.open_table(DEAD_JOB)?;
            let log = tx.open_table(EVENT_LOG)?;
            let mut out = Vec::new();
            for sub in &f.subscriptions {
                for row in dead.range((*sub, f.after.saturating_add(1))..=(*sub, u64::MAX))? {
                    if out.len() >= f.limit {
                        return Ok(out);
                    }
                    let (k, v) = row?;
                    let seq = k.value().1;
                    let event = log
                        .get(seq)?
                        .map(|e| decode::<LoggedEvent>("event_log", e.value()))
                        .transpose()?;
                    if let (Some(want), Some(e)) = (&f.event, &event)
                        && &e.event.event != want
                    {
                        continue;
                    }
                    out.push(DeadLetter {
                        subscription: *sub,
                        job: decode("dead_job", v.value())?,
                        event,
                        seq,
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    /// Replays one dead letter (`Some(seq)`) or all of a subscription's
    /// (`None`). Returns how many went back to pending; when any did, rings
    /// the bell so the subscription's worker looks at once.
    pub async fn replay_dead(&self, sub: u64, seq: Option<u64>) -> Result<u64, StoreError> {
        let n = self
            .run(move |db| {
                let tx = db.begin_write()?;
                let seqs: Vec<u64> = match seq {
                    Some(s) => vec![s],
                    None => {
                        let dead = tx.open_table(DEAD_JOB)?;
                        let mut v = Vec::new();
                        for row in dead.range((sub, 0)..=(sub, u64::MAX))? {
                            v.push(row?.0.value().1);
                        }
                        v
                    }
                };
                let n = replay_in(&tx, sub, &seqs)?;
                tx.commit()?;
                Ok(n)
            })
            .await?;
        if n > 0 {
            self.bell().jobs_due();
        }
        Ok(n)
    }

    /// Discards one dead letter. Returns whether it existed.
    pub async fn discard_dead(&self, sub: u64, seq: u64) -> Result<bool, StoreError> {
        self.run(move |db| {
            let tx = db.begin_write()?;
            let existed = tx.open_table(DEAD_JOB)?.remove((sub, seq))?.is_some();
            if existed {
                release_event(&tx, seq)?;
                let mut st = read_stats(&tx, sub)?;
                st.dead = st.dead.saturating_sub(1);
                write_stats(&tx, sub, &st)?;
            }
            tx.commit()?;
            Ok(existed)
        })
        .await
    }
}
