//! `wago serve`: opens the store, settles the admin token, starts the HTTP
//! server and runs until SIGTERM/SIGINT or the caller's cancellation token.
//!
//! Owns start-up order and shutdown: one [`CancellationToken`] reaches every
//! task; on cancel the server stops accepting, drains in-flight requests for
//! the grace period, and the store is closed last.
//!
//! The [`Supervisor`] tells systemd about it: STATUS= while starting, READY=1
//! once the store is open and the server listens, watchdog pings while the
//! accept loop checks in.

use crate::api::{App, DisplaySettings, Limits, WebhookSettings};
use crate::config::Config;
use crate::engine::{Engine, EngineConfig};
use crate::store::{Retention, Store, StoreError, hash_token};
use crate::supervisor::{Checkin, Criticality, DEFAULT_MAX_SILENCE, Supervisor};
use crate::webhook::{DeliveryConfig, retry::RetryPolicy};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use crate::config::ADMIN_TOKEN_FILE;

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    /// The admin token file could not be written.
    #[error("cannot write the admin token to {path}: {reason}")]
    AdminToken { path: String, reason: String },
    /// Webhook delivery could not start.
    #[error("webhook delivery: {0}")]
    Webhook(String),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(String),
    /// The embedded OpenAPI document does not merge (a build defect).
    #[error("OpenAPI document: {0}")]
    OpenApi(String),
}

/// Runs the gateway until `shutdown` is cancelled or a signal arrives.
/// `on_listen` is told the bound address (tests bind port 0).
pub async fn serve(
    cfg: Config,
    shutdown: CancellationToken,
    on_listen: impl FnOnce(SocketAddr) + Send,
) -> Result<(), DaemonError> {
    let addr = cfg.listen_addr().map_err(|e| DaemonError::Listen {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        reason: e.to_string(),
    })?;
    let supervisor = Supervisor::new(shutdown.clone());
    let _watchdog = supervisor.spawn_watchdog();
    supervisor.status("Starting: opening the store");
    let dir = cfg.data_dir.clone();
    let cache = (cfg.store.cache_mib as usize) * 1024 * 1024;
    let store = tokio::task::spawn_blocking(move || Store::open(&dir, cache))
        .await
        .map_err(StoreError::from)??;
    tracing::info!(data_dir = %cfg.data_dir.display(), "store open");

    let admin_hash = admin_hash(&cfg, &store).await?;
    let display_hash = display_hash(&cfg, &store).await?;
    let w = &cfg.webhook;
    let delivery = DeliveryConfig {
        retry: RetryPolicy {
            first: Duration::from_millis(w.retry_first_ms),
            max_delay: Duration::from_millis(w.retry_max_delay_ms),
            give_up_after: Duration::from_secs(w.give_up_secs),
        },
        concurrency: w.concurrency as usize,
        timeout: Duration::from_secs(w.timeout_secs),
        connect_timeout: crate::webhook::DEFAULT_CONNECT_TIMEOUT,
        retention: Retention {
            max_age_ms: (w.retention_hours * 3600 * 1000) as i64,
            max_bytes: w.max_log_mib * 1024 * 1024,
        },
        prune_every: crate::webhook::PRUNE_EVERY,
        checkin: supervisor.checkin(),
        media: crate::webhook::media::MediaSlot::default(),
    };
    // A broken embedded OpenAPI document (a clash between fragments) is a
    // defect of this build: refuse to start rather than serve half of it.
    crate::api::openapi::document().map_err(|e| DaemonError::OpenApi(e.to_string()))?;
    // Before listening: a client that sees the port open also finds the
    // global subscription (and its generated secret file) in place.
    crate::webhook::global::sync_global(&store, w).await?;
    // Delivery stops with the daemon, or alone if the daemon cannot start.
    let delivery_stop = shutdown.child_token();
    let tasks = tokio_util::task::TaskTracker::new();
    crate::webhook::spawn(
        store.clone(),
        delivery_stop.clone(),
        delivery.clone(),
        &tasks,
    )
    .map_err(|e| DaemonError::Webhook(e.to_string()))?;
    tasks.close();
    let bound = crate::server::bind(addr).and_then(|l| Ok((l.local_addr()?, l)));
    let (bound, listener) = match bound {
        Ok(x) => x,
        Err(e) => {
            delivery_stop.cancel();
            return Err(DaemonError::Listen {
                addr,
                reason: e.to_string(),
            });
        }
    };
    tracing::info!(addr = %bound, "listening");
    on_listen(bound);

    spawn_signal_watch(shutdown.clone())?;
    crate::malloc::spawn_trimmer(shutdown.clone());
    let engine = Engine::new(
        store.clone(),
        engine_config(&cfg, supervisor.checkin()),
        shutdown.child_token(),
    );
    if w.forward_media {
        delivery.media.bind(Arc::new(engine.clone()));
    }
    match engine.resume().await {
        Ok(n) if n > 0 => tracing::info!(sessions = n, "resuming logged-in sessions"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "cannot resume sessions"),
    }
    let accept_beat =
        supervisor.heartbeat("http-accept", Criticality::Critical, DEFAULT_MAX_SILENCE);
    supervisor.ready(&format!("Serving on {bound}"));
    let app = Arc::new(App {
        shutdown: delivery_stop.clone(),
        webhooks: WebhookSettings {
            base_url: w.base_url.clone(),
            secret_overlap_ms: (w.secret_overlap_hours * 3600 * 1000) as i64,
            retention: delivery.retention,
        },
        engine: engine.clone(),
        store: store.clone(),
        admin_hash,
        display: DisplaySettings {
            token_hash: display_hash,
            qr_on_lan: cfg.display.qr_on_lan,
            session: cfg.display.session.clone(),
            lan_url: cfg.display.lan_url.clone(),
            listen: bound,
        },
        limits: Limits {
            max_body_bytes: cfg.http.max_body_bytes,
            body_timeout: Duration::from_secs(cfg.http.body_timeout_secs),
        },
    });
    let grace = Duration::from_secs(cfg.http.shutdown_grace_secs);
    crate::server::run(
        listener,
        app,
        shutdown.clone(),
        accept_beat,
        Duration::from_secs(cfg.http.header_timeout_secs),
        grace,
        cfg.limits.clone(),
    )
    .await;
    // The server has drained: now close the WhatsApp connections (flushing
    // receipts and keys), bounded like the HTTP drain.
    if tokio::time::timeout(grace, engine.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("WhatsApp sessions did not close within the grace period");
    }
    // Workers finish their in-flight attempts and commit them; whatever is
    // still unsent stays pending on disk for the next start.
    delivery_stop.cancel();
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!("webhook workers did not stop in time; their jobs stay pending");
    }
    tracing::info!("stopped");
    Ok(())
}

