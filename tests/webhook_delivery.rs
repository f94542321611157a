//! Webhook delivery against the real binary and real receivers on 127.0.0.1:
//! signatures checked by the official `standardwebhooks` Python package,
//! `form` bodies parsed by a real multipart parser, a receiver that is off
//! for a while, dead letters and their replay, and jobs surviving a restart.

mod common;
#[path = "support/receiver.rs"]
mod receiver;

use common::{Gateway, Opts, client, create_session};
use receiver::{Hit, Receiver};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Fast retries so tests take seconds, not hours.
fn fast() -> Opts {
    Opts::default()
        .env("WAGO_WEBHOOK_RETRY_FIRST_MS", "100")
        .env("WAGO_WEBHOOK_RETRY_MAX_DELAY_MS", "400")
        .env("WAGO_WEBHOOK_TIMEOUT_SECS", "5")
}

async fn subscribe(gw: &Gateway, token: &str, body: Value) -> Value {
    let r = client()
        .post(gw.url("/webhooks"))
        .header("token", token)
        .json(&body)
        .send()
        .await
        .expect("subscribe");
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    r.json::<Value>().await.expect("json")["data"].clone()
}

async fn inject(gw: &Gateway, admin: &str, body: Value) -> Vec<u64> {
    let r = client()
        .post(gw.url("/admin/events"))
        .header("Authorization", format!("Bearer {admin}"))
        .json(&body)
        .send()
        .await
        .expect("inject");
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let v: Value = r.json().await.expect("json");
    v["data"]["Seqs"]
        .as_array()
        .expect("seqs")
        .iter()
        .map(|s| s.as_u64().expect("seq"))
        .collect()
}

fn python() -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run tests/run, which creates the venv with the standardwebhooks package",
        p.display()
    );
    p
}

/// Runs the Python verifier over `cases`, returning its verdicts.
fn verify(cases: &[Value]) -> Vec<Value> {
    use std::io::Write;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/verify_webhook.py"
    );
    let mut child = std::process::Command::new(python())
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(cases).expect("cases").as_bytes())
        .expect("write cases");
    let out = child.wait_with_output().expect("python output");
    assert!(out.status.success(), "verifier failed");
    serde_json::from_slice(&out.stdout).expect("verdicts")
}

fn case(hit: &Hit, secret: &str, body: &[u8], form: bool, ts_override: Option<i64>) -> Value {
    use base64::Engine as _;
    let mut headers: HashMap<String, String> = HashMap::new();
    for k in [
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
    ] {
        headers.insert(k.into(), hit.header(k));
    }
    if let Some(ts) = ts_override {
        headers.insert("webhook-timestamp".into(), ts.to_string());
    }
    json!({
        "secret": secret,
        "headers": headers,
        "body_b64": base64::engine::general_purpose::STANDARD.encode(body),
        "form": form,
    })
}

