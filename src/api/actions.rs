//! Message actions: `POST /message/react`, `/message/edit`,
//! `/message/revoke` (queued, so they keep their order with sends) and
//! `/message/read`, `/chat/presence` (immediate: 409 `not_connected` when
//! the session is offline).
//!
//! `Id` names the target message here (as in WaGo); it must be a message
//! the box knows (404 `message_not_found` otherwise). The chat is the
//! target's; a `Phone`, when given, must match it. Idempotency for the
//! queued actions comes from the `Idempotency-Key` header.

use super::body::{self, Empty};
use super::messages::not_found;
use super::reply::{ApiError, Body, ok};
use super::send::{MAX_CLIENT_ID_CHARS, accept, check_text, client_id};
use super::{App, auth};
use crate::engine::{ChatPresence, Outgoing};
use crate::store::{MessageRecord, Payload};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// Most ids one `/message/read` takes.
pub const MAX_READ_IDS: usize = 100;

#[derive(Deserialize)]
struct React {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Body", alias = "Reaction", alias = "Emoji")]
    emoji: String,
    #[serde(rename = "Phone", default)]
    phone: Option<String>,
}

/// `POST /message/react {"Id", "Body": "👍"}` (an empty `Body` removes the reaction).
pub async fn react(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (session, headers) = (
        auth::session(app, req.headers()).await?,
        req.headers().clone(),
    );
    let r: React = body::json(app, req, Empty::Refuse).await?;
    if r.emoji.chars().count() > 16 {
        return Err(ApiError::field(
            "Body",
            "must be one emoji (or empty to remove)",
        ));
    }
    let target = target(app, &session.id, &r.id, r.phone.as_deref()).await?;
    let payload = Payload::Reaction {
        target: target.id.clone(),
        target_from_me: target.from_me,
        target_sender: (!target.from_me).then(|| target.sender.clone()),
        emoji: r.emoji,
    };
    let cid = client_id(&headers, None)?;
    accept(app, &session.id, Outgoing::new(&target.chat, payload, cid)).await
}

#[derive(Deserialize)]
struct Edit {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Body")]
    body: String,
    #[serde(rename = "Phone", default)]
    phone: Option<String>,
}

/// `POST /message/edit {"Id", "Body"}`: new text for a text this account sent.
pub async fn edit(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (session, headers) = (
        auth::session(app, req.headers()).await?,
        req.headers().clone(),
    );
    let r: Edit = body::json(app, req, Empty::Refuse).await?;
    check_text("Body", &r.body)?;
    let target = target(app, &session.id, &r.id, r.phone.as_deref()).await?;
    if !target.from_me || target.kind != "text" {
        return Err(ApiError::field(
            "Id",
            "only text messages this account sent can be edited",
        ));
    }
    let payload = Payload::Edit {
        target: target.id.clone(),
        body: r.body,
    };
    let cid = client_id(&headers, None)?;
    accept(app, &session.id, Outgoing::new(&target.chat, payload, cid)).await
}

#[derive(Deserialize)]
struct Revoke {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Phone", default)]
    phone: Option<String>,
}

/// `POST /message/revoke {"Id"}`: deletes a message this account sent, for everyone.
pub async fn revoke(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (session, headers) = (
        auth::session(app, req.headers()).await?,
        req.headers().clone(),
    );
    let r: Revoke = body::json(app, req, Empty::Refuse).await?;
    let target = target(app, &session.id, &r.id, r.phone.as_deref()).await?;
    if !target.from_me {
        return Err(ApiError::field(
            "Id",
            "only messages this account sent can be deleted for everyone",
        ));
    }
    let payload = Payload::Revoke {
        target: target.id.clone(),
    };
    let cid = client_id(&headers, None)?;
    accept(app, &session.id, Outgoing::new(&target.chat, payload, cid)).await
}

/// One id or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Ids {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Read {
    #[serde(rename = "Id", alias = "Ids")]
    ids: Ids,
}

