//! The table of every (method, path) the router answers, in OpenAPI path
//! syntax. The router in `mod.rs` and this table must agree: the OpenAPI
//! test requires every entry documented and every documented operation
//! listed, and the `openapi` integration test probes each entry against the
//! running gateway (it must not answer `no route` or 405).

/// Every route, as `(METHOD, /path/{param})`.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/server/ok"),
    ("GET", "/openapi.json"),
    ("GET", "/api"),
    ("POST", "/session/init"),
    ("GET", "/session/status"),
    ("POST", "/session/connect"),
    ("POST", "/session/disconnect"),
    ("POST", "/session/logout"),
    ("GET", "/session/qr"),
    ("POST", "/send/text"),
    ("GET", "/messages"),
    ("GET", "/message/{id}"),
    ("GET", "/admin/sessions"),
    ("DELETE", "/admin/sessions/{id}"),
    ("GET", "/webhook"),
    ("POST", "/webhook"),
    ("PUT", "/webhook"),
    ("DELETE", "/webhook"),
    ("GET", "/webhook/status"),
    ("GET", "/webhooks"),
    ("POST", "/webhooks"),
    ("GET", "/webhooks/dead"),
    ("POST", "/webhooks/dead/{subscription}/{seq}/replay"),
    ("DELETE", "/webhooks/dead/{subscription}/{seq}"),
    ("POST", "/webhooks/{id}/replay"),
    ("GET", "/webhooks/{id}"),
    ("PUT", "/webhooks/{id}"),
    ("DELETE", "/webhooks/{id}"),
    ("GET", "/events"),
    ("GET", "/events/stream"),
    ("POST", "/admin/events"),
    ("GET", "/metrics"),
];
