//! The accept loop: a WebSocket endpoint on loopback that hands each socket
//! to a connection task. Owns nothing but the listener; refuses sockets while
//! the simulated internet is down.

use crate::conn;
use crate::state::Shared;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Accepts connections until the listener fails or the task is aborted.
pub(crate) async fn run(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(_) => return,
        };
        if !shared.is_online() {
            // "No internet": the TCP connection dies before any WebSocket.
            drop(tcp);
            continue;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            // A failed connection is the client's business (it reconnects);
            // the simulator just forgets it.
            let _ = conn::serve(shared, tcp).await;
        });
    }
}
