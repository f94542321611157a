//! Send routes without media: `POST /send/text`, `/send/location`,
//! `/send/contact`, `/send/poll`, and the smaller gateway's `/send-text`
//! and `/send-otp`.
//!
//! Every send is validated here, then handed to the engine, which stores and
//! queues it: the answer comes at once with the message id and state
//! `pending`. The client's `Id` (or an `Idempotency-Key` header) makes a
//! retried request return the first message instead of sending again.

use super::body::{self, Empty};
use super::reply::{ApiError, Body, ok};
use super::{App, auth};
use crate::engine::Outgoing;
use crate::store::{MessageRecord, Payload, Quote};
use hyper::body::Incoming;
use hyper::{HeaderMap, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// Longest text body (WhatsApp's own limit is about 65,536 characters).
pub const MAX_TEXT_CHARS: usize = 65_536;
/// Longest client-chosen message id.
pub const MAX_CLIENT_ID_CHARS: usize = 128;
/// Longest vCard accepted.
pub const MAX_VCARD_BYTES: usize = 16 * 1024;
/// Most answers a poll may have (WhatsApp's own limit).
pub const MAX_POLL_OPTIONS: usize = 12;
/// Most mentions in one message.
pub const MAX_MENTIONS: usize = 256;

/// WaGo's `ContextInfo`: a reply and its mentions.
#[derive(Deserialize, Default)]
pub(super) struct ContextIn {
    #[serde(rename = "StanzaId", default)]
    stanza_id: Option<String>,
    #[serde(rename = "Participant", default)]
    participant: Option<String>,
    #[serde(rename = "MentionedJID", alias = "MentionedJid", default)]
    mentioned: Vec<String>,
}

#[derive(Deserialize)]
struct SendText {
    /// What the message is for (see the README's "Responsible messaging").
    #[serde(rename = "MessagePurpose", alias = "message_purpose", default)]
    purpose: Option<String>,
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "Body")]
    body: String,
    #[serde(rename = "Id", default)]
    id: Option<String>,
    #[serde(rename = "ContextInfo", default)]
    context: Option<ContextIn>,
    /// Accepted for compatibility; no preview is ever generated.
    #[serde(rename = "LinkPreview", default)]
    #[allow(dead_code)]
    link_preview: bool,
}

/// `POST /send/text`.
pub async fn text(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (session, headers) = (
        auth::session(app, req.headers()).await?,
        req.headers().clone(),
    );
    let r: SendText = body::json(app, req, Empty::Refuse).await?;
    check_text("Body", &r.body)?;
    let quote = quote(app, &session.id, r.context).await?;
    let payload = Payload::Text {
        body: r.body,
        quote,
    };
    let cid = client_id(&headers, r.id)?;
    let out = Outgoing::new(&r.phone, payload, cid).with_purpose(r.purpose);
    accept(app, &session.id, out).await
}

#[derive(Deserialize)]
struct SendLocation {
    /// What the message is for (see the README's "Responsible messaging").
    #[serde(rename = "MessagePurpose", alias = "message_purpose", default)]
    purpose: Option<String>,
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "Latitude")]
    latitude: f64,
    #[serde(rename = "Longitude")]
    longitude: f64,
    #[serde(rename = "Name", default)]
    name: Option<String>,
    #[serde(rename = "Address", default)]
    address: Option<String>,
    #[serde(rename = "Id", default)]
    id: Option<String>,
}

/// `POST /send/location`.
pub async fn location(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (session, headers) = (
        auth::session(app, req.headers()).await?,
        req.headers().clone(),
    );
    let r: SendLocation = body::json(app, req, Empty::Refuse).await?;
    if !(-90.0..=90.0).contains(&r.latitude) {
        return Err(ApiError::field("Latitude", "must be between -90 and 90"));
    }
    if !(-180.0..=180.0).contains(&r.longitude) {
        return Err(ApiError::field("Longitude", "must be between -180 and 180"));
    }
    check_short("Name", r.name.as_deref())?;
    check_short("Address", r.address.as_deref())?;
    let payload = Payload::Location {
        latitude: r.latitude,
        longitude: r.longitude,
        name: r.name,
        address: r.address,
    };
    let cid = client_id(&headers, r.id)?;
    let out = Outgoing::new(&r.phone, payload, cid).with_purpose(r.purpose);
    accept(app, &session.id, out).await
}

