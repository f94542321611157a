//! Webhook subscriptions over HTTP.
//!
//! - WaGo shape, the session's main subscription: `POST /webhook`
//!   `{"WebhookURL", "Events"?, "Secret"?}`, `GET`, `PUT`, `DELETE /webhook`.
//! - Several per session: `GET/POST /webhooks`, `GET/PUT/DELETE /webhooks/{id}`.
//!
//! Both take the same fields: `WebhookURL`, `Events`, `Secret`, `Format`
//! (`json`|`form`|`wago-go`), `Headers` (object), `FormToken`, `Signing` (false turns
//! it off), `RotateSecret` (PUT). Secrets are never returned in full except
//! once, when wago generated them. Every change rings the delivery dispatcher.

use super::body::{self, Empty};
use super::reply::{ApiError, Body, ok};
use super::{App, auth};
use crate::event::check_filter;
use crate::store::{Format, SessionRecord, SigningSecret, Subscription, now_ms};
use crate::webhook::sign;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Longest webhook URL.
pub const MAX_URL_CHARS: usize = 2048;
/// Most custom headers per subscription.
pub const MAX_HEADERS: usize = 16;
/// Most subscriptions per session.
pub const MAX_SUBSCRIPTIONS: usize = 16;
/// Headers wago sets itself; a subscription cannot override them.
const RESERVED: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-wago-signature",
    "x-wa-request-id",
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SubInput {
    #[serde(
        rename = "WebhookURL",
        alias = "webhookURL",
        alias = "webhook",
        default
    )]
    url: Option<String>,
    #[serde(rename = "Events", alias = "events", alias = "subscribe", default)]
    events: Option<Vec<String>>,
    #[serde(rename = "Secret", default)]
    secret: Option<String>,
    #[serde(rename = "Format", default)]
    format: Option<String>,
    #[serde(rename = "Headers", default)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(rename = "FormToken", default)]
    form_token: Option<String>,
    #[serde(rename = "Signing", default)]
    signing: Option<bool>,
    #[serde(rename = "RotateSecret", default)]
    rotate: Option<bool>,
}

/// A subscription as clients see it: secrets and header values masked.
pub fn view(s: &Subscription, now: i64) -> Value {
    let secrets: Vec<&SigningSecret> = s.live_secrets(now).collect();
    json!({
        "Id": s.id,
        "WebhookURL": s.url,
        "Events": s.events,
        "Format": s.format,
        "Main": s.main,
        "Global": s.session.is_none(),
        "Signing": !secrets.is_empty(),
        "Secret": secrets.first().map(|x| sign::mask(&x.value)),
        "SecretRotating": secrets.len() > 1,
        "Headers": s.headers.iter().map(|(k, _)| (k.clone(), Value::from("***"))).collect::<serde_json::Map<_, _>>(),
        "FormToken": s.form_token.as_ref().map(|_| "***"),
        "CreatedAt": s.created_at,
    })
}

/// Resolves and checks a webhook URL: absolute `http(s)://`, or relative to
/// `base_url`. A bad one is a 422 naming `WebhookURL`.
pub fn resolve_url(app: &App, url: &str) -> Result<String, ApiError> {
    let bad = |m: &str| ApiError::field("WebhookURL", m.to_string());
    let url = url.trim();
    let full = if url.starts_with('/') {
        match &app.webhooks.base_url {
            Some(base) => format!("{}{url}", base.trim_end_matches('/')),
            None => {
                return Err(bad(
                    "is relative, and no webhook.base_url is configured to resolve it",
                ));
            }
        }
    } else {
        url.to_string()
    };
    let ok_scheme = full.starts_with("http://") || full.starts_with("https://");
    let parsed = full.parse::<hyper::Uri>();
    match parsed {
        Ok(u)
            if ok_scheme
                && u.host().is_some_and(|h| !h.is_empty())
                && full.len() <= MAX_URL_CHARS =>
        {
            Ok(full)
        }
        _ => Err(bad(&format!(
            "must be an http:// or https:// URL (or a path when webhook.base_url is set) of at most {MAX_URL_CHARS} characters"
        ))),
    }
}

/// Checks an `Events` filter; the error names the entry at fault.
pub(super) fn check_events(events: &[String]) -> Result<(), ApiError> {
    check_filter(events)
        .map_err(|u| ApiError::field(&format!("Events[{}]", u.index), u.with_hint()))
}

