//! Contacts (`/user/...`): is a number on WhatsApp, profile info, avatar,
//! presence subscription. All need the session connected (409
//! `not_connected` otherwise).
//!
//! - `POST /user/check` `{"Phone": ["+1555…", …]}` → `{"Users": [{"Query",
//!   "Jid", "Lid", "IsInWhatsapp", "IsBusiness"}]}`
//! - `GET /user/info?Phone=a,b` or `POST /user/info` `{"Phone": [..]}` →
//!   `{"Users": {"<jid>": {"Jid", "Lid", "Status", "PictureId", "IsBusiness", "Found"}}}`
//! - `GET /user/avatar?Phone=&Preview=true` or `POST /user/avatar`
//!   `{"Phone", "Preview"}` → `{"URL", "ID", "Type", "Jid"}`; 404
//!   `no_avatar` when there is none or it is hidden
//! - `POST /user/presence` `{"Phone"}` → subscribes; `presence.update`
//!   events follow

use super::body::{self, Empty};
use super::reply::{ApiError, Body, ok};
use super::{App, auth, query};
use crate::engine::contacts::MAX_BATCH;
use crate::engine::{EngineError, jid};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Phones {
    #[serde(rename = "Phone")]
    phone: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Avatar {
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "Preview", default)]
    preview: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnePhone {
    #[serde(rename = "Phone")]
    phone: String,
}

/// An engine failure on a request whose addresses are in `field`.
pub(super) fn engine_err(e: EngineError, field: &str) -> ApiError {
    match e {
        EngineError::BadAddress(b) => ApiError::field(field, b.to_string()),
        other => super::engine_error(other),
    }
}

/// Checks a batch of numbers: 1 to [`MAX_BATCH`], each a person's address.
fn valid_batch(phones: &[String]) -> Result<(), ApiError> {
    if phones.is_empty() || phones.len() > MAX_BATCH {
        return Err(ApiError::field(
            "Phone",
            format!("must list 1 to {MAX_BATCH} numbers"),
        ));
    }
    for (i, p) in phones.iter().enumerate() {
        let full = jid::normalize(p)
            .map_err(|e| ApiError::field(&format!("Phone[{i}]"), e.to_string()))?;
        if !(full.ends_with("@s.whatsapp.net") || full.ends_with("@lid")) {
            return Err(ApiError::field(
                &format!("Phone[{i}]"),
                format!("`{p}` is not a person's number or JID"),
            ));
        }
    }
    Ok(())
}

/// `POST /user/check`.
pub async fn check(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let r: Phones = body::json(app, req, Empty::Refuse).await?;
    valid_batch(&r.phone)?;
    let users = app
        .engine
        .check_users(&rec.id, &r.phone)
        .await
        .map_err(|e| engine_err(e, "Phone"))?;
    Ok(ok(StatusCode::OK, json!({ "Users": users })))
}

/// `GET|POST /user/info`.
pub async fn info(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let phones: Vec<String> = if req.method() == Method::GET {
        let q = query::pairs(req.uri().query());
        q.iter()
            .filter(|(k, _)| k == "Phone")
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    } else {
        body::json::<Phones>(app, req, Empty::Refuse).await?.phone
    };
    valid_batch(&phones)?;
    let users = app
        .engine
        .user_info(&rec.id, &phones)
        .await
        .map_err(|e| engine_err(e, "Phone"))?;
    Ok(ok(StatusCode::OK, users))
}

/// `GET|POST /user/avatar`.
pub async fn avatar(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let r: Avatar = if req.method() == Method::GET {
        let q = query::pairs(req.uri().query());
        let phone = query::get(&q, "Phone")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ApiError::field("Phone", "is required"))?
            .to_string();
        let preview = match query::get(&q, "Preview") {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => return Err(ApiError::field("Preview", "must be true or false")),
        };
        Avatar { phone, preview }
    } else {
        body::json(app, req, Empty::Refuse).await?
    };
    jid::normalize(&r.phone).map_err(|e| ApiError::field("Phone", e.to_string()))?;
    match app
        .engine
        .avatar(&rec.id, &r.phone, r.preview)
        .await
        .map_err(|e| engine_err(e, "Phone"))?
    {
        Some(pic) => Ok(ok(StatusCode::OK, pic)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_avatar",
            format!(
                "{} has no profile picture, or hides it from this account",
                r.phone
            ),
        )),
    }
}

/// `POST /user/presence`.
pub async fn presence(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let r: OnePhone = body::json(app, req, Empty::Refuse).await?;
    valid_batch(std::slice::from_ref(&r.phone)).map_err(|_| {
        ApiError::field(
            "Phone",
            format!("`{}` is not a person's number or JID", r.phone),
        )
    })?;
    let jid = app
        .engine
        .subscribe_presence(&rec.id, &r.phone)
        .await
        .map_err(|e| engine_err(e, "Phone"))?;
    Ok(ok(
        StatusCode::OK,
        json!({ "Jid": jid, "Subscribed": true }),
    ))
}
