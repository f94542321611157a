//! A gateway binary on a fresh simulator with one paired session, and the
//! small HTTP helpers the simulator-backed tests share.
#![allow(dead_code)]

use crate::common::{Gateway, Opts, create_session};
pub use crate::common::{get, post};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use wa_sim::Simulator;

/// The pinned WhatsApp Web version the gateway announces.
pub const VERSION: &str = "2.3000.1027934701";
/// The contact most tests talk to.
pub const CONTACT: &str = "15559870000";

/// Polls `GET path` until `pred` holds, failing the test after `limit`.
pub async fn wait_for(
    gw: &Gateway,
    token: &str,
    path: &str,
    limit: Duration,
    pred: impl Fn(u16, &Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (status, v) = get(gw, token, path).await;
        if pred(status, &v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting on {path}; last: {status} {v}\nlog:\n{}",
            gw.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The environment that points a gateway at `sim` (its WebSocket server,
/// the pinned version and its loopback media host).
pub fn opts(sim: &Simulator) -> Opts {
    Opts::default()
        .env("WAGO_WA_SERVER_URL", &sim.ws_url())
        .env("WAGO_WA_VERSION", VERSION)
        .env("TEST_WAGO_MEDIA_URL", &sim.media_url())
}

/// Starts the gateway binary on `data` against `sim` with extra environment.
pub fn start(data: &std::path::Path, sim: &Simulator, extra: &[(&str, &str)]) -> Gateway {
    let mut opts = opts(sim);
    for (k, v) in extra {
        opts = opts.env(k, v);
    }
    Gateway::start_with(data, &opts)
}

/// The user part of a JID (`1555…` of `1555…:3@s.whatsapp.net`).
pub fn user_of(jid: &str) -> &str {
    jid.split(['@', ':']).next().unwrap_or(jid)
}

/// Waits until the session reports `connected`; returns the status.
pub async fn wait_connected(gw: &Gateway, token: &str, limit: Duration) -> Value {
    wait_for(gw, token, "/session/status", limit, |_, v| {
        v["data"]["State"] == "connected"
    })
    .await
}

/// Waits until the session reports anything but `connected`.
pub async fn wait_not_connected(gw: &Gateway, token: &str, limit: Duration) -> Value {
    wait_for(gw, token, "/session/status", limit, |_, v| {
        v["data"]["State"] != "connected"
    })
    .await
}

/// SIGTERM and wait for a clean exit without blocking this runtime, on
/// which the simulator runs.
pub async fn stop(mut gw: Gateway) -> bool {
    gw.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = gw.wait(Duration::ZERO) {
            return status.success();
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A gateway on a fresh simulator with one paired session:
/// (simulator, data dir, gateway, token).
pub async fn paired(extra: &[(&str, &str)]) -> (Simulator, tempfile::TempDir, Gateway, String) {
    paired_named("front-desk", extra).await
}

/// [`paired`] with the session named `name`.
pub async fn paired_named(
    name: &str,
    extra: &[(&str, &str)],
) -> (Simulator, tempfile::TempDir, Gateway, String) {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = start(dir.path(), &sim, extra);
    let (_, token) = create_session(&gw, &gw.admin_token(), name).await;
    pair_session(&gw, &sim, &token).await;
    (sim, dir, gw, token)
}

/// Links an existing session: connect, read the QR from the API, let the
/// simulated phone scan it, wait until connected.
pub async fn pair_session(gw: &Gateway, sim: &Simulator, token: &str) {
    let (status, _) = post(gw, token, "/session/connect", json!({ "Immediate": true })).await;
    assert_eq!(status, 200);
    // Setup, not the subject of a test: generous limits for a loaded machine.
    let qr = wait_for(gw, token, "/session/qr", Duration::from_secs(30), |s, _| {
        s == 200
    })
    .await;
    let code = qr["data"]["Code"].as_str().expect("raw code").to_string();
    sim.phone().scan_qr(&code).await.expect("scan");
    wait_connected(gw, token, Duration::from_secs(30)).await;
}

/// Waits until the message `id` reaches `state`; returns the message.
pub async fn wait_message_state(
    gw: &Gateway,
    token: &str,
    id: &str,
    state: &str,
    limit: Duration,
) -> Value {
    wait_for(gw, token, &format!("/message/{id}"), limit, |_, v| {
        v["data"]["State"] == state
    })
    .await
}

/// Waits until the event log holds an event named `name` whose payload
/// satisfies `pred`; returns its payload.
pub async fn wait_event(
    gw: &Gateway,
    token: &str,
    name: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let v = wait_for(
        gw,
        token,
        "/events?limit=1000",
        Duration::from_secs(20),
        |_, v| {
            v["data"]["Events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["event"] == name && pred(&e["payload"])))
        },
    )
    .await;
    v["data"]["Events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["event"] == name && pred(&e["payload"])))
        .map(|e| e["payload"].clone())
        .expect("event")
}
