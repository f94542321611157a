//! Media sends: `POST /send/image`, `/send/video`, `/send/audio`,
//! `/send/document`, `/send/sticker`.
//!
//! The file comes as a base64 data URL or as an http(s) URL the box fetches
//! at once (size cap, time limit, content-type check), in the field named
//! after the kind (`Image`, `Video`, …). The bytes are stored with the queued
//! send, so a send accepted while offline survives a restart; the engine
//! uploads them (encrypted) when it sends.

use super::body::{self, Empty};
use super::fetch::{self, FetchError};
use super::reply::{ApiError, Body};
use super::send::{ContextIn, accept, check_short, client_id, quote};
use super::{App, auth};
use crate::engine::Outgoing;
use crate::store::{MediaKind, Payload};
use base64::Engine as _;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct SendMedia {
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "Image", default)]
    image: Option<String>,
    #[serde(rename = "Video", default)]
    video: Option<String>,
    #[serde(rename = "Audio", default)]
    audio: Option<String>,
    #[serde(rename = "Document", default)]
    document: Option<String>,
    #[serde(rename = "Sticker", default)]
    sticker: Option<String>,
    #[serde(rename = "Caption", default)]
    caption: Option<String>,
    #[serde(rename = "FileName", default)]
    file_name: Option<String>,
    #[serde(rename = "MimeType", alias = "Mimetype", default)]
    mime_type: Option<String>,
    #[serde(rename = "PTT", alias = "Ptt", alias = "ptt", default)]
    ptt: bool,
    #[serde(rename = "Id", default)]
    id: Option<String>,
    #[serde(rename = "ContextInfo", default)]
    context: Option<ContextIn>,
    /// What the message is for (see the README's "Responsible messaging").
    #[serde(rename = "MessagePurpose", alias = "message_purpose", default)]
    purpose: Option<String>,
}

/// The JSON field that carries a kind's file.
pub fn field_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "Image",
        MediaKind::Video => "Video",
        MediaKind::Audio => "Audio",
        MediaKind::Document => "Document",
        MediaKind::Sticker => "Sticker",
    }
}

/// `POST /send/{kind}`.
pub async fn send(
    app: &App,
    req: Request<Incoming>,
    kind: MediaKind,
) -> Result<Response<Body>, ApiError> {
    let (session, headers) = (
        auth::session(app, req.headers()).await?,
        req.headers().clone(),
    );
    let r: SendMedia = body::json(app, req, Empty::Refuse).await?;
    let field = field_name(kind);
    let source = match kind {
        MediaKind::Image => r.image,
        MediaKind::Video => r.video,
        MediaKind::Audio => r.audio,
        MediaKind::Document => r.document,
        MediaKind::Sticker => r.sticker,
    }
    .filter(|s| !s.trim().is_empty())
    .ok_or_else(|| {
        ApiError::field(
            field,
            "missing: a base64 data URL (data:<mime>;base64,…) or an http(s) URL",
        )
    })?;
    check_short("Caption", r.caption.as_deref())?;
    check_short("FileName", r.file_name.as_deref())?;
    let cid = client_id(&headers, r.id)?;
    let quote = quote(app, &session.id, r.context).await?;
    let (max, timeout) = app.engine.media_limits();
    let (bytes, found_mime) = load(field, source.trim(), max, timeout).await?;
    if bytes.is_empty() {
        return Err(ApiError::field(field, "the file is empty"));
    }
    let mime = match r.mime_type.filter(|m| !m.trim().is_empty()) {
        Some(m) => {
            if !valid_mime(&m) {
                return Err(ApiError::field("MimeType", "must look like type/subtype"));
            }
            m
        }
        None => found_mime.unwrap_or_else(|| default_mime(kind).to_string()),
    };
    check_type(field, kind, &mime)?;
    let payload = Payload::Media {
        media: kind,
        mime,
        caption: r.caption.filter(|c| !c.is_empty()),
        file_name: r.file_name.filter(|f| !f.is_empty()),
        ptt: r.ptt && kind == MediaKind::Audio,
        quote,
    };
    let mut out = Outgoing::new(&r.phone, payload, cid).with_purpose(r.purpose);
    out.media = Some(bytes);
    accept(app, &session.id, out).await
}

