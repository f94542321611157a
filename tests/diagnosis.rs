//! "WhatsApp cannot be reached" diagnostics end to end: the real gateway
//! binary pointed at loopback listeners that fail the way real networks
//! fail (a closed port, a reset, a name that does not resolve, a captive
//! portal speaking plain HTTP on the TLS port, an unreachable version host)
//! and at the simulated WhatsApp server refusing a login. For each class
//! `/session/status` must show the stable code and a sentence within 5 s of
//! the first attempt, and the display, `/metrics`, `POST /session/connect`
//! and pairing by phone must say the same.
//!
//! Nothing here leaves loopback: the DNS test runs in a network namespace
//! of its own with only loopback up, and resolves a `.invalid` name.

#[cfg(not(feature = "test-sim"))]
compile_error!(
    "the diagnosis tests use the simulated WhatsApp server: run them with `--features test-sim` (tests/run does)"
);

mod common;
#[path = "support/simgw.rs"]
mod simgw;

use common::{Gateway, Opts, client, create_session};
use serde_json::{Value, json};
use simgw::{VERSION, get, post, wait_connected, wait_for};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use wa_sim::Simulator;

/// The bound: the diagnosis is visible this soon after the first attempt.
const WITHIN: Duration = Duration::from_secs(5);

/// A gateway with one fresh session, pointed at `server_url`.
async fn gateway(server_url: &str, extra: &[(&str, &str)]) -> (tempfile::TempDir, Gateway, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = Opts::default().env("WAGO_WA_SERVER_URL", server_url);
    for (k, v) in extra {
        opts = opts.env(k, v);
    }
    let gw = Gateway::start_with(dir.path(), &opts);
    let (_, token) = create_session(&gw, &gw.admin_token(), "front-desk").await;
    (dir, gw, token)
}

