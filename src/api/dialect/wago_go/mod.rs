//! WAGO-Go, the small Go gateway on whatsmeow (document 002): `X-API-Key`
//! clients sending with `POST /send-text` and `/send-otp` and reading
//! `GET /messages` as flat items; webhooks in its flat body signed with
//! `X-Wago-Signature` (the subscription format `wago-go`).
//!
//! What it answers: `{"message_id": "…"}` for a send; a JSON array of
//! [`wire::Item`]s for the log of a session whose dialect is `wago-go`;
//! `401` with `"error": "unauthorized"` for a missing or wrong key; `403`
//! `"API disabled: set API_KEY"` while the box has no session at all (the
//! original's "started without `API_KEY`"). Validation errors keep the
//! core's 422 body, which names the field (`to`, `text`, `code`, …).
//!
//! Owns only shapes and admission; sending goes through the core's send
//! path (`api::send`), reading through the store's message log.

mod messages;
mod send;
pub mod wire;

pub use messages::list as messages;
pub use send::{otp as send_otp, text as send_text};

use super::super::reply::ApiError;
use super::super::{App, auth};
use crate::store::SessionRecord;
use hyper::{HeaderMap, StatusCode};

/// The message of the 403 the original gives when it has no key to check.
pub const API_DISABLED: &str = "API disabled: set API_KEY";

/// The calling session, with WAGO-Go's answers for who may not call.
pub async fn caller(app: &App, headers: &HeaderMap) -> Result<SessionRecord, ApiError> {
    match auth::session(app, headers).await {
        Err(e)
            if e.status == StatusCode::UNAUTHORIZED
                && app.store.list_sessions().await?.is_empty() =>
        {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "api_disabled",
                format!(
                    "{API_DISABLED}: the box has no session yet; create one with POST /session/init and use its token as X-API-Key"
                ),
            ))
        }
        other => other,
    }
}
