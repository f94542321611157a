//! What the handlers know of the client beyond its request: its address and
//! the server's per-client limits, both put in each request's extensions by
//! the server. The limits come as a trait the server implements, so the API
//! never imports the server (the server calls [`super::handle`]).

use super::reply::Body;
use hyper::Response;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The peer's address.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// A place held among a token's open event streams until dropped.
pub type StreamPlace = Box<dyn Send + Sync>;

/// The server's per-client limits, as the handlers use them.
pub trait PeerLimits: Send + Sync {
    /// While the box is under pressure: the grace and the minimum average
    /// rate (bytes/s) a request body is held to after it; `None` otherwise.
    fn body_floor(&self) -> Option<(Duration, u32)>;
    /// Counts (and logs, rate-limited) a body cut for trickling in.
    fn cut_slow_body(&self, ip: IpAddr);
    /// Opens an event stream of `session` for `ip`, or the refusal to send.
    fn open_stream(
        self: Arc<Self>,
        ip: IpAddr,
        session: &str,
    ) -> Result<StreamPlace, Box<Response<Body>>>;
    /// Appends the limits' series to a Prometheus text.
    fn write_metrics(&self, out: &mut String);
}

/// The limits of the request's server, if it came through one.
pub fn limits<B>(req: &hyper::Request<B>) -> Option<Arc<dyn PeerLimits>> {
    req.extensions().get::<Arc<dyn PeerLimits>>().cloned()
}

/// The request's peer address, if it came through the server.
pub fn addr<B>(req: &hyper::Request<B>) -> Option<SocketAddr> {
    req.extensions().get::<PeerAddr>().map(|p| p.0)
}
