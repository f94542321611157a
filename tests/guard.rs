//! Responsible messaging through the real binary: the seed's
//! `POST /api/send-message` and its error table, fair-use limits across a
//! restart and local midnight (an injected clock, no sleep), the sending
//! speed with an honoured `Retry-After`, and opt-outs end to end against
//! the simulated WhatsApp server.

#[cfg(not(feature = "test-sim"))]
compile_error!(
    "the guard tests use the simulator and the test clock: run them with `--features test-sim`"
);

mod common;
#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/simgw.rs"]
mod simgw;

use common::{Gateway, Opts, client, create_session, expect_error};
use serde_json::{Value, json};
use std::time::Duration;

/// `POST /api/send-message` with `Authorization: Bearer key`.
async fn send_message(gw: &Gateway, key: &str, body: Value) -> reqwest::Response {
    client()
        .post(gw.url("/api/send-message"))
        .header("Authorization", format!("Bearer {key}"))
        .json(&body)
        .send()
        .await
        .expect("send")
}

fn msg(instance: &str, phone: &str, purpose: Option<&str>) -> Value {
    let mut v = json!({ "instance_id": instance, "phone": phone, "message": "Your order #2041 has been shipped." });
    if let Some(p) = purpose {
        v["message_purpose"] = p.into();
    }
    v
}

/// Asserts a 200 with the seed's flat success shape; returns the message id.
async fn expect_queued(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(v["status"], "queued", "{v}");
    assert!(v["log_id"].as_u64().is_some(), "{v}");
    v["message_id"].as_str().expect("message_id").to_string()
}

/// Asserts the guard's block shape: `details.action == "block"`.
async fn expect_block(r: reqwest::Response, status: u16, code: &str) -> Value {
    let v = expect_error(r, status, code).await;
    assert_eq!(v["details"]["action"], "block", "{v}");
    v
}

async fn message_count(gw: &Gateway, token: &str) -> usize {
    let (s, v) = common::get(gw, token, "/messages?limit=1000").await;
    assert_eq!(s, 200, "{v}");
    let list = v["data"]["Messages"]
        .as_array()
        .or(v["data"].as_array())
        .unwrap_or_else(|| panic!("messages list: {v}"));
    list.len()
}

