//! The engine end to end: the real gateway binary, the real whatsapp-rust
//! client inside it, and the simulated WhatsApp server (`wa-sim`) on
//! loopback. Everything is driven through the HTTP API and the simulated
//! phone and contacts; nothing above the protocol is faked.

#[cfg(not(feature = "test-sim"))]
compile_error!(
    "the engine tests talk to the simulated WhatsApp server: run them with `--features test-sim` (tests/run does)"
);

mod common;
#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/simgw.rs"]
mod simgw;

use common::{Gateway, client, create_session};
use serde_json::{Value, json};
use simgw::{
    CONTACT, get, opts, post, stop, user_of, wait_connected, wait_for, wait_message_state,
};
use std::time::{Duration, Instant};
use wa_sim::{HandshakeKind, ReceiptKind, Simulator};

/// Connects, scans the QR from the API with the simulated phone, waits for `connected`.
async fn pair(gw: &Gateway, sim: &Simulator, token: &str) -> Duration {
    let started = Instant::now();
    let (status, _) = post(gw, token, "/session/connect", json!({ "Immediate": true })).await;
    assert_eq!(status, 200);
    let qr = wait_for(gw, token, "/session/qr", Duration::from_secs(10), |s, _| {
        s == 200
    })
    .await;
    let qr_after = started.elapsed();
    let code = qr["data"]["Code"].as_str().expect("raw code");
    assert!(
        qr["data"]["QRCode"]
            .as_str()
            .expect("png")
            .starts_with("data:image/png;base64,")
    );
    let st = wait_for(
        gw,
        token,
        "/session/status",
        Duration::from_secs(5),
        |_, v| v["data"]["State"] == "pairing",
    )
    .await;
    assert_eq!(st["data"]["QRAvailable"], true);
    let device = sim
        .phone()
        .scan_qr(code)
        .await
        .expect("the simulated phone scans the QR");
    let st = wait_connected(gw, token, Duration::from_secs(30)).await;
    assert_eq!(st["data"]["LoggedIn"], true);
    assert_eq!(st["data"]["Connected"], true);
    let jid = st["data"]["Jid"].as_str().expect("jid");
    assert_eq!(
        user_of(jid),
        user_of(&sim.phone().jid()),
        "the status shows the phone's number"
    );
    assert_eq!(user_of(jid), user_of(&device.jid));
    qr_after
}

/// A gateway on the simulator with one session, paired: (simulator, data
/// directory, gateway, session token).
async fn paired_gateway(name: &str) -> (Simulator, tempfile::TempDir, Gateway, String) {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = simgw::start(dir.path(), &sim, &[]);
    let (_, token) = create_session(&gw, &gw.admin_token(), name).await;
    pair(&gw, &sim, &token).await;
    (sim, dir, gw, token)
}

#[tokio::test]
async fn qr_pairing_then_restart_logs_in_without_a_qr() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = simgw::start(dir.path(), &sim, &[]);
    let (_, token) = create_session(&gw, &gw.admin_token(), "till").await;
    let qr_after = pair(&gw, &sim, &token).await;
    assert!(qr_after < Duration::from_secs(2), "QR took {qr_after:?}");
    // No QR while connected: a 409 with the state.
    let (status, v) = get(&gw, &token, "/session/qr").await;
    assert_eq!(status, 409);
    assert_eq!(v["error"], "not_pairing");

    // Restart: the session logs in again from redb alone, with IK, no QR.
    assert!(stop(gw).await);
    let logins_before = sim.logins().len();
    let gw = simgw::start(dir.path(), &sim, &[]);
    let st = wait_connected(&gw, &token, Duration::from_secs(30)).await;
    assert_eq!(
        user_of(st["data"]["Jid"].as_str().expect("jid")),
        user_of(&sim.phone().jid())
    );
    let logins = sim.logins();
    assert!(logins.len() > logins_before, "a new login happened");
    assert_eq!(
        logins.last(),
        Some(&HandshakeKind::Ik),
        "the restart used the stored keys"
    );
    assert!(
        !gw.log_text().contains("pairing QR code issued"),
        "no QR after the restart"
    );
}

