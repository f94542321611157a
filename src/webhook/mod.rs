//! Store-and-forward webhook delivery.
//!
//! Owns the delivery workers (one per subscription, see [`worker`]) and the
//! retention task. Jobs live on disk (the store's outbox wing); this module
//! only decides when and how to send them and reports outcomes back. Must
//! not write tables directly.
//!
//! Producers (the engine, `POST /admin/events`) hand events over through the
//! store's domain methods, which commit and then ring the outbox's bell; the
//! workers wait on it ([`Store::watch_events`]) and the dispatcher on the
//! subscriptions' bell ([`Store::watch_subscriptions`]). Nothing here rings.

pub mod client;
pub mod global;
pub mod media;
pub mod payload;
pub mod retry;
pub mod sign;
pub mod worker;

use crate::store::{Retention, Store, Subscription};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Default attempts in flight per subscription (across chats).
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Default time a receiver has to answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Default time to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often retention runs.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// The retry schedule.
    pub retry: retry::RetryPolicy,
    /// Attempts in flight per subscription (one per chat at most).
    pub concurrency: usize,
    /// Time a receiver has to answer one attempt.
    pub timeout: Duration,
    /// Time to open a connection.
    pub connect_timeout: Duration,
    /// Event log retention.
    pub retention: Retention,
    /// How often retention runs.
    pub prune_every: Duration,
    /// Registers each worker's heartbeat with the supervisor.
    pub checkin: crate::supervisor::Checkin,
    /// Where `form` deliveries get the `file` of events with media; left
    /// unbound, no file is attached.
    pub media: media::MediaSlot,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            retry: retry::RetryPolicy::default(),
            concurrency: DEFAULT_CONCURRENCY,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retention: Retention {
                max_age_ms: 7 * 24 * 3600 * 1000,
                max_bytes: 64 * 1024 * 1024,
            },
            prune_every: PRUNE_EVERY,
            checkin: crate::supervisor::Checkin::unwatched(),
            media: media::MediaSlot::default(),
        }
    }
}

/// Starts the dispatcher (which keeps one worker per subscription) and the
/// retention task on `tracker`. Both stop when `shutdown` is cancelled;
/// in-flight attempts finish and are committed first.
pub fn spawn(
    store: Store,
    shutdown: CancellationToken,
    cfg: DeliveryConfig,
    tracker: &TaskTracker,
) -> Result<(), client::DeliveryError> {
    let tls = client::tls_config()?;
    let cfg = Arc::new(cfg);
    tracker.spawn(tracing::Instrument::instrument(
        dispatch(
            store.clone(),
            shutdown.clone(),
            cfg.clone(),
            tls,
            tracker.clone(),
        ),
        tracing::info_span!("webhook-dispatch"),
    ));
    tracker.spawn(tracing::Instrument::instrument(
        retention(store, shutdown, cfg),
        tracing::info_span!("webhook-retention"),
    ));
    Ok(())
}

/// A running worker, as the dispatcher tracks it.
struct Worker {
    sub: Subscription,
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

async fn dispatch(
    store: Store,
    shutdown: CancellationToken,
    cfg: Arc<DeliveryConfig>,
    tls: Arc<rustls::ClientConfig>,
    tracker: TaskTracker,
) {
    let mut changes = store.watch_subscriptions();
    let mut workers: HashMap<u64, Worker> = HashMap::new();
    loop {
        match store.list_subscriptions().await {
            Ok(subs) => {
                let mut keep = HashMap::new();
                for s in subs {
                    match workers.remove(&s.id) {
                        Some(w) if w.sub == s => {
                            keep.insert(s.id, w);
                        }
                        other => {
                            // A changed subscription: the old worker finishes and
                            // commits its in-flight attempts before the new one
                            // scans, so nothing is sent twice.
                            let prev = other.map(|w| {
                                w.stop.cancel();
                                w.handle
                            });
                            let tok = shutdown.child_token();
                            let client =
                                Arc::new(client::Client::new(tls.clone(), cfg.connect_timeout));
                            let span = tracing::info_span!("webhook", subscription = s.id);
                            let run = worker::run(
                                store.clone(),
                                Arc::new(with_form_token(&store, &s).await),
                                cfg.clone(),
                                client,
                                store.watch_events(),
                                tok.clone(),
                            );
                            let handle = tracker.spawn(tracing::Instrument::instrument(
                                async move {
                                    if let Some(prev) = prev {
                                        let _ = prev.await;
                                    }
                                    run.await
                                },
                                span,
                            ));
                            keep.insert(
                                s.id,
                                Worker {
                                    sub: s,
                                    stop: tok,
                                    handle,
                                },
                            );
                        }
                    }
                }
                for (_, w) in workers.drain() {
                    w.stop.cancel();
                }
                workers = keep;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot load webhook subscriptions; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { break },
            _ = shutdown.cancelled() => break,
        }
    }
}

/// The subscription as its worker uses it: a session's `form` webhook
/// without a `FormToken` of its own carries the session's token in its
/// `token` field (unsealed here, kept only in the worker's memory).
async fn with_form_token(store: &Store, s: &Subscription) -> Subscription {
    let mut s = s.clone();
    if s.format == crate::store::Format::Form
        && s.form_token.is_none()
        && let Some(session) = s.session.clone()
    {
        match store.session_token(&session).await {
            Ok(t) => s.form_token = t,
            Err(e) => {
                tracing::warn!(subscription = s.id, error = %e, "cannot read the session token for the form's token field")
            }
        }
    }
    s
}

async fn retention(store: Store, shutdown: CancellationToken, cfg: Arc<DeliveryConfig>) {
    loop {
        loop {
            match store
                .prune_events(cfg.retention, crate::store::now_ms())
                .await
            {
                Ok(n) if n as usize >= crate::store::PRUNE_BATCH => continue,
                Ok(n) => {
                    if n > 0 {
                        tracing::debug!(removed = n, "event log pruned");
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event log pruning failed");
                    break;
                }
            }
        }
        if let Ok(st) = store.log_status(cfg.retention).await
            && st.over_cap
        {
            tracing::warn!(
                bytes = st.bytes,
                max_bytes = cfg.retention.max_bytes,
                "event log over its cap with only undelivered events left; nothing is dropped, check the receivers"
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(cfg.prune_every) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}
