//! Session routes: create (`POST /session/init`, admin), list and delete
//! (`/admin/sessions`, admin), and the session's own `GET /session/status`.

use super::body::{self, Empty};
use super::reply::{ApiError, Body, ok};
use super::{App, auth};
use crate::event::now_ms;
use crate::store::{SessionRecord, hash_token};
use base64::Engine as _;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Longest session name.
pub const MAX_NAME_CHARS: usize = 64;
/// Shortest client-chosen token.
pub const MIN_TOKEN_CHARS: usize = 8;
/// Longest client-chosen token.
pub const MAX_TOKEN_CHARS: usize = 256;

#[derive(Deserialize)]
struct InitRequest {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Token", default)]
    token: Option<String>,
    #[serde(rename = "WebhookURL", default)]
    webhook_url: Option<String>,
    #[serde(rename = "Events", default)]
    events: Option<Vec<String>>,
    /// The dialect of shared paths (`/messages`): `wago` (default) or `wago-go`.
    #[serde(rename = "Dialect", default)]
    dialect: Option<String>,
}

/// A session as the admin routes show it (never its token).
#[derive(Serialize)]
struct SessionView {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "WebhookURL")]
    webhook_url: Option<String>,
    #[serde(rename = "Events")]
    events: Vec<String>,
    #[serde(rename = "Dialect")]
    dialect: &'static str,
    #[serde(rename = "CreatedAt")]
    created_at: i64,
}

impl From<SessionRecord> for SessionView {
    fn from(r: SessionRecord) -> Self {
        let dialect = super::dialect::Dialect::of(&r).name();
        SessionView {
            id: r.id,
            name: r.name,
            webhook_url: r.webhook_url,
            dialect,
            events: r.events,
            created_at: r.created_at,
        }
    }
}

/// `POST /session/init` (admin): creates a session and returns its token once.
pub async fn init(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    auth::admin(app, req.headers()).await?;
    let r: InitRequest = body::json(app, req, Empty::Refuse).await?;
    let name = r.name.trim().to_string();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::field(
            "Name",
            format!("must be 1 to {MAX_NAME_CHARS} printable characters"),
        ));
    }
    let token = match r.token {
        Some(t) => {
            validate_token(&t)?;
            if hash_token(&t) == app.admin_hash {
                return Err(ApiError::field("Token", "must differ from the admin token"));
            }
            t
        }
        None => random_token(),
    };
    let webhook_url = match r.webhook_url.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => Some(super::webhook::resolve_url(app, u)?),
        _ => None,
    };
    let events = r.events.unwrap_or_default();
    super::webhook::check_events(&events)?;
    let dialect = match r.dialect.as_deref().map(str::trim) {
        None | Some("") => super::dialect::Dialect::WaGo,
        Some(d) => super::dialect::Dialect::parse(d).ok_or_else(|| {
            ApiError::field(
                "Dialect",
                format!(
                    "must be one of {}",
                    super::dialect::Dialect::NAMES.join(", ")
                ),
            )
        })?,
    };
    let rec = SessionRecord {
        id: random_id(),
        name,
        token_sha256: hex::encode(hash_token(&token)),
        created_at: now_ms(),
        webhook_url: webhook_url.clone(),
        events,
        token_sealed: None,
        dialect: dialect.stored(),
    };
    let rec = app.store.create_session(rec, &token).await?;
    tracing::info!(session = %rec.id, "session created");
    // The WebhookURL given here becomes the session's main subscription.
    let secret = match &webhook_url {
        Some(u) => super::webhook::create_main_at_init(app, &rec, u, rec.events.clone()).await?,
        None => None,
    };
    let view = SessionView::from(rec);
    Ok(ok(
        StatusCode::CREATED,
        serde_json::json!({
            "Id": view.id,
            "Name": view.name,
            "Token": token,
            "WebhookURL": view.webhook_url,
            "Events": view.events,
            "Dialect": view.dialect,
            "CreatedAt": view.created_at,
            "WebhookSecret": secret,
        }),
    ))
}

/// `GET /admin/sessions` (admin).
pub async fn list(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    auth::admin(app, req.headers()).await?;
    let sessions: Vec<SessionView> = app
        .store
        .list_sessions()
        .await?
        .into_iter()
        .map(SessionView::from)
        .collect();
    Ok(ok(StatusCode::OK, sessions))
}

/// `DELETE /admin/sessions/{id}` (admin).
pub async fn delete(
    app: &App,
    req: Request<Incoming>,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    auth::admin(app, req.headers()).await?;
    if app.store.session(id).await?.is_some() {
        // Log out on WhatsApp and wipe the keys before the record goes.
        app.engine.logout(id).await.map_err(super::engine_error)?;
    }
    // The record, its token and its subscriptions go in one transaction.
    if !app.store.delete_session(id).await? {
        let mut e = ApiError::new(
            StatusCode::NOT_FOUND,
            "session_not_found",
            format!("no session with id {id}"),
        );
        e.details = Some(Box::new(serde_json::json!({ "field": "id" })));
        return Err(e);
    }
    tracing::info!(session = %id, "session deleted");
    Ok(ok(
        StatusCode::OK,
        serde_json::json!({ "Id": id, "Deleted": true }),
    ))
}

fn validate_token(t: &str) -> Result<(), ApiError> {
    let len = t.chars().count();
    if !(MIN_TOKEN_CHARS..=MAX_TOKEN_CHARS).contains(&len)
        || !t.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::field(
            "Token",
            format!(
                "must be {MIN_TOKEN_CHARS} to {MAX_TOKEN_CHARS} visible ASCII characters without spaces"
            ),
        ));
    }
    Ok(())
}

/// A new random session token (192 bits, URL-safe).
pub fn random_token() -> String {
    let mut b = [0u8; 24];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn random_id() -> String {
    let mut b = [0u8; 6];
    rand::rng().fill_bytes(&mut b);
    format!("s{}", hex::encode(b))
}
