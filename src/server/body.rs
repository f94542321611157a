//! The answer's body, which marks its connection busy until it has been
//! written. (Reading request bodies, and cutting one that trickles in under
//! pressure, is the API's: `api::body`, through [`crate::api::PeerLimits`].)

use super::shield::RequestGuard;
use crate::api::Body;
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

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