#[tokio::test]
async fn send_text_is_decrypted_by_the_contact_once_and_receipts_move_its_state() {
    let (sim, _dir, gw, token) = paired_gateway("till").await;
    let contact = sim.contact(CONTACT);

    let body = "Your order #42 is ready for pick-up 🎉";
    let (status, v) = post(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": format!("+{CONTACT}"), "Body": body, "Id": "order-42" }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let id = v["data"]["Id"].as_str().expect("id").to_string();
    assert_eq!(v["data"]["Duplicate"], false);
    let got = contact
        .wait_for_text(Duration::from_secs(20))
        .await
        .expect("the contact receives it");
    assert_eq!(got.body, body, "the contact decrypts exactly that body");
    assert_eq!(
        got.id, id,
        "the message id the API returned is the one WhatsApp carries"
    );

    // The same Id again: the same message, nothing sent a second time.
    let (status, v) = post(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": CONTACT, "Body": body, "Id": "order-42" }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["data"]["Id"], id.as_str());
    assert_eq!(v["data"]["Duplicate"], true);
    wait_message_state(&gw, &token, &id, "sent", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        contact.received().await.len(),
        1,
        "one message on the phone"
    );

    // Receipts: sent → delivered → read, with the history.
    contact
        .send_receipt(&id, ReceiptKind::Delivered)
        .await
        .expect("delivered receipt");
    wait_message_state(&gw, &token, &id, "delivered", Duration::from_secs(10)).await;
    contact
        .send_receipt(&id, ReceiptKind::Read)
        .await
        .expect("read receipt");
    let m = wait_message_state(&gw, &token, &id, "read", Duration::from_secs(10)).await;
    let states: Vec<&str> = m["data"]["History"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["State"].as_str())
        .collect();
    assert_eq!(states, ["pending", "sent", "delivered", "read"]);

    // Bad input: unknown message, bad address, empty body.
    let (status, v) = get(&gw, &token, "/message/NOPE").await;
    assert_eq!(
        (status, v["error"].as_str()),
        (404, Some("message_not_found"))
    );
    let (status, v) = post(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": "12", "Body": "x" }),
    )
    .await;
    assert_eq!(
        (status, v["details"]["field"].as_str()),
        (422, Some("Phone"))
    );
    let (status, v) = post(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": CONTACT, "Body": "" }),
    )
    .await;
    assert_eq!(
        (status, v["details"]["field"].as_str()),
        (422, Some("Body"))
    );
}

#[tokio::test]
async fn inbound_text_is_stored_with_sender_and_chat() {
    let (sim, _dir, gw, token) = paired_gateway("reception").await;
    let contact = sim.contact(CONTACT);
    let id = contact
        .send_text(&sim.phone().jid(), "Can I book for Tuesday?")
        .await
        .expect("contact sends");
    let v = wait_for(&gw, &token, "/messages", Duration::from_secs(20), |_, v| {
        v["data"]["Messages"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
    })
    .await;
    let m = &v["data"]["Messages"][0];
    assert_eq!(m["Id"], id.as_str());
    assert_eq!(m["Body"], "Can I book for Tuesday?");
    assert_eq!(m["FromMe"], false);
    assert_eq!(user_of(m["Sender"].as_str().expect("sender")), CONTACT);
    assert_eq!(user_of(m["Chat"].as_str().expect("chat")), CONTACT);
    assert_eq!(m["State"], "received");
    // The chat filter and the cursor.
    let (_, v) = get(&gw, &token, &format!("/messages?chat={CONTACT}")).await;
    assert_eq!(v["data"]["Messages"].as_array().map(Vec::len), Some(1));
    let next = v["data"]["Next"].as_u64().expect("next");
    let (_, v) = get(&gw, &token, &format!("/messages?after={next}")).await;
    assert_eq!(v["data"]["Messages"].as_array().map(Vec::len), Some(0));
    let (status, v) = get(&gw, &token, "/messages?limit=0").await;
    assert_eq!(
        (status, v["details"]["field"].as_str()),
        (422, Some("limit"))
    );
    // The client acked it to WhatsApp (after the commit), as an active
    // device: presence is set available, so the sender sees delivered ticks.
    let receipt = contact
        .wait_for_client_receipt(&id, Duration::from_secs(10))
        .await
        .expect("the gateway acked the message");
    assert_ne!(
        receipt.kind, "inactive",
        "delivery receipts must not be 'inactive'"
    );
}

#[tokio::test]
async fn a_dropped_connection_reconnects_and_a_server_logout_wipes_the_keys() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = simgw::start(dir.path(), &sim, &[]);
    let (id, token) = create_session(&gw, &gw.admin_token(), "till").await;
    pair(&gw, &sim, &token).await;
    let device = wait_for(
        &gw,
        &token,
        "/session/status",
        Duration::from_secs(5),
        |_, v| v["data"]["Jid"].is_string(),
    )
    .await["data"]["Jid"]
        .as_str()
        .expect("jid")
        .to_string();

    let connections = sim.connection_count();
    sim.drop_connections().await;
    // It comes back by itself, and messages flow again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    wait_connected(&gw, &token, Duration::from_secs(30)).await;
    sim.wait_logged_in(1, Duration::from_secs(30))
        .await
        .expect("logged in again");
    assert!(sim.logins().len() >= 2, "a second login after the drop");
    let _ = connections;
    let (status, _) = post(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": CONTACT, "Body": "after the drop" }),
    )
    .await;
    assert_eq!(status, 200);
    let got = sim
        .contact(CONTACT)
        .wait_for_text(Duration::from_secs(20))
        .await
        .expect("delivered after reconnect");
    assert_eq!(got.body, "after the drop");

    // The phone unlinks the box: logged_out, and the keys are gone.
    sim.logout(&device).await.expect("server-side logout");
    let st = wait_for(
        &gw,
        &token,
        "/session/status",
        Duration::from_secs(30),
        |_, v| v["data"]["State"] == "logged_out",
    )
    .await;
    assert_eq!(st["data"]["LoggedIn"], false);
    assert!(stop(gw).await);
    let store =
        wago::store::Store::open(dir.path(), wago::store::DEFAULT_CACHE_BYTES).expect("open store");
    let backend = wago::engine::backend::RedbBackend::new(store, id);
    let device = whatsapp_rust::wacore::store::traits::DeviceStore::load(&backend)
        .await
        .expect("load");
    assert!(device.is_none(), "the session's keys were wiped");
}

#[tokio::test]
async fn pairing_by_phone_number_code() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = simgw::start(dir.path(), &sim, &[]);
    let (_, token) = create_session(&gw, &gw.admin_token(), "till").await;
    let phone = user_of(&sim.phone().jid()).to_string();
    // A bad number is refused before anything starts.
    let (status, v) = post(&gw, &token, "/session/connect", json!({ "Phone": "12" })).await;
    assert_eq!(
        (status, v["details"]["field"].as_str()),
        (422, Some("Phone"))
    );
    let (status, v) = post(
        &gw,
        &token,
        "/session/connect",
        json!({ "Phone": format!("+{phone}") }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let code = v["data"]["PairCode"]
        .as_str()
        .expect("the pair code is in the answer")
        .to_string();
    assert_eq!(code.len(), 8, "{code}");
    assert_eq!(v["data"]["State"], "pairing");
    sim.phone()
        .enter_pair_code(&code)
        .await
        .expect("the phone enters the code");
    let st = wait_connected(&gw, &token, Duration::from_secs(60)).await;
    assert_eq!(user_of(st["data"]["Jid"].as_str().expect("jid")), phone);
}

#[tokio::test]
async fn sends_accepted_while_offline_go_out_in_order_after_reconnect() {
    let (sim, dir, gw, token) = paired_gateway("till").await;
    sim.set_online(false);
    simgw::wait_not_connected(&gw, &token, Duration::from_secs(30)).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (status, v) = post(
            &gw,
            &token,
            "/send/text",
            json!({ "Phone": CONTACT, "Body": format!("queued {i}") }),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            v["data"]["State"], "pending",
            "accepted at once while offline"
        );
        ids.push(v["data"]["Id"].as_str().expect("id").to_string());
    }
    // A restart while offline loses nothing.
    assert!(stop(gw).await);
    let gw = simgw::start(dir.path(), &sim, &[]);
    sim.set_online(true);
    wait_connected(&gw, &token, Duration::from_secs(60)).await;
    let contact = sim.contact(CONTACT);
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(
            contact
                .wait_for_text(Duration::from_secs(30))
                .await
                .expect("delivered after reconnect"),
        );
    }
    let bodies: Vec<&str> = got.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["queued 0", "queued 1", "queued 2"], "in order");
    let got_ids: Vec<&str> = got.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(got_ids, ids.iter().map(String::as_str).collect::<Vec<_>>());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(contact.received().await.len(), 3, "each exactly once");
}

