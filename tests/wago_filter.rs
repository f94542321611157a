//! WaGo (document 000): the `Subscribe` list of `/session/connect` is the
//! session's main webhook filter. One source of truth: `GET /webhook`,
//! `/session/status` and what the receiver gets agree in every
//! combination of `Events` at init, `POST /webhook` and `Subscribe`, and
//! through a restart. And the form webhook's `token` field carries the
//! session's token, which the box keeps only hashed and sealed.
//!
//! Regression (issue #14): symptom: after `Subscribe: ["Message"]` a
//! `call.received` still arrived, after `["All"]` on a session created with
//! `Events: ["Message"]` it did not, and the two routes showed different
//! lists; cause: `Subscribe` wrote the session's own list, delivery read
//! the main subscription's; fix: one store write sets both, and status
//! reads the main subscription's.

mod common;
#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/simgw.rs"]
mod simgw;

use common::{Gateway, Opts, client, get, post};
use receiver::Receiver;
use serde_json::{Value, json};
use std::time::Duration;

/// No WhatsApp: connecting fails at once on a closed loopback port.
fn opts() -> Opts {
    Opts::default()
        .env("WAGO_WA_SERVER_URL", "ws://127.0.0.1:9/ws")
        .env("WAGO_WA_VERSION", "2.3000.1027934701")
        .env("WAGO_WEBHOOK_RETRY_FIRST_MS", "100")
        .env("WAGO_WEBHOOK_RETRY_MAX_DELAY_MS", "400")
}

const CHAT: &str = "15550001111@s.whatsapp.net";
const WAIT: Duration = Duration::from_secs(20);

/// One case: how the session is set up, and what must then hold.
struct Case {
    name: &'static str,
    /// `Events` at `/session/init` (with the receiver's `WebhookURL` when `init_hook`).
    init_events: Option<Value>,
    init_hook: bool,
    /// `Events` of a later `POST /webhook` (`Some(Null)`: posted without `Events`).
    webhook_events: Option<Value>,
    /// `Subscribe` at `/session/connect`, after the webhook exists or not.
    subscribe: Option<Value>,
    /// Whether `Subscribe` comes before the `POST /webhook`.
    subscribe_first: bool,
    /// The list both routes must show.
    want: Value,
    call_arrives: bool,
}

const CASES: &[fn() -> Case] = &[
    || Case {
        name: "Subscribe Message drops calls",
        init_events: None,
        init_hook: true,
        webhook_events: None,
        subscribe: Some(json!(["Message"])),
        subscribe_first: false,
        want: json!(["Message"]),
        call_arrives: false,
    },
    || Case {
        name: "Subscribe All widens Events Message",
        init_events: Some(json!(["Message"])),
        init_hook: true,
        webhook_events: None,
        subscribe: Some(json!(["All"])),
        subscribe_first: false,
        want: json!(["All"]),
        call_arrives: true,
    },
    || Case {
        name: "Events Message at init without Subscribe",
        init_events: Some(json!(["Message"])),
        init_hook: true,
        webhook_events: None,
        subscribe: None,
        subscribe_first: false,
        want: json!(["Message"]),
        call_arrives: false,
    },
    || Case {
        name: "Subscribe before the webhook exists: the webhook inherits it",
        init_events: None,
        init_hook: false,
        webhook_events: Some(Value::Null),
        subscribe: Some(json!(["Message"])),
        subscribe_first: true,
        want: json!(["Message"]),
        call_arrives: false,
    },
    || Case {
        name: "POST /webhook Events replaces what Subscribe set",
        init_events: None,
        init_hook: false,
        webhook_events: Some(json!(["Message", "Call"])),
        subscribe: Some(json!(["Message"])),
        subscribe_first: true,
        want: json!(["Message", "Call"]),
        call_arrives: true,
    },
    || Case {
        name: "Subscribe after POST /webhook Events replaces it",
        init_events: None,
        init_hook: false,
        webhook_events: Some(json!(["All"])),
        subscribe: Some(json!(["Message", "ReadReceipt"])),
        subscribe_first: false,
        want: json!(["Message", "ReadReceipt"]),
        call_arrives: false,
    },
    || Case {
        name: "Subscribe with Call and normalized names",
        init_events: Some(json!(["Message"])),
        init_hook: true,
        webhook_events: None,
        subscribe: Some(json!(["call.received", "message.received"])),
        subscribe_first: false,
        want: json!(["call.received", "message.received"]),
        call_arrives: true,
    },
    || Case {
        name: "an empty Subscribe means everything",
        init_events: Some(json!(["Message"])),
        init_hook: true,
        webhook_events: None,
        subscribe: Some(json!([])),
        subscribe_first: false,
        want: json!([]),
        call_arrives: true,
    },
];

async fn inject(gw: &Gateway, admin: &str, body: Value) {
    let r = client()
        .post(gw.url("/admin/events"))
        .header("Authorization", format!("Bearer {admin}"))
        .json(&body)
        .send()
        .await
        .expect("inject");
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
}

