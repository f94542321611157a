//! "sent" means WhatsApp's server has it: a send leaves the queue only on
//! the server's `<ack>` for its id, survives a link that swallows what the
//! box wrote and then dies (a fault-injecting proxy between the gateway and
//! the simulator), and a queued send expires on time even if the session
//! was never connected. All through the real binary and its real client.

#[cfg(not(feature = "test-sim"))]
compile_error!(
    "the acked-send tests talk to the simulated WhatsApp server: run them with `--features test-sim`"
);

mod common;
#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/simgw.rs"]
mod simgw;

use common::{Gateway, Opts, client};
use serde_json::{Value, json};
use simgw::{CONTACT, get, pair_session, post, wait_message_state};
use std::collections::HashMap;
use std::time::Duration;
use wa_sim::{FaultProxy, Simulator};

const STEP: Duration = Duration::from_secs(30);

/// Creates a session whose webhook gets every event at `hook`; returns its token.
async fn init_with_webhook(gw: &Gateway, hook: &receiver::Receiver, name: &str) -> String {
    let r = client()
        .post(gw.url("/session/init"))
        .header("token", gw.admin_token())
        .json(&json!({ "Name": name, "WebhookURL": hook.url("/hook"), "Events": ["All"] }))
        .send()
        .await
        .expect("init");
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.expect("json")["data"]["Token"]
        .as_str()
        .expect("token")
        .to_string()
}

