//! The HTTP API: routing, auth and the JSON envelope, one file per resource.
//!
//! Owns the mapping from requests to store/engine calls and from their errors
//! to status codes. Must not hold locks across awaits or touch redb directly:
//! it goes through [`crate::store::Store`] methods.

mod actions;
mod auth;
mod body;
mod display;
mod events;
mod explorer;
mod fetch;
mod group;
mod health;
mod media;
mod messages;
pub mod openapi;
mod pairing;
mod query;
mod reply;
pub mod routes;
mod send;
mod send_media;
mod session;
mod user;
mod webhook;
mod webhook_status;

pub use auth::presented as presented_token;
pub use reply::{ApiError, Body};
pub use session::random_token;
pub use webhook::resolve_url;

use crate::engine::{Engine, EngineError};
use crate::store::{Retention, Store};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
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

/// The peer's address, put in each request's extensions by the server.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

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
    let resp = match route(&app, req).await {
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

/// Every arm's (method, path) is listed in [`routes::ROUTES`] and documented
/// in `docs/openapi/`; the OpenAPI tests check all three agree.
async fn route(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let m = req.method().clone();
    match segs.as_slice() {
        ["health"] => {
            only(&m, &Method::GET, "GET")?;
            Ok(health::health())
        }
        ["server", "ok"] => {
            only(&m, &Method::GET, "GET")?;
            Ok(health::server_ok())
        }
        ["openapi.json"] => {
            only(&m, &Method::GET, "GET")?;
            openapi::serve()
        }
        ["api"] => {
            only(&m, &Method::GET, "GET")?;
            Ok(explorer::serve())
        }
        ["session", "init"] => {
            only(&m, &Method::POST, "POST")?;
            session::init(app, req).await
        }
        ["session", "status"] => {
            only(&m, &Method::GET, "GET")?;
            pairing::status(app, req).await
        }
        ["session", "connect"] => {
            only(&m, &Method::POST, "POST")?;
            pairing::connect(app, req).await
        }
        ["session", "disconnect"] => {
            only(&m, &Method::POST, "POST")?;
            pairing::disconnect(app, req).await
        }
        ["session", "logout"] => {
            only(&m, &Method::POST, "POST")?;
            pairing::logout(app, req).await
        }
        ["session", "qr"] => {
            only(&m, &Method::GET, "GET")?;
            pairing::qr_code(app, req).await
        }
        ["send", kind] => {
            only(&m, &Method::POST, "POST")?;
            use crate::store::MediaKind;
            match *kind {
                "text" => send::text(app, req).await,
                "location" => send::location(app, req).await,
                "contact" => send::contact(app, req).await,
                "poll" => send::poll(app, req).await,
                "image" => send_media::send(app, req, MediaKind::Image).await,
                "video" => send_media::send(app, req, MediaKind::Video).await,
                "audio" => send_media::send(app, req, MediaKind::Audio).await,
                "document" => send_media::send(app, req, MediaKind::Document).await,
                "sticker" => send_media::send(app, req, MediaKind::Sticker).await,
                _ => Err(ApiError::no_route(&path)),
            }
        }
        ["send-text"] => {
            only(&m, &Method::POST, "POST")?;
            send::alias_text(app, req).await
        }
        ["send-otp"] => {
            only(&m, &Method::POST, "POST")?;
            send::alias_otp(app, req).await
        }
        ["message", action @ ("react" | "edit" | "revoke" | "read")] => {
            only(&m, &Method::POST, "POST")?;
            match *action {
                "react" => actions::react(app, req).await,
                "edit" => actions::edit(app, req).await,
                "revoke" => actions::revoke(app, req).await,
                _ => actions::read(app, req).await,
            }
        }
        ["chat", "presence"] => {
            only(&m, &Method::POST, "POST")?;
            actions::presence(app, req).await
        }
        ["user", "check"] => {
            only(&m, &Method::POST, "POST")?;
            user::check(app, req).await
        }
        ["user", "info"] => {
            get_or_post(&m)?;
            user::info(app, req).await
        }
        ["user", "avatar"] => {
            get_or_post(&m)?;
            user::avatar(app, req).await
        }
        ["user", "presence"] => {
            only(&m, &Method::POST, "POST")?;
            user::presence(app, req).await
        }
        ["group", action] => group::route(app, req, &m, action).await,
        ["media", id] => {
            only(&m, &Method::GET, "GET")?;
            let id = id.to_string();
            media::get(app, req, &id).await
        }
        ["messages"] => {
            only(&m, &Method::GET, "GET")?;
            messages::list(app, req).await
        }
        ["message", id] if !id.is_empty() => {
            only(&m, &Method::GET, "GET")?;
            let id = id.to_string();
            messages::get(app, req, &id).await
        }
        ["admin", "sessions"] => {
            only(&m, &Method::GET, "GET")?;
            session::list(app, req).await
        }
        ["admin", "sessions", id] if !id.is_empty() => {
            only(&m, &Method::DELETE, "DELETE")?;
            let id = id.to_string();
            session::delete(app, req, &id).await
        }
        ["webhook"] => webhook::main_route(app, req).await,
        ["webhook", "status"] => {
            only(&m, &Method::GET, "GET")?;
            webhook_status::status(app, req).await
        }
        ["webhooks"] => webhook::collection(app, req, None).await,
        ["webhooks", "dead"] => {
            only(&m, &Method::GET, "GET")?;
            webhook_status::list_dead(app, req).await
        }
        ["webhooks", "dead", sub, seq, "replay"] => {
            only(&m, &Method::POST, "POST")?;
            let (sub, seq) = (sub.to_string(), seq.to_string());
            webhook_status::replay(app, req, &sub, Some(&seq)).await
        }
        ["webhooks", "dead", sub, seq] => {
            only(&m, &Method::DELETE, "DELETE")?;
            let (sub, seq) = (sub.to_string(), seq.to_string());
            webhook_status::discard(app, req, &sub, &seq).await
        }
        ["webhooks", id, "replay"] => {
            only(&m, &Method::POST, "POST")?;
            let id = id.to_string();
            webhook_status::replay(app, req, &id, None).await
        }
        ["webhooks", id] if !id.is_empty() => {
            let id = id.to_string();
            webhook::collection(app, req, Some(&id)).await
        }
        ["events"] => {
            only(&m, &Method::GET, "GET")?;
            events::list(app, req).await
        }
        ["events", "stream"] => {
            only(&m, &Method::GET, "GET")?;
            events::stream(app, req).await
        }
        ["admin", "events"] => {
            only(&m, &Method::POST, "POST")?;
            events::inject(app, req).await
        }
        ["display", "status"] => {
            only(&m, &Method::GET, "GET")?;
            display::status(app, req).await
        }
        ["display", "pair"] => {
            only(&m, &Method::POST, "POST")?;
            display::pair(app, req).await
        }
        ["display", "screen.png"] => {
            only(&m, &Method::GET, "GET")?;
            display::screen_png(app, req).await
        }
        ["metrics"] => {
            only(&m, &Method::GET, "GET")?;
            webhook_status::metrics(app, req).await
        }
        _ => Err(ApiError::no_route(&path)),
    }
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

/// Refuses any method but GET and POST with a 405.
fn get_or_post(m: &Method) -> Result<(), ApiError> {
    if m == Method::GET || m == Method::POST {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed("GET, POST"))
    }
}

/// Refuses any method but `want` with a 405 naming `allow`.
fn only(m: &Method, want: &Method, allow: &'static str) -> Result<(), ApiError> {
    if m == want {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(allow))
    }
}
