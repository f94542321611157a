//! The server's limits per client, in one handle: the connection table,
//! the request buckets, open event streams per token, and the counters
//! `/metrics` shows.
//!
//! Knowable at accept time is only the peer address, so connections are
//! limited by address (with a share kept for the box's own 127.0.0.1 / ::1:
//! the display and `wago pair`). Tokens are known once headers are in, so
//! requests are limited by address and by token; the display token has a
//! bucket of its own that no flood can drain, and skips the per-address one.
//! Requests from 127.0.0.1 / ::1 are not rate-limited at all: the box's own
//! processes are trusted like the admin.
//! A refused request is answered `429 rate_limited` with `Retry-After` before
//! the API sees it.

use super::conns::{Caps, ConnId, Refusal, Shed, Table};
use super::rate::{Bucket, Buckets};
use crate::api::{ApiError, Body};
use crate::config::LimitsConfig;
use hyper::{HeaderMap, Response, StatusCode, header};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Seconds between two log lines about the same peer.
const LOG_EVERY: Duration = Duration::from_secs(60);
/// Most "client limited" log lines per minute in all.
const LOG_PER_MINUTE: u32 = 10;
/// `Retry-After` of a refused event stream (SSE clients retry on their own).
const STREAM_RETRY: Duration = Duration::from_secs(5);

/// Why something was refused or closed: the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `limits.peer_connections`.
    PeerConnections,
    /// `limits.max_connections`.
    MaxConnections,
    /// `limits.peer_rate`.
    PeerRate,
    /// `limits.token_rate`.
    TokenRate,
    /// `limits.display_rate`.
    DisplayRate,
    /// `limits.streams_per_token`.
    StreamsPerToken,
    /// `limits.min_body_rate`.
    SlowBody,
}

impl Reason {
    /// Every reason, in metric order.
    pub const ALL: [Reason; 7] = [
        Reason::PeerConnections,
        Reason::MaxConnections,
        Reason::PeerRate,
        Reason::TokenRate,
        Reason::DisplayRate,
        Reason::StreamsPerToken,
        Reason::SlowBody,
    ];

    /// The label, named after the config key.
    pub fn label(self) -> &'static str {
        match self {
            Reason::PeerConnections => "peer_connections",
            Reason::MaxConnections => "max_connections",
            Reason::PeerRate => "peer_rate",
            Reason::TokenRate => "token_rate",
            Reason::DisplayRate => "display_rate",
            Reason::StreamsPerToken => "streams_per_token",
            Reason::SlowBody => "min_body_rate",
        }
    }
}

/// The shed reasons, in metric order, with labels.
pub const SHED_LABELS: [(Shed, &str); 4] = [
    (Shed::PeerIdle, "peer_idle"),
    (Shed::Idle, "idle"),
    (Shed::BusiestPeer, "busiest_peer"),
    (Shed::Slow, "slow"),
];

/// A request refused by a rate.
#[derive(Debug)]
pub struct Limited {
    /// Which limit.
    pub reason: Reason,
    /// When to try again.
    pub retry_after: Duration,
}

impl Limited {
    /// `429 rate_limited` in the API's envelope, with `Retry-After` (whole seconds, at least 1).
    pub fn into_response(self) -> Response<Body> {
        let secs = self.retry_after.as_secs_f64().ceil().max(1.0) as u64;
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many requests (limits.{}); try again in {secs} s",
                self.reason.label()
            ),
        );
        e.details = Some(Box::new(serde_json::json!({
            "limit": self.reason.label(),
            "retry_after_secs": secs,
        })));
        let mut resp = e.into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        resp
    }
}

#[derive(Default)]
struct LogGate {
    last: HashMap<IpAddr, Instant>,
    minute: Option<Instant>,
    lines: u32,
    suppressed: u64,
}

