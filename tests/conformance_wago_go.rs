//! Conformance with document 002 (WAGO-Go, `../shared/seeds/002_*.txt`):
//! its own curl examples, replayed with `curl` against the real binary, and
//! its own Node receiver (`isValid`, in `tests/conformance/wago_go_receiver.mjs`)
//! checking every webhook delivery.
//!
//! The commands are the document's, character for character, except the
//! host and port (`localhost:8080` → the gateway's loopback address), the
//! key (`supersecret` → the session's token) and the document's phone
//! placeholders (`62812XXXXXXX`, `62812xxxxxx` → the simulated contact's
//! number, which starts with 62812 like the document's). The webhook is set
//! up the document's way, by environment (`WEBHOOK_URL`, `WEBHOOK_SECRET`
//! with the document's own `whsec_123abc`; here with the `WAGO_` prefix and
//! `WAGO_WEBHOOK_FORMAT=wago-go`).

mod common;
#[path = "support/simgw.rs"]
mod simgw;

use common::{Gateway, client};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The simulated contact: the document's 62812… with digits for the X's.
const CONTACT: &str = "628123456789";
/// The document's example secret (`.env`: `WEBHOOK_SECRET=whsec_123abc`).
const SECRET: &str = "whsec_123abc";
const WAIT: Duration = Duration::from_secs(30);

/// The document's curl examples, verbatim.
const SEND_TEXT: &str = r#"curl -X POST http://localhost:8080/send-text \
  -H 'X-API-Key: supersecret' \
  -H 'Content-Type: application/json' \
  -d '{"to":"62812XXXXXXX","text":"Halo dari API 🎯"}'"#;
const SEND_OTP: &str = r#"curl -X POST http://localhost:8080/send-otp \
  -H 'X-API-Key: supersecret' \
  -H 'Content-Type: application/json' \
  -d '{"to":"62812XXXXXXX","code":"654321","template":"[MyApp] OTP: %s (5 menit)"}'"#;
const MESSAGES: &str = r#"curl -H 'X-API-Key: supersecret' http://localhost:8080/messages"#;
const MESSAGES_CHAT: &str = r#"curl -H 'X-API-Key: supersecret' \
  'http://localhost:8080/messages?chat=62812xxxxxx@s.whatsapp.net'"#;
const MESSAGES_AFTER: &str = r#"curl -H 'X-API-Key: supersecret' \
  'http://localhost:8080/messages?after=10&limit=50'"#;
const HEALTH: &str = r#"curl http://localhost:8080/health"#;

/// The only substitutions made to a command.
fn localize(cmd: &str, gw: &Gateway, token: &str) -> String {
    cmd.replace("http://localhost:8080", &format!("http://{}", gw.addr))
        .replace("supersecret", token)
        .replace("62812XXXXXXX", CONTACT)
        .replace("62812xxxxxx", CONTACT)
}

/// Runs a command under `sh` (as a user pastes it); returns (HTTP status, body).
fn run_curl(cmd: &str, gw: &Gateway, token: &str) -> (u16, Value) {
    let line = format!(
        "{} -s -o /dev/stdout -w '\\n%{{http_code}}'",
        localize(cmd, gw, token)
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&line)
        .output()
        .expect("curl is installed by tests/run (tests/lib/packages.sh, list run)");
    assert!(out.status.success(), "{line}: {out:?}");
    let text = String::from_utf8(out.stdout).expect("utf8");
    let (body, code) = text.rsplit_once('\n').expect("status line");
    let v = serde_json::from_str(body).unwrap_or_else(|e| panic!("{line}: not JSON ({e}): {body}"));
    (code.trim().parse().expect("status"), v)
}

