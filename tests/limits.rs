//! Per-client limits against the real binary: a token over its rate gets
//! `429 rate_limited` with `Retry-After`, event streams per token are
//! capped, a full server sheds idle connections and cuts slow bodies (the
//! flood test is `limits_flood.rs`).
//!
//! Peers are told apart by their source address: every 127.0.0.x is
//! loopback on Linux, so a client socket bound to 127.0.0.2 before it
//! connects is "another device" to the gateway. Nothing leaves loopback.

mod common;
#[path = "support/peers.rs"]
mod peers;

use common::{Gateway, Opts, client, create_session};
use peers::{client_from, connect_from, peer};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Starts a gateway with `toml` as its config file.
fn start_with_config(dir: &std::path::Path, toml: &str) -> Gateway {
    let path = dir.join("wago.toml");
    std::fs::write(&path, toml).expect("write config");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let opts = Opts {
        args: vec!["--config".into(), path.display().to_string()],
        ..Opts::default()
    };
    Gateway::start_with(&data, &opts)
}

#[tokio::test]
async fn a_token_over_its_rate_gets_429_with_retry_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = start_with_config(
        dir.path(),
        "[limits]\ntoken_rate = 1\ntoken_burst = 3\nstreams_per_token = 1\n",
    );
    let admin = gw.admin_token();
    let (_, a) = create_session(&gw, &admin, "a").await;
    let (_, b) = create_session(&gw, &admin, "b").await;
    // From 127.0.0.2: the box's own 127.0.0.1 is not rate-limited.
    let lan = client_from(peer(2), Duration::from_secs(10));
    let status = |token: String| {
        let url = gw.url("/session/status");
        let lan = lan.clone();
        async move {
            lan.get(url)
                .header("token", token)
                .send()
                .await
                .expect("send")
        }
    };
    for i in 0..3 {
        let r = status(a.clone()).await;
        assert_eq!(r.status(), 200, "request {i} is within the burst");
    }
    let r = status(a.clone()).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!((1..=2).contains(&retry), "one token a second: {retry}");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(v["error"], "rate_limited", "{v}");
    assert_eq!(v["details"]["limit"], "token_rate", "{v}");
    assert_eq!(v["details"]["retry_after_secs"], retry, "{v}");
    // Another token has its own bucket, and the box itself is not limited.
    assert_eq!(status(b.clone()).await.status(), 200);
    for _ in 0..5 {
        let r = client()
            .get(gw.url("/session/status"))
            .header("token", &a)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "127.0.0.1 is the box itself");
    }

    // One event stream per token: the second is refused while the first is open.
    let first = lan
        .get(gw.url("/events/stream"))
        .header("token", &b)
        .send()
        .await
        .expect("stream");
    assert_eq!(first.status(), 200);
    let second = lan
        .get(gw.url("/events/stream"))
        .header("token", &b)
        .send()
        .await
        .expect("stream");
    assert_eq!(second.status(), 429);
    let v: Value = second.json().await.expect("json");
    assert_eq!(v["details"]["limit"], "streams_per_token", "{v}");

    // Both refusals are counted, and the open connections are listed by peer.
    let m = client()
        .get(gw.url("/metrics"))
        .header("token", &admin)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        m.contains("wago_limit_refusals_total{reason=\"token_rate\"} 1\n"),
        "{m}"
    );
    assert!(
        m.contains("wago_limit_refusals_total{reason=\"streams_per_token\"} 1\n"),
        "{m}"
    );
    assert!(m.contains("wago_event_streams 1\n"), "{m}");
    assert!(
        m.contains("wago_peer_connections{peer=\"127.0.0.2\"}"),
        "{m}"
    );
    // One log line for the limited peer, not one per refusal.
    let log = gw.log_text();
    assert_eq!(log.matches("client limited").count(), 1, "{log}");
    drop(first);
}