#[tokio::test]
async fn signatures_verify_with_standardwebhooks_and_forms_parse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(dir.path(), &fast());
    let admin = gw.admin_token();
    let (sid, token) = create_session(&gw, &admin, "till").await;
    let rx_json = Receiver::start().await;
    let rx_form = Receiver::start().await;
    // No secret given: one is generated and shown once.
    let js = subscribe(&gw, &token, json!({ "WebhookURL": rx_json.url("/j") })).await;
    let secret = js["Secret"].as_str().expect("generated secret").to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let form_secret = "whsec_c2VjcmV0LWZvci10aGUtZm9ybS1yZWNlaXZlcg==";
    let fs = subscribe(
        &gw,
        &token,
        json!({ "WebhookURL": rx_form.url("/f"), "Format": "form", "Secret": form_secret,
                "FormToken": "receiver-token", "Headers": { "X-Shop": "42" } }),
    )
    .await;
    assert_eq!(
        fs["Secret"],
        format!("whsec_…{}", &form_secret[form_secret.len() - 4..]),
        "a chosen secret is only ever shown masked"
    );

    let seqs = inject(
        &gw,
        &admin,
        json!({ "Session": sid, "Event": "message.received", "Chat": "1@s.whatsapp.net",
                "Payload": { "text": "héllo" } }),
    )
    .await;
    let j = rx_json.wait_for(1, Duration::from_secs(20)).await;
    let f = rx_form.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!((j.len(), f.len()), (1, 1));
    let (j, f) = (&j[0], &f[0]);
    let body = j.json();
    assert_eq!(body["event"], "message.received");
    assert_eq!(body["engine"], "wago");
    assert_eq!(body["metadata"]["seq"], seqs[0]);
    assert_eq!(j.header("webhook-id"), body["id"].as_str().expect("id"));
    assert_eq!(
        j.header("x-wa-request-id"),
        body["id"].as_str().expect("id")
    );
    assert_eq!(f.header("x-shop"), "42");

    let ts: i64 = j.header("webhook-timestamp").parse().expect("ts");
    let mut tampered = j.body.to_vec();
    let pos = tampered.iter().position(|b| *b == b'h').expect("an h");
    tampered[pos] = b'H';
    let verdicts = verify(&[
        case(j, &secret, &j.body, false, None),
        case(j, &secret, &tampered, false, None),
        case(j, &secret, &j.body, false, Some(ts - 3600)),
        case(j, form_secret, &j.body, false, None),
        case(f, form_secret, &f.body, true, None),
    ]);
    assert_eq!(verdicts[0]["ok"], true, "genuine delivery: {}", verdicts[0]);
    assert_eq!(verdicts[1]["ok"], false, "tampered body must fail");
    assert_eq!(verdicts[2]["ok"], false, "old timestamp must fail");
    assert_eq!(verdicts[3]["ok"], false, "wrong secret must fail");
    assert_eq!(verdicts[4]["ok"], true, "form delivery: {}", verdicts[4]);
    assert_eq!(verdicts[4]["token"], "receiver-token");
    assert_eq!(verdicts[4]["json"]["payload"]["text"], "héllo");
    assert_eq!(verdicts[4]["json"]["id"], body["id"]);

    // X-Wago-Signature: hex HMAC of the body with the key the secret stands for.
    use hmac::{KeyInit, Mac};
    let key = wago::webhook::sign::key_of(&secret);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("key");
    mac.update(&j.body);
    assert_eq!(
        j.header("x-wago-signature"),
        hex::encode(mac.finalize().into_bytes())
    );

    // Rotation: both secrets sign while the old one is in its overlap.
    let id = js["Id"].as_u64().expect("id");
    let r = client()
        .put(gw.url(&format!("/webhooks/{id}")))
        .header("token", &token)
        .json(&json!({ "RotateSecret": true }))
        .send()
        .await
        .expect("rotate");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    let new_secret = v["data"]["Secret"]
        .as_str()
        .expect("new secret")
        .to_string();
    assert_eq!(v["data"]["SecretRotating"], true);
    // Give the dispatcher a moment to restart the worker with the new secrets.
    tokio::time::sleep(Duration::from_millis(300)).await;
    inject(
        &gw,
        &admin,
        json!({ "Session": sid, "Event": "message.read", "Payload": {} }),
    )
    .await;
    let hits = rx_json.wait_for(2, Duration::from_secs(20)).await;
    let h = &hits[1];
    assert_eq!(
        h.header("webhook-signature").split(' ').count(),
        2,
        "two signatures while rotating"
    );
    let verdicts = verify(&[
        case(h, &new_secret, &h.body, false, None),
        case(h, &secret, &h.body, false, None),
    ]);
    assert!(verdicts.iter().all(|v| v["ok"] == true), "{verdicts:?}");
    // GET never shows a secret in full.
    let listed = client()
        .get(gw.url("/webhooks"))
        .header("token", &token)
        .send()
        .await
        .expect("list")
        .text()
        .await
        .expect("text");
    assert!(
        !listed.contains(&new_secret[6..]) && !listed.contains(&secret[6..]),
        "{listed}"
    );
    assert!(!listed.contains("receiver-token"));
    let log = gw.log_text();
    assert!(
        !log.contains(&new_secret[6..]) && !log.contains(&token),
        "secrets in the log"
    );
}

/// Checks per-chat order and returns (distinct ids, duplicates).
fn check_order(hits: &[Hit]) -> (HashSet<String>, usize) {
    let mut last: HashMap<String, u64> = HashMap::new();
    let mut ids = HashSet::new();
    let mut dups = 0;
    for h in hits {
        let b = h.json();
        let seq = b["metadata"]["seq"].as_u64().expect("seq");
        let chat = b["metadata"]["chat"].as_str().unwrap_or("").to_string();
        if !ids.insert(b["id"].as_str().expect("id").to_string()) {
            dups += 1;
            continue;
        }
        let prev = last.insert(chat.clone(), seq);
        assert!(
            prev.is_none_or(|p| p < seq),
            "chat {chat}: {seq} after {prev:?}"
        );
    }
    (ids, dups)
}