#[derive(Deserialize)]
struct SendContact {
    /// What the message is for (see the README's "Responsible messaging").
    #[serde(rename = "MessagePurpose", alias = "message_purpose", default)]
    purpose: Option<String>,
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Vcard", alias = "VCard")]
    vcard: String,
    #[serde(rename = "Id", default)]
    id: Option<String>,
}

/// `POST /send/contact`: a contact card.
pub async fn contact(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (session, headers) = (
        auth::session(app, req.headers()).await?,
        req.headers().clone(),
    );
    let r: SendContact = body::json(app, req, Empty::Refuse).await?;
    if r.name.trim().is_empty() {
        return Err(ApiError::field("Name", "must not be empty"));
    }
    check_short("Name", Some(&r.name))?;
    let v = r.vcard.trim();
    let upper = v.to_ascii_uppercase();
    if !upper.starts_with("BEGIN:VCARD") || !upper.ends_with("END:VCARD") {
        return Err(ApiError::field(
            "Vcard",
            "must be a vCard (BEGIN:VCARD … END:VCARD)",
        ));
    }
    if v.len() > MAX_VCARD_BYTES {
        return Err(ApiError::field(
            "Vcard",
            format!("must be at most {MAX_VCARD_BYTES} bytes"),
        ));
    }
    let payload = Payload::Contact {
        display_name: r.name,
        vcard: v.to_string(),
    };
    let cid = client_id(&headers, r.id)?;
    let out = Outgoing::new(&r.phone, payload, cid).with_purpose(r.purpose);
    accept(app, &session.id, out).await
}

#[derive(Deserialize)]
struct SendPoll {
    /// What the message is for (see the README's "Responsible messaging").
    #[serde(rename = "MessagePurpose", alias = "message_purpose", default)]
    purpose: Option<String>,
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "Name", alias = "Header")]
    name: String,
    #[serde(rename = "Options")]
    options: Vec<String>,
    #[serde(rename = "Selectable", default = "one")]
    selectable: u32,
    #[serde(rename = "Id", default)]
    id: Option<String>,
}

fn one() -> u32 {
    1
}

/// `POST /send/poll`: `Selectable` answers per voter (0 = any number, default 1).
pub async fn poll(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (session, headers) = (
        auth::session(app, req.headers()).await?,
        req.headers().clone(),
    );
    let r: SendPoll = body::json(app, req, Empty::Refuse).await?;
    if r.name.trim().is_empty() {
        return Err(ApiError::field("Name", "must not be empty"));
    }
    check_short("Name", Some(&r.name))?;
    if !(2..=MAX_POLL_OPTIONS).contains(&r.options.len()) {
        return Err(ApiError::field(
            "Options",
            format!("must have 2 to {MAX_POLL_OPTIONS} answers"),
        ));
    }
    for (i, o) in r.options.iter().enumerate() {
        if o.trim().is_empty() || o.chars().count() > 100 {
            return Err(ApiError::field(
                &format!("Options[{i}]"),
                "must be 1 to 100 characters",
            ));
        }
        if r.options[..i].contains(o) {
            return Err(ApiError::field(
                &format!("Options[{i}]"),
                "answers must be different",
            ));
        }
    }
    if r.selectable as usize > r.options.len() {
        return Err(ApiError::field(
            "Selectable",
            "must be 0 (any number) up to the number of answers",
        ));
    }
    let payload = Payload::Poll {
        name: r.name,
        options: r.options,
        selectable: r.selectable,
    };
    let cid = client_id(&headers, r.id)?;
    let out = Outgoing::new(&r.phone, payload, cid).with_purpose(r.purpose);
    accept(app, &session.id, out).await
}

/// Hands a send to the engine and answers with its id and state.
pub(super) async fn accept(
    app: &App,
    session: &str,
    out: Outgoing,
) -> Result<Response<Body>, ApiError> {
    accept_as(app, session, out, "Phone").await
}

/// [`accept`] with the recipient field called `phone_field` in errors.
async fn accept_as(
    app: &App,
    session: &str,
    out: Outgoing,
    phone_field: &str,
) -> Result<Response<Body>, ApiError> {
    let (msg, created) = submit(app, session, out, phone_field).await?;
    Ok(accepted(&msg, created))
}