#[tokio::test]
async fn send_message_answers_the_seeds_error_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Opts::default()
        // One token every 5 s: the 50-send burst below takes far less.
        .env("WAGO_GUARD_RECIPIENT_PER_MINUTE", "12")
        .env("WAGO_GUARD_RECIPIENT_BURST", "3");
    let gw = Gateway::start_with(dir.path(), &opts);
    let (id, key) = create_session(&gw, &gw.admin_token(), "till").await;

    // Keys: none, unknown.
    let r = client()
        .post(gw.url("/api/send-message"))
        .json(&msg("till", "15550000001", Some("transactional")))
        .send()
        .await
        .expect("send");
    expect_error(r, 401, "invalid_api_key").await;
    let r = send_message(
        &gw,
        "not-a-key",
        msg("till", "15550000001", Some("support")),
    )
    .await;
    expect_error(r, 401, "invalid_api_key").await;

    // The body: not JSON, malformed, fields missing, another instance.
    let r = client()
        .post(gw.url("/api/send-message"))
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("send");
    expect_error(r, 415, "unsupported_media_type").await;
    let r = client()
        .post(gw.url("/api/send-message"))
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .body("{\"instance_id\":")
        .send()
        .await
        .expect("send");
    expect_error(r, 400, "invalid_json").await;
    let r = send_message(
        &gw,
        &key,
        json!({ "instance_id": "till", "message": "x", "message_purpose": "support" }),
    )
    .await;
    let v = expect_error(r, 422, "validation_error").await;
    assert_eq!(v["details"]["field"], "phone", "{v}");
    let r = send_message(&gw, &key, msg("other-shop", "15550000001", Some("support"))).await;
    let v = expect_error(r, 404, "invalid_instance").await;
    assert_eq!(v["details"]["field"], "instance_id", "{v}");

    // Purposes: required here, marketing refused.
    let r = send_message(&gw, &key, msg("till", "15550000001", None)).await;
    let v = expect_block(r, 422, "message_purpose_required").await;
    assert_eq!(v["details"]["field"], "message_purpose", "{v}");
    let r = send_message(&gw, &key, msg("till", "15550000001", Some("marketing"))).await;
    let v = expect_block(r, 422, "message_purpose_not_allowed").await;
    assert_eq!(v["details"]["purpose"], "marketing", "{v}");
    assert_eq!(
        message_count(&gw, &key).await,
        0,
        "refused sends are not queued"
    );

    // Accepted, by the session's name and by its id; media as bare base64.
    expect_queued(
        send_message(
            &gw,
            &key,
            msg("till", "+1 555 000 0001", Some("transactional")),
        )
        .await,
    )
    .await;
    expect_queued(send_message(&gw, &key, msg(&id, "15550000001", Some("support"))).await).await;
    let pdf = json!({
        "instance_id": "till", "phone": "15550000009", "message": "Invoice INV-2041",
        "message_purpose": "transactional", "media_type": "document",
        "mime_type": "application/pdf", "file_name": "INV-2041.pdf",
        "media": "JVBERi0xLjQKJcfsj6IK",
    });
    expect_queued(send_message(&gw, &key, pdf).await).await;
    assert_eq!(message_count(&gw, &key).await, 3);

    // A suppressed recipient: refused unless the purpose is essential.
    let (s, v) = common::post(
        &gw,
        &key,
        "/suppressed-recipients",
        json!({ "phone": "+1 555 000 0002", "reason": "asked at the counter" }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["data"]["phone"], "15550000002");
    let r = send_message(&gw, &key, msg("till", "15550000002", Some("support"))).await;
    let v = expect_block(r, 403, "recipient_suppressed").await;
    assert_eq!(v["details"]["phone"], "15550000002", "{v}");
    expect_queued(
        send_message(
            &gw,
            &key,
            msg("till", "15550000002", Some("authentication")),
        )
        .await,
    )
    .await;
    let (_, v) = common::get(&gw, &key, "/suppressed-recipients").await;
    assert_eq!(v["data"][0]["source"], "api", "{v}");
    let r = client()
        .delete(gw.url("/suppressed-recipients/15550000002"))
        .header("token", &key)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 200);
    expect_queued(send_message(&gw, &key, msg("till", "15550000002", Some("support"))).await).await;

    // Speed: a burst of 50 to one recipient: the configured 3 go through,
    // the other 47 are throttled with a Retry-After.
    let (mut through, mut throttled, mut retry) = (0, 0, 0u64);
    for _ in 0..50 {
        let r = send_message(&gw, &key, msg("till", "15550000003", Some("support"))).await;
        if r.status() == 200 {
            through += 1;
            expect_queued(r).await;
            continue;
        }
        retry = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        let v = expect_block(r, 429, "sending_throttled").await;
        assert_eq!(v["details"]["retry_after"], retry, "{v}");
        assert_eq!(v["details"]["scope"], "recipient", "{v}");
        throttled += 1;
    }
    assert_eq!((through, throttled), (3, 47));
    assert!((1..=5).contains(&retry), "one token every 5 s: {retry}");
    // Another recipient is not held up.
    expect_queued(send_message(&gw, &key, msg("till", "15550000004", Some("support"))).await).await;
    tokio::time::sleep(Duration::from_secs(retry)).await;
    expect_queued(send_message(&gw, &key, msg("till", "15550000003", Some("support"))).await).await;

    // The WaGo routes pass the same guard, naming their own field.
    let (s, v) = common::post(
        &gw,
        &key,
        "/send/text",
        json!({ "Phone": "15550000005", "Body": "50% off everything!", "MessagePurpose": "promotion" }),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (422, Some("message_purpose_not_allowed")),
        "{v}"
    );
    assert_eq!(v["details"]["field"], "MessagePurpose", "{v}");
    let (_, usage) = common::get(&gw, &key, "/usage").await;
    assert_eq!(usage["data"]["daily_used"], 10, "{usage}");
    assert_eq!(
        message_count(&gw, &key).await,
        10,
        "only accepted sends are stored"
    );
    assert_eq!(usage["data"]["plan"], "growth", "{usage}");

    // A risky text: marketing language and a shortened link.
    let mut risky = msg("till", "15550000006", Some("support"));
    risky["message"] = "Diskon 50%! Beli sekarang: https://bit.ly/x".into();
    let v = expect_block(
        send_message(&gw, &key, risky).await,
        403,
        "policy_violation",
    )
    .await;
    assert_eq!(v["details"]["risk_score"], 80, "{v}");
    assert_eq!(
        v["details"]["signals"],
        json!(["marketing_language", "shortened_link"]),
        "{v}"
    );

    // Every refusal is in the policy log, durably, with its details.
    let (s, log) = common::get(&gw, &key, "/policy-log?limit=1000").await;
    assert_eq!(s, 200, "{log}");
    let log = log["data"].as_array().expect("entries").clone();
    let count = |code: &str| log.iter().filter(|e| e["error"] == code).count();
    assert_eq!(count("message_purpose_required"), 1, "{log:?}");
    assert_eq!(count("message_purpose_not_allowed"), 2, "{log:?}");
    assert_eq!(count("recipient_suppressed"), 1, "{log:?}");
    assert_eq!(count("sending_throttled"), 47);
    assert_eq!(count("policy_violation"), 1);
    let suppressed = log
        .iter()
        .find(|e| e["error"] == "recipient_suppressed")
        .expect("entry");
    assert_eq!(suppressed["recipient"], "15550000002", "{suppressed}");
    assert_eq!(suppressed["details"]["action"], "block", "{suppressed}");

    // The key of a deleted session is revoked, not unknown.
    let r = client()
        .delete(gw.url(&format!("/admin/sessions/{id}")))
        .header("Authorization", format!("Bearer {}", gw.admin_token()))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 200);
    let r = send_message(&gw, &key, msg("till", "15550000001", Some("support"))).await;
    expect_error(r, 401, "revoked_api_key").await;
}

