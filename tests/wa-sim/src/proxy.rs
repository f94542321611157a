//! A fault-injecting TCP proxy on loopback, between a client and the
//! simulator: a link that accepts what the client writes and then dies
//! without delivering it (a DSL line dropping, a 4G router rebooting).
//!
//! It forwards both directions byte for byte. Client→server it follows the
//! WebSocket framing (after the HTTP upgrade), so that once swallowing is
//! armed ([`FaultProxy::swallow`], or [`FaultProxy::swallow_after_reply`]
//! for "right after the server's next answer") it drops whole frames and
//! counts them: the client's writes succeed, the server never sees them.
//! [`FaultProxy::cut`] then closes every open connection (both sides) and
//! disarms, so the client's reconnect goes through cleanly. It never looks
//! inside the frames (they are Noise-encrypted).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy; dropping it stops accepting (open connections end with
/// their peers).
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
    accept: tokio::task::JoinHandle<()>,
}

struct ProxyState {
    /// Drop client→server frames instead of forwarding them.
    swallowing: AtomicBool,
    /// Start swallowing once the server next sends anything.
    armed_on_reply: AtomicBool,
    /// Client→server frames dropped since the proxy started.
    swallowed: AtomicUsize,
    /// Client→server frames forwarded since the proxy started.
    forwarded: AtomicUsize,
    /// Bumped by [`FaultProxy::cut`]; each connection ends when it changes.
    cuts: watch::Sender<u64>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0` and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ProxyState {
            swallowing: AtomicBool::new(false),
            armed_on_reply: AtomicBool::new(false),
            swallowed: AtomicUsize::new(0),
            forwarded: AtomicUsize::new(0),
            cuts: watch::channel(0).0,
        });
        let accept = tokio::spawn(accept_loop(listener, upstream, state.clone()));
        Ok(FaultProxy {
            addr,
            state,
            accept,
        })
    }

    /// The proxy's own address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The chat URL through the proxy (what `whatsapp.server_url` gets).
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/chat", self.addr)
    }

    /// From now on, client→server frames are dropped (the client's writes
    /// still succeed); server→client traffic keeps flowing.
    pub fn swallow(&self) {
        self.state.swallowing.store(true, Ordering::SeqCst);
    }

    /// Swallows from the moment the server next sends something (an answer
    /// to the client's last request) on: what the client writes after that
    /// answer is lost. A client that asks before it sends (device lists)
    /// gets its answer, and its send goes into the void.
    pub fn swallow_after_reply(&self) {
        self.state.armed_on_reply.store(true, Ordering::SeqCst);
    }

    /// Client→server frames dropped so far.
    pub fn swallowed(&self) -> usize {
        self.state.swallowed.load(Ordering::SeqCst)
    }

    /// Client→server frames forwarded so far.
    pub fn forwarded(&self) -> usize {
        self.state.forwarded.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` frames were dropped.
    pub async fn wait_swallowed(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.swallowed() < n {
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!(
                    "only {} of {n} frames swallowed in {timeout:?}",
                    self.swallowed()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Closes every open connection without delivering what was swallowed,
    /// and forwards normally again (for the client's reconnect).
    pub fn cut(&self) {
        self.state.swallowing.store(false, Ordering::SeqCst);
        self.state.armed_on_reply.store(false, Ordering::SeqCst);
        self.state.cuts.send_modify(|c| *c += 1);
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, state: Arc<ProxyState>) {
    while let Ok((client, _)) = listener.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            if let Ok(server) = TcpStream::connect(upstream).await {
                relay(client, server, state).await;
            }
        });
    }
}

/// Relays one connection until either side ends or the proxy cuts it.
async fn relay(client: TcpStream, server: TcpStream, state: Arc<ProxyState>) {
    let mut cuts = state.cuts.subscribe();
    cuts.mark_unchanged();
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut server_rd, mut server_wr) = server.into_split();
    let down = server_to_client(&mut server_rd, &mut client_wr, &state);
    let up = client_to_server(&mut client_rd, &mut server_wr, &state);
    tokio::select! {
        _ = down => {}
        _ = up => {}
        _ = cuts.changed() => {}
    }
    // Dropping the halves closes both sockets.
}

/// Forwards everything the server sends; the first bytes after
/// [`FaultProxy::swallow_after_reply`] start the swallowing.
async fn server_to_client(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    state: &ProxyState,
) -> std::io::Result<()> {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = rd.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        if state.armed_on_reply.swap(false, Ordering::SeqCst) {
            state.swallowing.store(true, Ordering::SeqCst);
        }
        wr.write_all(&chunk[..n]).await?;
    }
}

/// Forwards the HTTP upgrade as is, then whole WebSocket frames, dropping
/// (and counting) them while the proxy swallows.
async fn client_to_server(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    state: &ProxyState,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut upgraded = false;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = rd.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if !upgraded {
            let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            wr.write_all(&buf[..end + 4]).await?;
            buf.drain(..end + 4);
            upgraded = true;
        }
        while let Some(len) = frame_len(&buf) {
            if state.swallowing.load(Ordering::SeqCst) {
                state.swallowed.fetch_add(1, Ordering::SeqCst);
            } else {
                wr.write_all(&buf[..len]).await?;
                state.forwarded.fetch_add(1, Ordering::SeqCst);
            }
            buf.drain(..len);
        }
    }
}

/// The length of the complete WebSocket frame at the start of `buf`, header
/// included; `None` until all of it has arrived.
fn frame_len(buf: &[u8]) -> Option<usize> {
    if buf.len() < 2 {
        return None;
    }
    let masked = buf[1] & 0x80 != 0;
    let (header, payload) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (4, u64::from(u16::from_be_bytes([buf[2], buf[3]]))),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (10, u64::from_be_bytes(b))
        }
        126 | 127 => return None,
        n => (2, u64::from(n)),
    };
    let header = header + if masked { 4 } else { 0 };
    let total = usize::try_from(payload).ok()?.checked_add(header)?;
    (buf.len() >= total).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::frame_len;

    #[test]
    fn frame_lengths_follow_the_websocket_header() {
        let mut short = vec![0x82, 0x80 | 5, 1, 2, 3, 4];
        assert_eq!(frame_len(&short), None, "payload missing");
        short.extend_from_slice(&[9; 5]);
        assert_eq!(frame_len(&short), Some(11));
        let mut mid = vec![0x82, 0x80 | 126, 0x01, 0x00, 0, 0, 0, 0];
        mid.resize(8 + 256, 7);
        assert_eq!(frame_len(&mid), Some(264));
        assert_eq!(frame_len(&mid[..200]), None);
        let mut big = vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0];
        assert_eq!(frame_len(&big), None, "unmasked, 65536 bytes to come");
        big.resize(10 + 65_536, 0);
        assert_eq!(frame_len(&big), Some(65_546));
        assert_eq!(frame_len(&[0x82]), None);
        assert_eq!(
            frame_len(&[0x82, 126, 1]),
            None,
            "extended length incomplete"
        );
    }
}