/// The limits handle; one per server, shared by every connection and put
/// in each request's extensions (for `/metrics` and the event stream).
pub struct Shield {
    cfg: LimitsConfig,
    caps: Caps,
    display_hash: [u8; 32],
    table: Mutex<Table>,
    peers: Mutex<Buckets<IpAddr>>,
    tokens: Mutex<Buckets<[u8; 32]>>,
    display: Mutex<Bucket>,
    streams: Mutex<HashMap<String, u32>>,
    refused: [AtomicU64; Reason::ALL.len()],
    shed: [AtomicU64; SHED_LABELS.len()],
    log: Mutex<LogGate>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing under these locks can panic half-way; a poisoned one is still consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shield {
    /// A shield enforcing `cfg`; `display_hash` is the display token's SHA-256.
    pub fn new(cfg: LimitsConfig, display_hash: [u8; 32]) -> Arc<Shield> {
        let max = cfg.max_connections as usize;
        let caps = Caps {
            max,
            peer: cfg.peer_connections as usize,
            local_reserved: cfg.local_reserved as usize,
            high_water: (max * cfg.pressure_percent as usize / 100).max(1),
        };
        Arc::new(Shield {
            peers: Mutex::new(Buckets::new(cfg.peer_rate, cfg.peer_burst)),
            tokens: Mutex::new(Buckets::new(cfg.token_rate, cfg.token_burst)),
            display: Mutex::new(Bucket::full(
                f64::from(cfg.display_rate) * 2.0,
                Instant::now(),
            )),
            cfg,
            caps,
            display_hash,
            table: Mutex::new(Table::default()),
            streams: Mutex::new(HashMap::new()),
            refused: Default::default(),
            shed: Default::default(),
            log: Mutex::new(LogGate::default()),
        })
    }

    /// The configuration enforced.
    pub fn config(&self) -> &LimitsConfig {
        &self.cfg
    }

    /// Admits a new connection of `ip`, closing others to make room; the
    /// returned guard forgets it when dropped.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnGuard, Reason> {
        let r = lock(&self.table).admit(ip, Instant::now(), &self.caps);
        let (res, shed) = match r {
            Ok((id, kick, shed)) => (
                Ok(ConnGuard {
                    shield: self.clone(),
                    id,
                    kick,
                }),
                shed,
            ),
            Err((refusal, shed)) => {
                let reason = match refusal {
                    Refusal::PeerConnections => Reason::PeerConnections,
                    Refusal::MaxConnections => Reason::MaxConnections,
                };
                self.refuse(ip, reason);
                (Err(reason), shed)
            }
        };
        for s in shed {
            self.count_shed(s, 1);
        }
        res
    }

    /// Under pressure, closes connections idle (or sending headers) longer
    /// than `limits.pressure_idle_secs`. Called by the accept loop.
    pub fn sweep(&self) {
        let limit = Duration::from_secs(u64::from(self.cfg.pressure_idle_secs));
        let n = lock(&self.table).sweep(Instant::now(), limit, &self.caps);
        self.count_shed(Shed::Slow, n as u64);
    }

    /// Whether so many connections are open that slow clients are cut early.
    pub fn under_pressure(&self) -> bool {
        lock(&self.table).open() >= self.caps.high_water
    }

    /// Checks a request's rates: none for the box itself; the display
    /// token's own bucket; else the peer's and then the token's.
    pub fn check_request(&self, ip: IpAddr, headers: &HeaderMap) -> Result<(), Limited> {
        // The box's own processes (the display, `wago pair`, an admin's
        // tools over ssh) are trusted like the admin: rates guard the LAN.
        if super::conns::is_local(ip) {
            return Ok(());
        }
        let now = Instant::now();
        let hash = crate::api::presented_token(headers).map(crate::store::hash_token);
        let limited = |reason, retry_after| Limited {
            reason,
            retry_after,
        };
        let r = if hash == Some(self.display_hash) {
            let rate = f64::from(self.cfg.display_rate);
            lock(&self.display)
                .take(rate, rate * 2.0, now)
                .map_err(|d| limited(Reason::DisplayRate, d))
        } else {
            lock(&self.peers)
                .take(ip, now)
                .map_err(|d| limited(Reason::PeerRate, d))
                .and_then(|()| match hash {
                    Some(h) => lock(&self.tokens)
                        .take(h, now)
                        .map_err(|d| limited(Reason::TokenRate, d)),
                    None => Ok(()),
                })
        };
        if let Err(l) = &r {
            self.refuse(ip, l.reason);
        }
        r
    }

    /// Opens an event stream of `session`, or refuses it with a 429 when
    /// that token has `limits.streams_per_token` open.
    pub fn open_stream(
        self: &Arc<Self>,
        ip: IpAddr,
        session: &str,
    ) -> Result<StreamGuard, Limited> {
        let mut s = lock(&self.streams);
        let n = s.entry(session.to_string()).or_default();
        if *n >= self.cfg.streams_per_token {
            drop(s);
            self.refuse(ip, Reason::StreamsPerToken);
            return Err(Limited {
                reason: Reason::StreamsPerToken,
                retry_after: STREAM_RETRY,
            });
        }
        *n += 1;
        Ok(StreamGuard {
            shield: self.clone(),
            session: session.to_string(),
        })
    }