/// The document's Node receiver, running.
struct NodeReceiver {
    child: Child,
    port: u16,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl NodeReceiver {
    fn start(secret: &str) -> NodeReceiver {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/conformance/wago_go_receiver.mjs"
        );
        let mut child = Command::new("node")
            .arg(script)
            .env("WEBHOOK_SECRET", secret)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node is installed by tests/run (tests/lib/packages.sh, list run: nodejs)");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        out.read_line(&mut first).expect("port line");
        let port = serde_json::from_str::<Value>(&first).expect("port json")["port"]
            .as_u64()
            .expect("port") as u16;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().expect("lines").push(v);
                }
            }
        });
        NodeReceiver { child, port, lines }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    async fn wait_for(&self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = self.lines.lock().expect("lines").iter().find(|v| pred(v)) {
                return v.clone();
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got no such delivery: {:?}",
                self.lines.lock().expect("lines")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for NodeReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts `item` has exactly the document's fields, typed as it shows them.
fn assert_item(item: &Value, with_id: bool) {
    let mut want = vec!["chat_id", "sender_id", "text", "kind", "timestamp"];
    if with_id {
        want.insert(0, "id");
        assert!(item["id"].is_u64(), "id is an integer: {item}");
    }
    let mut keys: Vec<&str> = item
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    want.sort_unstable();
    assert_eq!(keys, want, "exactly the documented fields: {item}");
    for k in ["chat_id", "sender_id", "text", "kind", "timestamp"] {
        assert!(item[k].is_string(), "{k} is a string: {item}");
    }
    let ts = item["timestamp"].as_str().expect("ts");
    // RFC 3339 as the document prints it: 2025-09-01T09:20:31Z.
    let b = ts.as_bytes();
    assert!(
        ts.len() == 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'Z'
            && ts.chars().filter(char::is_ascii_digit).count() == 14,
        "RFC 3339: {ts}"
    );
}

#[tokio::test]
async fn the_documents_curl_examples_and_node_receiver_work_unchanged() {
    let node = NodeReceiver::start(SECRET);
    let sim = wa_sim::Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = simgw::start(
        dir.path(),
        &sim,
        &[
            ("WAGO_WEBHOOK_URL", &node.url()),
            ("WAGO_WEBHOOK_SECRET", SECRET),
            ("WAGO_WEBHOOK_FORMAT", "wago-go"),
        ],
    );
    let r = client()
        .post(gw.url("/session/init"))
        .header("Authorization", format!("Bearer {}", gw.admin_token()))
        .json(&json!({ "Name": "otp", "Dialect": "wago-go" }))
        .send()
        .await
        .expect("init");
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.expect("json");
    assert_eq!(created["data"]["Dialect"], "wago-go");
    let token = created["data"]["Token"]
        .as_str()
        .expect("token")
        .to_string();
    simgw::pair_session(&gw, &sim, &token).await;

    // curl http://localhost:8080/health → {"ok":true}
    let (st, v) = run_curl(HEALTH, &gw, &token);
    assert_eq!((st, v), (200, json!({ "ok": true })));

    // Kirim teks → {"message_id":"..."}
    let contact = sim.contact(CONTACT);
    let (st, v) = run_curl(SEND_TEXT, &gw, &token);
    assert_eq!(st, 200, "{v}");
    assert!(
        v["message_id"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(1),
        "only message_id: {v}"
    );
    let got = contact.wait_for_text(WAIT).await.expect("text arrives");
    assert_eq!(got.body, "Halo dari API 🎯");

    // Kirim OTP: the template with the code.
    let (st, v) = run_curl(SEND_OTP, &gw, &token);
    assert_eq!(st, 200, "{v}");
    assert!(v["message_id"].is_string(), "{v}");
    let got = contact.wait_for_text(WAIT).await.expect("otp arrives");
    assert_eq!(got.body, "[MyApp] OTP: 654321 (5 menit)");

    // Inbound: "halo" as in the document, then enough for `after=10` to page.
    let me = sim.phone().jid();
    contact.send_text(&me, "halo").await.expect("halo");
    for i in 0..12 {
        contact
            .send_text(&me, &format!("pesan {i}"))
            .await
            .expect("text");
    }
    // Each text message is pushed, signed so that the document's isValid holds.
    let pushed = node.wait_for(|v| v["body"]["text"] == "halo").await;
    assert_eq!(pushed["valid"], true, "isValid accepts it: {pushed}");
    assert_item(&pushed["body"], false);
    assert_eq!(pushed["body"]["kind"], "conversation");
    node.wait_for(|v| v["body"]["text"] == "pesan 11").await;
    let deliveries = node.lines.lock().expect("lines").clone();
    assert!(
        deliveries.iter().all(|d| d["valid"] == true),
        "every delivery verifies: {deliveries:?}"
    );

    // Baca pesan masuk: all, by chat, and after an id.
    let deadline = Instant::now() + WAIT;
    let all = loop {
        let (st, v) = run_curl(MESSAGES, &gw, &token);
        assert_eq!(st, 200, "{v}");
        let items = v.as_array().expect("a JSON array of items").clone();
        if items.len() >= 13 || Instant::now() > deadline {
            break items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(all.len(), 13, "the 13 received messages: {all:?}");
    for it in &all {
        assert_item(it, true);
    }
    let halo = all
        .iter()
        .find(|m| m["text"] == "halo")
        .expect("halo listed");
    let jid = format!("{CONTACT}@s.whatsapp.net");
    assert_eq!(halo["chat_id"], jid.as_str());
    assert_eq!(halo["sender_id"], jid.as_str());
    assert_eq!(halo["kind"], "conversation");
    assert_eq!(
        halo["timestamp"], pushed["body"]["timestamp"],
        "the same time in both"
    );
    let ids: Vec<u64> = all.iter().map(|m| m["id"].as_u64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");

    let (st, v) = run_curl(MESSAGES_CHAT, &gw, &token);
    assert_eq!(st, 200);
    assert_eq!(v.as_array().map(Vec::len), Some(13), "{v}");

    let (st, v) = run_curl(MESSAGES_AFTER, &gw, &token);
    assert_eq!(st, 200);
    let after: Vec<u64> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["id"].as_u64().expect("id"))
        .collect();
    let want: Vec<u64> = ids.iter().copied().filter(|&i| i > 10).collect();
    assert!(!want.is_empty(), "the log is long enough to page: {ids:?}");
    assert_eq!(after, want, "after=10 continues after id 10");

    // The id is stable: the same items after a restart, usable as a cursor.
    assert!(simgw::stop(gw).await, "clean stop");
    let gw = simgw::start(
        dir.path(),
        &sim,
        &[
            ("WAGO_WEBHOOK_URL", &node.url()),
            ("WAGO_WEBHOOK_SECRET", SECRET),
            ("WAGO_WEBHOOK_FORMAT", "wago-go"),
        ],
    );
    let (st, v) = run_curl(MESSAGES, &gw, &token);
    assert_eq!(st, 200);
    assert_eq!(
        v.as_array().expect("array"),
        &all,
        "same ids after a restart"
    );

    // Troubleshooting: 401 unauthorized for a wrong key.
    let (st, v) = run_curl(SEND_TEXT, &gw, "not-the-key");
    assert_eq!(st, 401, "{v}");
    assert_eq!(v["error"], "unauthorized");
}

#[tokio::test]
async fn errors_and_the_secret_rule_match_the_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path());
    // 403 "API disabled: set API_KEY": no session, so no key to check.
    let (st, v) = run_curl(SEND_TEXT, &gw, "anything");
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["error"], "api_disabled");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("API disabled: set API_KEY"))
    );
    let (_, token) = common::create_session(&gw, &gw.admin_token(), "till").await;
    let (st, v) = run_curl(SEND_TEXT, &gw, "wrong");
    assert_eq!((st, v["error"].clone()), (401, json!("unauthorized")));
    // A WaGo session keeps WaGo's /messages; the WAGO-Go routes still answer their way.
    let (st, v) = run_curl(MESSAGES, &gw, &token);
    assert_eq!(st, 200);
    assert!(v["data"]["Messages"].is_array(), "{v}");
    // One secret rule for the API and the config: whsec_123abc is a
    // string as written for wago-go, and no Standard Webhooks key for json.
    for (format, want) in [("wago-go", 201), ("json", 422)] {
        let r = client()
            .post(gw.url("/webhooks"))
            .header("token", &token)
            .json(&json!({ "WebhookURL": "http://127.0.0.1:9/h", "Format": format, "Secret": SECRET }))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status().as_u16(), want, "{format}");
    }
    drop(gw);
    let bad = tempfile::tempdir().expect("tempdir");
    let opts = common::Opts::default()
        .env("WAGO_WEBHOOK_URL", "http://127.0.0.1:9/h")
        .env("WAGO_WEBHOOK_SECRET", SECRET);
    match Gateway::try_start(bad.path(), &opts) {
        Ok(_) => panic!("whsec_123abc with the json format must not start"),
        Err((status, log)) => {
            assert_eq!(status.and_then(|s| s.code()), Some(2), "{log}");
            assert!(log.contains("webhook.global_secret"), "{log}");
        }
    }
    let ok = tempfile::tempdir().expect("tempdir");
    let opts = opts.env("WAGO_WEBHOOK_FORMAT", "wago-go");
    assert!(
        Gateway::try_start(ok.path(), &opts).is_ok(),
        "accepted for wago-go"
    );
}
