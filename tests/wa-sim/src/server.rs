//! The accept loops: the WebSocket endpoint and the media host on loopback
//! each hand every socket to a task of their own. Owns nothing but the
//! listeners; refuses sockets while the simulated internet is down.

use crate::conn;
use crate::state::Shared;
use std::future::Future;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

/// Accepts WebSocket connections until the listener fails or the task is aborted.
pub(crate) async fn run(listener: TcpListener, shared: Arc<Shared>) {
    accept_loop(listener, shared, conn::serve).await
}

/// Accepts connections until the listener fails or the task is aborted,
/// running `handle` on its own task for each one.
pub(crate) async fn accept_loop<F, Fut>(listener: TcpListener, shared: Arc<Shared>, handle: F)
where
    F: Fn(Arc<Shared>, TcpStream) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(_) => return,
        };
        if !shared.is_online() {
            // "No internet": the TCP connection dies before any request.
            drop(tcp);
            continue;
        }
        let task = handle(shared.clone(), tcp);
        tokio::spawn(async move {
            // A failed connection or a broken request is the client's
            // business (it retries); the simulator just forgets it.
            let _ = task.await;
        });
    }
}