/// The bytes and MIME type of a data URL or a fetched URL.
pub(super) async fn load(
    field: &str,
    source: &str,
    max: u64,
    timeout: std::time::Duration,
) -> Result<(Vec<u8>, Option<String>), ApiError> {
    if let Some(rest) = source.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| ApiError::field(field, "a data URL needs a comma before its data"))?;
        let Some(mime) = meta.strip_suffix(";base64") else {
            return Err(ApiError::field(field, "only base64 data URLs are accepted"));
        };
        // Decoded size is about 3/4 of the text: refuse clearly oversize data early.
        if (data.len() as u64 / 4).saturating_mul(3) > max.saturating_add(3) {
            return Err(too_large(field, max));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| {
                ApiError::field(field, format!("the data URL is not valid base64: {e}"))
            })?;
        if bytes.len() as u64 > max {
            return Err(too_large(field, max));
        }
        let mime = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        return Ok((bytes, (!mime.is_empty()).then_some(mime)));
    }
    match fetch::get(source, max, timeout).await {
        Ok(f) => Ok((f.bytes, f.content_type)),
        Err(FetchError::BadUrl(why)) => Err(ApiError::field(field, why)),
        Err(FetchError::TooLarge(_)) => Err(too_large(field, max)),
        Err(FetchError::Unreachable(why)) => {
            let mut e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "media_unreachable",
                format!("the {field} URL gave no file: {why}"),
            );
            e.details = Some(Box::new(json!({ "field": field, "reason": why })));
            Err(e)
        }
    }
}

fn too_large(field: &str, max: u64) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "media_too_large",
        format!("the {field} file is larger than {max} bytes"),
    );
    e.details = Some(Box::new(json!({ "field": field, "max_bytes": max })));
    e
}

pub(super) fn default_mime(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image/jpeg",
        MediaKind::Video => "video/mp4",
        MediaKind::Audio => "audio/ogg; codecs=opus",
        MediaKind::Document => "application/octet-stream",
        MediaKind::Sticker => "image/webp",
    }
}

pub(super) fn valid_mime(m: &str) -> bool {
    let base = m.split(';').next().unwrap_or("").trim();
    match base.split_once('/') {
        Some((t, s)) => {
            !t.is_empty()
                && !s.is_empty()
                && base
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/.+-_".contains(c))
        }
        None => false,
    }
}

/// Images must be `image/*`, videos `video/*`, audio `audio/*`, stickers
/// `image/webp`; documents may be anything.
pub(super) fn check_type(field: &str, kind: MediaKind, mime: &str) -> Result<(), ApiError> {
    let base = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let fits = match kind {
        MediaKind::Image => base.starts_with("image/"),
        MediaKind::Video => base.starts_with("video/"),
        MediaKind::Audio => base.starts_with("audio/"),
        MediaKind::Sticker => base == "image/webp",
        MediaKind::Document => true,
    };
    if fits {
        return Ok(());
    }
    let want = match kind {
        MediaKind::Image => "image/*",
        MediaKind::Video => "video/*",
        MediaKind::Audio => "audio/*",
        MediaKind::Sticker => "image/webp",
        MediaKind::Document => "any",
    };
    let mut e = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unsupported_media_type",
        format!("{field} is {base}, expected {want}"),
    );
    e.details = Some(Box::new(
        json!({ "field": field, "reason": format!("expected {want}, got {base}") }),
    ));
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_rules() {
        let cases = [
            (MediaKind::Image, "image/png", true),
            (MediaKind::Image, "text/html", false),
            (MediaKind::Video, "video/mp4", true),
            (MediaKind::Audio, "audio/ogg; codecs=opus", true),
            (MediaKind::Audio, "video/mp4", false),
            (MediaKind::Sticker, "image/webp", true),
            (MediaKind::Sticker, "image/png", false),
            (MediaKind::Document, "application/pdf", true),
        ];
        for (kind, mime, ok) in cases {
            assert_eq!(check_type("f", kind, mime).is_ok(), ok, "{kind:?} {mime}");
        }
        assert!(valid_mime("image/png"));
        assert!(!valid_mime("png"));
        assert!(!valid_mime("image/<b>"));
    }

    #[tokio::test]
    async fn data_urls() {
        let max = 10;
        let d = std::time::Duration::from_secs(1);
        let (bytes, mime) = load("Image", "data:image/png;base64,AAEC", max, d)
            .await
            .expect("valid");
        assert_eq!(bytes, vec![0, 1, 2]);
        assert_eq!(mime.as_deref(), Some("image/png"));
        let big = format!("data:image/png;base64,{}", "A".repeat(40));
        assert_eq!(
            load("Image", &big, max, d).await.expect_err("big").code,
            "media_too_large"
        );
        for bad in ["data:image/png,AAEC", "data:image/png;base64,@@", "data:x"] {
            let e = load("Image", bad, max, d).await.expect_err(bad);
            assert_eq!(e.status.as_u16(), 422, "{bad}");
        }
        let e = load("Image", "ftp://x/y", max, d).await.expect_err("ftp");
        assert_eq!(e.code, "validation_error");
    }
}
