//! The message log: `GET /messages`, `GET /message/{id}`.

use super::reply::{ApiError, Body, ok};
use super::{App, auth, query};
use crate::store::{MessageRecord, SessionRecord};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::json;

/// Default `/messages` page.
pub const DEFAULT_PAGE: usize = 100;

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

/// `GET /messages?chat=&after=&limit=`: the message log of `rec` (already
/// admitted), oldest first after the cursor.
pub async fn list(
    app: &App,
    req: Request<Incoming>,
    rec: SessionRecord,
) -> Result<Response<Body>, ApiError> {
    let Page { chat, after, limit } = page(&req, "a Seq from an earlier page")?;
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
        None => Err(not_found("id", id)),
    }
}

/// 404 `message_not_found` naming `field` and the id.
pub fn not_found(field: &str, id: &str) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::NOT_FOUND,
        "message_not_found",
        format!("no message with id {id}"),
    );
    e.details = Some(Box::new(json!({ "field": field, "id": id })));
    e
}

/// A page of the message log as its query asks: `chat`, `after`, `limit`.
pub(super) struct Page {
    /// The chat's JID, if the query names one.
    pub chat: Option<String>,
    /// The cursor: entries after this position.
    pub after: u64,
    /// How many entries, 1 to `MAX_PAGE`.
    pub limit: usize,
}

/// Reads `?chat=&after=&limit=`; `cursor` names what `after` takes in the
/// dialect's words (its 422 says so).
pub(super) fn page<B>(req: &Request<B>, cursor: &str) -> Result<Page, ApiError> {
    let q = query::pairs(req.uri().query());
    let chat = match query::get(&q, "chat").filter(|c| !c.is_empty()) {
        Some(c) => Some(
            crate::engine::jid::normalize(c).map_err(|e| ApiError::field("chat", e.to_string()))?,
        ),
        None => None,
    };
    let after = match query::get(&q, "after").filter(|a| !a.is_empty()) {
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| ApiError::field("after", format!("must be a whole number ({cursor})")))?,
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
    Ok(Page { chat, after, limit })
}
