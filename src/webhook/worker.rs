//! One delivery worker per subscription: picks due jobs in seq order, keeps
//! order per chat, runs up to `concurrency` attempts at once and settles their
//! outcomes in group commits.
//!
//! A job stays "in flight" from the moment it is handed out until its outcome
//! is committed, so it is never handed out twice by one process. Its chat is
//! released as soon as the receiver has answered 2xx (the next job of the
//! chat may go while the commit is under way), but only after the commit
//! when it failed, so a retry is never overtaken. If the
//! process dies in between, the job is still pending on disk and is sent
//! again after the restart (at-least-once; receivers deduplicate on the id).

use super::DeliveryConfig;
use super::client::{Client, DeliveryError};
use super::payload;
use super::retry::{Failure, parse_retry_after};
use super::sign;
use crate::store::{DueJob, Outcome, Store, StoreError, Subscription, now_ms};
use crate::supervisor::{Criticality, DEFAULT_MAX_SILENCE, HEARTBEAT_INTERVAL};
use rand::RngExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

/// Pending jobs looked at per scan.
const SCAN_LIMIT: usize = 1024;
/// Wait before retrying a failed commit or scan.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// A group commit under way, with the outcomes it settles.
type Commit = (
    tokio::task::JoinHandle<Result<(), StoreError>>,
    Vec<Outcome>,
);

/// Runs until `stop` is cancelled, then lets in-flight attempts finish and
/// commits their outcomes before returning.
pub async fn run(
    store: Store,
    sub: Arc<Subscription>,
    cfg: Arc<DeliveryConfig>,
    client: Arc<Client>,
    mut events: watch::Receiver<u64>,
    stop: CancellationToken,
) {
    let mut in_flight: HashMap<u64, Option<String>> = HashMap::new();
    let mut task_seq: HashMap<Id, u64> = HashMap::new();
    let mut tasks: JoinSet<Outcome> = JoinSet::new();
    let mut settled: Vec<Outcome> = Vec::new();
    let mut commit: Option<Commit> = None;
    let mut next_due: Option<i64> = None;
    let mut dirty = true;
    let mut stopping = false;
    let mut pause_until: Option<tokio::time::Instant> = None;
    // Scans and commit hand-offs happen inline in this loop, so a stuck store
    // silences the heartbeat and the watchdog ping stops with it.
    let beat = cfg.checkin.register(
        &format!("webhook:{}", sub.id),
        Criticality::Critical,
        DEFAULT_MAX_SILENCE,
    );
    let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        beat.beat();
        let paused = pause_until.is_some_and(|t| tokio::time::Instant::now() < t);
        if dirty && !stopping && !paused && tasks.len() < cfg.concurrency {
            dirty = false;
            match scan(&store, sub.id, &in_flight, cfg.concurrency - tasks.len()).await {
                Ok(s) => {
                    next_due = s.next_at;
                    for job in s.due {
                        in_flight.insert(job.seq, job.job.chat.clone());
                        let (sub, cfg, client) = (sub.clone(), cfg.clone(), client.clone());
                        let seq = job.seq;
                        let span = tracing::debug_span!("attempt", seq);
                        let h = tasks.spawn(tracing::Instrument::instrument(
                            async move { attempt(&client, &sub, &cfg, job).await },
                            span,
                        ));
                        task_seq.insert(h.id(), seq);
                    }
                }
                Err(e) => {
                    tracing::warn!(subscription = sub.id, error = %e, "webhook scan failed");
                    pause_until = Some(tokio::time::Instant::now() + STORE_RETRY);
                    dirty = true;
                }
            }
        }
        if commit.is_none() && !settled.is_empty() {
            let outs = std::mem::take(&mut settled);
            let (st, id, o2) = (store.clone(), sub.id, outs.clone());
            let h = tokio::spawn(tracing::Instrument::in_current_span(async move {
                st.apply_outcomes(id, o2).await
            }));
            commit = Some((h, outs));
        }
        if stopping && tasks.is_empty() && commit.is_none() && settled.is_empty() {
            break;
        }
        let wake_at = next_due.map(|t| {
            let ms = (t - now_ms()).clamp(0, 24 * 3600 * 1000) as u64;
            tokio::time::Instant::now() + Duration::from_millis(ms)
        });
        let wake = pause_until.or(wake_at);
        tokio::select! {
            Some(r) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let mut on = |r: Result<(Id, Outcome), tokio::task::JoinError>| match r {
                    Ok((id, o)) => {
                        task_seq.remove(&id);
                        // Delivered: the receiver has it, so the chat's next job may go
                        // now (order holds); the job itself stays skipped until committed.
                        // A failure keeps the chat blocked until its new schedule is on disk.
                        if let Outcome::Delivered { seq } = &o && let Some(chat) = in_flight.get_mut(seq) {
                            *chat = None;
                            dirty = true;
                        }
                        settled.push(o);
                    }
                    Err(e) => {
                        // A panicked attempt: forget it; the job is still pending.
                        if let Some(seq) = task_seq.remove(&e.id()) { in_flight.remove(&seq); }
                        dirty = true;
                    }
                };
                on(r);
                while let Some(r) = tasks.try_join_next_with_id() { on(r); }
            }
            r = async { match commit.as_mut() { Some((h, _)) => h.await, None => std::future::pending().await } }, if commit.is_some() => {
                let Some((_, outs)) = commit.take() else { continue };
                match r.map_err(StoreError::from).and_then(|r| r) {
                    Ok(()) => {
                        for o in &outs {
                            in_flight.remove(&seq_of(o));
                        }
                        dirty = true;
                    }
                    Err(e) => {
                        tracing::warn!(subscription = sub.id, error = %e, "webhook commit failed; retrying");
                        settled.extend(outs);
                        tokio::time::sleep(STORE_RETRY).await;
                    }
                }
            }
            r = events.changed(), if !stopping => {
                if r.is_err() { stopping = true; }
                dirty = true;
            }
            _ = sleep_until(wake), if wake.is_some() && !stopping => {
                pause_until = None;
                dirty = true;
            }
            _ = stop.cancelled(), if !stopping => stopping = true,
            _ = tick.tick() => {}
        }
    }
}

