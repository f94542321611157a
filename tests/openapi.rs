//! The served OpenAPI document against the running gateway: every route in
//! the shared table (`wago::api::routes::ROUTES`, which the unit tests hold
//! equal to the document) is answered by the router, with no `no route` 404
//! and no 405; a method the table lacks is refused. `/openapi.json` and
//! `/api` are served without auth with the right headers.

mod common;

use common::{Gateway, Opts, client};
use serde_json::Value;
use wago::api::routes::ROUTES;

/// `POST /session/connect` starts a connection: to a closed loopback port,
/// with the version pinned, so nothing leaves the machine.
fn offline() -> Opts {
    Opts::default()
        .env("WAGO_WA_SERVER_URL", "wss://127.0.0.1:9/ws/chat")
        .env("WAGO_WA_VERSION", "2.3000.1027934701")
}

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_routed_operation_is_answered_and_others_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(dir.path(), &offline());
    let admin = gw.admin_token();
    let (_id, token) = common::create_session(&gw, &admin, "probe").await;
    let http = client();
    for r in ROUTES {
        let (method, path) = (&r.method, &r.path);
        let url = gw.url(&concrete(path));
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        if *path == "/events/stream" {
            // Endless: only the status line and headers are read.
            let r = http
                .request(m, &url)
                .header("token", &token)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 200, "{method} {path}");
            continue;
        }
        for auth in [None, Some(&token), Some(&admin)] {
            let mut req = http.request(m.clone(), &url);
            if let Some(t) = auth {
                req = req.header("token", t.as_str());
            }
            let r = req.send().await.expect("send");
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            assert_ne!(
                status, 405,
                "{method} {path} is refused by the router: {body}"
            );
            assert!(
                !(status == 404 && body.contains("no route for")),
                "{method} {path} is documented but the router does not answer it"
            );
            assert!(status < 500, "{method} {path}: {status} {body}");
        }
    }
    // A method the table does not list for a path is refused (405, or 404
    // for an id that does not exist), never served.
    for r in ROUTES {
        let path = &r.path;
        for m in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if ROUTES.iter().any(|o| o.path == *path && o.method == m) {
                continue;
            }
            let r = http
                .request(
                    reqwest::Method::from_bytes(m.as_bytes()).expect("m"),
                    gw.url(&concrete(path)),
                )
                .header("token", &token)
                .send()
                .await
                .expect("send");
            let status = r.status().as_u16();
            assert!(
                status == 405 || status == 404,
                "{m} {path} is not in ROUTES but answered {status}"
            );
        }
    }
}

#[tokio::test]
async fn document_and_explorer_are_served_without_auth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path());
    let r = client()
        .get(gw.url("/openapi.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = r.json().await.expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let expected: Value =
        serde_json::from_slice(wago::api::openapi::document().expect("doc")).expect("json");
    assert_eq!(doc, expected);

    let r = client().get(gw.url("/api")).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/html")
    );
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(
        csp.starts_with("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = r.text().await.expect("text");
    assert!(html.contains("/openapi.json") && !html.contains("https://"));

    let r = client()
        .post(gw.url("/openapi.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 405);
}

/// schemathesis found `[null, null]` accepted as an empty object on
/// `POST /session/connect` (serde reads structs from arrays): now a 422
/// naming the body; malformed JSON stays a 400.
#[tokio::test]
async fn array_bodies_are_refused_on_object_routes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(dir.path(), &offline());
    let admin = gw.admin_token();
    let (_id, token) = common::create_session(&gw, &admin, "arrays").await;
    for (body, status) in [("[null, null]", 422), ("[]", 422), ("{", 400)] {
        let r = client()
            .post(gw.url("/session/connect"))
            .header("token", &token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send");
        let v = common::expect_error(
            r,
            status,
            if status == 422 {
                "validation_error"
            } else {
                "invalid_json"
            },
        )
        .await;
        if status == 422 {
            assert_eq!(v["details"]["field"], "body", "{body}");
        }
    }
}
