//! Benchmark: what the gateway serves to well-behaved LAN clients, alone
//! and while one peer floods it, in one run with the default `[limits]`.
//!
//! Run: `cargo bench --bench limits`. 64 well-behaved peers (127.0.1.1 to
//! 127.0.1.64, each within its 20 requests/s) send `GET /health` at 19/s
//! each on a keep-alive connection for 5 s; then the same again while peer
//! 127.0.0.2 holds up to 2,000 idle and 200 slowloris connections and
//! floods `GET /health` and `POST /send/text` at 5,000 requests/s, pipelined
//! over 8 keep-alive connections (`tests/support/flood.rs`, as in the load
//! test `tests/limits_flood.rs`). Prints one line per phase: offered and
//! served requests/s of the well-behaved peers, their p50/p99, the flood's
//! offered and answered rates; then the gateway's peak RSS (`VmHWM`, over
//! the whole run), its RSS and open fds at the end of the flood.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/flood.rs"]
mod flood;

use common::{Gateway, Opts, create_session};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

const PEERS: u8 = 64;
const PEER_RATE: u64 = 19;
const PHASE: Duration = Duration::from_secs(5);
const IDLE: usize = 2000;
const SLOWLORIS: usize = 200;
const FLOOD_RATE: u64 = 5000;
const FLOOD_CONNS: usize = 8;
const FLOOD_WINDOW: u64 = 256;

async fn connect_from(ip: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(ip, 0))?;
    tokio::time::timeout(Duration::from_secs(2), s.connect(to))
        .await
        .map_err(|_| std::io::Error::other("connect timed out"))?
}

/// The well-behaved peers for one phase: (offered/s, served/s, p50 ms, p99 ms).
async fn well_behaved(addr: SocketAddr) -> (f64, f64, f64, f64) {
    let lat = Arc::new(Mutex::new(Vec::<f64>::new()));
    let offered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 1..=PEERS {
        let (lat, offered) = (lat.clone(), offered.clone());
        tasks.push(tokio::spawn(async move {
            let c = reqwest::Client::builder()
                .no_proxy()
                .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 1, i)))
                .timeout(Duration::from_secs(2))
                .build()
                .expect("client");
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / PEER_RATE));
            let end = Instant::now() + PHASE;
            while Instant::now() < end {
                tick.tick().await;
                offered.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                if let Ok(r) = c.get(format!("http://{addr}/health")).send().await
                    && r.status() == 200
                {
                    lat.lock()
                        .expect("lat")
                        .push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut v = std::mem::take(&mut *lat.lock().expect("lat"));
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        v.get(((v.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let secs = PHASE.as_secs_f64();
    (
        offered.load(Ordering::Relaxed) as f64 / secs,
        v.len() as f64 / secs,
        pct(0.5),
        pct(0.99),
    )
}

/// Peer 127.0.0.2's idle, slowloris and flood load until `stop`.
fn start_flood(addr: SocketAddr, token: String, stop: Arc<AtomicBool>) -> Arc<flood::Stats> {
    let a = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            for _ in 0..IDLE {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(s) = connect_from(a, addr).await {
                    held.push(s);
                }
            }
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    for _ in 0..SLOWLORIS {
        let stop = stop.clone();
        tokio::spawn(async move {
            let Ok(mut s) = connect_from(a, addr).await else {
                return;
            };
            let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if s.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    return;
                }
            }
        });
    }
    let (_, stats) = flood::start(
        flood::Plan {
            from: a,
            to: addr,
            token,
            rate: FLOOD_RATE,
            conns: FLOOD_CONNS,
            window: FLOOD_WINDOW,
        },
        stop,
    );
    stats
}

fn status_line(pid: u32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .map_or_else(
            || format!("{key} ?"),
            |l| l.split_whitespace().collect::<Vec<_>>().join(" "),
        )
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(
        dir.path(),
        // The server's limits only: the guard's sending speed would refuse
        // most sends and change what the flood costs.
        &Opts::default()
            .env("WAGO_LOG", "warn,wago::daemon=info")
            .env("WAGO_GUARD_ENABLED", "false"),
    );
    let (addr, pid) = (gw.addr, gw.pid());
    let (_, token) = create_session(&gw, &gw.admin_token(), "flooder").await;

    let (o, s, p50, p99) = well_behaved(addr).await;
    println!(
        "alone:      {PEERS} well-behaved peers offered {o:.0} req/s, served {s:.0} req/s, p50 {p50:.1} ms, p99 {p99:.1} ms; {}",
        status_line(pid, "VmRSS:")
    );
    let stop = Arc::new(AtomicBool::new(false));
    let stats = start_flood(addr, token, stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = stats.counts();
    let (o, s, p50, p99) = well_behaved(addr).await;
    let after = stats.counts();
    let (rss, fds) = (
        status_line(pid, "VmRSS:"),
        std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count()),
    );
    stop.store(true, Ordering::Relaxed);
    let secs = PHASE.as_secs_f64();
    println!(
        "with flood: {PEERS} well-behaved peers offered {o:.0} req/s, served {s:.0} req/s, p50 {p50:.1} ms, p99 {p99:.1} ms; flood offered {:.0} req/s, answered {:.0} req/s; answers {:?}",
        (after.0 - before.0) as f64 / secs,
        (after.1 - before.1) as f64 / secs,
        stats.statuses.lock().expect("statuses"),
    );
    println!(
        "gateway: {} (peak RSS), {rss} and {fds} fds open at the end of the flood",
        status_line(pid, "VmHWM:")
    );
}
