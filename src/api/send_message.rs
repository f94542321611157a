//! `POST /api/send-message`: the WA Gateway send route, so a client written
//! for that gateway works unchanged against the box.
//!
//! `Authorization: Bearer <key>` where the key is a session token;
//! `{"instance_id", "phone", "message", "message_purpose"}` plus, for media,
//! `media_type`, `mime_type`, `file_name` and `media` (base64, a data URL or
//! an http(s) URL; `message` is then the caption). Answers the seed's flat
//! shape `{"success": true, "status": "queued"|"sent", "message_id",
//! "log_id"}` and its error codes: `invalid_api_key` and `revoked_api_key`
//! (the key of a deleted session) 401, `invalid_instance`
//! 404, `message_purpose_required` / `message_purpose_not_allowed` 422 and
//! the guard's other refusals (see `api::guard`). The purpose is required
//! here whatever `guard.require_purpose` says.

use super::body::{self, Empty};
use super::reply::{ApiError, Body, json_response};
use super::send::{check_short, check_text, client_id};
use super::send_media::{check_type, default_mime, load, valid_mime};
use super::{App, auth};
use crate::engine::{EngineError, Outgoing};
use crate::store::{MediaKind, MessageState, Payload};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct SendMessage {
    instance_id: String,
    phone: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    message_purpose: Option<String>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    media: Option<String>,
}

/// 401 `invalid_api_key`.
fn invalid_key() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
        "A valid API key is required.",
    )
}

/// `POST /api/send-message`.
pub async fn send(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let headers = req.headers().clone();
    if auth::presented(&headers).is_none() {
        return Err(invalid_key());
    }
    let session = match auth::session(app, &headers).await {
        Ok(s) => s,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            let revoked = match auth::presented(&headers) {
                Some(key) => app.store.token_revoked(key).await?,
                None => false,
            };
            return Err(if revoked {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "revoked_api_key",
                    "This API key has been revoked.",
                )
            } else {
                invalid_key()
            });
        }
        Err(e) => return Err(e),
    };
    let r: SendMessage = body::json(app, req, Empty::Refuse).await?;
    let instance = r.instance_id.trim();
    if instance != session.id && instance != session.name {
        let mut e = ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_instance",
            "The requested instance was not found for this API key.",
        );
        e.details = Some(Box::new(json!({ "field": "instance_id" })));
        return Err(e);
    }
    if r.phone.trim().is_empty() {
        return Err(ApiError::field("phone", "must not be empty"));
    }
    let cid = client_id(&headers, None)?;
    let mut out = match r.media_type.as_deref().filter(|t| !t.is_empty()) {
        None => {
            let text = r.message.unwrap_or_default();
            check_text("message", &text)?;
            let payload = Payload::Text {
                body: text,
                quote: None,
            };
            Outgoing::new(&r.phone, payload, cid)
        }
        Some(kind) => {
            let kind = match kind {
                "image" => MediaKind::Image,
                "video" => MediaKind::Video,
                "audio" => MediaKind::Audio,
                "document" => MediaKind::Document,
                "sticker" => MediaKind::Sticker,
                _ => {
                    return Err(ApiError::field(
                        "media_type",
                        "must be image, video, audio, document or sticker",
                    ));
                }
            };
            let source = r
                .media
                .filter(|m| !m.trim().is_empty())
                .ok_or_else(|| ApiError::field("media", "missing: base64 data or a URL"))?;
            check_short("message", r.message.as_deref())?;
            check_short("file_name", r.file_name.as_deref())?;
            let given = r.mime_type.filter(|m| !m.trim().is_empty());
            if let Some(m) = &given
                && !valid_mime(m)
            {
                return Err(ApiError::field("mime_type", "must look like type/subtype"));
            }
            let source = source.trim();
            // Bare base64 becomes a data URL of the given type.
            let wrapped;
            let source = if source.starts_with("data:")
                || source.starts_with("http://")
                || source.starts_with("https://")
            {
                source
            } else {
                let mime = given.as_deref().unwrap_or(default_mime(kind));
                wrapped = format!("data:{mime};base64,{source}");
                &wrapped
            };
            let (max, timeout) = app.engine.media_limits();
            let (bytes, found) = load("media", source, max, timeout).await?;
            if bytes.is_empty() {
                return Err(ApiError::field("media", "the file is empty"));
            }
            let mime = given
                .or(found)
                .unwrap_or_else(|| default_mime(kind).to_string());
            check_type("media", kind, &mime)?;
            let payload = Payload::Media {
                media: kind,
                mime,
                caption: r.message.filter(|c| !c.is_empty()),
                file_name: r.file_name.filter(|f| !f.is_empty()),
                ptt: false,
                quote: None,
            };
            let mut out = Outgoing::new(&r.phone, payload, cid);
            out.media = Some(bytes);
            out
        }
    };
    out = out.with_purpose(r.message_purpose);
    out.purpose_required = true;
    let (msg, _) = app
        .engine
        .send(&session.id, out)
        .await
        .map_err(|e| match e {
            EngineError::BadAddress(b) => ApiError::field("phone", b.to_string()),
            EngineError::Refused(r) => super::guard::refusal(r, "message_purpose"),
            EngineError::Store(s) => s.into(),
            other => {
                tracing::error!(error = %other, "send-message failed");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "gateway_send_failed",
                    "The message passed responsible messaging checks, but delivery could not be completed. Please try again or contact support.",
                )
            }
        })?;
    let status = match msg.state {
        MessageState::Pending => "queued",
        MessageState::Failed => "failed",
        _ => "sent",
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "success": true,
            "status": status,
            "message_id": msg.id,
            "log_id": msg.seq,
        }),
    ))
}
