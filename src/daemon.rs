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

use crate::api::{App, Limits};
use crate::config::Config;
use crate::store::{Store, StoreError, hash_token};
use crate::supervisor::{Criticality, DEFAULT_MAX_SILENCE, Supervisor};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Name of the file the generated admin token is written to.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

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
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(String),
    /// A critical task failed and could not be restarted.
    #[error("{0}")]
    TaskFailed(String),
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
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| DaemonError::Listen {
            addr,
            reason: e.to_string(),
        })?;
    let bound = listener.local_addr().map_err(|e| DaemonError::Listen {
        addr,
        reason: e.to_string(),
    })?;
    tracing::info!(addr = %bound, "listening");
    on_listen(bound);

    spawn_signal_watch(shutdown.clone())?;
    let accept_beat =
        supervisor.heartbeat("http-accept", Criticality::Critical, DEFAULT_MAX_SILENCE);
    supervisor.ready(&format!("Serving on {bound}"));
    let app = Arc::new(App {
        store: store.clone(),
        admin_hash,
        limits: Limits {
            max_body_bytes: cfg.http.max_body_bytes,
            body_timeout: Duration::from_secs(cfg.http.body_timeout_secs),
        },
    });
    crate::server::run(
        listener,
        app,
        shutdown,
        accept_beat,
        Duration::from_secs(cfg.http.header_timeout_secs),
        Duration::from_secs(cfg.http.shutdown_grace_secs),
    )
    .await;
    tracing::info!("stopped");
    match supervisor.failure() {
        Some(reason) => Err(DaemonError::TaskFailed(reason)),
        None => Ok(()),
    }
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
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
            _ = shutdown.cancelled() => return,
        }
        shutdown.cancel();
    });
    Ok(())
}