/// 2026-05-08T16:00:00Z: 23:00 in +07:00.
const LATE_EVENING: i64 = 1_778_256_000_000;

fn limit_opts(at: i64) -> Opts {
    let offset = at - common_now_ms();
    Opts::default()
        .env("WAGO_GUARD_PLAN", "custom")
        .env("WAGO_GUARD_DAILY_LIMIT", "3")
        .env("WAGO_GUARD_MONTHLY_LIMIT", "4")
        .env("WAGO_GUARD_UTC_OFFSET", "+07:00")
        .env("TEST_WAGO_GUARD_CLOCK_OFFSET_MS", &offset.to_string())
}

fn common_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .expect("clock")
}

#[tokio::test]
async fn a_custom_daily_limit_survives_a_restart_and_resets_at_local_midnight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(dir.path(), &limit_opts(LATE_EVENING));
    let (_, key) = create_session(&gw, &gw.admin_token(), "clinic").await;
    for i in 0..3 {
        let phone = format!("1555000100{i}");
        expect_queued(send_message(&gw, &key, msg("clinic", &phone, Some("operational"))).await)
            .await;
    }
    let fourth = || send_message(&gw, &key, msg("clinic", "15550001009", Some("operational")));
    let v = expect_block(fourth().await, 429, "daily_message_limit_exceeded").await;
    assert_eq!(
        (
            v["details"]["limit"].as_u64(),
            v["details"]["used"].as_u64()
        ),
        (Some(3), Some(3)),
        "{v}"
    );
    // Midnight in +07:00 is 17:00Z.
    assert_eq!(v["details"]["resets_at"], LATE_EVENING + 3_600_000, "{v}");

    // The count is durable.
    let gw = {
        assert!(simgw::stop(gw).await, "clean stop");
        Gateway::start_with(dir.path(), &limit_opts(LATE_EVENING))
    };
    let r = send_message(&gw, &key, msg("clinic", "15550001009", Some("operational"))).await;
    let v = expect_block(r, 429, "daily_message_limit_exceeded").await;
    assert_eq!(v["details"]["used"], 3, "{v}");

    // 01:00 the next local day (the same month): the day's count is zero.
    let gw = {
        assert!(simgw::stop(gw).await, "clean stop");
        Gateway::start_with(dir.path(), &limit_opts(LATE_EVENING + 2 * 3_600_000))
    };
    expect_queued(send_message(&gw, &key, msg("clinic", "15550001009", Some("operational"))).await)
        .await;
    let (_, usage) = common::get(&gw, &key, "/usage").await;
    assert_eq!(
        (
            usage["data"]["daily_used"].as_u64(),
            usage["data"]["monthly_used"].as_u64()
        ),
        (Some(1), Some(4)),
        "{usage}"
    );
    let r = send_message(&gw, &key, msg("clinic", "15550001010", Some("operational"))).await;
    let v = expect_block(r, 429, "monthly_message_limit_exceeded").await;
    assert_eq!(
        (
            v["details"]["limit"].as_u64(),
            v["details"]["used"].as_u64()
        ),
        (Some(4), Some(4)),
        "{v}"
    );
}

