//! The HTTP API against the real binary: auth on every route class and every
//! error class of the contract, each answered with the JSON envelope.

mod common;

use common::{Gateway, Opts, client, create_session, expect_error};
use reqwest::Method;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How a request presents its token.
#[derive(Clone, Copy, Debug)]
enum Via {
    Token,
    Bearer,
    ApiKey,
}

fn with_token(rb: reqwest::RequestBuilder, via: Via, token: &str) -> reqwest::RequestBuilder {
    match via {
        Via::Token => rb.header("token", token),
        Via::Bearer => rb.header("Authorization", format!("Bearer {token}")),
        Via::ApiKey => rb.header("X-API-Key", token),
    }
}

#[tokio::test]
async fn auth_matrix_on_every_route_class() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path());
    let admin = gw.admin_token();
    let (_, session) = create_session(&gw, &admin, "till").await;
    let c = client();

    // Public routes need nothing.
    for path in ["/health", "/server/ok"] {
        let r = c.get(gw.url(path)).send().await.expect("send");
        assert_eq!(r.status(), 200, "{path}");
    }
    let v: serde_json::Value = c
        .get(gw.url("/health"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v, json!({ "ok": true }));
    let v: serde_json::Value = c
        .get(gw.url("/server/ok"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["success"], true);

    // (method, path, body, scope) for each protected route class.
    let routes: &[(Method, &str, Option<serde_json::Value>, &str)] = &[
        (
            Method::POST,
            "/session/init",
            Some(json!({ "Name": "x" })),
            "admin",
        ),
        (Method::GET, "/admin/sessions", None, "admin"),
        (Method::DELETE, "/admin/sessions/snotthere", None, "admin"),
        (Method::GET, "/session/status", None, "session"),
    ];
    for (method, path, body, scope) in routes {
        let req = |token: Option<(&str, Via)>| {
            let mut rb = c.request(method.clone(), gw.url(path));
            if let Some(b) = body {
                rb = rb.json(b);
            }
            if let Some((t, via)) = token {
                rb = with_token(rb, via, t);
            }
            rb
        };
        // No token and a wrong token: 401 on every protected route.
        expect_error(req(None).send().await.expect("send"), 401, "unauthorized").await;
        for via in [Via::Token, Via::Bearer, Via::ApiKey] {
            let r = req(Some(("wrong-token-123", via)))
                .send()
                .await
                .expect("send");
            expect_error(r, 401, "unauthorized").await;
        }
        // The other scope's valid token: 403.
        let other = if *scope == "admin" { &session } else { &admin };
        for via in [Via::Token, Via::Bearer, Via::ApiKey] {
            let r = req(Some((other, via))).send().await.expect("send");
            expect_error(r, 403, "forbidden").await;
        }
        // The right token through every header.
        let right = if *scope == "admin" { &admin } else { &session };
        for via in [Via::Token, Via::Bearer, Via::ApiKey] {
            let r = req(Some((right, via))).send().await.expect("send");
            let status = r.status().as_u16();
            // The DELETE of an unknown id is authorized but finds nothing.
            if *path == "/admin/sessions/snotthere" {
                expect_error(r, 404, "session_not_found").await;
            } else {
                assert!(
                    (200..300).contains(&status),
                    "{method} {path} via {via:?}: {status}"
                );
            }
        }
    }
    // Logs never carry a session token.
    let log = gw.log_text();
    assert!(!log.contains(&session), "session token leaked into the log");
}

#[tokio::test]
async fn sessions_create_list_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path());
    let admin = gw.admin_token();
    let c = client();
    let r = c
        .post(gw.url("/session/init"))
        .header("token", &admin)
        .json(&json!({ "Name": "reception", "Token": "customer-token-1", "WebhookURL": "http://127.0.0.1:9/hook", "Events": ["Message", "message.read"] }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["data"]["Token"], "customer-token-1");
    let id = v["data"]["Id"].as_str().expect("id").to_string();

    // The same client-chosen token again is a conflict naming the field.
    let r = c
        .post(gw.url("/session/init"))
        .header("token", &admin)
        .json(&json!({ "Name": "other", "Token": "customer-token-1" }))
        .send()
        .await
        .expect("send");
    let v = expect_error(r, 409, "conflict").await;
    assert_eq!(v["details"]["field"], "Token");

    let r = c
        .get(gw.url("/session/status"))
        .header("token", "customer-token-1")
        .send()
        .await
        .expect("send");
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["data"]["Id"], id.as_str());
    assert_eq!(v["data"]["LoggedIn"], false);
    assert_eq!(v["data"]["Events"], json!(["Message", "message.read"]));

    let v: serde_json::Value = c
        .get(gw.url("/admin/sessions"))
        .header("token", &admin)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let list = v["data"].as_array().expect("array");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["Name"], "reception");
    assert!(list[0].get("Token").is_none(), "tokens are never listed");

    let r = c
        .delete(gw.url(&format!("/admin/sessions/{id}")))
        .header("token", &admin)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = c
        .get(gw.url("/session/status"))
        .header("token", "customer-token-1")
        .send()
        .await
        .expect("send");
    expect_error(r, 401, "unauthorized").await;
}

