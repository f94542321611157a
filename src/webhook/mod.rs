//! Store-and-forward webhook delivery.
//!
//! Owns the delivery workers (one per subscription, see [`worker`]), the
//! retention task, and the [`Hub`] that rings them. Jobs live on disk
//! (`store::outbox`); this module only decides when and how to send them and
//! reports outcomes back. Must not write tables directly.
//!
//! How a producer (the engine, `POST /admin/events`) hands events over:
//!
//! ```text
//! let tx = db.begin_write()?;
//! let seqs = store::record_events(&tx, &events)?;   // log + one job per subscription
//! tx.commit()?;                                      // durable
//! hub.committed(*seqs.last().unwrap_or(&0));         // workers and SSE streams look now
//! ```

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
use tokio::sync::watch;
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

/// The bell producers ring after committing events or changing
/// subscriptions. Clonable; every clone rings the same workers.
///
/// Backed by `watch` channels rather than a bare `Notify`: a worker busy
/// while the bell rings still sees the change at its next wait, so no wake-up
/// is ever lost.
#[derive(Clone, Debug)]
pub struct Hub {
    events: Arc<watch::Sender<u64>>,
    subs: Arc<watch::Sender<u64>>,
    shutdown: CancellationToken,
}

impl Hub {
    /// A hub whose streams end when `shutdown` is cancelled.
    pub fn new(shutdown: CancellationToken) -> Hub {
        Hub {
            events: Arc::new(watch::channel(0).0),
            subs: Arc::new(watch::channel(0).0),
            shutdown,
        }
    }

    /// Events up to `last_seq` are committed: wake the workers and streams.
    pub fn committed(&self, last_seq: u64) {
        self.events
            .send_modify(|v| *v = (*v).max(last_seq).max(*v + 1));
    }

    /// Subscriptions were created, changed or deleted.
    pub fn subscriptions_changed(&self) {
        self.subs.send_modify(|v| *v += 1);
    }

    /// A receiver that changes whenever events are committed.
    pub fn watch_events(&self) -> watch::Receiver<u64> {
        self.events.subscribe()
    }

    /// The daemon's shutdown token (streams end with it).
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }
}

/// Starts the dispatcher (which keeps one worker per subscription) and the
/// retention task on `tracker`. Both stop when the hub's shutdown token is
/// cancelled; in-flight attempts finish and are committed first.
pub fn spawn(
    store: Store,
    hub: Hub,
    cfg: DeliveryConfig,
    tracker: &TaskTracker,
) -> Result<(), client::DeliveryError> {
    let tls = client::tls_config()?;
    let cfg = Arc::new(cfg);
    tracker.spawn(dispatch(
        store.clone(),
        hub.clone(),
        cfg.clone(),
        tls,
        tracker.clone(),
    ));
    tracker.spawn(retention(store, hub, cfg));
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
    hub: Hub,
    cfg: Arc<DeliveryConfig>,
    tls: Arc<rustls::ClientConfig>,
    tracker: TaskTracker,
) {
    let mut changes = hub.subs.subscribe();
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
                            let tok = hub.shutdown.child_token();
                            let client =
                                Arc::new(client::Client::new(tls.clone(), cfg.connect_timeout));
                            let span = tracing::info_span!("webhook", subscription = s.id);
                            let run = worker::run(
                                store.clone(),
                                Arc::new(s.clone()),
                                cfg.clone(),
                                client,
                                hub.watch_events(),
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
            _ = hub.shutdown.cancelled() => break,
        }
    }
}

async fn retention(store: Store, hub: Hub, cfg: Arc<DeliveryConfig>) {
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
            _ = hub.shutdown.cancelled() => break,
        }
    }
}