/// Waits until the receiver got an event named `name`; returns its envelope.
async fn hook_event(rx: &receiver::Receiver, name: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = rx
            .hits()
            .iter()
            .map(|h| h.json())
            .find(|v| v["event"] == name)
        {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "no {name} webhook");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the suppression list until `pred` holds.
async fn wait_list(gw: &Gateway, token: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let v = simgw::wait_for(
        gw,
        token,
        "/suppressed-recipients",
        Duration::from_secs(20),
        |_, v| v["data"].as_array().is_some_and(|l| pred(l)),
    )
    .await;
    v["data"].as_array().cloned().unwrap_or_default()
}

fn text(phone: &str, body: &str) -> Value {
    json!({ "Phone": phone, "Body": body, "MessagePurpose": "support" })
}

#[tokio::test]
async fn stop_suppresses_the_contact_across_kill_9_and_start_lifts_it() {
    let rx = receiver::Receiver::start().await;
    let hook = rx.url("/all");
    let extra = [
        ("WAGO_WEBHOOK_URL", hook.as_str()),
        ("WAGO_WEBHOOK_RETRY_FIRST_MS", "100"),
    ];
    let (sim, dir, gw, token) = simgw::paired(&extra).await;
    let me = sim.phone().jid();
    let contact = sim.contact(simgw::CONTACT);

    contact.send_text(&me, " Stop! ").await.expect("STOP");
    let ev = hook_event(&rx, "recipient.opted_out").await;
    let p = &ev["payload"];
    assert_eq!(p["from"], format!("+{}", simgw::CONTACT), "{ev}");
    assert_eq!(p["reason"], "recipient_requested_stop", "{ev}");
    assert_eq!(p["message_text"], " Stop! ", "{ev}");
    let list = wait_list(&gw, &token, |l| !l.is_empty()).await;
    assert_eq!(list[0]["phone"], simgw::CONTACT);
    assert_eq!(list[0]["source"], "keyword");

    // The opt-out was committed with the message, before the ack: a kill -9
    // right after it loses nothing.
    gw.kill9();
    let gw = simgw::start(dir.path(), &sim, &extra);
    simgw::wait_connected(&gw, &token, Duration::from_secs(30)).await;
    let (s, v) = common::post(&gw, &token, "/send/text", text(simgw::CONTACT, "refused")).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("recipient_suppressed")),
        "{v}"
    );
    assert_eq!(v["details"]["action"], "block", "{v}");
    // An essential purpose still goes through; the refused text never does
    // (one queue per session, in order: it would have arrived first).
    let code = json!({ "to": simgw::CONTACT, "code": "123456" });
    let (s, v) = common::post(&gw, &token, "/send-otp", code).await;
    assert_eq!(s, 200, "{v}");
    let arrived = |body: &'static str| {
        let contact = contact.clone();
        async move {
            contact
                .received()
                .await
                .iter()
                .any(|m| m.body.contains(body))
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !arrived("123456").await {
        assert!(
            std::time::Instant::now() < deadline,
            "the code never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !arrived("refused").await,
        "a suppressed contact got a message"
    );

    // START lifts it.
    contact.send_text(&me, "START").await.expect("START");
    wait_list(&gw, &token, |l| l.is_empty()).await;
    let (s, v) = common::post(
        &gw,
        &token,
        "/send/text",
        text(simgw::CONTACT, "welcome back"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !arrived("welcome back").await {
        assert!(
            std::time::Instant::now() < deadline,
            "the message never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And a restart keeps it lifted.
    assert!(simgw::stop(gw).await, "clean stop");
    let gw = simgw::start(dir.path(), &sim, &extra);
    assert!(wait_list(&gw, &token, |_| true).await.is_empty());
}
