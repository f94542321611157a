//! The simulated media host over plain HTTP on loopback.
//!
//! For clients in another process (the gateway binary), which cannot be
//! handed [`crate::SimHttpClient`]: they redirect the media URLs named in
//! `media_conn` to [`crate::Simulator::media_url`]. Serves the same blob
//! store as `SimHttpClient` (uploads, downloads), one request per
//! connection (`Connection: close`). Refuses connections while the
//! simulated internet is down. Owns nothing but its listener.

use crate::media::serve;
use crate::state::Shared;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest upload accepted (WhatsApp's own media limits are below this).
const MAX_BODY: usize = 128 * 1024 * 1024;

/// Accepts connections until the listener fails or the task is aborted.
pub(crate) async fn run(listener: TcpListener, shared: Arc<Shared>) {
    crate::server::accept_loop(listener, shared, |shared, tcp| async move {
        one_request(tcp, &shared).await
    })
    .await
}

/// Reads one request, answers it and closes the connection.
async fn one_request(mut tcp: TcpStream, shared: &Shared) -> anyhow::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        anyhow::ensure!(buf.len() < MAX_HEAD, "request head too large");
        let mut chunk = [0u8; 4096];
        let n = tcp.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed in the request head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("/").to_string();
    let mut length = 0usize;
    for line in lines {
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse()?;
        }
    }
    anyhow::ensure!(length <= MAX_BODY, "request body too large");
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; 64 * 1024];
        let n = tcp.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed in the request body");
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let resp = serve(shared, &method, &target, body);
    let reason = if resp.status_code == 200 {
        "OK"
    } else {
        "Not Found"
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        resp.status_code,
        resp.body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(&resp.body).await?;
    tcp.shutdown().await?;
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
