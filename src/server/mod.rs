//! The HTTP server: accept loop, per-client limits, graceful shutdown.
//!
//! Owns sockets and hyper connections. Knows nothing of routes: every request
//! goes to [`crate::api::handle`], unless a rate refuses it first (429). The
//! accept loop never stops accepting: a connection over a cap closes idle
//! ones (or the busiest peer's) to make room, or is itself closed at once
//! with a 503 (see [`shield`]). On shutdown (the cancellation token) it stops
//! accepting, asks every open connection to finish its in-flight request
//! and close, and waits for them up to a grace period.

mod body;
mod conns;
mod metrics;
mod rate;
pub mod shield;

pub use shield::Shield;

use crate::api::App;
use crate::config::LimitsConfig;
use crate::supervisor::{HEARTBEAT_INTERVAL, Heartbeat};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// The listening socket's accept queue. Connects the kernel completes while
/// the accept loop is busy wait there; once it is full, every peer's SYN is
/// dropped and retried a second later. One peer opening connections in
/// bursts filled the default (128) and held up the well-behaved ones' connects
/// by 1 s; a thousand absorb such bursts (the kernel caps it at
/// `net.core.somaxconn`, 4096 by default). Queued connections are the
/// kernel's until accepted: no file descriptors of the gateway.
pub const BACKLOG: u32 = 1024;

/// Binds the listening socket on `addr` with [`BACKLOG`].
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std and tokio do: a restart binds while old sockets are in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// How often idle and slow connections are looked at under pressure.
pub const SWEEP_INTERVAL: Duration = Duration::from_millis(500);

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
    limits: LimitsConfig,
) {
    let shield = Shield::new(limits, app.display.token_hash);
    let conns = TaskTracker::new();
    let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
    let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        heartbeat.beat();
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => continue,
            _ = sweep.tick() => {
                shield.sweep();
                continue;
            }
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
        let guard = match shield.admit(peer.ip()) {
            Ok(g) => g,
            Err(reason) => {
                refuse(stream, reason);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let shutdown = shutdown.clone();
        let shield = shield.clone();
        let span = tracing::debug_span!("conn", %peer);
        conns.spawn(
            async move {
                let kick = guard.kick.clone();
                let guard = Arc::new(guard);
                let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    let busy = guard.request();
                    let app = app.clone();
                    let shield = shield.clone();
                    async move {
                        let resp = match shield.check_request(peer.ip(), req.headers()) {
                            Err(limited) => limited.into_response(),
                            Ok(()) => {
                                req.extensions_mut().insert(crate::api::PeerAddr(peer));
                                let limits: Arc<dyn crate::api::PeerLimits> = shield;
                                req.extensions_mut().insert(limits);
                                crate::api::handle(app, req).await
                            }
                        };
                        Ok::<_, std::convert::Infallible>(resp.map(|b| body::Tracked::new(b, busy)))
                    }
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
                    // Closed to make room: drop the socket at once.
                    _ = kick.notified() => return,
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

/// Closes a connection refused at accept, with a 503 in the API's envelope
/// if the socket takes it at once (never waiting on the client).
fn refuse(stream: TcpStream, reason: shield::Reason) {
    let body = format!(
        "{{\"success\":false,\"error\":\"too_many_connections\",\"message\":\"too many connections (limits.{}); try again later\"}}",
        reason.label()
    );
    let resp = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(resp.as_bytes());
}
