//! The event log over HTTP, for clients that cannot take webhooks, and the
//! diagnostic event injector.
//!
//! - `GET /events?after=<seq>&limit=<n>` (session): the session's events after
//!   a cursor, oldest first (100 by default, 1000 at most).
//! - `GET /events/stream` (session): Server-Sent Events, resuming after
//!   `Last-Event-ID` (or `?after=`); `id:` is the seq, `event:` the normalized
//!   name, `data:` the same JSON envelope webhooks carry. A comment line every
//!   15 s keeps proxies from closing it.
//! - `POST /admin/events` (admin): records events exactly as the engine does
//!   (same `record_events` path), to test a receiver end to end.

use super::body;
use super::reply::{ApiError, Body, ok};
use super::{App, auth};
use crate::event::{Event, NORMALIZED};
use crate::store::{LoggedEvent, Store, now_ms};
use crate::webhook::payload::envelope;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// Default and largest page of `GET /events`.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page of `GET /events`.
pub const MAX_LIMIT: usize = 1000;
/// Most events one `POST /admin/events` may record.
pub const MAX_INJECT: usize = 10_000;
/// SSE keep-alive interval.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// `name=value` pairs of the query string (values are plain: numbers, names).
pub fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}

/// A numeric query parameter; a bad one is a 422 naming it.
pub fn num(q: &[(String, String)], name: &str) -> Result<Option<u64>, ApiError> {
    match q.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ApiError::field(name, "must be a non-negative whole number")),
    }
}

fn view(e: &LoggedEvent) -> serde_json::Value {
    let mut v = envelope(e);
    v["seq"] = json!(e.seq);
    v
}

/// `GET /events`.
pub async fn list(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let q = query(&req);
    let after = num(&q, "after")?.unwrap_or(0);
    let limit = num(&q, "limit")?.unwrap_or(DEFAULT_LIMIT as u64);
    if !(1..=MAX_LIMIT as u64).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let events = app
        .store
        .events_after(Some(rec.id), after, limit as usize)
        .await?;
    let next = events.last().map_or(after, |e| e.seq);
    Ok(ok(
        StatusCode::OK,
        json!({ "Events": events.iter().map(view).collect::<Vec<_>>(), "Next": next }),
    ))
}

/// A streaming body fed by a channel, holding its place among the token's
/// open streams (`limits.streams_per_token`) until it is dropped.
struct ChannelBody(
    mpsc::Receiver<Bytes>,
    #[allow(dead_code)] Option<super::StreamPlace>,
);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// `GET /events/stream`.
pub async fn stream(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let place = match (super::peer::limits(&req), super::peer::addr(&req)) {
        (Some(limits), Some(peer)) => match limits.open_stream(peer.ip(), &rec.id) {
            Ok(place) => Some(place),
            Err(refused) => return Ok(*refused),
        },
        _ => None,
    };
    let q = query(&req);
    let last_id = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::field("Last-Event-ID", "must be a sequence number"))
        })
        .transpose()?;
    let after = match last_id {
        Some(id) => id,
        None => num(&q, "after")?.unwrap_or(0),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(tracing::Instrument::instrument(
        feed(
            app.store.clone(),
            app.shutdown.clone(),
            rec.id.clone(),
            after,
            tx,
        ),
        tracing::info_span!("sse", session = %rec.id),
    ));
    let mut resp = Response::new(ChannelBody(rx, place).boxed());
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    Ok(resp)
}