#[tokio::test]
async fn receiver_off_then_on_gets_everything_in_order_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(dir.path(), &fast());
    let admin = gw.admin_token();
    let (sid, token) = create_session(&gw, &admin, "till").await;
    let mut rx = Receiver::start().await;
    subscribe(&gw, &token, json!({ "WebhookURL": rx.url("/in") })).await;
    rx.down();
    let batch: Vec<Value> = (0..200)
        .map(|i| json!({ "Session": sid, "Event": "message.received", "Chat": format!("{}@s.whatsapp.net", i % 7), "Payload": { "i": i } }))
        .collect();
    let seqs = inject(&gw, &admin, Value::Array(batch)).await;
    assert_eq!(seqs.len(), 200);
    // Off for a while: several retries fail (connection refused), then a 503 phase.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    rx.status.store(503, std::sync::atomic::Ordering::SeqCst);
    rx.up().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, st) = common::get(&gw, &token, "/webhook/status").await;
    let s0 = &st["data"]["Subscriptions"][0];
    assert_eq!(s0["Pending"], 200, "{st}");
    assert!(s0["Retried"].as_u64().expect("retried") > 0, "{st}");
    assert!(
        s0["OldestPendingAgeMs"].as_i64().expect("age") > 1000,
        "{st}"
    );
    rx.status.store(200, std::sync::atomic::Ordering::SeqCst);
    let hits = rx.wait_for(200, Duration::from_secs(60)).await;
    let (ids, dups) = check_order(&hits);
    assert_eq!(ids.len(), 200, "every event arrived");
    assert_eq!(dups, 0, "no duplicates without a crash");
    // Settled: nothing pending, all delivered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, st) = common::get(&gw, &token, "/webhook/status").await;
    assert_eq!(st["data"]["Subscriptions"][0]["Pending"], 0, "{st}");
    assert_eq!(st["data"]["Subscriptions"][0]["Delivered"], 200, "{st}");
}

#[tokio::test]
async fn dead_letters_list_replay_discard_and_pending_jobs_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = fast().env("WAGO_WEBHOOK_GIVE_UP_SECS", "1");
    let gw = Gateway::start_with(dir.path(), &opts);
    let admin = gw.admin_token();
    let (sid, token) = create_session(&gw, &admin, "till").await;
    let rx = Receiver::start().await;
    rx.status.store(500, std::sync::atomic::Ordering::SeqCst);
    let sub = subscribe(
        &gw,
        &token,
        json!({ "WebhookURL": rx.url("/in"), "Events": ["Message"] }),
    )
    .await;
    let sub_id = sub["Id"].as_u64().expect("id");
    let seqs = inject(&gw, &admin, json!({ "Session": sid, "Event": "message.received", "Chat": "c@s.whatsapp.net", "Payload": {}, "Count": 3 })).await;
    // Filtered out: no job, never delivered.
    inject(
        &gw,
        &admin,
        json!({ "Session": sid, "Event": "presence.update", "Payload": {} }),
    )
    .await;
    let c = client();
    let dead = {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let v: Value = c
                .get(gw.url("/webhooks/dead"))
                .header("token", &token)
                .send()
                .await
                .expect("dead")
                .json()
                .await
                .expect("json");
            if v["data"].as_array().is_some_and(|a| a.len() == 3)
                || std::time::Instant::now() > deadline
            {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let rows = dead["data"].as_array().expect("rows");
    assert_eq!(rows.len(), 3, "{dead}");
    assert_eq!(rows[0]["LastStatus"], 500);
    assert_eq!(rows[0]["LastError"], "HTTP 500");
    assert!(rows[0]["Attempts"].as_u64().expect("attempts") >= 1);
    let filtered: Value = c
        .get(gw.url("/webhooks/dead?event=message.read"))
        .header("token", &token)
        .send()
        .await
        .expect("dead")
        .json()
        .await
        .expect("json");
    assert_eq!(filtered["data"].as_array().map(Vec::len), Some(0));
    // Discard one.
    let r = c
        .delete(gw.url(&format!("/webhooks/dead/{sub_id}/{}", seqs[0])))
        .header("token", &token)
        .send()
        .await
        .expect("discard");
    assert_eq!(r.status(), 200);
    let r = c
        .delete(gw.url(&format!("/webhooks/dead/{sub_id}/{}", seqs[0])))
        .header("token", &token)
        .send()
        .await
        .expect("discard");
    common::expect_error(r, 404, "dead_letter_not_found").await;

    // Stop the gateway, bring the receiver up, replay after restart.
    gw.stop();
    rx.status.store(200, std::sync::atomic::Ordering::SeqCst);
    let gw = Gateway::start_with(dir.path(), &opts);
    let r = c
        .post(gw.url(&format!("/webhooks/{sub_id}/replay")))
        .header("token", &token)
        .send()
        .await
        .expect("replay");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["data"]["Replayed"], 2);
    let hits = rx.wait_for(2, Duration::from_secs(20)).await;
    let got: Vec<u64> = hits
        .iter()
        .map(|h| h.json()["metadata"]["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(
        got,
        vec![seqs[1], seqs[2]],
        "replayed in order, the discarded one not"
    );

    // Pending jobs survive a restart: receiver off, events in, gateway stopped.
    let mut rx = rx;
    rx.down();
    let more = inject(
        &gw,
        &admin,
        json!({ "Session": sid, "Event": "message.received", "Payload": {}, "Count": 5 }),
    )
    .await;
    gw.stop();
    rx.up().await;
    let _gw = Gateway::start_with(dir.path(), &fast());
    let hits = rx.wait_for(7, Duration::from_secs(20)).await;
    let seen: HashSet<u64> = hits
        .iter()
        .map(|h| h.json()["metadata"]["seq"].as_u64().expect("seq"))
        .collect();
    assert!(
        more.iter().all(|s| seen.contains(s)),
        "{seen:?} lacks some of {more:?}"
    );
}

#[tokio::test]
async fn a_receiver_that_hangs_does_not_slow_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(dir.path(), &fast());
    let admin = gw.admin_token();
    let (sid, token) = create_session(&gw, &admin, "till").await;
    // Accepts connections and never answers: every attempt runs into the timeout.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hang_addr = hang.local_addr().expect("addr");
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let h2 = held.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = hang.accept().await {
            h2.lock().expect("held").push(s);
        }
    });
    let good = Receiver::start().await;
    subscribe(
        &gw,
        &token,
        json!({ "WebhookURL": format!("http://{hang_addr}/slow") }),
    )
    .await;
    subscribe(&gw, &token, json!({ "WebhookURL": good.url("/fast") })).await;
    let started = std::time::Instant::now();
    let batch: Vec<Value> = (0..100)
        .map(|i| json!({ "Session": sid, "Event": "message.received", "Chat": format!("{}@s.whatsapp.net", i % 10), "Payload": {} }))
        .collect();
    inject(&gw, &admin, Value::Array(batch)).await;
    let hits = good.wait_for(100, Duration::from_secs(4)).await;
    assert_eq!(hits.len(), 100, "the healthy receiver got everything");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "well within the 5 s timeout the hanging receiver keeps running into"
    );
    assert!(
        !held.lock().expect("held").is_empty(),
        "the hanging receiver was being tried"
    );
}

