//! The HTTP server: accept loop, per-connection limits, graceful shutdown.
//!
//! Owns sockets and hyper connections. Knows nothing of routes: every request
//! goes to [`crate::api::handle`]. On shutdown (the cancellation token) it
//! stops accepting, asks every open connection to finish its in-flight request
//! and close, and waits for them up to a grace period.

use crate::api::App;
use crate::supervisor::{HEARTBEAT_INTERVAL, Heartbeat};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Most connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 256;

/// Serves `app` on `listener` until `shutdown` is cancelled, then drains.
///
/// The accept loop beats `heartbeat` every [`HEARTBEAT_INTERVAL`], busy or
/// idle, so the supervisor sees it is still being polled.
/// Returns once every connection has closed or `grace` has passed.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: CancellationToken,
    heartbeat: Heartbeat,
    header_timeout: Duration,
    grace: Duration,
) {
    let conns = TaskTracker::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
    loop {
        heartbeat.beat();
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => continue,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => continue,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let shutdown = shutdown.clone();
        let span = tracing::debug_span!("conn", %peer);
        conns.spawn(
            async move {
                let _permit = permit;
                let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(crate::api::PeerAddr(peer));
                    let app = app.clone();
                    async move { Ok::<_, std::convert::Infallible>(crate::api::handle(app, req).await) }
                });
                let mut builder = http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .max_buf_size(64 * 1024);
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                tokio::pin!(conn);
                let result = tokio::select! {
                    r = conn.as_mut() => r,
                    _ = shutdown.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        conn.as_mut().await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            }
            .instrument(span),
        );
    }
    drop(listener);
    conns.close();
    if tokio::time::timeout(grace, conns.wait()).await.is_err() {
        tracing::warn!(
            open = conns.len(),
            "shutdown grace period over; closing remaining connections"
        );
    }
}