async fn connect(gw: &Gateway, token: &str, subscribe: &Value) {
    let (st, v) = post(
        gw,
        token,
        "/session/connect",
        json!({ "Subscribe": subscribe, "Immediate": true, "Phone": "" }),
    )
    .await;
    assert_eq!(st, 200, "{v}");
}

async fn post_webhook(gw: &Gateway, token: &str, url: &str, events: &Value) {
    let mut body = json!({ "WebhookURL": url });
    if !events.is_null() {
        body["Events"] = events.clone();
    }
    let (st, v) = post(gw, token, "/webhook", body).await;
    assert_eq!(st, 201, "{v}");
}

/// Both routes show `want`; a call then a message in the same chat (kept
/// in order per chat): once the message is in, a call that was going to
/// arrive has arrived. `round` tells the rounds' messages apart.
async fn check(
    gw: &Gateway,
    admin: &str,
    sid: &str,
    token: &str,
    rx: &Receiver,
    c: &Case,
    round: &str,
) {
    let (_, hook) = get(gw, token, "/webhook").await;
    let (_, status) = get(gw, token, "/session/status").await;
    assert_eq!(
        hook["data"]["Events"], c.want,
        "{} ({round}): GET /webhook {hook}",
        c.name
    );
    assert_eq!(
        status["data"]["Events"], c.want,
        "{} ({round}): /session/status {status}",
        c.name
    );
    let before = rx.hits().len();
    inject(
        gw,
        admin,
        json!([
            { "Session": sid, "Event": "call.received", "Chat": CHAT, "Payload": { "round": round } },
            { "Session": sid, "Event": "message.received", "Chat": CHAT, "Payload": { "round": round } },
        ]),
    )
    .await;
    let deadline = std::time::Instant::now() + WAIT;
    let got = loop {
        let hits = rx.hits();
        let mine: Vec<String> = hits[before..]
            .iter()
            .map(|h| h.json())
            .filter(|v| v["payload"]["round"] == round)
            .map(|v| v["event"].as_str().unwrap_or("").to_string())
            .collect();
        if mine.iter().any(|e| e == "message.received") {
            break mine;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} ({round}): no message.received; log:\n{}",
            c.name,
            gw.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        got.iter().any(|e| e == "call.received"),
        c.call_arrives,
        "{} ({round}): got {got:?}",
        c.name
    );
}

#[tokio::test]
async fn subscribe_and_the_webhook_filter_agree_in_every_combination_through_a_restart() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gw = Gateway::start_with(dir.path(), &opts());
    let admin = gw.admin_token();
    let mut sessions = Vec::new();
    for (i, make) in CASES.iter().enumerate() {
        let c = make();
        let mut init = json!({ "Name": format!("case{i}") });
        if c.init_hook {
            init["WebhookURL"] = json!(rx.url(&format!("/c{i}")));
        }
        if let Some(ev) = &c.init_events {
            init["Events"] = ev.clone();
        }
        let r = client()
            .post(gw.url("/session/init"))
            .header("Authorization", format!("Bearer {admin}"))
            .json(&init)
            .send()
            .await
            .expect("init");
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.expect("json");
        let (sid, token) = (
            v["data"]["Id"].as_str().expect("id").to_string(),
            v["data"]["Token"].as_str().expect("token").to_string(),
        );
        if c.subscribe_first
            && let Some(s) = &c.subscribe
        {
            connect(&gw, &token, s).await;
        }
        if let Some(ev) = &c.webhook_events {
            post_webhook(&gw, &token, &rx.url(&format!("/c{i}")), ev).await;
        }
        if !c.subscribe_first
            && let Some(s) = &c.subscribe
        {
            connect(&gw, &token, s).await;
        }
        check(&gw, &admin, &sid, &token, &rx, &c, "before").await;
        sessions.push((c, sid, token));
    }
    gw.signal("TERM");
    assert!(
        gw.wait(Duration::from_secs(15))
            .is_some_and(|s| s.success())
    );
    drop(gw);
    let gw = Gateway::start_with(dir.path(), &opts());
    for (c, sid, token) in &sessions {
        check(&gw, &admin, sid, token, &rx, c, "after restart").await;
    }
}

