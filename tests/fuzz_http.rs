//! A fuzzing pass over the HTTP API: random methods, paths, headers and
//! bodies through a real client, and random bytes over raw TCP. No request
//! may produce a 5xx or kill the process. Seeded, so a failure reproduces.

mod common;

use common::{Gateway, Opts, client, create_session};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const SEED: u64 = 0x5eed_0a60;
const HTTP_CASES: usize = 1500;
const RAW_CASES: usize = 300;

const PATHS: &[&str] = &[
    "/",
    "/health",
    "/server/ok",
    "/session/init",
    "/session/status",
    "/admin/sessions",
    "/admin/sessions/",
    "/admin/sessions/x",
    "/session/connect",
    "/send/text",
    "/send/poll",
    "/send/location",
    "/send/image",
    "/send-otp",
    "/message/react",
    "/message/read",
    "/chat/presence",
    "/messages",
    "/%00",
    "/..%2f..%2fetc/passwd",
    "//admin//sessions",
    "/admin/sessions/%ff%fe",
    "/session/status?token=x",
    "/a/b/c/d/e/f/g/h/i/j/k",
];
const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "FROB",
];
const FIELDS: &[&str] = &[
    "Name",
    "Token",
    "WebhookURL",
    "Events",
    "Phone",
    "Body",
    "Id",
    "x",
];
const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "application/json;;;",
];

fn random_string(rng: &mut StdRng, max: usize) -> String {
    let len = rng.random_range(0..=max);
    (0..len)
        .map(|_| match rng.random_range(0..10) {
            0 => char::from_u32(rng.random_range(0..0x3000)).unwrap_or('?'),
            1 => ['"', '\\', '\0', '\n', '{', '}'][rng.random_range(0..6)],
            _ => char::from(rng.random_range(b'a'..=b'z')),
        })
        .collect()
}

fn random_json(rng: &mut StdRng, depth: u32) -> serde_json::Value {
    use serde_json::Value;
    match rng.random_range(0..if depth > 3 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => Value::from(rng.random::<i64>()),
        3 => Value::from(rng.random::<f64>()),
        4 => Value::String(random_string(rng, 40)),
        5 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = serde_json::Map::new();
            for _ in 0..rng.random_range(0..5) {
                let k = FIELDS[rng.random_range(0..FIELDS.len())].to_string();
                m.insert(k, random_json(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

fn random_body(rng: &mut StdRng) -> Vec<u8> {
    match rng.random_range(0..6) {
        0 => Vec::new(),
        1 => serde_json::to_vec(&random_json(rng, 0)).unwrap_or_default(),
        2 => {
            let mut b = serde_json::to_vec(&random_json(rng, 0)).unwrap_or_default();
            let cut = rng.random_range(0..=b.len());
            b.truncate(cut);
            b
        }
        3 => (0..rng.random_range(0..512))
            .map(|_| rng.random())
            .collect(),
        4 => "[".repeat(rng.random_range(100..20_000)).into_bytes(),
        _ => format!("{{\"Name\": \"{}\"}}", random_string(rng, 100)).into_bytes(),
    }
}

#[tokio::test]
async fn no_request_produces_a_5xx_or_kills_the_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gw = Gateway::start_with(
        dir.path(),
        &Opts::default().env("WAGO_MAX_BODY_BYTES", "65536"),
    );
    let admin = gw.admin_token();
    let (_, session) = create_session(&gw, &admin, "fuzz").await;
    let c = client();
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut statuses = std::collections::BTreeMap::new();
    for case in 0..HTTP_CASES {
        let method =
            reqwest::Method::from_bytes(METHODS[rng.random_range(0..METHODS.len())].as_bytes())
                .expect("method");
        let mut path = PATHS[rng.random_range(0..PATHS.len())].to_string();
        if rng.random_bool(0.2) {
            path.push_str(&format!("/{}", urlencode(&random_string(&mut rng, 20))));
        }
        let mut rb = c.request(method.clone(), gw.url(&path));
        let ct = CONTENT_TYPES[rng.random_range(0..CONTENT_TYPES.len())];
        if !ct.is_empty() {
            rb = rb.header("content-type", ct);
        }
        rb = match rng.random_range(0..5) {
            0 => rb.header("token", &admin),
            1 => rb.header("Authorization", format!("Bearer {session}")),
            2 => rb.header(
                "X-API-Key",
                random_string(&mut rng, 30).replace(|c: char| !c.is_ascii_graphic(), ""),
            ),
            3 => rb.header("token", &session),
            _ => rb,
        };
        let resp = rb.body(random_body(&mut rng)).send().await;
        let status = match resp {
            Ok(r) => r.status().as_u16(),
            Err(e) => panic!("case {case}: {method} {path}: transport error {e}"),
        };
        assert!(status < 500, "case {case}: {method} {path} gave {status}");
        *statuses.entry(status).or_insert(0u32) += 1;
    }
    // The pass exercised the error paths, not just one answer.
    for s in [200u16, 401, 403, 404, 405] {
        assert!(statuses.contains_key(&s), "no {s} in {statuses:?}");
    }
    assert!(
        statuses.keys().filter(|s| **s >= 400).count() >= 6,
        "{statuses:?}"
    );

    // Raw bytes: malformed request lines, headers, chunking.
    let addr = gw.addr;
    let mut raw_rng = StdRng::seed_from_u64(SEED ^ 1);
    let raw = tokio::task::spawn_blocking(move || {
        let mut worst = 0u16;
        for _ in 0..RAW_CASES {
            let payload: Vec<u8> = match raw_rng.random_range(0..4) {
                0 => (0..raw_rng.random_range(1..300)).map(|_| raw_rng.random()).collect(),
                1 => b"POST /session/init HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".to_vec(),
                2 => format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(raw_rng.random_range(1..100_000))).into_bytes(),
                _ => b"GET /health HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n".to_vec(),
            };
            let Ok(mut s) = TcpStream::connect(addr) else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.write_all(&payload);
            let _ = s.shutdown(std::net::Shutdown::Write);
            let mut reply = Vec::new();
            let _ = s.read_to_end(&mut reply);
            let text = String::from_utf8_lossy(&reply);
            if let Some(code) = text.strip_prefix("HTTP/1.1 ").and_then(|r| r.get(..3)).and_then(|c| c.parse::<u16>().ok()) {
                worst = worst.max(code);
            }
        }
        worst
    })
    .await
    .expect("join");
    assert!(raw < 500, "raw fuzzing produced {raw}");

    // Still alive and serving.
    assert!(
        gw.wait(Duration::from_millis(10)).is_none(),
        "the process died"
    );
    let r = client()
        .get(gw.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(r.status(), 200);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