    /// Counts a refusal and logs it, at most once a minute per peer and
    /// [`LOG_PER_MINUTE`] times in all.
    pub fn refuse(&self, ip: IpAddr, reason: Reason) {
        let i = Reason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        self.refused[i].fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut g = lock(&self.log);
        if g.last
            .get(&ip)
            .is_some_and(|t| now.duration_since(*t) < LOG_EVERY)
        {
            return;
        }
        match g.minute {
            Some(m) if now.duration_since(m) < Duration::from_secs(60) => {}
            _ => {
                g.minute = Some(now);
                g.lines = 0;
            }
        }
        if g.lines >= LOG_PER_MINUTE {
            g.suppressed += 1;
            return;
        }
        g.lines += 1;
        if g.last.len() >= 1024 {
            g.last.clear();
        }
        g.last.insert(ip, now);
        let suppressed = std::mem::take(&mut g.suppressed);
        drop(g);
        tracing::warn!(
            peer = %ip,
            limit = reason.label(),
            other_peers_not_logged = suppressed,
            "client limited (logged once a minute per peer)"
        );
    }

    fn count_shed(&self, s: Shed, n: u64) {
        if n == 0 {
            return;
        }
        let i = SHED_LABELS.iter().position(|(x, _)| *x == s).unwrap_or(0);
        self.shed[i].fetch_add(n, Ordering::Relaxed);
    }

    fn begin(&self, id: ConnId) {
        lock(&self.table).begin(id, Instant::now());
    }

    fn end(&self, id: ConnId) {
        lock(&self.table).end(id, Instant::now());
    }

    /// Open connections per peer, most first.
    pub fn peers(&self) -> Vec<(IpAddr, usize)> {
        lock(&self.table).peers()
    }

    /// Open connections.
    pub fn open(&self) -> usize {
        lock(&self.table).open()
    }

    /// Refusals by reason.
    pub fn refused(&self) -> Vec<(Reason, u64)> {
        Reason::ALL
            .iter()
            .zip(&self.refused)
            .map(|(r, n)| (*r, n.load(Ordering::Relaxed)))
            .collect()
    }

    /// Closed-to-make-room counts by reason label.
    pub fn shed_counts(&self) -> Vec<(&'static str, u64)> {
        SHED_LABELS
            .iter()
            .zip(&self.shed)
            .map(|((_, l), n)| (*l, n.load(Ordering::Relaxed)))
            .collect()
    }

    /// Open event streams in all.
    pub fn streams_open(&self) -> u64 {
        lock(&self.streams).values().map(|n| u64::from(*n)).sum()
    }
}

/// One admitted connection; dropping it forgets it.
pub struct ConnGuard {
    shield: Arc<Shield>,
    id: ConnId,
    /// Woken when the connection must close at once.
    pub kick: Arc<Notify>,
}

impl ConnGuard {
    /// Marks a request in progress until the returned guard drops (when
    /// its answer has been written).
    pub fn request(&self) -> RequestGuard {
        self.shield.begin(self.id);
        RequestGuard {
            shield: self.shield.clone(),
            id: self.id,
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        lock(&self.shield.table).remove(self.id);
    }
}

/// A request in progress on a connection.
pub struct RequestGuard {
    shield: Arc<Shield>,
    id: ConnId,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.shield.end(self.id);
    }
}

/// An open event stream; dropping it frees its place.
pub struct StreamGuard {
    shield: Arc<Shield>,
    session: String,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut s = lock(&self.shield.streams);
        if let Some(n) = s.get_mut(&self.session) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.remove(&self.session);
            }
        }
    }
}

/// The shield as the API's handlers see it (put in each request's extensions).
impl crate::api::PeerLimits for Shield {
    fn body_floor(&self) -> Option<(Duration, u32)> {
        self.under_pressure().then(|| {
            (
                Duration::from_secs(u64::from(self.cfg.pressure_idle_secs)),
                self.cfg.min_body_rate,
            )
        })
    }

    fn cut_slow_body(&self, ip: IpAddr) {
        self.refuse(ip, Reason::SlowBody);
    }

    fn open_stream(
        self: Arc<Self>,
        ip: IpAddr,
        session: &str,
    ) -> Result<crate::api::StreamPlace, Box<Response<Body>>> {
        Shield::open_stream(&self, ip, session)
            .map(|g| Box::new(g) as crate::api::StreamPlace)
            .map_err(|l| Box::new(l.into_response()))
    }

    fn write_metrics(&self, out: &mut String) {
        Shield::write_metrics(self, out);
    }
}
