//! `GET /messages?chat=&after=&limit=` for sessions of the `wago-go`
//! dialect: the inbound messages of the log ("pesan masuk"), oldest first
//! after the cursor, as a JSON array of [`Item`]s. `id` is the log position
//! (stable across restarts, unlike the original's in-memory counter), so
//! `after=<id>` continues where a page ended.

use super::super::super::App;
use super::super::super::messages::{Page, page};
use super::super::super::reply::{ApiError, Body, json_response};
use crate::store::SessionRecord;
use crate::wire::wago_go::{Item, item};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

/// The log of `rec` (already admitted) in WAGO-Go's item shape.
pub async fn list(
    app: &App,
    req: Request<Incoming>,
    rec: SessionRecord,
) -> Result<Response<Body>, ApiError> {
    let Page {
        chat,
        mut after,
        limit,
    } = page(&req, "an id from an earlier page")?;
    let max = crate::store::messages::MAX_PAGE;
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
