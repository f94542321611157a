//! Send throughput benchmark (not a test): `POST /send/text` through the
//! real gateway binary.
//!
//! 1. Accepted: sends to a session that is not connected, so every message
//!    is only validated, committed to the durable queue and answered
//!    (`pending`); nothing drains. Reports accepted sends/s and the accept
//!    latency.
//! 2. End to end: a session paired with the simulated WhatsApp server; a
//!    message counts when the simulated contact has received it. Reports
//!    sends/s through to the contact, the accept latency and the end-to-end
//!    latency (request start to the contact's receipt, polled every 5 ms).
//!
//! The accept phase runs twice, the responsible-messaging guard off and on
//! (limits and speeds above what the bench sends, so every send is decided
//! and none refused), on fresh gateways in the same run, alternating twice.
//!
//! Run: `cargo bench --features test-sim --bench send`

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/simgw.rs"]
mod simgw;

use common::Gateway;
use simgw::CONTACT;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use wa_sim::Simulator;

/// Concurrent clients.
const CLIENTS: usize = 8;
/// Messages in the accept phase.
const ACCEPTED: usize = 4000;
/// Messages in the end-to-end phase.
const E2E: usize = 1000;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Sends `n` messages from `CLIENTS` tasks; returns each message's start
/// time and accept latency, keyed by its body, and the wall time.
async fn blast(
    url: String,
    token: String,
    n: usize,
    tag: &'static str,
) -> (HashMap<String, (Instant, Duration)>, Duration) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let out = Arc::new(Mutex::new(HashMap::with_capacity(n)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (url, token, next, out) = (url.clone(), token.clone(), next.clone(), out.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client");
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let body = format!("{tag} {i}");
                let t0 = Instant::now();
                let r = http
                    .post(&url)
                    .header("token", &token)
                    .json(&serde_json::json!({ "Phone": CONTACT, "Body": body }))
                    .send()
                    .await
                    .expect("send");
                let status = r.status();
                let _ = r.bytes().await;
                assert!(status.is_success(), "send answered {status}");
                out.lock().await.insert(body, (t0, t0.elapsed()));
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let wall = started.elapsed();
    let map = std::mem::take(&mut *out.lock().await);
    (map, wall)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(run());
}

/// The guard on, with limits and speeds above what the bench sends: every
/// send is decided (purpose, suppression, counters, both token buckets) and
/// none is refused.
fn guard_on(opts: common::Opts) -> common::Opts {
    opts.env("WAGO_GUARD_DAILY_LIMIT", "1000000")
        .env("WAGO_GUARD_MONTHLY_LIMIT", "31000000")
        .env("WAGO_GUARD_SESSION_PER_MINUTE", "6000")
        .env("WAGO_GUARD_SESSION_BURST", "10000")
        .env("WAGO_GUARD_RECIPIENT_PER_MINUTE", "6000")
        .env("WAGO_GUARD_RECIPIENT_BURST", "10000")
}

async fn run() {
    let sim = Simulator::start().await.expect("sim");
    // 1. Into the durable queue: a session that never connects; the guard
    // off, then on, each on a fresh gateway, side by side in one run.
    // Twice each, alternating, so a load change on the machine shows up as a
    // difference between the rounds instead of passing for the guard's cost.
    for (label, on) in [
        ("guard off", false),
        ("guard on", true),
        ("guard off", false),
        ("guard on", true),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = simgw::opts(&sim).env("WAGO_LOG", "warn,wago::daemon=info");
        let opts = if on {
            guard_on(opts)
        } else {
            opts.env("WAGO_GUARD_ENABLED", "false")
        };
        let gw = Gateway::start_with(dir.path(), &opts);
        let admin = gw.admin_token();
        let (_, idle) = common::create_session(&gw, &admin, "queue-only").await;
        let (acc, wall) = blast(gw.url("/send/text"), idle, ACCEPTED, "queued").await;
        let mut lat: Vec<Duration> = acc.values().map(|v| v.1).collect();
        lat.sort();
        println!(
            "accepted into the queue ({label}): {ACCEPTED} sends, {CLIENTS} clients, {:.0} sends/s, accept p50 {:.2} ms, p99 {:.2} ms",
            ACCEPTED as f64 / wall.as_secs_f64(),
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = guard_on(simgw::opts(&sim).env("WAGO_LOG", "warn,wago::daemon=info"));
    let gw = Gateway::start_with(dir.path(), &opts);
    let admin = gw.admin_token();
    let send_url = gw.url("/send/text");

    // 2. End to end: pair a session with the simulator.
    let (_, token) = common::create_session(&gw, &admin, "paired").await;
    simgw::pair_session(&gw, &sim, &token).await;
    let contact = sim.contact(CONTACT);
    // Arrival times, polled while the clients send.
    let arrivals = Arc::new(Mutex::new(HashMap::<String, Instant>::new()));
    let watcher = {
        let (arrivals, contact) = (arrivals.clone(), contact.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(600);
            loop {
                let got = contact.received().await;
                let now = Instant::now();
                let mut a = arrivals.lock().await;
                for m in got.iter().filter(|m| m.body.starts_with("e2e ")) {
                    a.entry(m.body.clone()).or_insert(now);
                }
                if a.len() >= E2E || now > deadline {
                    return now;
                }
                drop(a);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let t0 = Instant::now();
    let (sent, wall_accept) = blast(send_url, token, E2E, "e2e").await;
    let done = watcher.await.expect("watcher");
    let arrivals = arrivals.lock().await;
    assert_eq!(arrivals.len(), E2E, "every message reached the contact");
    let mut accept: Vec<Duration> = sent.values().map(|v| v.1).collect();
    accept.sort();
    let mut e2e: Vec<Duration> = sent
        .iter()
        .filter_map(|(body, (start, _))| arrivals.get(body).map(|at| at.duration_since(*start)))
        .collect();
    e2e.sort();
    let wall = done.duration_since(t0);
    println!(
        "end to end to the simulator: {E2E} sends, {CLIENTS} clients, {:.0} sends/s delivered ({:.0} sends/s accepted), accept p50 {:.2} ms, p99 {:.2} ms; end-to-end p50 {:.1} ms, p99 {:.1} ms",
        E2E as f64 / wall.as_secs_f64(),
        E2E as f64 / wall_accept.as_secs_f64(),
        pct(&accept, 0.5),
        pct(&accept, 0.99),
        pct(&e2e, 0.5),
        pct(&e2e, 0.99)
    );
    drop(gw);
}