#[tokio::test]
async fn every_error_class_is_a_json_envelope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(
        dir.path(),
        &Opts::default().env("WAGO_MAX_BODY_BYTES", "4096"),
    );
    let admin = gw.admin_token();
    let c = client();
    let init = || c.post(gw.url("/session/init")).header("token", &admin);

    // 400 malformed JSON.
    let r = init()
        .header("content-type", "application/json")
        .body("{\"Name\": ")
        .send()
        .await
        .expect("send");
    expect_error(r, 400, "invalid_json").await;
    // 415 wrong or missing content type.
    let r = init()
        .header("content-type", "text/plain")
        .body("{\"Name\": \"x\"}")
        .send()
        .await
        .expect("send");
    expect_error(r, 415, "unsupported_media_type").await;
    let r = init().body("{\"Name\": \"x\"}").send().await.expect("send");
    expect_error(r, 415, "unsupported_media_type").await;
    // 422 naming the field: missing, wrong type, bad value.
    let cases = [
        (json!({}), "Name"),
        (json!({ "Name": 5 }), "Name"),
        (json!({ "Name": "" }), "Name"),
        (json!({ "Name": "x", "Token": "short" }), "Token"),
        (json!({ "Name": "x", "Token": "has space in it" }), "Token"),
        (
            json!({ "Name": "x", "WebhookURL": "ftp://x" }),
            "WebhookURL",
        ),
        (json!({ "Name": "x", "Events": ["Nope"] }), "Events[0]"),
        (json!({ "Name": "x", "Events": "Message" }), "Events"),
    ];
    for (body, field) in cases {
        let r = init().json(&body).send().await.expect("send");
        let v = expect_error(r, 422, "validation_error").await;
        assert_eq!(v["details"]["field"], field, "{body}");
    }
    // 413 oversize, declared and streamed.
    let big = format!("{{\"Name\": \"{}\"}}", "x".repeat(10_000));
    let r = init()
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("send");
    expect_error(r, 413, "payload_too_large").await;
    let stream = futures_stream(big.into_bytes());
    let r = init()
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("send");
    expect_error(r, 413, "payload_too_large").await;
    // 404 and 405.
    let r = c.get(gw.url("/no/such/route")).send().await.expect("send");
    expect_error(r, 404, "not_found").await;
    let r = c.put(gw.url("/session/init")).send().await.expect("send");
    assert_eq!(
        r.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    expect_error(r, 405, "method_not_allowed").await;
}

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(1000).map(|c| Ok(c.to_vec())).collect();
    tokio_stream_iter(chunks)
}

fn tokio_stream_iter<T: Send + Unpin + 'static>(
    items: Vec<T>,
) -> impl futures_core::Stream<Item = T> + Send + 'static {
    struct Iter<T>(std::vec::IntoIter<T>);
    impl<T: Unpin> futures_core::Stream for Iter<T> {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Iter(items.into_iter())
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(
        dir.path(),
        &Opts::default()
            .env("WAGO_HEADER_TIMEOUT_SECS", "1")
            .env("WAGO_BODY_TIMEOUT_SECS", "1"),
    );
    let admin = gw.admin_token();
    let addr = gw.addr;
    let (header_closed, body_reply) = tokio::task::spawn_blocking(move || {
        // Headers that never finish: the server closes the connection.
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").expect("write");
        let mut buf = Vec::new();
        let header_closed = s.read_to_end(&mut buf).is_ok();
        // A body that never arrives: 408 with the envelope.
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let req = format!(
            "POST /session/init HTTP/1.1\r\nHost: x\r\ntoken: {admin}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{"
        );
        s.write_all(req.as_bytes()).expect("write");
        let mut reply = vec![0u8; 4096];
        let n = s.read(&mut reply).unwrap_or(0);
        (header_closed, String::from_utf8_lossy(&reply[..n]).to_string())
    })
    .await
    .expect("join");
    assert!(
        header_closed,
        "the server must close a connection whose headers stall"
    );
    assert!(body_reply.starts_with("HTTP/1.1 408"), "{body_reply}");
    assert!(body_reply.contains("\"request_timeout\""), "{body_reply}");
}