/// Starts connecting and waits (up to [`WITHIN`] from the start) until the
/// status names `code`; checks the sentence and the time, and returns the status.
async fn expect_diagnosis(gw: &Gateway, token: &str, code: &str, words: &str) -> Value {
    let before = now_ms();
    let started = Instant::now();
    let (status, _) = post(gw, token, "/session/connect", json!({ "Immediate": true })).await;
    assert_eq!(status, 200);
    let v = wait_for(gw, token, "/session/status", WITHIN, |_, v| {
        v["data"]["LastErrorCode"] == code
    })
    .await;
    assert!(started.elapsed() <= WITHIN + Duration::from_secs(1));
    let d = &v["data"];
    assert_eq!(d["State"], "connecting", "{v}");
    assert_eq!(d["Connected"], false);
    let sentence = d["LastError"].as_str().expect("LastError is the sentence");
    assert!(sentence.contains(words), "{code}: {sentence}");
    let at = d["LastErrorAt"].as_i64().expect("LastErrorAt");
    assert!(at >= before && at <= now_ms(), "LastErrorAt {at}");
    v
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A loopback port nothing listens on.
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_reads_connection_refused_everywhere() {
    let port = closed_port().await;
    let (_dir, gw, token) = gateway(
        &format!("ws://127.0.0.1:{port}/ws/chat"),
        &[("WAGO_WA_VERSION", VERSION)],
    )
    .await;
    expect_diagnosis(&gw, &token, "connection_refused", "refused the connection").await;

    // Without Immediate, connect answers with the failure at once instead
    // of waiting out its 15 s for a QR code that cannot come.
    let started = Instant::now();
    let (status, v) = post(&gw, &token, "/session/connect", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(v["data"]["LastErrorCode"], "connection_refused", "{v}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "connect waited it out"
    );

    // Pairing by phone cannot get a code: a 409 naming the reason.
    let (status, v) = post(
        &gw,
        &token,
        "/session/connect",
        json!({ "Phone": "+1 555 123 0000" }),
    )
    .await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"], "whatsapp_unreachable", "{v}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("refused the connection")),
        "{v}"
    );
    assert_eq!(v["details"]["LastErrorCode"], "connection_refused", "{v}");

    // The display's status carries it, and the problem screen says it.
    let (status, d) = get(&gw, &token, "/display/status").await;
    assert_eq!(status, 200);
    assert_eq!(d["data"]["LastErrorCode"], "connection_refused", "{d}");
    let shown: wago::display::model::DisplayStatus =
        serde_json::from_value(d["data"].clone()).expect("display status");
    assert_eq!(
        wago::display::screens::pick(Some(&shown)),
        wago::display::screens::Screen::Problems
    );
    let problems = wago::display::screens::problems(&shown);
    assert_eq!(problems[0].title, "WhatsApp is blocked", "{problems:?}");
    assert!(problems[0].detail.contains("refused the connection"));

    // /metrics counts the attempts by code.
    let text = client()
        .get(gw.url("/metrics"))
        .header("Authorization", format!("Bearer {}", gw.admin_token()))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("wago_session_connect_failures_total{")
                && l.contains("code=\"connection_refused\"")
        })
        .unwrap_or_else(|| panic!("no failure counter in:\n{text}"));
    let n: f64 = line
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("count");
    assert!(n >= 1.0, "{line}");

    // One line per attempt, and no multi-line error chain at info level.
    let log = gw.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("cannot reach WhatsApp") && l.contains("connection_refused")),
        "{log}"
    );
    assert!(
        !log.contains("Caused by"),
        "error chains at info level:\n{log}"
    );
    assert!(
        !log.contains("whatsapp_rust::client::lifecycle: error="),
        "library chain logged:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_resets_reads_connection_reset() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accept, wait for the upgrade request, close without reading it:
    // unread data makes the kernel answer with a reset.
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = sock.readable().await;
                drop(sock);
            });
        }
    });
    let (_dir, gw, token) = gateway(
        &format!("ws://127.0.0.1:{port}/ws/chat"),
        &[("WAGO_WA_VERSION", VERSION)],
    )
    .await;
    expect_diagnosis(&gw, &token, "connection_reset", "reset").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captive_portal_on_the_tls_port_reads_tls_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Answers the TLS ClientHello with a plain HTTP page, as a captive
    // portal that intercepts port 443 does.
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = sock.readable().await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 30\r\n\r\n<html>Log in to Wi-Fi</html>\r\n")
                    .await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            });
        }
    });
    let (_dir, gw, token) = gateway(
        &format!("wss://127.0.0.1:{port}/ws/chat"),
        &[("WAGO_WA_VERSION", VERSION)],
    )
    .await;
    expect_diagnosis(&gw, &token, "tls_failure", "TLS").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolvable_name_reads_dns_failure() {
    // A namespace of our own, loopback only: the lookup cannot leave the box.
    if !common::in_loopback_netns("an_unresolvable_name_reads_dns_failure") {
        return;
    }
    let (_dir, gw, token) = gateway(
        "wss://whatsapp.invalid/ws/chat",
        &[("WAGO_WA_VERSION", VERSION)],
    )
    .await;
    expect_diagnosis(
        &gw,
        &token,
        "dns_failure",
        "cannot look up whatsapp.invalid",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_version_host_reads_version_fetch_failed() {
    // The chat server works; only the version lookup (no version pinned)
    // has nowhere to go: test builds send it to TEST_WAGO_MEDIA_URL.
    let sim = Simulator::start().await.expect("sim");
    let port = closed_port().await;
    let (_dir, gw, token) = gateway(
        &sim.ws_url(),
        &[("TEST_WAGO_MEDIA_URL", &format!("http://127.0.0.1:{port}"))],
    )
    .await;
    let v = expect_diagnosis(&gw, &token, "version_fetch_failed", "version").await;
    let sentence = v["data"]["LastError"].as_str().unwrap_or("");
    assert!(sentence.contains("connection was refused"), "{sentence}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_reads_login_refused() {
    let (sim, _dir, gw, token) = simgw::paired(&[]).await;
    let (status, _) = post(&gw, &token, "/session/disconnect", json!({})).await;
    assert_eq!(status, 200);
    sim.refuse_logins(Some("400"));
    expect_diagnosis(&gw, &token, "login_refused", "refused the login").await;

    // Once WhatsApp lets it in again, the session comes back and the error goes.
    sim.refuse_logins(None);
    let (status, _) = post(&gw, &token, "/session/disconnect", json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = post(
        &gw,
        &token,
        "/session/connect",
        json!({ "Immediate": true }),
    )
    .await;
    assert_eq!(status, 200);
    let v = wait_connected(&gw, &token, Duration::from_secs(30)).await;
    assert_eq!(v["data"]["LastErrorCode"], Value::Null, "{v}");
    assert_eq!(v["data"]["LastError"], Value::Null, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_diagnosis_goes_once_the_network_is_fixed() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let sim = Simulator::start().await.expect("sim");
    let upstream = sim
        .ws_url()
        .trim_start_matches("ws://")
        .trim_end_matches("/ws/chat")
        .to_string();
    // A "firewall" on loopback: resets every connection until it is
    // fixed, then forwards to the simulator.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let fixed = Arc::new(AtomicBool::new(false));
    let open = fixed.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let open = open.load(Ordering::SeqCst);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if !open {
                    let _ = sock.readable().await;
                    return;
                }
                if let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut sock, &mut up).await;
                }
            });
        }
    });
    let (_dir, gw, token) = gateway(
        &format!("ws://127.0.0.1:{port}/ws/chat"),
        &[("WAGO_WA_VERSION", VERSION)],
    )
    .await;
    expect_diagnosis(&gw, &token, "connection_reset", "reset").await;
    fixed.store(true, Ordering::SeqCst);
    // The session retries by itself; once through, the QR code replaces
    // the diagnosis.
    let v = wait_for(
        &gw,
        &token,
        "/session/status",
        Duration::from_secs(30),
        |_, v| v["data"]["State"] == "pairing",
    )
    .await;
    assert_eq!(v["data"]["LastErrorCode"], Value::Null, "{v}");
    assert_eq!(v["data"]["LastError"], Value::Null, "{v}");
}