async fn send_text(gw: &Gateway, token: &str, body: &str) -> String {
    let (status, v) = post(
        gw,
        token,
        "/send/text",
        json!({ "Phone": CONTACT, "Body": body }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["State"], "pending", "{v}");
    v["data"]["Id"].as_str().expect("id").to_string()
}

/// When the message's history says it became `sent` (Unix ms), and how
/// often it says so.
async fn sent_at(gw: &Gateway, token: &str, id: &str) -> (Option<i64>, usize) {
    let (_, v) = get(gw, token, &format!("/message/{id}")).await;
    let sent: Vec<i64> = v["data"]["History"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["State"] == "sent")
        .filter_map(|h| h["At"].as_i64())
        .collect();
    (sent.first().copied(), sent.len())
}

/// The `message.sent` events the webhook receiver got for `id`, as their
/// event timestamps.
fn sent_events(hook: &receiver::Receiver, id: &str) -> Vec<i64> {
    hook.hits()
        .iter()
        .map(|h| h.json())
        .filter(|e| e["event"] == "message.sent" && e["payload"]["id"] == id)
        .filter_map(|e| e["timestamp"].as_i64())
        .collect()
}

#[tokio::test]
async fn a_link_that_dies_with_sends_in_flight_loses_none_and_says_sent_only_after_the_ack() {
    let sim = Simulator::start().await.expect("sim");
    let proxy = FaultProxy::start(sim.addr()).await.expect("proxy");
    let hook = receiver::Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = simgw::start(
        dir.path(),
        &sim,
        &[("WAGO_WA_SERVER_URL", proxy.ws_url().as_str())],
    );
    let token = init_with_webhook(&gw, &hook, "uplink").await;
    pair_session(&gw, &sim, &token).await;
    let contact = sim.contact(CONTACT);

    // One send through a healthy link: the devices and the Signal session
    // are known, so each later send is one frame.
    let warm = send_text(&gw, &token, "warm-up").await;
    wait_message_state(&gw, &token, &warm, "sent", STEP).await;
    contact.wait_for_text(STEP).await.expect("warm-up arrives");

    // The link now dies by halves: the server's next answer (to the device
    // list query a send starts with) still arrives, nothing the box writes
    // after it is delivered, not even the message itself.
    proxy.swallow_after_reply();
    let mut ids = Vec::new();
    for body in ["reminder 1", "reminder 2", "reminder 3"] {
        ids.push(send_text(&gw, &token, body).await);
    }
    proxy
        .wait_swallowed(1, STEP)
        .await
        .expect("the box wrote its message into the dying link");
    // ... and dies.
    proxy.cut();

    // After the reconnect, every accepted message reaches the phone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got: Vec<String> = contact.received().await.into_iter().map(|m| m.id).collect();
        if ids.iter().all(|id| got.contains(id)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "accepted sends never reached the phone: {:?} missing (swallowed {} frames)\nlog:\n{}",
            ids.iter()
                .filter(|id| !got.contains(id))
                .collect::<Vec<_>>(),
            proxy.swallowed(),
            gw.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each exactly once, in the order they were accepted.
    let got: Vec<String> = contact.received().await.into_iter().map(|m| m.id).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &got {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    for id in &ids {
        assert_eq!(counts.get(id.as_str()), Some(&1), "{id} once: {got:?}");
    }
    let order: Vec<&String> = got.iter().filter(|g| ids.contains(g)).collect();
    assert_eq!(order, ids.iter().collect::<Vec<_>>(), "in order");

    // None was reported sent before the server acknowledged it.
    for id in &ids {
        wait_message_state(&gw, &token, id, "sent", STEP).await;
        let acked = sim.message_acked_at(id).expect("the server acked it");
        let (at, times) = sent_at(&gw, &token, id).await;
        let at = at.expect("sent in its history");
        assert_eq!(times, 1, "{id} became sent once");
        assert!(
            at >= acked,
            "{id} reported sent at {at}, {} ms before the server's ack at {acked}",
            acked - at
        );
    }
    let deadline = tokio::time::Instant::now() + STEP;
    for id in &ids {
        let acked = sim.message_acked_at(id).expect("acked");
        loop {
            let events = sent_events(&hook, id);
            if !events.is_empty() {
                assert!(
                    events.iter().all(|t| *t >= acked),
                    "{id}: message.sent at {events:?}, before the server's ack at {acked}"
                );
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message.sent webhook for {id}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn a_message_the_phone_has_but_the_server_has_not_acked_is_still_pending() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = simgw::start(dir.path(), &sim, &[]);
    let (_, token) = common::create_session(&gw, &gw.admin_token(), "held").await;
    pair_session(&gw, &sim, &token).await;
    let contact = sim.contact(CONTACT);

    sim.hold_message_acks(true);
    let id = send_text(&gw, &token, "held back").await;
    let got = contact.wait_for_text(STEP).await.expect("the phone has it");
    assert_eq!(got.id, id);
    // The frame was written long ago (the phone decrypted it), but without
    // the server's ack the box does not claim it was sent.
    let (_, v) = get(&gw, &token, &format!("/message/{id}")).await;
    assert_eq!(v["data"]["State"], "pending", "{v}");
    assert!(sim.message_acked_at(&id).is_none());

    sim.hold_message_acks(false);
    wait_message_state(&gw, &token, &id, "sent", STEP).await;
    let acked = sim.message_acked_at(&id).expect("acked now");
    let (at, _) = sent_at(&gw, &token, &id).await;
    assert!(at.expect("sent in its history") >= acked);
}

#[tokio::test]
async fn a_queued_send_expires_on_time_although_the_session_never_connected() {
    let hook = receiver::Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(
        dir.path(),
        &Opts::default().env("WAGO_WA_SEND_MAX_AGE_SECS", "2"),
    );
    let token = init_with_webhook(&gw, &hook, "never-connected").await;
    let (status, v) = post(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": CONTACT, "Body": "nobody connects me" }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let id = v["data"]["Id"].as_str().expect("id").to_string();
    let accepted = v["data"]["Timestamp"].as_i64().expect("timestamp");

    let deadline = tokio::time::Instant::now() + STEP;
    let failed = loop {
        let found = hook
            .hits()
            .iter()
            .map(|h| h.json())
            .find(|e| e["event"] == "message.failed" && e["payload"]["id"] == id.as_str());
        if let Some(e) = found {
            break e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no message.failed webhook for a send that expired; log:\n{}",
            gw.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        failed["payload"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("expired")),
        "{failed}"
    );
    assert_eq!(failed["payload"]["state"], "failed");
    let at = failed["timestamp"].as_i64().expect("event time");
    assert!(
        at - accepted >= 2000,
        "failed after {} ms, before its 2 s maximum age",
        at - accepted
    );
    let (_, v) = get(&gw, &token, &format!("/message/{id}")).await;
    assert_eq!(v["data"]["State"], "failed", "{v}");
}
