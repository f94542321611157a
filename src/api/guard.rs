//! The guard's answers and its resources: a [`Refusal`] as the seed's error
//! JSON, `GET /usage` (the session's fair-use standing) and the suppression
//! list (`GET`/`POST /suppressed-recipients`, `DELETE
//! /suppressed-recipients/{phone}`). Session routes: the session token.

use super::body::{self, Empty};
use super::reply::{ApiError, Body, ok};
use super::{App, auth};
use crate::guard::Refusal;
use crate::store::Suppression;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// Longest reason kept on a suppression entry.
pub const MAX_REASON_CHARS: usize = 256;

/// A refusal as `{"success": false, "error", "message", "details": {"action": "block", …}}`
/// with its status (422 purpose, 403 suppressed, 429 limits and speed, with
/// `Retry-After`); `purpose_field` names the route's purpose field.
pub(super) fn refusal(r: Refusal, purpose_field: &str) -> ApiError {
    let status = match &r {
        Refusal::PurposeRequired | Refusal::PurposeNotAllowed { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Refusal::Suppressed { .. } | Refusal::PolicyViolation { .. } => StatusCode::FORBIDDEN,
        _ => StatusCode::TOO_MANY_REQUESTS,
    };
    let mut details = r.details();
    if matches!(
        r,
        Refusal::PurposeRequired | Refusal::PurposeNotAllowed { .. }
    ) {
        details["field"] = purpose_field.into();
    }
    let mut e = ApiError::new(status, r.code(), r.message());
    e.retry_after = r.retry_after();
    e.details = Some(Box::new(details));
    e
}

/// `GET /usage`: the session's plan, limits and counts today and this month.
pub async fn usage(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let session = auth::session(app, req.headers()).await?;
    let stored = app.store.usage(&session.id).await?;
    let view = app
        .engine
        .guard()
        .usage_view(&session.id, &session.name, &stored);
    Ok(ok(StatusCode::OK, view))
}

/// `GET /suppressed-recipients`.
pub async fn list(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let session = auth::session(app, req.headers()).await?;
    let list = app.store.suppressed(&session.id).await?;
    Ok(ok(StatusCode::OK, list))
}

#[derive(Deserialize)]
struct Add {
    phone: String,
    #[serde(default)]
    reason: Option<String>,
}

/// The number of a phone or JID as the suppression list keys it.
fn phone_key(field: &str, phone: &str) -> Result<String, ApiError> {
    let jid =
        crate::engine::jid::normalize(phone).map_err(|e| ApiError::field(field, e.to_string()))?;
    if !jid.ends_with("@s.whatsapp.net") {
        return Err(ApiError::field(field, "must be a phone number"));
    }
    Ok(crate::guard::recipient_key(&jid))
}

/// `POST /suppressed-recipients {"phone", "reason"?}`: blocks non-essential
/// sends to the number. 201 when it was not on the list, 200 when updated.
pub async fn add(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let session = auth::session(app, req.headers()).await?;
    let r: Add = body::json(app, req, Empty::Refuse).await?;
    let phone = phone_key("phone", &r.phone)?;
    let reason = r.reason.unwrap_or_else(|| "blocked_by_operator".into());
    if reason.trim().is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::field(
            "reason",
            format!("must be 1 to {MAX_REASON_CHARS} characters"),
        ));
    }
    let entry = Suppression {
        phone,
        reason,
        source: "api".into(),
        at: crate::event::now_ms(),
        message_text: None,
    };
    let new = app.store.suppress(&session.id, entry.clone()).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(ok(status, entry))
}

/// `DELETE /suppressed-recipients/{phone}`: sends to the number are allowed again.
pub async fn remove(
    app: &App,
    req: Request<Incoming>,
    phone: &str,
) -> Result<Response<Body>, ApiError> {
    let session = auth::session(app, req.headers()).await?;
    let phone = phone_key("phone", phone)?;
    if !app.store.unsuppress(&session.id, &phone).await? {
        let mut e = ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this number is not on the suppression list",
        );
        e.details = Some(Box::new(json!({ "field": "phone", "phone": phone })));
        return Err(e);
    }
    Ok(ok(
        StatusCode::OK,
        json!({ "phone": phone, "removed": true }),
    ))
}

/// `GET /policy-log?after=&limit=`: the session's refused sends, oldest
/// first (the newest 1,000 are kept), each with its `seq`, time, code,
/// recipient, kind, purpose and details.
pub async fn policy_log(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let session = auth::session(app, req.headers()).await?;
    let q = req.uri().query().unwrap_or("");
    let mut after = 0u64;
    let mut limit = 100usize;
    for (k, v) in q.split('&').filter_map(|kv| kv.split_once('=')) {
        match k {
            "after" => {
                after = v
                    .parse()
                    .map_err(|_| ApiError::field("after", "must be a whole number"))?
            }
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| ApiError::field("limit", "must be 1 to 1000"))?
            }
            _ => {}
        }
    }
    let entries = app.store.policy_log(&session.id, after, limit).await?;
    Ok(ok(StatusCode::OK, entries))
}