/// Hands a send to the engine: the stored message, and whether it is new
/// (`false`: a retry of an accepted client id). A bad recipient is a 422
/// naming `phone_field`. Dialects answer with their own shape around it.
pub(super) async fn submit(
    app: &App,
    session: &str,
    out: Outgoing,
    phone_field: &str,
) -> Result<(MessageRecord, bool), ApiError> {
    // The purpose field is named like the recipient field's dialect.
    let purpose_field = if phone_field == "Phone" {
        "MessagePurpose"
    } else {
        "message_purpose"
    };
    app.engine.send(session, out).await.map_err(|e| match e {
        crate::engine::EngineError::BadAddress(b) => ApiError::field(phone_field, b.to_string()),
        crate::engine::EngineError::Refused(r) => super::guard::refusal(r, purpose_field),
        other => super::engine_error(other),
    })
}

/// The answer to an accepted send.
pub(super) fn accepted(msg: &MessageRecord, created: bool) -> Response<Body> {
    ok(
        StatusCode::OK,
        json!({
            "Id": msg.id,
            "State": msg.state,
            "Timestamp": msg.timestamp,
            "Details": if created { "Queued" } else { "Duplicate: the message with this Id was accepted before" },
            "Duplicate": !created,
        }),
    )
}

/// The client's own id: `Id` in the body, else the `Idempotency-Key` header.
pub(super) fn client_id(
    headers: &HeaderMap,
    body_id: Option<String>,
) -> Result<Option<String>, ApiError> {
    let header = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match body_id.filter(|s| !s.is_empty()).or(header) {
        Some(id)
            if id.chars().count() > MAX_CLIENT_ID_CHARS || id.chars().any(char::is_control) =>
        {
            Err(ApiError::field(
                "Id",
                format!("must be at most {MAX_CLIENT_ID_CHARS} printable characters"),
            ))
        }
        other => Ok(other),
    }
}

/// A text field of 1 to [`MAX_TEXT_CHARS`] characters.
pub(super) fn check_text(field: &str, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() || text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::field(
            field,
            format!("must be 1 to {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(())
}

/// An optional short field (names, captions' companions): at most 1,024 characters.
pub(super) fn check_short(field: &str, v: Option<&str>) -> Result<(), ApiError> {
    match v {
        Some(s) if s.chars().count() > 1024 => {
            Err(ApiError::field(field, "must be at most 1024 characters"))
        }
        _ => Ok(()),
    }
}

/// Checks a `ContextInfo` and resolves what it quotes: the quoted message's
/// text and author come from the store when the box knows the message.
pub(super) async fn quote(
    app: &App,
    session: &str,
    ctx: Option<ContextIn>,
) -> Result<Option<Quote>, ApiError> {
    let Some(ctx) = ctx else { return Ok(None) };
    if ctx.mentioned.len() > MAX_MENTIONS {
        return Err(ApiError::field(
            "ContextInfo.MentionedJID",
            format!("at most {MAX_MENTIONS} mentions"),
        ));
    }
    let mut mentioned = Vec::with_capacity(ctx.mentioned.len());
    for (i, m) in ctx.mentioned.iter().enumerate() {
        let jid = crate::engine::jid::normalize(m).map_err(|e| {
            ApiError::field(&format!("ContextInfo.MentionedJID[{i}]"), e.to_string())
        })?;
        mentioned.push(jid);
    }
    let mut participant = match ctx.participant.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(
            crate::engine::jid::normalize(p)
                .map_err(|e| ApiError::field("ContextInfo.Participant", e.to_string()))?,
        ),
        None => None,
    };
    let stanza_id = ctx.stanza_id.filter(|s| !s.is_empty());
    let mut quoted_text = None;
    if let Some(id) = &stanza_id {
        if id.chars().count() > MAX_CLIENT_ID_CHARS {
            return Err(ApiError::field("ContextInfo.StanzaId", "is too long"));
        }
        if let Some(rec) = app.store.message(session, id).await? {
            quoted_text = rec.body.clone();
            if participant.is_none() && !rec.sender.is_empty() {
                participant = Some(without_device(&rec.sender));
            }
        }
    }
    Ok(Some(Quote {
        stanza_id,
        participant,
        quoted_text,
        mentioned,
    }))
}

/// `user:device@server` → `user@server` (a quote names the account, not a device).
fn without_device(jid: &str) -> String {
    match (jid.split_once('@'), jid.find(':')) {
        (Some((user, server)), Some(colon)) if colon < user.len() => {
            format!("{}@{server}", &user[..colon])
        }
        _ => jid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_participant_has_no_device() {
        assert_eq!(
            without_device("155512:7@s.whatsapp.net"),
            "155512@s.whatsapp.net"
        );
        assert_eq!(
            without_device("155512@s.whatsapp.net"),
            "155512@s.whatsapp.net"
        );
        assert_eq!(without_device("1203@g.us"), "1203@g.us");
    }
}