/// Parses a multipart/form-data body into its named parts.
fn form_fields(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("boundary")
        .trim_matches('"');
    let delim = format!("--{boundary}");
    let text = body.to_vec();
    let mut out = Vec::new();
    let mut rest = &text[..];
    while let Some(start) = find(rest, delim.as_bytes()) {
        rest = &rest[start + delim.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let Some(head_end) = find(rest, b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..head_end]).to_string();
        let body_start = head_end + 4;
        let end = find(&rest[body_start..], format!("\r\n{delim}").as_bytes()).expect("part end");
        let name = head
            .split("name=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("")
            .to_string();
        out.push((name, rest[body_start..body_start + end].to_vec()));
        rest = &rest[body_start + end + 2..];
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn the_form_token_field_is_the_sessions_token_kept_sealed() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gw = Gateway::start_with(dir.path(), &opts());
    let admin = gw.admin_token();
    let token = "customer-token-1-the-receivers-key";
    let r = client()
        .post(gw.url("/session/init"))
        .header("Authorization", format!("Bearer {admin}"))
        .json(&json!({ "Name": "reception", "Token": token }))
        .send()
        .await
        .expect("init");
    assert_eq!(r.status(), 201);
    let sid = r.json::<Value>().await.expect("json")["data"]["Id"]
        .as_str()
        .expect("id")
        .to_string();
    let (st, v) = post(
        &gw,
        token,
        "/webhook",
        json!({ "WebhookURL": rx.url("/form"), "Format": "form" }),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(
        v["data"]["FormToken"],
        Value::Null,
        "no FormToken of its own"
    );
    // An explicit FormToken still wins, on a second subscription.
    let (st, v) = post(
        &gw,
        token,
        "/webhooks",
        json!({ "WebhookURL": rx.url("/chosen"), "Format": "form", "FormToken": "chosen" }),
    )
    .await;
    assert_eq!(st, 201, "{v}");

    for round in ["before", "after restart"] {
        let before = rx.hits().len();
        inject(
            &gw,
            &admin,
            json!({ "Session": sid, "Event": "message.received", "Chat": CHAT, "Payload": { "round": round } }),
        )
        .await;
        let hits = rx.wait_for(before + 2, WAIT).await;
        for h in &hits[before..] {
            let fields = form_fields(&h.header("content-type"), &h.body);
            let get = |n: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| String::from_utf8_lossy(v).to_string())
                    .unwrap_or_else(|| panic!("no {n} field in {fields:?}"))
            };
            let want = if h.path == "/form" { token } else { "chosen" };
            assert_eq!(get("token"), want, "{round} {}", h.path);
            let data: Value = serde_json::from_str(&get("jsonData")).expect("jsonData");
            assert_eq!(data["payload"]["round"], round);
        }
        if round == "before" {
            gw.signal("TERM");
            assert!(
                gw.wait(Duration::from_secs(15))
                    .is_some_and(|s| s.success())
            );
            drop(gw);
            // At rest the token is only hashed and sealed: not in the file.
            let db = std::fs::read(dir.path().join("wago.redb")).expect("db");
            assert!(
                find(&db, token.as_bytes()).is_none(),
                "the token is in wago.redb in the clear"
            );
            assert!(dir.path().join("seal-key").exists());
            gw = Gateway::start_with(dir.path(), &opts());
        }
    }
}

/// Document 000's receiver, step by step: parse the form, parse `jsonData`,
/// find the customer by `token`, save the uploaded `file`. Here with an
/// image the simulated phone's contact sends, end to end.
#[tokio::test]
async fn a_received_image_reaches_the_form_receiver_with_token_and_file() {
    let sim = wa_sim::Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = simgw::start(dir.path(), &sim, &[]);
    let token = "customer-token-1";
    let r = client()
        .post(gw.url("/session/init"))
        .header("Authorization", format!("Bearer {}", gw.admin_token()))
        .json(&json!({ "Name": "clinic", "Token": token }))
        .send()
        .await
        .expect("init");
    assert_eq!(r.status(), 201);
    let rx = Receiver::start().await;
    let (st, v) = post(
        &gw,
        token,
        "/webhook",
        json!({ "WebhookURL": rx.url("/wago/webhook"), "Format": "form" }),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    simgw::pair_session(&gw, &sim, token).await;
    let photo: Vec<u8> = (0..6_000)
        .map(|i: usize| (i as u8).wrapping_mul(29) ^ 7)
        .collect();
    let id = sim
        .contact(simgw::CONTACT)
        .send_image(&sim.phone().jid(), &photo, "image/jpeg", Some("x-ray"))
        .await
        .expect("send image");
    let deadline = std::time::Instant::now() + WAIT;
    let hit = loop {
        let found = rx
            .hits()
            .into_iter()
            .find(|h| find(&h.body, id.as_bytes()).is_some());
        if let Some(h) = found {
            break h;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no form delivery; log:\n{}",
            gw.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let fields = form_fields(&hit.header("content-type"), &hit.body);
    let field = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {n} part"))
    };
    assert_eq!(
        field("token"),
        token.as_bytes(),
        "the customer is found by its token"
    );
    let data: Value = serde_json::from_slice(&field("jsonData")).expect("jsonData is JSON");
    assert_eq!(data["event"], "message.received");
    assert_eq!(data["payload"]["id"], id.as_str());
    assert_eq!(data["payload"]["type"], "image");
    assert_eq!(field("file"), photo, "the file part is the received image");
}