async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn seq_of(o: &Outcome) -> u64 {
    match o {
        Outcome::Delivered { seq } | Outcome::Retry { seq, .. } | Outcome::Dead { seq, .. } => *seq,
    }
}

async fn scan(
    store: &Store,
    sub: u64,
    in_flight: &HashMap<u64, Option<String>>,
    want: usize,
) -> Result<crate::store::Scan, StoreError> {
    let skip: HashSet<u64> = in_flight.keys().copied().collect();
    let busy: HashSet<String> = in_flight.values().flatten().cloned().collect();
    store
        .scan_due(sub, now_ms(), skip, busy, want, SCAN_LIMIT)
        .await
}

/// One attempt: encode, sign, POST, and decide what happens next.
pub async fn attempt(
    client: &Client,
    sub: &Subscription,
    cfg: &DeliveryConfig,
    job: DueJob,
) -> Outcome {
    let file = match sub.format {
        crate::store::Format::Form => {
            cfg.media
                .file_for(&job.event.event.session, &job.event.event.payload)
                .await
        }
        _ => None,
    };
    let enc = payload::encode(
        &job.event,
        sub.format,
        sub.form_token.as_deref(),
        file.as_ref(),
    );
    let now = now_ms();
    let ts = now / 1000;
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), enc.content_type.clone()),
        (
            "user-agent".into(),
            concat!("wago/", env!("CARGO_PKG_VERSION")).into(),
        ),
        ("webhook-id".into(), job.event.id.clone()),
        ("webhook-timestamp".into(), ts.to_string()),
        ("x-wa-request-id".into(), job.event.id.clone()),
    ];
    let secrets: Vec<&str> = sub.live_secrets(now).map(|s| s.value.as_str()).collect();
    if sub.format == crate::store::Format::WagoGo {
        // WAGO-Go receivers check one hex HMAC keyed with the secret string
        // as written (see `api::dialect::wago_go::wire`).
        if let Some(current) = secrets.first() {
            headers.push((
                "x-wago-signature".into(),
                crate::api::dialect::wago_go::wire::signature(current, &enc.body),
            ));
        }
    } else if let Some(current) = secrets.first() {
        headers.push((
            "webhook-signature".into(),
            sign::signature_header(secrets.iter().copied(), &job.event.id, ts, &enc.body),
        ));
        headers.push((
            "x-wago-signature".into(),
            sign::hex_signature(current, &enc.body),
        ));
    }
    headers.extend(sub.headers.iter().cloned());
    let result = client.post(&sub.url, &headers, enc.body, cfg.timeout).await;
    let failure = match result {
        Ok(r) if (200..300).contains(&r.status) => return Outcome::Delivered { seq: job.seq },
        Ok(r) => Failure {
            status: Some(r.status),
            error: format!("HTTP {}", r.status),
            retry_after: r
                .retry_after
                .as_deref()
                .and_then(|v| parse_retry_after(v, std::time::SystemTime::now())),
        },
        Err(e) => Failure {
            status: None,
            error: short(&e),
            retry_after: None,
        },
    };
    tracing::debug!(subscription = sub.id, seq = job.seq, error = %failure.error, "webhook attempt failed");
    let jitter: f64 = rand::rng().random();
    cfg.retry
        .decide(job.seq, &job.job, now_ms(), failure, jitter)
}

fn short(e: &DeliveryError) -> String {
    let s = e.to_string();
    if s.len() > 300 {
        format!("{}…", &s[..s.floor_char_boundary(300)])
    } else {
        s
    }
}
