//! A cheap request flood from one source address: requests formatted once
//! (a send's body only gets its counter), written pipelined over a few
//! keep-alive connections at a paced rate, answers read in bulk and parsed
//! just enough to count their statuses and keep the ids of accepted sends.
//!
//! A request-per-connection client (reqwest, debug-built, sharing the 2
//! cores with the gateway) offers ~1,000 requests/s; this one is bounded by
//! the gateway. Each connection keeps at most `window` requests in flight,
//! so neither side buffers without end: when the gateway answers slower
//! than the pace, the offered rate falls to the answered one (both are
//! reported). A connection the gateway closes (its peer's cap recycling
//! it, or an answer with `connection: close`) is reopened; its unanswered
//! requests count as lost.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// What the flood sends.
#[derive(Clone)]
pub struct Plan {
    /// Source address of every connection.
    pub from: IpAddr,
    /// The gateway.
    pub to: SocketAddr,
    /// Session token of the sends.
    pub token: String,
    /// Requests per second offered in all.
    pub rate: u64,
    /// Connections (one task each).
    pub conns: usize,
    /// Most requests in flight per connection.
    pub window: u64,
}

/// What happened, shared with the flood's tasks while they run.
#[derive(Default)]
pub struct Stats {
    /// Requests written.
    pub offered: AtomicU64,
    /// Answers read.
    pub answered: AtomicU64,
    /// Connections opened (the first ones included).
    pub connects: AtomicU64,
    /// Connects that failed.
    pub connect_errors: AtomicU64,
    /// Answers by status.
    pub statuses: Mutex<BTreeMap<u16, u64>>,
    /// Ids of the sends the gateway accepted.
    pub accepted: Mutex<Vec<String>>,
}

impl Stats {
    /// (offered, answered) so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.offered.load(Ordering::Relaxed),
            self.answered.load(Ordering::Relaxed),
        )
    }

    /// One line: offered and answered per second over `secs`, statuses,
    /// reconnects.
    pub fn summary(&self, secs: f64) -> String {
        let (o, a) = self.counts();
        format!(
            "offered {o} ({:.0}/s), answered {a} ({:.0}/s) in {secs:.1} s, statuses {:?}, {} connections opened ({} failed), {} accepted sends",
            o as f64 / secs,
            a as f64 / secs,
            self.statuses.lock().expect("statuses"),
            self.connects.load(Ordering::Relaxed),
            self.connect_errors.load(Ordering::Relaxed),
            self.accepted.lock().expect("accepted").len(),
        )
    }
}

/// Starts the flood on a thread of its own (a single-threaded runtime), so
/// its work never delays the caller's tasks (the well-behaved clients whose
/// latencies are measured); it runs until `stop`. Returns the thread and
/// the stats.
pub fn start(plan: Plan, stop: Arc<AtomicBool>) -> (std::thread::JoinHandle<()>, Arc<Stats>) {
    let stats = Arc::new(Stats::default());
    let per_conn = (plan.rate as f64 / plan.conns as f64).max(1.0);
    let thread = {
        let stats = stats.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("flood runtime");
            rt.block_on(async move {
                let tasks: Vec<_> = (0..plan.conns)
                    .map(|i| {
                        let (plan, stop, stats) = (plan.clone(), stop.clone(), stats.clone());
                        tokio::spawn(connection_loop(i, plan, per_conn, stop, stats))
                    })
                    .collect();
                for t in tasks {
                    let _ = t.await;
                }
            });
        })
    };
    (thread, stats)
}

async fn connect(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(from, 0))?;
    let s = tokio::time::timeout(Duration::from_secs(2), s.connect(to))
        .await
        .map_err(|_| std::io::Error::other("connect timed out"))??;
    s.set_nodelay(true)?;
    Ok(s)
}