/// `POST /message/read {"Id": "…" | ["…", …]}`: read receipts for received
/// messages (all of one chat and sender per call).
pub async fn read(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let session = auth::session(app, req.headers()).await?;
    let r: Read = body::json(app, req, Empty::Refuse).await?;
    let ids = match r.ids {
        Ids::One(id) => vec![id],
        Ids::Many(ids) => ids,
    };
    if ids.is_empty() || ids.len() > MAX_READ_IDS {
        return Err(ApiError::field(
            "Id",
            format!("must name 1 to {MAX_READ_IDS} messages"),
        ));
    }
    let mut first: Option<MessageRecord> = None;
    for (i, id) in ids.iter().enumerate() {
        let field = if ids.len() == 1 {
            "Id".to_string()
        } else {
            format!("Id[{i}]")
        };
        let rec = find(app, &session.id, id, &field).await?;
        if rec.from_me {
            return Err(ApiError::field(
                &field,
                "is a message this account sent; only received messages are marked read",
            ));
        }
        if let Some(f) = &first
            && (f.chat != rec.chat || f.sender != rec.sender)
        {
            return Err(ApiError::field(
                &field,
                "all ids must be of one chat and one sender",
            ));
        }
        first.get_or_insert(rec);
    }
    let Some(first) = first else {
        return Err(ApiError::field("Id", "must name a message"));
    };
    let sender = (first.chat != first.sender).then_some(first.sender.as_str());
    app.engine
        .mark_read(&session.id, &first.chat, sender, &ids)
        .await
        .map_err(super::engine_error)?;
    Ok(ok(
        StatusCode::OK,
        json!({ "Ids": ids, "Chat": first.chat, "Details": "Marked as read" }),
    ))
}

#[derive(Deserialize)]
struct Presence {
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "State")]
    state: String,
    #[serde(rename = "Media", default)]
    media: Option<String>,
}

/// `POST /chat/presence {"Phone", "State": "composing" | "recording" |
/// "paused"}` (`"Media": "audio"` with `composing` also means recording).
pub async fn presence(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let session = auth::session(app, req.headers()).await?;
    let r: Presence = body::json(app, req, Empty::Refuse).await?;
    let audio = r.media.as_deref() == Some("audio");
    let state = match r.state.to_ascii_lowercase().as_str() {
        "composing" | "typing" if audio => ChatPresence::Recording,
        "composing" | "typing" => ChatPresence::Composing,
        "recording" => ChatPresence::Recording,
        "paused" | "stop" => ChatPresence::Paused,
        _ => {
            return Err(ApiError::field(
                "State",
                "must be composing, recording or paused",
            ));
        }
    };
    app.engine
        .chat_presence(&session.id, &r.phone, state)
        .await
        .map_err(super::engine_error)?;
    let name = match state {
        ChatPresence::Composing => "composing",
        ChatPresence::Recording => "recording",
        ChatPresence::Paused => "paused",
    };
    Ok(ok(
        StatusCode::OK,
        json!({ "State": name, "Details": "Chat presence sent" }),
    ))
}

/// A stored message by id, or 404 naming `field`.
async fn find(app: &App, session: &str, id: &str, field: &str) -> Result<MessageRecord, ApiError> {
    if id.is_empty() || id.chars().count() > MAX_CLIENT_ID_CHARS {
        return Err(ApiError::field(field, "must be a message id"));
    }
    app.store
        .message(session, id)
        .await?
        .ok_or_else(|| not_found(field, id))
}

/// The target of an action; a given `Phone` must be its chat.
async fn target(
    app: &App,
    session: &str,
    id: &str,
    phone: Option<&str>,
) -> Result<MessageRecord, ApiError> {
    let rec = find(app, session, id, "Id").await?;
    if let Some(p) = phone.filter(|p| !p.is_empty()) {
        let chat = crate::engine::jid::normalize(p)
            .map_err(|e| ApiError::field("Phone", e.to_string()))?;
        if chat != rec.chat {
            return Err(ApiError::field(
                "Phone",
                format!("message {id} is in chat {}, not {chat}", rec.chat),
            ));
        }
    }
    Ok(rec)
}