#[tokio::test]
async fn global_subscription_from_config_gets_every_session_signed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start().await;
    let opts = fast().env("WAGO_WEBHOOK_URL", &rx.url("/all"));
    let gw = Gateway::start_with(dir.path(), &opts);
    let secret =
        std::fs::read_to_string(dir.path().join("webhook-secret")).expect("generated secret file");
    let secret = secret.trim();
    assert!(secret.starts_with("whsec_"), "{secret}");
    // Shown once on the console (like the generated admin token), never in log lines.
    assert_eq!(
        gw.log_text().matches(&secret[6..]).count(),
        1,
        "shown exactly once"
    );
    let admin = gw.admin_token();
    let (a, _) = create_session(&gw, &admin, "till").await;
    let (b, _) = create_session(&gw, &admin, "reception").await;
    inject(
        &gw,
        &admin,
        json!([
            { "Session": a, "Event": "message.received", "Payload": {} },
            { "Session": b, "Event": "call.missed", "Payload": {} },
        ]),
    )
    .await;
    let hits = rx.wait_for(2, Duration::from_secs(20)).await;
    let sessions: HashSet<String> = hits
        .iter()
        .map(|h| h.json()["session"].as_str().expect("session").to_string())
        .collect();
    assert_eq!(sessions, HashSet::from([a.clone(), b.clone()]));
    let verdicts = verify(
        &hits
            .iter()
            .map(|h| case(h, secret, &h.body, false, None))
            .collect::<Vec<_>>(),
    );
    assert!(verdicts.iter().all(|v| v["ok"] == true), "{verdicts:?}");
    // A restart keeps the same secret (no new file, same subscription).
    gw.stop();
    let gw = Gateway::start_with(dir.path(), &opts);
    let again = std::fs::read_to_string(dir.path().join("webhook-secret")).expect("secret file");
    assert_eq!(again.trim(), secret);
    inject(
        &gw,
        &admin,
        json!({ "Session": a, "Event": "message.sent", "Payload": {} }),
    )
    .await;
    let hits = rx.wait_for(3, Duration::from_secs(20)).await;
    let v = verify(&[case(&hits[2], secret, &hits[2].body, false, None)]);
    assert_eq!(v[0]["ok"], true, "{v:?}");
}

