//! Benchmark: what the gateway serves to well-behaved LAN clients, alone
//! and while one peer floods it, in one run with the default `[limits]`.
//!
//! Run: `cargo bench --bench limits`. 64 well-behaved peers (127.0.1.1 to
//! 127.0.1.64, each within its 20 requests/s) send `GET /health` at 19/s
//! each on a keep-alive connection for 5 s; then the same again while peer
//! 127.0.0.2 holds up to 2,000 idle and 200 slowloris connections and
//! floods `GET /health` and `POST /send/text` from 16 closed-loop workers.
//! Prints one line per phase: offered and served requests/s of the
//! well-behaved peers, their p50/p99, and the flood's own rate and answers;
//! then the gateway's peak RSS (`VmHWM`) and open fds.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
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
const FLOOD_WORKERS: usize = 16;

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
fn flood(
    addr: SocketAddr,
    token: String,
    stop: Arc<AtomicBool>,
) -> Arc<Mutex<BTreeMap<String, u64>>> {
    let answers = Arc::new(Mutex::new(BTreeMap::new()));
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
    for w in 0..FLOOD_WORKERS {
        let (stop, answers, token) = (stop.clone(), answers.clone(), token.clone());
        tokio::spawn(async move {
            let c = reqwest::Client::builder()
                .no_proxy()
                .local_address(a)
                .timeout(Duration::from_secs(2))
                .build()
                .expect("client");
            let mut n = w;
            while !stop.load(Ordering::Relaxed) {
                let r = if n % 2 == 0 {
                    c.get(format!("http://{addr}/health")).send().await
                } else {
                    c.post(format!("http://{addr}/send/text"))
                        .header("token", &token)
                        .json(&serde_json::json!({ "Phone": "15551239999", "Body": "flood" }))
                        .send()
                        .await
                };
                let key = r.map_or("error".to_string(), |r| r.status().as_u16().to_string());
                *answers.lock().expect("answers").entry(key).or_default() += 1;
                n += 1;
            }
        });
    }
    answers
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wago"))
        .env_clear()
        .env("WAGO_DATA_DIR", dir.path())
        .env("WAGO_LISTEN", "127.0.0.1:0")
        .env("WAGO_LOG", "warn,wago::daemon=info")
        // The server's limits only: the guard's sending speed would refuse
        // most sends and change what the flood costs.
        .env("WAGO_GUARD_ENABLED", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wago");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(a) = line.split("listening addr=").nth(1)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(a.trim().to_string());
            }
        }
    });
    let addr: SocketAddr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("gateway listens")
        .parse()
        .expect("addr");
    let admin = std::fs::read_to_string(dir.path().join("admin-token")).expect("admin token");
    let v: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(format!("http://{addr}/session/init"))
        .header("token", admin.trim())
        .json(&serde_json::json!({ "Name": "flooder" }))
        .send()
        .await
        .expect("init")
        .json()
        .await
        .expect("json");
    let token = v["data"]["Token"].as_str().expect("token").to_string();

    let (o, s, p50, p99) = well_behaved(addr).await;
    println!(
        "alone:      {PEERS} well-behaved peers offered {o:.0} req/s, served {s:.0} req/s, p50 {p50:.1} ms, p99 {p99:.1} ms"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let answers = flood(addr, token, stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before: u64 = answers.lock().expect("answers").values().sum();
    let (o, s, p50, p99) = well_behaved(addr).await;
    let after = answers.lock().expect("answers").clone();
    stop.store(true, Ordering::Relaxed);
    let flood_rate = (after.values().sum::<u64>() - before) as f64 / PHASE.as_secs_f64();
    println!(
        "with flood: {PEERS} well-behaved peers offered {o:.0} req/s, served {s:.0} req/s, p50 {p50:.1} ms, p99 {p99:.1} ms; flood {flood_rate:.0} req/s, answers so far {after:?}"
    );
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or("VmHWM: ?")
        .to_string();
    let fds = std::fs::read_dir(format!("/proc/{}/fd", child.id())).map_or(0, |d| d.count());
    println!("gateway: {hwm} (peak RSS), {fds} fds open at the end of the flood");
    let _ = child.kill();
    let _ = child.wait();
}
