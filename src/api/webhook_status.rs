//! Delivery health and dead letters.
//!
//! - `GET /webhook/status` (session): per subscription the queue depth, the
//!   oldest pending job's age, delivered / retried / dead counts; and the
//!   event log's size and whether it is over its cap.
//! - `GET /metrics` (admin): the same, for every subscription, as Prometheus text.
//! - `GET /webhooks/dead?subscription=&event=&after=&limit=` (session): dead letters.
//! - `POST /webhooks/dead/{sub}/{seq}/replay`, `DELETE /webhooks/dead/{sub}/{seq}`,
//!   `POST /webhooks/{id}/replay` (all of a subscription's dead letters).

use super::events::{num, query};
use super::reply::{ApiError, Body};
use super::webhook::owned;
use super::{App, auth};
use crate::store::{DeadFilter, SubStats, Subscription, now_ms};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};
use serde_json::{Value, json};
use std::fmt::Write;

/// A per-subscription metric: name, type, help, and how to read it.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&SubStats, Option<i64>) -> f64,
);

async fn sub_status(
    app: &App,
    subs: &[Subscription],
) -> Result<Vec<(Subscription, SubStats, Option<i64>)>, ApiError> {
    let stats = app.store.subscription_stats().await?;
    let now = now_ms();
    let mut out = Vec::new();
    for s in subs {
        let st = stats
            .iter()
            .find(|(id, _)| *id == s.id)
            .map(|(_, st)| *st)
            .unwrap_or_default();
        let age = app
            .store
            .oldest_pending(s.id)
            .await?
            .map(|(_, at)| (now - at).max(0));
        out.push((s.clone(), st, age));
    }
    Ok(out)
}

/// `GET /webhook/status`.
pub async fn status(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let subs = owned(app, &rec).await?;
    let rows = sub_status(app, &subs).await?;
    let log = app.store.log_status(app.webhooks.retention).await?;
    let subs: Vec<Value> = rows
        .iter()
        .map(|(s, st, age)| {
            json!({
                "Id": s.id, "WebhookURL": s.url, "Main": s.main,
                "Pending": st.pending, "OldestPendingAgeMs": age,
                "Delivered": st.delivered, "Retried": st.retried, "Dead": st.dead,
            })
        })
        .collect();
    Ok(super::reply::ok(
        StatusCode::OK,
        json!({
            "Subscriptions": subs,
            "Log": {
                "Events": log.events, "Bytes": log.bytes, "LastSeq": log.last_seq,
                "FirstSeq": log.first_seq, "MaxBytes": app.webhooks.retention.max_bytes,
                "OverCap": log.over_cap,
            },
        }),
    ))
}

/// `GET /metrics` (admin): Prometheus text format.
pub async fn metrics(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    auth::admin(app, req.headers()).await?;
    let limits = super::peer::limits(&req);
    let subs = app.store.list_subscriptions().await?;
    let rows = sub_status(app, &subs).await?;
    let log = app.store.log_status(app.webhooks.retention).await?;
    let mut t = String::new();
    let series: [Series; 5] = [
        (
            "wago_webhook_pending",
            "gauge",
            "Jobs waiting for delivery.",
            |s, _| s.pending as f64,
        ),
        (
            "wago_webhook_delivered_total",
            "counter",
            "Jobs delivered.",
            |s, _| s.delivered as f64,
        ),
        (
            "wago_webhook_retried_total",
            "counter",
            "Failed attempts scheduled again.",
            |s, _| s.retried as f64,
        ),
        (
            "wago_webhook_dead",
            "gauge",
            "Jobs in the dead letters.",
            |s, _| s.dead as f64,
        ),
        (
            "wago_webhook_oldest_pending_age_seconds",
            "gauge",
            "Age of the oldest pending job.",
            |_, a| a.unwrap_or(0) as f64 / 1000.0,
        ),
    ];
    for (name, kind, help, f) in series {
        let _ = writeln!(t, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (s, st, age) in &rows {
            let session = s.session.as_deref().unwrap_or("");
            let _ = writeln!(
                t,
                "{name}{{subscription=\"{}\",session=\"{session}\"}} {}",
                s.id,
                f(st, *age)
            );
        }
    }
    for (name, kind, help, v) in [
        (
            "wago_event_log_events",
            "gauge",
            "Events in the log.",
            log.events as f64,
        ),
        (
            "wago_event_log_bytes",
            "gauge",
            "Size of the event log.",
            log.bytes as f64,
        ),
        (
            "wago_event_log_max_bytes",
            "gauge",
            "Configured cap of the event log.",
            app.webhooks.retention.max_bytes as f64,
        ),
        (
            "wago_event_log_over_cap",
            "gauge",
            "1 when only undelivered events keep the log over its cap.",
            u8::from(log.over_cap) as f64,
        ),
        (
            "wago_events_recorded_total",
            "counter",
            "Events recorded since the store was created.",
            log.last_seq as f64,
        ),
    ] {
        let _ = writeln!(t, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
    }
    super::pairing::connection_metrics(app, &mut t);
    if let Some(limits) = limits {
        limits.write_metrics(&mut t);
    }
    let mut resp = Response::new(Full::new(Bytes::from(t)).boxed());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(resp)
}

fn dead_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "dead_letter_not_found",
        "no such dead letter",
    )
}

