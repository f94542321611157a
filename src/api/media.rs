//! `GET /media/{message_id}`: the decrypted file of a received image,
//! video, voice note/audio, document or sticker, with its Content-Type (and
//! the sender's file name for documents). Downloaded from WhatsApp on first
//! request, then served from the box until the quota or the retention age
//! removes it.
//!
//! Errors: 404 `unknown_media` (no received message with media has that
//! id), 409 `not_connected` (not kept and the session is offline), 410
//! `media_expired` (WhatsApp's copy is gone), 413 `media_over_quota` (the
//! file alone is larger than `received_media.max_total_mib`), 502
//! `whatsapp_error`.

use super::reply::{ApiError, Body};
use super::{App, auth};
use crate::engine::EngineError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};

/// Longest message id accepted.
const MAX_ID_CHARS: usize = 128;

/// Maps a media failure to its answer.
fn media_error(e: EngineError) -> ApiError {
    match e {
        EngineError::UnknownMedia(m) => ApiError::new(StatusCode::NOT_FOUND, "unknown_media", m),
        EngineError::MediaExpired(m) => ApiError::new(StatusCode::GONE, "media_expired", m),
        EngineError::MediaOverQuota(m) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "media_over_quota", m)
        }
        other => super::engine_error(other),
    }
}

/// A file name safe inside a quoted Content-Disposition parameter.
fn safe_name(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\' && *c != '/')
        .take(200)
        .collect()
}

/// `GET /media/{id}`.
pub async fn get(app: &App, req: Request<Incoming>, id: &str) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS || id.chars().any(|c| c.is_control()) {
        let mut e = ApiError::field(
            "message_id",
            format!("must be 1 to {MAX_ID_CHARS} printable characters"),
        );
        e.status = StatusCode::NOT_FOUND;
        e.code = "unknown_media";
        return Err(e);
    }
    let file = app
        .engine
        .received_media(&rec.id, id)
        .await
        .map_err(media_error)?;
    let len = file.bytes.len();
    let mut resp = Response::new(Full::new(Bytes::from(file.bytes)).boxed());
    let h = resp.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&file.mimetype) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, header::HeaderValue::from(len));
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-store"),
    );
    if let Some(name) = file
        .file_name
        .map(|n| safe_name(&n))
        .filter(|n| !n.is_empty())
        && let Ok(v) = header::HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
