//! Bodies both ways: the answer's body, which marks its connection busy
//! until it has been written, and the reading of a request body, which
//! under pressure cuts a body trickling in below `limits.min_body_rate`.

use super::shield::{Reason, RequestGuard, Shield};
use crate::api::{Body, PeerAddr};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use std::convert::Infallible;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How often a body being read is checked against its deadline and rate.
const BODY_CHECK: Duration = Duration::from_millis(250);

/// An answer's body holding its connection's request guard.
pub struct Tracked {
    inner: Body,
    _busy: RequestGuard,
}

impl Tracked {
    /// Wraps `inner`; the connection counts as busy until this drops.
    pub fn new(inner: Body, busy: RequestGuard) -> Self {
        Tracked { inner, _busy: busy }
    }
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Why a request body was not read whole.
#[derive(Debug)]
pub enum BodyCut<E> {
    /// Over `http.body_timeout_secs`.
    Timeout,
    /// Under pressure, slower than `limits.min_body_rate`.
    TooSlow,
    /// The body itself failed (too large, connection lost).
    Failed(E),
}

/// What the body reader needs to know of the request it reads.
pub struct ReadGuard {
    shield: Option<Arc<Shield>>,
    ip: Option<IpAddr>,
}

/// The guard for reading `req`'s body (call before taking the body).
pub fn read_guard<B>(req: &hyper::Request<B>) -> ReadGuard {
    ReadGuard {
        shield: req.extensions().get::<Arc<Shield>>().cloned(),
        ip: req.extensions().get::<PeerAddr>().map(|p| p.0.ip()),
    }
}

impl ReadGuard {
    /// Reads `body` whole within `timeout`; under pressure a body that,
    /// after the first `limits.pressure_idle_secs`, has come slower than
    /// `limits.min_body_rate` on average is cut.
    pub async fn collect<B>(self, timeout: Duration, body: B) -> Result<Bytes, BodyCut<B::Error>>
    where
        B: hyper::body::Body + Unpin,
    {
        let started = Instant::now();
        let mut body = body;
        let mut buf = BytesMut::new();
        let mut check = tokio::time::interval(BODY_CHECK);
        loop {
            tokio::select! {
                f = body.frame() => match f {
                    None => return Ok(buf.freeze()),
                    Some(Err(e)) => return Err(BodyCut::Failed(e)),
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            use bytes::Buf;
                            let mut data = data;
                            while data.has_remaining() {
                                let chunk = data.chunk();
                                buf.extend_from_slice(chunk);
                                let n = chunk.len();
                                data.advance(n);
                            }
                        }
                    }
                },
                _ = check.tick() => {
                    let elapsed = started.elapsed();
                    if elapsed >= timeout {
                        return Err(BodyCut::Timeout);
                    }
                    if let Some(s) = &self.shield
                        && s.under_pressure()
                    {
                        let cfg = s.config();
                        let grace = Duration::from_secs(u64::from(cfg.pressure_idle_secs));
                        let floor = f64::from(cfg.min_body_rate) * elapsed.as_secs_f64();
                        if elapsed > grace && (buf.len() as f64) < floor {
                            if let Some(ip) = self.ip {
                                s.refuse(ip, Reason::SlowBody);
                            }
                            return Err(BodyCut::TooSlow);
                        }
                    }
                }
            }
        }
    }
}
