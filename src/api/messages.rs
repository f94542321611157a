//! Messaging routes: `POST /send/text`, `GET /messages`, `GET /message/{id}`.

use super::body::{self, Empty};
use super::reply::{ApiError, Body, ok};
use super::{App, auth, query};
use crate::store::MessageRecord;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// Longest text body (WhatsApp's own limit is about 65,536 characters).
pub const MAX_TEXT_CHARS: usize = 65_536;
/// Longest client-chosen message id.
pub const MAX_CLIENT_ID_CHARS: usize = 128;
/// Default `/messages` page.
pub const DEFAULT_PAGE: usize = 100;

#[derive(Deserialize)]
struct SendText {
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "Body")]
    body: String,
    #[serde(rename = "Id", default)]
    id: Option<String>,
}

/// A message as the API shows it.
pub fn view(m: &MessageRecord) -> serde_json::Value {
    json!({
        "Id": m.id,
        "Seq": m.seq,
        "Chat": m.chat,
        "Sender": m.sender,
        "FromMe": m.from_me,
        "Type": m.kind,
        "Body": m.body,
        "PushName": m.push_name,
        "Timestamp": m.timestamp,
        "State": m.state,
        "History": m.history.iter().map(|h| json!({ "State": h.state, "At": h.at })).collect::<Vec<_>>(),
        "ClientId": m.client_id,
        "Error": m.error,
        "Detail": m.detail,
    })
}

/// `POST /send/text`: accepted at once (state `pending`), sent in order.
pub async fn send_text(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let idem_header = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let r: SendText = body::json(app, req, Empty::Refuse).await?;
    if r.body.is_empty() || r.body.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::field(
            "Body",
            format!("must be 1 to {MAX_TEXT_CHARS} characters"),
        ));
    }
    let client_id = match r.id.filter(|s| !s.is_empty()).or(idem_header) {
        Some(id)
            if id.chars().count() > MAX_CLIENT_ID_CHARS || id.chars().any(char::is_control) =>
        {
            return Err(ApiError::field(
                "Id",
                format!("must be at most {MAX_CLIENT_ID_CHARS} printable characters"),
            ));
        }
        other => other,
    };
    let (msg, created) = app
        .engine
        .send_text(&rec.id, &r.phone, &r.body, client_id)
        .await
        .map_err(super::engine_error)?;
    Ok(ok(
        StatusCode::OK,
        json!({
            "Id": msg.id,
            "State": msg.state,
            "Timestamp": msg.timestamp,
            "Details": if created { "Queued" } else { "Duplicate: the message with this Id was accepted before" },
            "Duplicate": !created,
        }),
    ))
}

/// `GET /messages?chat=&after=&limit=`: the message log, oldest first after the cursor.
pub async fn list(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let q = query::pairs(req.uri().query());
    let chat = match query::get(&q, "chat").filter(|c| !c.is_empty()) {
        Some(c) => Some(
            crate::engine::jid::normalize(c).map_err(|e| ApiError::field("chat", e.to_string()))?,
        ),
        None => None,
    };
    let after = match query::get(&q, "after").filter(|a| !a.is_empty()) {
        Some(a) => a.parse::<u64>().map_err(|_| {
            ApiError::field(
                "after",
                "must be a whole number (a Seq from an earlier page)",
            )
        })?,
        None => 0,
    };
    let max = crate::store::messages::MAX_PAGE;
    let limit = match query::get(&q, "limit").filter(|l| !l.is_empty()) {
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => return Err(ApiError::field("limit", format!("must be 1 to {max}"))),
        },
        None => DEFAULT_PAGE,
    };
    let msgs = app
        .store
        .list_messages(&rec.id, chat.as_deref(), after, limit)
        .await?;
    let next = msgs.last().map(|m| m.seq).unwrap_or(after);
    Ok(ok(
        StatusCode::OK,
        json!({ "Messages": msgs.iter().map(view).collect::<Vec<_>>(), "Next": next }),
    ))
}

/// `GET /message/{id}`: one message with its state history.
pub async fn get(app: &App, req: Request<Incoming>, id: &str) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    match app.store.message(&rec.id, id).await? {
        Some(m) => Ok(ok(StatusCode::OK, view(&m))),
        None => {
            let mut e = ApiError::new(
                StatusCode::NOT_FOUND,
                "message_not_found",
                format!("no message with id {id}"),
            );
            e.details = Some(Box::new(json!({ "field": "id" })));
            Err(e)
        }
    }
}