fn check_headers(h: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, ApiError> {
    if h.len() > MAX_HEADERS {
        return Err(ApiError::field(
            "Headers",
            format!("at most {MAX_HEADERS} headers"),
        ));
    }
    let mut out = Vec::new();
    for (k, v) in h {
        let name = k.to_ascii_lowercase();
        if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err()
            || RESERVED.contains(&name.as_str())
        {
            return Err(ApiError::field(
                &format!("Headers.{k}"),
                "is not a header name wago lets you set",
            ));
        }
        if hyper::header::HeaderValue::from_str(v).is_err() || v.len() > 4096 {
            return Err(ApiError::field(
                &format!("Headers.{k}"),
                "is not a valid header value",
            ));
        }
        out.push((name, v.clone()));
    }
    Ok(out)
}

fn check_secret(s: &str, format: Format) -> Result<(), ApiError> {
    if !sign::valid_secret_for(s, format) || s.len() > 512 {
        return Err(ApiError::field(
            "Secret",
            "must be 1 to 512 characters; with Format json or form, a whsec_ secret must be valid base64 of at least 16 bytes (wago-go takes any string as written)",
        ));
    }
    Ok(())
}

/// Applies `input` to `sub` (new or existing). Returns a secret to show once.
fn apply(
    app: &App,
    sub: &mut Subscription,
    input: SubInput,
    creating: bool,
) -> Result<Option<String>, ApiError> {
    match input.url {
        Some(u) => sub.url = resolve_url(app, &u)?,
        None if creating => return Err(ApiError::field("WebhookURL", "is required")),
        None => {}
    }
    if let Some(ev) = input.events {
        check_events(&ev)?;
        sub.events = ev;
    }
    if let Some(f) = input.format {
        sub.format = Format::parse(&f)
            .ok_or_else(|| ApiError::field("Format", "must be json, form or wago-go"))?;
        // A secret kept from before must suit the new format.
        if let Some(current) = sub.secrets.first()
            && input.secret.is_none()
            && !sign::valid_secret_for(&current.value, sub.format)
        {
            return Err(ApiError::field(
                "Secret",
                "the current secret does not suit this format; give a new Secret",
            ));
        }
    }
    if let Some(h) = input.headers {
        sub.headers = check_headers(&h)?;
    }
    if let Some(t) = input.form_token {
        if t.len() > 512 || t.chars().any(char::is_control) {
            return Err(ApiError::field(
                "FormToken",
                "must be at most 512 printable characters",
            ));
        }
        sub.form_token = Some(t).filter(|t| !t.is_empty());
    }
    let now = now_ms();
    if input.signing == Some(false) {
        if input.secret.is_some() {
            return Err(ApiError::field(
                "Secret",
                "cannot be set with Signing: false",
            ));
        }
        sub.secrets.clear();
        return Ok(None);
    }
    let (new, show) = match (input.secret, input.rotate == Some(true)) {
        (Some(s), _) => {
            check_secret(&s, sub.format)?;
            (Some(s), None)
        }
        (None, true) => {
            let s = sign::generate_secret();
            (Some(s.clone()), Some(s))
        }
        (None, false) if sub.secrets.is_empty() => {
            let s = sign::generate_secret();
            (Some(s.clone()), Some(s))
        }
        (None, false) => (None, None),
    };
    if let Some(value) = new {
        // Rotation: the current secret keeps signing for the overlap period.
        let expires = now + app.webhooks.secret_overlap_ms;
        sub.secrets
            .retain(|s| s.expires_at.is_none_or(|t| t > now) && s.value != value);
        for s in &mut sub.secrets {
            s.expires_at = Some(s.expires_at.map_or(expires, |t| t.min(expires)));
        }
        sub.secrets.insert(
            0,
            SigningSecret {
                value,
                expires_at: None,
            },
        );
        sub.secrets.truncate(2);
    }
    Ok(show)
}

/// A new, empty subscription of `session`, filled in by [`apply`].
fn blank(session: &str, main: bool) -> Subscription {
    Subscription {
        id: 0,
        session: Some(session.to_string()),
        main,
        url: String::new(),
        events: Vec::new(),
        format: Format::Json,
        secrets: Vec::new(),
        headers: Vec::new(),
        form_token: None,
        created_at: now_ms(),
    }
}

fn not_found() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::NOT_FOUND,
        "webhook_not_found",
        "no such webhook subscription",
    );
    e.details = Some(Box::new(json!({ "field": "id" })));
    e
}

/// The session's subscriptions.
pub async fn owned(app: &App, rec: &SessionRecord) -> Result<Vec<Subscription>, ApiError> {
    Ok(app
        .store
        .list_subscriptions()
        .await?
        .into_iter()
        .filter(|s| s.session.as_deref() == Some(rec.id.as_str()))
        .collect())
}