/// One connection's task: paced writer and bulk reader, reconnecting.
async fn connection_loop(
    i: usize,
    plan: Plan,
    per_sec: f64,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
) {
    let health = b"GET /health HTTP/1.1\r\nHost: wago\r\n\r\n".to_vec();
    let send_head = format!(
        "POST /send/text HTTP/1.1\r\nHost: wago\r\ntoken: {}\r\ncontent-type: application/json\r\n",
        plan.token
    );
    let started = Instant::now();
    let mut written = 0u64;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        stats.connects.fetch_add(1, Ordering::Relaxed);
        let stream = match connect(plan.from, plan.to).await {
            Ok(s) => s,
            Err(_) => {
                stats.connect_errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let (mut rd, mut wr) = stream.into_split();
        // Answers come in request order: the reader knows which were sends.
        let kinds = Arc::new(Mutex::new(std::collections::VecDeque::<bool>::new()));
        let inflight = Arc::new(AtomicU64::new(0));
        let closed = Arc::new(AtomicBool::new(false));
        let reader = {
            let (kinds, inflight, closed, stats) = (
                kinds.clone(),
                inflight.clone(),
                closed.clone(),
                stats.clone(),
            );
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(64 * 1024);
                let mut chunk = vec![0u8; 64 * 1024];
                loop {
                    match rd.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                    let mut at = 0;
                    let mut got = 0;
                    while let Some((status, body, len)) = parse_response(&buf[at..]) {
                        at += len;
                        got += 1;
                        let was_send = kinds.lock().expect("kinds").pop_front().unwrap_or(false);
                        *stats
                            .statuses
                            .lock()
                            .expect("statuses")
                            .entry(status)
                            .or_default() += 1;
                        if was_send
                            && status == 200
                            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
                            && let Some(id) = v["data"]["Id"].as_str()
                        {
                            stats
                                .accepted
                                .lock()
                                .expect("accepted")
                                .push(id.to_string());
                        }
                    }
                    buf.drain(..at);
                    inflight.fetch_sub(got, Ordering::Relaxed);
                    stats.answered.fetch_add(got, Ordering::Relaxed);
                }
                closed.store(true, Ordering::Relaxed);
            })
        };
        let mut out = Vec::with_capacity(64 * 1024);
        let mut tick = tokio::time::interval(Duration::from_millis(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        while !stop.load(Ordering::Relaxed) && !closed.load(Ordering::Relaxed) {
            tick.tick().await;
            let due = (started.elapsed().as_secs_f64() * per_sec) as u64;
            let room = plan.window.saturating_sub(inflight.load(Ordering::Relaxed));
            let k = due.saturating_sub(written).min(room);
            if k == 0 {
                continue;
            }
            out.clear();
            {
                let mut kinds = kinds.lock().expect("kinds");
                for _ in 0..k {
                    let send = n % 2 == 1;
                    if send {
                        let body =
                            format!("{{\"Phone\":\"15551239999\",\"Body\":\"flood {i}-{n}\"}}");
                        out.extend_from_slice(send_head.as_bytes());
                        out.extend_from_slice(
                            format!("content-length: {}\r\n\r\n", body.len()).as_bytes(),
                        );
                        out.extend_from_slice(body.as_bytes());
                    } else {
                        out.extend_from_slice(&health);
                    }
                    kinds.push_back(send);
                    n += 1;
                }
            }
            inflight.fetch_add(k, Ordering::Relaxed);
            if wr.write_all(&out).await.is_err() {
                break;
            }
            written += k;
            stats.offered.fetch_add(k, Ordering::Relaxed);
        }
        // Requests written and never answered are lost with the connection;
        // the pace does not make them up.
        drop(wr);
        reader.abort();
        let _ = reader.await;
        written = written.max((started.elapsed().as_secs_f64() * per_sec) as u64);
    }
}

/// One complete response at the start of `b`: (status, body, its length in
/// bytes). `None` until all of it is there. Only `content-length` bodies
/// (the gateway's JSON answers); anything else ends the parse.
pub fn parse_response(b: &[u8]) -> Option<(u16, &[u8], usize)> {
    let head_end = b.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&b[..head_end]).ok()?;
    let status: u16 = head.get(9..12)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let end = head_end + len;
    (b.len() >= end).then(|| (status, &b[head_end..end], end))
}