#[tokio::test]
async fn sends_refused_by_the_request_rate_never_reach_the_guard_s_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = start_with_config(dir.path(), "[limits]\ntoken_rate = 1\ntoken_burst = 3\n");
    let (_, token) = create_session(&gw, &gw.admin_token(), "till").await;
    let lan = client_from(peer(2), Duration::from_secs(10));
    let (mut accepted, mut limited) = (0u64, 0u64);
    for i in 0..8 {
        let r = lan
            .post(gw.url("/send/text"))
            .header("token", &token)
            .json(&serde_json::json!({ "Phone": format!("1555000010{i}"), "Body": "your order is ready" }))
            .send()
            .await
            .expect("send");
        match r.status().as_u16() {
            200..=202 => accepted += 1,
            429 => {
                let v: Value = r.json().await.expect("json");
                assert_eq!(
                    v["error"], "rate_limited",
                    "the server's rate, not the guard's: {v}"
                );
                limited += 1;
            }
            s => panic!("send {i}: unexpected {s}"),
        }
    }
    assert!(
        accepted >= 3 && limited >= 1,
        "accepted {accepted}, limited {limited}"
    );
    // From the box itself (not rate-limited): the guard counted exactly the
    // sends that got in.
    let (s, usage) = common::get(&gw, &token, "/usage").await;
    assert_eq!(s, 200, "{usage}");
    assert_eq!(usage["data"]["daily_used"], accepted, "{usage}");
    assert_eq!(usage["data"]["monthly_used"], accepted, "{usage}");
}

#[tokio::test]
async fn limits_config_errors_name_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("wago.toml");
    std::fs::write(&path, "[limits]\npeer_connections = 100000\n").expect("write");
    let opts = Opts {
        args: vec!["--config".into(), path.display().to_string()],
        ..Opts::default()
    };
    let Err((status, log)) = Gateway::try_start(dir.path(), &opts) else {
        panic!("a bad limit must stop the start");
    };
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{log}");
    assert!(log.contains("limits.peer_connections"), "{log}");
}

/// Keeps `n` connections of `ip` open, opening a new one whenever the
/// gateway closes one, until `stop`.
fn hold_connections(ip: IpAddr, to: SocketAddr, n: usize, stop: Arc<AtomicBool>) {
    for _ in 0..n {
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = connect_from(ip, to).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let mut b = [0u8; 512];
                loop {
                    tokio::select! {
                        r = s.read(&mut b) => if matches!(r, Ok(0) | Err(_)) { break },
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {
                            if stop.load(Ordering::Relaxed) { return; }
                        }
                    }
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_sheds_idle_connections_and_cuts_slow_bodies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = start_with_config(
        dir.path(),
        "[limits]\nmax_connections = 16\npeer_connections = 6\nlocal_reserved = 2\n\
         pressure_percent = 50\npressure_idle_secs = 1\nmin_body_rate = 1000\n",
    );
    let admin = gw.admin_token();
    let (_, token) = create_session(&gw, &admin, "till").await;
    let stop = Arc::new(AtomicBool::new(false));
    // Three peers keep six idle connections each: more than the 14 others may hold.
    for last in [2, 4, 5] {
        hold_connections(peer(last), gw.addr, 6, stop.clone());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A body trickling in at 10 bytes/s is cut long before the 60 s body timeout.
    let mut s = connect_from(peer(6), gw.addr).await.expect("connect");
    let head = format!(
        "POST /send/text HTTP/1.1\r\nHost: x\r\ntoken: {token}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(20) {
        tokio::select! {
            r = s.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    reply.extend_from_slice(&buf[..n]);
                    if reply.windows(4).any(|w| w == b"\r\n\r\n") && reply.ends_with(b"}") { break; }
                }
            },
            _ = tokio::time::sleep(Duration::from_millis(400)) => {
                let _ = s.write_all(b" ").await;
            }
        }
    }
    let reply = String::from_utf8_lossy(&reply).to_string();
    assert!(
        reply.starts_with("HTTP/1.1 408"),
        "{reply:?} after {:?}\n{}",
        started.elapsed(),
        gw.log_text()
    );
    assert!(reply.contains("limits.min_body_rate"), "{reply}");
    // A well-behaved peer still gets in, and the closures are counted.
    let c = client_from(peer(3), Duration::from_secs(5));
    let r = c.get(gw.url("/health")).send().await.expect("health");
    assert_eq!(r.status(), 200);
    let m = c
        .get(gw.url("/metrics"))
        .header("token", &admin)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    stop.store(true, Ordering::Relaxed);
    let metric = |name: &str| -> u64 {
        m.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().parse().unwrap_or(0)))
            .unwrap_or_else(|| panic!("{name} missing:\n{m}"))
    };
    assert_eq!(
        metric("wago_limit_refusals_total{reason=\"min_body_rate\"}"),
        1,
        "{m}"
    );
    let shed = metric("wago_connections_shed_total{reason=\"idle\"}")
        + metric("wago_connections_shed_total{reason=\"slow\"}");
    assert!(shed > 0, "idle connections closed under pressure:\n{m}");
    assert!(metric("wago_connections ") <= 16, "{m}");
}