#[tokio::test]
async fn disconnect_keeps_the_keys_and_logout_unlinks_the_box() {
    let (sim, _dir, gw, token) = paired_gateway("till").await;
    let (status, v) = post(&gw, &token, "/session/disconnect", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(v["data"]["State"], "disconnected");
    assert_eq!(v["data"]["Connected"], false);
    // Connecting again needs no QR: the keys were kept.
    let (status, _) = post(&gw, &token, "/session/connect", json!({})).await;
    assert_eq!(status, 200);
    wait_connected(&gw, &token, Duration::from_secs(30)).await;
    assert_eq!(sim.logins().last(), Some(&HandshakeKind::Ik));
    // Our own logout: logged out on WhatsApp (the device is refused from now
    // on) and the keys are gone; connecting again starts a new pairing.
    let (status, v) = post(&gw, &token, "/session/logout", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(v["data"]["State"], "logged_out");
    assert_eq!(v["data"]["LoggedIn"], false);
    let (status, _) = post(&gw, &token, "/session/connect", json!({})).await;
    assert_eq!(status, 200);
    let qr = wait_for(
        &gw,
        &token,
        "/session/qr",
        Duration::from_secs(10),
        |s, _| s == 200,
    )
    .await;
    assert!(
        qr["data"]["Code"].as_str().is_some_and(|c| !c.is_empty()),
        "a fresh pairing starts"
    );
}

#[tokio::test]
async fn a_crash_between_receipt_and_commit_loses_nothing() {
    let (sim, dir, gw, token) = paired_gateway("till").await;
    let device = get(&gw, &token, "/session/status").await.1["data"]["Jid"]
        .as_str()
        .expect("jid")
        .to_string();
    assert!(stop(gw).await);
    // The same gateway, now set to die inside the durability hook.
    let mut gw = simgw::start(
        dir.path(),
        &sim,
        &[("TEST_WAGO_CRASH_BEFORE_INBOUND_COMMIT", "1")],
    );
    wait_connected(&gw, &token, Duration::from_secs(30)).await;
    let id = sim
        .contact(CONTACT)
        .send_text(&sim.phone().jid(), "booking for Tuesday")
        .await
        .expect("contact sends");
    // Poll without blocking: the simulator runs on this test's runtime.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = gw.wait(Duration::ZERO) {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not crash in the hook; log:\n{}",
            gw.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    drop(gw);
    assert!(
        sim.unacked_messages(&device).expect("device").contains(&id),
        "WhatsApp still holds the message: it was never acked"
    );
    // Restart normally: WhatsApp redelivers, the box commits it once.
    let gw = simgw::start(dir.path(), &sim, &[]);
    let v = wait_for(&gw, &token, "/messages", Duration::from_secs(30), |_, v| {
        v["data"]["Messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["Id"] == id.as_str()))
    })
    .await;
    sim.wait_message_acked(&device, &id, Duration::from_secs(10))
        .await
        .expect("acked after the commit");
    let copies = v["data"]["Messages"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["Id"] == id.as_str()).count());
    assert_eq!(copies, Some(1));
    assert_eq!(
        v["data"]["Messages"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["Id"] == id.as_str()))
            .map(|m| m["Body"].clone()),
        Some(json!("booking for Tuesday"))
    );
}

#[tokio::test]
async fn inbound_after_a_restart() {
    let (sim, dir, gw, token) = paired_gateway("till").await;
    assert!(stop(gw).await);
    let gw = simgw::start(dir.path(), &sim, &[]);
    wait_connected(&gw, &token, Duration::from_secs(30)).await;
    let id = sim
        .contact(CONTACT)
        .send_text(&sim.phone().jid(), "after restart")
        .await
        .expect("contact sends");
    wait_for(&gw, &token, "/messages", Duration::from_secs(20), |_, v| {
        v["data"]["Messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["Id"] == id.as_str()))
    })
    .await;
}

/// Creates a session named "till" whose webhook gets every event at
/// `hook`; returns its token.
async fn init_with_webhook(gw: &Gateway, hook: &receiver::Receiver) -> String {
    let r = client()
        .post(gw.url("/session/init"))
        .header("token", gw.admin_token())
        .json(&json!({ "Name": "till", "WebhookURL": hook.url("/hook"), "Events": ["All"] }))
        .send()
        .await
        .expect("init");
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.expect("json")["data"]["Token"]
        .as_str()
        .expect("token")
        .to_string()
}

#[tokio::test]
async fn whatsapp_traffic_reaches_the_webhook_receiver() {
    let sim = Simulator::start().await.expect("sim");
    let hook = receiver::Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = simgw::start(dir.path(), &sim, &[]);
    let token = init_with_webhook(&gw, &hook).await;
    pair(&gw, &sim, &token).await;
    let contact = sim.contact(CONTACT);
    let id = contact
        .send_text(&sim.phone().jid(), "Is the clinic open on Saturday?")
        .await
        .expect("contact sends");
    let (status, v) = post(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": CONTACT, "Body": "Yes, 9 to 12" }),
    )
    .await;
    assert_eq!(status, 200);
    let out_id = v["data"]["Id"].as_str().expect("id").to_string();
    contact
        .wait_for_text(Duration::from_secs(20))
        .await
        .expect("reply delivered");
    // The receiver sees the inbound message, the send, and the session events.
    let deadline = Instant::now() + Duration::from_secs(30);
    let events = loop {
        let events: Vec<Value> = hook.hits().iter().map(|h| h.json()).collect();
        let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
        if names.contains(&"message.received")
            && names.contains(&"message.sent")
            && names.contains(&"session.connected")
        {
            break events;
        }
        assert!(
            Instant::now() < deadline,
            "webhook events so far: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let received = events
        .iter()
        .find(|e| e["event"] == "message.received")
        .expect("received");
    assert_eq!(received["payload"]["id"], id.as_str());
    assert_eq!(
        received["payload"]["body"],
        "Is the clinic open on Saturday?"
    );
    assert_eq!(
        user_of(received["payload"]["sender"].as_str().expect("sender")),
        CONTACT
    );
    assert_eq!(received["engine"], "wago");
    assert_eq!(
        user_of(received["me"]["id"].as_str().expect("me")),
        user_of(&sim.phone().jid())
    );
    let sent = events
        .iter()
        .find(|e| e["event"] == "message.sent")
        .expect("sent");
    assert_eq!(sent["payload"]["id"], out_id.as_str());
    let hit = hook
        .hits()
        .into_iter()
        .find(|h| h.json()["event"] == "message.received")
        .expect("hit");
    assert!(
        hit.header("webhook-signature").starts_with("v1,"),
        "signed by default"
    );
    assert_eq!(
        hit.header("x-wa-request-id"),
        received["id"].as_str().unwrap_or_default()
    );
}

/// Reads the fake systemd socket on its own task, so the gateway never
/// blocks on a full socket queue while the test is busy elsewhere.
fn notify_lines(sock: tokio::net::UnixDatagram) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = sock.recv(&mut buf).await {
            for line in String::from_utf8_lossy(&buf[..n]).lines() {
                if tx.send(line.to_string()).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Notify lines (`KEY=value`) until `pred` holds for one; fails the test
/// after `limit`.
async fn notify_until(
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    limit: Duration,
    pred: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let line = tokio::time::timeout_at(deadline, lines.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; notify lines so far: {seen:?}"))
            .expect("the socket reader runs");
        let done = pred(&line);
        seen.push(line);
        if done {
            return seen;
        }
    }
}

#[tokio::test]
async fn session_loops_and_webhook_workers_check_in_with_the_watchdog() {
    let sim = Simulator::start().await.expect("sim");
    let hook = receiver::Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("notify.sock");
    let mut sock =
        notify_lines(tokio::net::UnixDatagram::bind(&sock_path).expect("bind notify socket"));
    let mut o = opts(&sim).env("TEST_WAGO_STALL_EVENT_LOOP", "1");
    o.notify_socket = Some(sock_path);
    let gw = Gateway::start_with(&dir.path().join("data"), &o);
    // Alone, the accept loop is the only task.
    notify_until(&mut sock, Duration::from_secs(10), |l| {
        l.starts_with("STATUS=Serving on ") && l.ends_with("; 1 task checking in")
    })
    .await;
    let token = init_with_webhook(&gw, &hook).await;
    pair(&gw, &sim, &token).await;
    // Accept loop + this session's engine loop + the subscription's worker.
    notify_until(&mut sock, Duration::from_secs(15), |l| {
        l.ends_with("; 3 tasks checking in")
    })
    .await;
    let healthy = notify_until(&mut sock, Duration::from_secs(3), |l| l == "WATCHDOG=1").await;
    assert!(
        healthy.iter().all(|l| !l.starts_with("STATUS=STALLED")),
        "{healthy:?}"
    );

    // The injected fault hangs the session's event loop on the next inbound
    // message: its heartbeat stops, STATUS names it and the pings stop, so
    // systemd would kill and restart the gateway.
    sim.contact(CONTACT)
        .send_text(&sim.phone().jid(), "hello?")
        .await
        .expect("contact sends");
    let lines = notify_until(&mut sock, Duration::from_secs(30), |l| {
        l.starts_with("STATUS=STALLED: critical task engine:")
    })
    .await;
    let stalled = lines.last().expect("a line");
    assert!(stalled.contains("watchdog ping withheld"), "{stalled}");
    let pinged = tokio::time::timeout(
        Duration::from_secs(3),
        notify_until(&mut sock, Duration::from_secs(4), |l| l == "WATCHDOG=1"),
    )
    .await;
    assert!(pinged.is_err(), "a watchdog ping was sent while stalled");
    drop(gw);
}
