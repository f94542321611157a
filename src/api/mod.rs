//! The HTTP API: routing, auth and the JSON envelope, one file per resource.
//!
//! Owns the mapping from requests to store/engine calls and from their errors
//! to status codes. Must not hold locks across awaits or touch redb directly:
//! it goes through [`crate::store::Store`] methods.

mod actions;
mod auth;
mod body;
pub mod dialect;
mod display;
mod events;
mod explorer;
mod fetch;
mod group;
mod guard;
mod health;
mod media;
mod messages;
pub mod openapi;
mod pairing;
pub mod peer;
mod query;
mod reply;
pub mod routes;
mod send;
mod send_media;
mod send_message;
mod session;
mod user;
mod webhook;
mod webhook_status;

pub use auth::presented as presented_token;
pub use peer::{PeerAddr, PeerLimits, StreamPlace};
pub use reply::{ApiError, Body};
pub use session::random_token;
pub use webhook::resolve_url;

use crate::engine::{Engine, EngineError};
use crate::store::{Retention, Store};
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Request limits the API enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest body accepted (413 above).
    pub max_body_bytes: u64,
    /// Time the body has to arrive (408 after).
    pub body_timeout: Duration,
}

/// Webhook settings the API needs.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Base URL relative webhook URLs are resolved against.
    pub base_url: Option<String>,
    /// How long a rotated-out secret keeps signing, ms.
    pub secret_overlap_ms: i64,
    /// Event log retention (for status).
    pub retention: Retention,
}

/// What the display routes need.
#[derive(Clone)]
pub struct DisplaySettings {
    /// SHA-256 of the display token.
    pub token_hash: [u8; 32],
    /// Whether peers not on loopback may get the QR payload (and a PNG showing it).
    pub qr_on_lan: bool,
    /// The session shown when there are several (else the only one).
    pub session: Option<String>,
    /// The URL shown to staff; `None`: derived from `listen`.
    pub lan_url: Option<String>,
    /// The address the gateway listens on.
    pub listen: std::net::SocketAddr,
}

impl std::fmt::Debug for DisplaySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisplaySettings")
            .field("token_hash", &"***")
            .field("qr_on_lan", &self.qr_on_lan)
            .field("session", &self.session)
            .field("lan_url", &self.lan_url)
            .finish()
    }
}

/// Everything a request handler can reach.
pub struct App {
    /// The database.
    pub store: Store,
    /// SHA-256 of the admin token.
    pub admin_hash: [u8; 32],
    /// Body limits.
    pub limits: Limits,
    /// The WhatsApp engine.
    pub engine: Engine,
    /// Ends the event streams (`GET /events/stream`) at shutdown.
    pub shutdown: CancellationToken,
    /// Webhook settings.
    pub webhooks: WebhookSettings,
    /// The pairing display's routes.
    pub display: DisplaySettings,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("store", &self.store)
            .field("admin_hash", &"***")
            .field("limits", &self.limits)
            .finish()
    }
}

/// Handles one request; never fails: errors become JSON error responses.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    // The path only: a query string could carry anything a client typed.
    let path = req.uri().path().to_string();
    let resp = match routes::dispatch(&app, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    tracing::info!(
        %method,
        path = %path.escape_debug(),
        status = resp.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    resp
}

/// Maps an engine failure to its answer.
fn engine_error(e: EngineError) -> ApiError {
    match e {
        EngineError::BadAddress(b) => ApiError::field("Phone", b.to_string()),
        EngineError::Store(s) => s.into(),
        EngineError::NotConnected => ApiError::new(
            hyper::StatusCode::CONFLICT,
            "not_connected",
            "the session is not connected to WhatsApp",
        ),
        EngineError::UnknownGroup(m) => {
            let mut e = ApiError::new(hyper::StatusCode::NOT_FOUND, "unknown_group", m);
            e.details = Some(Box::new(serde_json::json!({ "field": "GroupJID" })));
            e
        }
        EngineError::Refused(r) => guard::refusal(r, "MessagePurpose"),
        EngineError::WhatsApp(why) => ApiError::new(
            hyper::StatusCode::BAD_GATEWAY,
            "whatsapp_error",
            format!("WhatsApp did not accept it: {why}"),
        ),
        other => {
            tracing::error!(error = %other, "engine failure");
            ApiError::new(
                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the gateway could not complete the request; see its log",
            )
        }
    }
}