async fn feed(
    store: Store,
    stop: tokio_util::sync::CancellationToken,
    session: String,
    mut after: u64,
    tx: mpsc::Sender<Bytes>,
) {
    let mut bell = store.watch_events();
    if tx
        .send(Bytes::from_static(b"retry: 2000\n\n"))
        .await
        .is_err()
    {
        return;
    }
    loop {
        bell.borrow_and_update();
        let events = match store.events_after(Some(session.clone()), after, 100).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "SSE: cannot read the event log");
                return;
            }
        };
        let full = events.len() == 100;
        for e in events {
            after = e.seq;
            let data = serde_json::to_string(&view(&e)).unwrap_or_default();
            let frame = format!("id: {}\nevent: {}\ndata: {data}\n\n", e.seq, e.event.event);
            if tx.send(Bytes::from(frame)).await.is_err() {
                return;
            }
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = bell.changed() => {}
            _ = tokio::time::sleep(KEEPALIVE) => {
                if tx.send(Bytes::from_static(b": keepalive\n\n")).await.is_err() { return; }
            }
            _ = stop.cancelled() => return,
            _ = tx.closed() => return,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Inject {
    #[serde(rename = "Session")]
    session: String,
    #[serde(rename = "Event")]
    event: String,
    #[serde(rename = "Chat", default)]
    chat: Option<String>,
    #[serde(rename = "Payload", default)]
    payload: serde_json::Value,
    #[serde(rename = "Count", default)]
    count: Option<usize>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum InjectBody {
    One(Inject),
    Many(Vec<Inject>),
}

/// `POST /admin/events` (admin): one event (`Count` copies) or an array.
pub async fn inject(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    auth::admin(app, req.headers()).await?;
    let bytes = body::read(app, req).await?;
    let items = match serde_json::from_slice::<InjectBody>(&bytes) {
        Ok(InjectBody::One(i)) => vec![i],
        Ok(InjectBody::Many(v)) => v,
        // Re-parse as one object to name the field at fault.
        Err(_) => vec![body::parse::<Inject>(&bytes)?],
    };
    let known = app.store.list_sessions().await?;
    let mut events = Vec::new();
    for (i, it) in items.into_iter().enumerate() {
        let at = |f: &str| {
            if i == 0 {
                f.to_string()
            } else {
                format!("[{i}].{f}")
            }
        };
        if !known.iter().any(|s| s.id == it.session) {
            return Err(ApiError::field(&at("Session"), "no session with this id"));
        }
        if !NORMALIZED.contains(&it.event.as_str()) {
            return Err(ApiError::field(
                &at("Event"),
                "must be a normalized event name such as message.received",
            ));
        }
        let n = it.count.unwrap_or(1);
        if n == 0 || events.len() + n > MAX_INJECT {
            return Err(ApiError::field(
                &at("Count"),
                format!("at most {MAX_INJECT} events per request in all"),
            ));
        }
        for _ in 0..n {
            events.push(Event {
                session: it.session.clone(),
                event: it.event.clone(),
                chat: it.chat.clone(),
                timestamp: now_ms(),
                payload: it.payload.clone(),
                me: None,
            });
        }
    }
    let seqs = app.store.append_events(events).await?;
    Ok(ok(
        StatusCode::CREATED,
        json!({ "Seqs": seqs, "Count": seqs.len() }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DEFAULT_CACHE_BYTES;
    use tokio_util::sync::CancellationToken;

    fn ev(session: &str) -> Event {
        Event {
            session: session.into(),
            event: "message.received".into(),
            chat: None,
            timestamp: 1,
            payload: json!({}),
            me: None,
        }
    }

    /// Paused clock: the keep-alive comes after 15 s of silence, a committed
    /// event wakes the stream at once, and shutdown ends it.
    #[tokio::test(start_paused = true)]
    async fn sse_feed_keepalive_wakeup_and_shutdown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
        store
            .append_events(vec![ev("a"), ev("b")])
            .await
            .expect("append");
        let stop = CancellationToken::new();
        let (tx, mut rx) = mpsc::channel(16);
        tokio::spawn(feed(store.clone(), stop.clone(), "a".into(), 0, tx));
        let text = |b: Option<Bytes>| String::from_utf8(b.expect("frame").to_vec()).expect("utf8");
        assert_eq!(text(rx.recv().await), "retry: 2000\n\n");
        let first = text(rx.recv().await);
        assert!(
            first.starts_with("id: 1\nevent: message.received\n"),
            "{first}"
        );
        let t0 = tokio::time::Instant::now();
        assert_eq!(text(rx.recv().await), ": keepalive\n\n");
        assert!(
            t0.elapsed() >= KEEPALIVE,
            "keep-alive only after {KEEPALIVE:?}"
        );
        // The store rings the bell itself after the commit.
        store.append_events(vec![ev("a")]).await.expect("append");
        let t1 = tokio::time::Instant::now();
        let live = text(rx.recv().await);
        assert!(live.starts_with("id: 3\n"), "{live}");
        assert!(
            t1.elapsed() < KEEPALIVE,
            "woken by the commit, not the timer"
        );
        stop.cancel();
        assert!(rx.recv().await.is_none(), "the stream ends on shutdown");
    }
}