fn engine_config(cfg: &Config, checkin: Checkin) -> EngineConfig {
    let wa = &cfg.whatsapp;
    EngineConfig {
        server_url: (!wa.server_url.is_empty()).then(|| wa.server_url.clone()),
        // Validated at load time.
        version: wa.version_triple().ok().flatten(),
        max_connect_failures: wa.max_connect_failures,
        send_attempts: wa.send_attempts,
        checkin,
        reject_calls: wa.reject_calls,
        reject_call_message: wa.reject_call_message.clone(),
        send_max_age: std::time::Duration::from_secs(wa.send_max_age_secs),
        media_max_bytes: wa.media_max_bytes,
        media_fetch_timeout: std::time::Duration::from_secs(wa.media_fetch_timeout_secs),
        received_media: Some(crate::engine::media::ReceivedMedia {
            dir: cfg.data_dir.join("media"),
            max_total_bytes: cfg.received_media.max_total_mib * 1024 * 1024,
            retention: std::time::Duration::from_secs(cfg.received_media.retention_hours * 3600),
        }),
        qr_in_events: cfg.display.qr_on_lan,
        guard: guard_of(&cfg.guard),
    }
}

/// The guard on the system clock. Test builds (`test-sim`, which a release
/// build refuses) may shift its clock by `TEST_WAGO_GUARD_CLOCK_OFFSET_MS`,
/// so a test can put the box just before or after midnight without a sleep.
fn guard_of(cfg: &crate::config::GuardConfig) -> crate::guard::Guard {
    #[cfg(feature = "test-sim")]
    if let Some(offset) = std::env::var("TEST_WAGO_GUARD_CLOCK_OFFSET_MS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
    {
        let clock = std::sync::Arc::new(move || crate::event::now_ms() + offset);
        return crate::guard::Guard::with_clock(cfg, clock);
    }
    crate::guard::Guard::new(cfg)
}

/// The admin token's hash: from config, else the stored one, else a new
/// token generated now, stored hashed, shown once and written to
/// `<data>/admin-token` (mode 0600).
async fn admin_hash(cfg: &Config, store: &Store) -> Result<[u8; 32], DaemonError> {
    if let Some(t) = &cfg.admin_token {
        return Ok(hash_token(t.expose()));
    }
    if let Some(h) = store.admin_token_hash().await? {
        return Ok(h);
    }
    let token = format!("wago-admin-{}", crate::api::random_token());
    let path = store.dir().join(ADMIN_TOKEN_FILE);
    write_secret_file(&path, &token).map_err(|e| DaemonError::AdminToken {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let hash = hash_token(&token);
    store.set_admin_token_hash(hash).await?;
    // Shown once, on the console, not through the log pipeline.
    eprintln!(
        "wago: generated the admin token (shown once; also in {}, mode 0600):\n\n    {token}\n",
        path.display()
    );
    Ok(hash)
}

/// The display token's hash. The token lives in `display.token_file`
/// (default `<data>/display-token`, mode 0600, read by `wago display`
/// running as the same user); it is kept across restarts and made anew when
/// the file is missing or unreadable. Only its hash goes into the store.
async fn display_hash(cfg: &Config, store: &Store) -> Result<[u8; 32], DaemonError> {
    let path = cfg.display_token_file();
    let existing = std::fs::read_to_string(&path)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| t.len() >= 16);
    let token = match existing {
        Some(t) => t,
        None => {
            let t = format!("wago-display-{}", crate::api::random_token());
            // The display is optional: a token file that cannot be written
            // (full or read-only disk) leaves it locked out, never the gateway down.
            match write_secret_file(&path, &t) {
                Ok(()) => tracing::info!(path = %path.display(), "display token written"),
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "cannot write the display token; the display cannot connect until wago restarts and can write it"
                ),
            }
            t
        }
    };
    let hash = hash_token(&token);
    if store.display_token_hash().await? != Some(hash) {
        store.set_display_token_hash(hash).await?;
    }
    Ok(hash)
}

fn write_secret_file(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(secret.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

fn spawn_signal_watch(shutdown: CancellationToken) -> Result<(), DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| DaemonError::Signals(e.to_string()))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| DaemonError::Signals(e.to_string()))?;
    let span = tracing::info_span!("signals");
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = int.recv() => tracing::info!("SIGINT: shutting down"),
                _ = shutdown.cancelled() => return,
            }
            shutdown.cancel();
        },
        span,
    ));
    Ok(())
}
