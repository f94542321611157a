//! `GET /messages?chat=&after=&limit=` for sessions of the `wago-go`
//! dialect: the inbound messages of the log ("pesan masuk"), oldest first
//! after the cursor, as a JSON array of [`Item`]s. `id` is the log position
//! (stable across restarts, unlike the original's in-memory counter), so
//! `after=<id>` continues where a page ended.

use super::super::super::messages::DEFAULT_PAGE;
use super::super::super::reply::{ApiError, Body, json_response};
use super::super::super::{App, query};
use super::wire::{Item, item};
use crate::store::SessionRecord;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

/// The log of `rec` (already admitted) in WAGO-Go's item shape.
pub async fn list(
    app: &App,
    req: Request<Incoming>,
    rec: SessionRecord,
) -> Result<Response<Body>, ApiError> {
    let q = query::pairs(req.uri().query());
    let chat = match query::get(&q, "chat").filter(|c| !c.is_empty()) {
        Some(c) => Some(
            crate::engine::jid::normalize(c).map_err(|e| ApiError::field("chat", e.to_string()))?,
        ),
        None => None,
    };
    let mut after = match query::get(&q, "after").filter(|a| !a.is_empty()) {
        Some(a) => a.parse::<u64>().map_err(|_| {
            ApiError::field(
                "after",
                "must be a whole number (an id from an earlier page)",
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
    // Outbound messages share the log; pages are filled with inbound ones.
    let mut items: Vec<Item> = Vec::new();
    while items.len() < limit {
        let page = app
            .store
            .list_messages(&rec.id, chat.as_deref(), after, max)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let last_page = page.len() < max;
        items.extend(
            page.iter()
                .filter(|m| !m.from_me)
                .take(limit - items.len())
                .map(item),
        );
        if last_page {
            break;
        }
    }
    Ok(json_response(
        StatusCode::OK,
        &serde_json::to_value(&items).unwrap_or_default(),
    ))
}