/// `GET /webhooks/dead`.
pub async fn list_dead(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let q = query(&req);
    let mine: Vec<u64> = owned(app, &rec).await?.iter().map(|s| s.id).collect();
    let subscriptions = match num(&q, "subscription")? {
        Some(id) if mine.contains(&id) => vec![id],
        Some(_) => {
            return Err(ApiError::field(
                "subscription",
                "no such subscription of this session",
            ));
        }
        None => mine,
    };
    let limit = num(&q, "limit")?.unwrap_or(100).clamp(1, 1000) as usize;
    let filter = DeadFilter {
        subscriptions,
        event: q.iter().find(|(k, _)| k == "event").map(|(_, v)| v.clone()),
        after: num(&q, "after")?.unwrap_or(0),
        limit,
    };
    let rows: Vec<Value> = app
        .store
        .dead_letters(filter)
        .await?
        .into_iter()
        .map(|d| {
            json!({
                "Subscription": d.subscription, "Seq": d.seq,
                "Id": d.event.as_ref().map(|e| e.id.clone()),
                "Event": d.event.as_ref().map(|e| e.event.event.clone()),
                "Chat": d.job.chat, "Attempts": d.job.attempts,
                "LastStatus": d.job.last_status, "LastError": d.job.last_error,
                "CreatedAt": d.job.created_at, "DeadAt": d.job.dead_at,
            })
        })
        .collect();
    Ok(super::reply::ok(StatusCode::OK, rows))
}

/// `POST /webhooks/dead/{sub}/{seq}/replay` (`seq` given) and `POST /webhooks/{id}/replay` (all).
pub async fn replay(
    app: &App,
    req: Request<Incoming>,
    sub: &str,
    seq: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let sub = mine(app, &rec, sub).await?;
    let seq = seq
        .map(|s| s.parse::<u64>().map_err(|_| dead_not_found()))
        .transpose()?;
    let n = app.store.replay_dead(sub, seq).await?;
    if seq.is_some() && n == 0 {
        return Err(dead_not_found());
    }
    Ok(super::reply::ok(StatusCode::OK, json!({ "Replayed": n })))
}

/// `DELETE /webhooks/dead/{sub}/{seq}`.
pub async fn discard(
    app: &App,
    req: Request<Incoming>,
    sub: &str,
    seq: &str,
) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let sub = mine(app, &rec, sub).await?;
    let seq = seq.parse::<u64>().map_err(|_| dead_not_found())?;
    if !app.store.discard_dead(sub, seq).await? {
        return Err(dead_not_found());
    }
    Ok(super::reply::ok(
        StatusCode::OK,
        json!({ "Discarded": true }),
    ))
}

async fn mine(app: &App, rec: &crate::store::SessionRecord, id: &str) -> Result<u64, ApiError> {
    let id = id.parse::<u64>().ok();
    owned(app, rec)
        .await?
        .iter()
        .map(|s| s.id)
        .find(|s| Some(*s) == id)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "webhook_not_found",
                "no such webhook subscription",
            )
        })
}