async fn create(
    app: &App,
    rec: &SessionRecord,
    mut input: SubInput,
    main: bool,
) -> Result<Response<Body>, ApiError> {
    let mine = owned(app, rec).await?;
    // The main subscription carries the session's filter (`Subscribe`, or
    // `Events` at init) unless this request names one.
    if main && input.events.is_none() {
        input.events = Some(rec.events.clone());
    }
    if mine.len() >= MAX_SUBSCRIPTIONS && !(main && mine.iter().any(|s| s.main)) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_webhooks",
            format!("a session has at most {MAX_SUBSCRIPTIONS} subscriptions"),
        ));
    }
    let mut sub = blank(&rec.id, main);
    let shown = apply(app, &mut sub, input, true)?;
    let sub = app.store.create_subscription(sub).await?;
    if main {
        app.store
            .set_session_events(&rec.id, sub.events.clone())
            .await?;
    }
    tracing::info!(session = %rec.id, subscription = sub.id, "webhook subscription created");
    Ok(ok(
        StatusCode::CREATED,
        with_secret(view(&sub, now_ms()), shown),
    ))
}

fn with_secret(mut v: Value, shown: Option<String>) -> Value {
    if let Some(s) = shown {
        v["Secret"] = Value::from(s);
        v["SecretShownOnce"] = Value::from(true);
    }
    v
}

async fn update(
    app: &App,
    mut sub: Subscription,
    input: SubInput,
) -> Result<Response<Body>, ApiError> {
    let shown = apply(app, &mut sub, input, false)?;
    if !app.store.update_subscription(sub.clone()).await? {
        return Err(not_found());
    }
    // The main subscription's filter is the session's: keep the copy the
    // session holds for a later main subscription equal to it.
    if sub.main
        && let Some(session) = &sub.session
    {
        app.store
            .set_session_events(session, sub.events.clone())
            .await?;
    }
    Ok(ok(StatusCode::OK, with_secret(view(&sub, now_ms()), shown)))
}

async fn delete(app: &App, sub: &Subscription) -> Result<Response<Body>, ApiError> {
    let dropped = app
        .store
        .delete_subscription(sub.id)
        .await?
        .ok_or_else(not_found)?;
    Ok(ok(
        StatusCode::OK,
        json!({ "Id": sub.id, "Deleted": true, "DroppedJobs": dropped }),
    ))
}

/// `/webhook`: the session's main subscription, WaGo style.
pub async fn main_route(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let current = owned(app, &rec).await?.into_iter().find(|s| s.main);
    match *req.method() {
        Method::POST => {
            let input: SubInput = body::json(app, req, Empty::Refuse).await?;
            create(app, &rec, input, true).await
        }
        Method::GET => current
            .map(|s| ok(StatusCode::OK, view(&s, now_ms())))
            .ok_or_else(not_found),
        Method::PUT => {
            let input: SubInput = body::json(app, req, Empty::Refuse).await?;
            match current {
                Some(s) => update(app, s, input).await,
                None => create(app, &rec, input, true).await,
            }
        }
        Method::DELETE => delete(app, &current.ok_or_else(not_found)?).await,
        _ => Err(ApiError::method_not_allowed("GET, POST, PUT, DELETE")),
    }
}

/// `/webhooks` and `/webhooks/{id}`.
pub async fn collection(
    app: &App,
    req: Request<Incoming>,
    id: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    let mine = owned(app, &rec).await?;
    let Some(id) = id else {
        return match *req.method() {
            Method::GET => Ok(ok(
                StatusCode::OK,
                mine.iter().map(|s| view(s, now_ms())).collect::<Vec<_>>(),
            )),
            Method::POST => {
                let input: SubInput = body::json(app, req, Empty::Refuse).await?;
                create(app, &rec, input, false).await
            }
            _ => Err(ApiError::method_not_allowed("GET, POST")),
        };
    };
    let sub = id
        .parse::<u64>()
        .ok()
        .and_then(|id| mine.into_iter().find(|s| s.id == id))
        .ok_or_else(not_found)?;
    match *req.method() {
        Method::GET => Ok(ok(StatusCode::OK, view(&sub, now_ms()))),
        Method::PUT => {
            let input: SubInput = body::json(app, req, Empty::Refuse).await?;
            update(app, sub, input).await
        }
        Method::DELETE => delete(app, &sub).await,
        _ => Err(ApiError::method_not_allowed("GET, PUT, DELETE")),
    }
}

/// Creates the main subscription given at `POST /session/init`; returns the
/// generated secret (shown once in the init response).
pub async fn create_main_at_init(
    app: &App,
    rec: &SessionRecord,
    url: &str,
    events: Vec<String>,
) -> Result<Option<String>, ApiError> {
    let input = SubInput {
        url: Some(url.to_string()),
        events: Some(events),
        ..SubInput::default()
    };
    let mut sub = blank(&rec.id, true);
    let shown = apply(app, &mut sub, input, true)?;
    app.store.create_subscription(sub).await?;
    Ok(shown)
}
