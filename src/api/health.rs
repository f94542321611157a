//! Reachability routes, no auth: `/health` (the smaller gateway's shape) and
//! `/server/ok` (WaGo's).

use super::reply::{Body, json_response, ok};
use hyper::{Response, StatusCode};
use serde_json::json;

/// `GET /health` → `{"ok": true}`.
pub fn health() -> Response<Body> {
    json_response(StatusCode::OK, &json!({ "ok": true }))
}

/// `GET /server/ok` → the envelope with `{"ok": true}`.
pub fn server_ok() -> Response<Body> {
    ok(StatusCode::OK, json!({ "ok": true }))
}