/// Symptom this guards against: a subscription created while delivery is
/// idle never gets a worker, so the events pending for it wait (silently)
/// until some other subscription change. Cause: a producer that commits and
/// forgets to ring the bell. Fix: the store rings it itself after creating
/// the subscription, so this holds with no other event or change arriving.
#[tokio::test]
async fn a_subscription_created_while_delivery_is_idle_gets_its_pending_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The global subscription exists before delivery starts (no ring needed
    // for it): once it has been served, the dispatcher is parked, waiting
    // for the next subscription change.
    let global = Receiver::start().await;
    let gw = Gateway::start_with(
        dir.path(),
        &fast().env("WAGO_WEBHOOK_URL", &global.url("/all")),
    );
    let admin = gw.admin_token();
    let (sid, token) = create_session(&gw, &admin, "till").await;
    inject(
        &gw,
        &admin,
        json!({ "Session": sid, "Event": "message.received", "Payload": {} }),
    )
    .await;
    assert_eq!(
        global.wait_for(1, Duration::from_secs(10)).await.len(),
        1,
        "delivery runs"
    );
    // The new subscription, and events pending for it. Then nothing else
    // happens: no other event, no other subscription change.
    let new = Receiver::start().await;
    subscribe(&gw, &token, json!({ "WebhookURL": new.url("/new") })).await;
    let seqs = inject(
        &gw,
        &admin,
        json!({ "Session": sid, "Event": "message.read", "Count": 3, "Payload": {} }),
    )
    .await;
    let hits = new.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(
        hits.len(),
        3,
        "the new subscription got its events with no other event or change arriving"
    );
    let got: HashSet<u64> = hits
        .iter()
        .map(|h| h.json()["metadata"]["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(
        got,
        seqs.iter().copied().collect(),
        "exactly the pending ones"
    );
}

#[tokio::test]
async fn seed_event_names_filter_a_subscription_by_what_they_stand_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(dir.path(), &fast());
    let admin = gw.admin_token();
    let (sid, token) = create_session(&gw, &admin, "till").await;
    let rx = Receiver::start().await;
    // WA Gateway (003) and Wawp (001) names, as their receivers subscribe.
    subscribe(
        &gw,
        &token,
        json!({
            "WebhookURL": rx.url("/in"),
            "Events": ["instance.connected", "group.message_received", "message.ack"]
        }),
    )
    .await;
    let seqs = inject(
        &gw,
        &admin,
        json!([
            { "Session": sid, "Event": "session.connected", "Payload": {} },
            { "Session": sid, "Event": "message.received", "Chat": "c@s.whatsapp.net", "Payload": {} },
            { "Session": sid, "Event": "message.received", "Chat": "120363000000000001@g.us", "Payload": {} },
            { "Session": sid, "Event": "message.read", "Chat": "c@s.whatsapp.net", "Payload": {} },
            { "Session": sid, "Event": "presence.update", "Payload": {} },
            { "Session": sid, "Event": "session.qr_updated", "Payload": {} },
        ]),
    )
    .await;
    assert_eq!(seqs.len(), 6);
    let hits = rx.wait_for(3, Duration::from_secs(20)).await;
    let mut got: Vec<(String, Value)> = hits
        .iter()
        .map(|h| {
            let v = h.json();
            (
                v["event"].as_str().expect("event").to_string(),
                v["metadata"]["chat"].clone(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("message.read".to_string(), json!("c@s.whatsapp.net")),
            (
                "message.received".to_string(),
                json!("120363000000000001@g.us")
            ),
            ("session.connected".to_string(), Value::Null),
        ],
        "only the events the seed names stand for"
    );
    // The other three made no job at all: three delivered, none pending.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let st = loop {
        let (_, st) = common::get(&gw, &token, "/webhook/status").await;
        if st["data"]["Subscriptions"][0]["Delivered"] == 3 || std::time::Instant::now() > deadline
        {
            break st;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let sub = &st["data"]["Subscriptions"][0];
    assert_eq!(sub["Delivered"], 3, "{st}");
    assert_eq!(sub["Pending"], 0, "{st}");
    // A name no gateway uses is still refused, naming the field.
    let r = client()
        .post(gw.url("/webhooks"))
        .header("token", &token)
        .json(&json!({ "WebhookURL": rx.url("/in"), "Events": ["message", "instance.bogus"] }))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["details"]["field"], "Events[1]", "{v}");
}
