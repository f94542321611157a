//! Connection and pairing routes: `POST /session/connect`, `/session/disconnect`,
//! `/session/logout`, `GET /session/qr` and `GET /session/status`.
//!
//! `LastError` stays the sentence it always was (WaGo clients read a
//! string); `LastErrorCode` and `LastErrorAt` carry the diagnosis' stable
//! code and time beside it.

use super::body::{self, Empty};
use super::reply::{ApiError, Body, ok};
use super::{App, auth};
use crate::engine::{SessionStatus, State, qr};
use crate::event::check_filter;
use crate::store::SessionRecord;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// How long `connect` waits for a pair code or, without `Immediate`, for the
/// session to reach pairing or connected. A failed attempt ends the wait
/// at once.
pub const CONNECT_WAIT: Duration = Duration::from_secs(15);

#[derive(Deserialize, Default)]
struct ConnectRequest {
    #[serde(rename = "Subscribe", default)]
    subscribe: Option<Vec<String>>,
    #[serde(rename = "Immediate", default)]
    immediate: Option<bool>,
    #[serde(rename = "Phone", default)]
    phone: Option<String>,
}

fn status_json(
    app_status: &SessionStatus,
    id: &str,
    name: &str,
    events: &[String],
) -> serde_json::Value {
    json!({
        "Id": id,
        "Name": name,
        "Connected": app_status.connected(),
        "LoggedIn": app_status.logged_in(),
        "Jid": app_status.jid.clone().unwrap_or_default(),
        "Lid": app_status.lid,
        "PushName": app_status.push_name,
        "Events": events,
        "State": app_status.state,
        "LastError": app_status.last_error.as_ref().map(|d| &d.message),
        "LastErrorCode": app_status.last_error.as_ref().map(|d| d.code),
        "LastErrorAt": app_status.last_error.as_ref().map(|d| d.at),
        "LastMessageAt": app_status.last_message_at,
        "QRAvailable": app_status.qr.is_some(),
        "PairCode": app_status.pair_code.as_ref().map(|c| &c.code),
    })
}

/// The session's event filter: its main subscription's when it has one (what
/// delivery uses and `GET /webhook` shows), else the one it keeps for a main
/// subscription created later. `Subscribe` sets both at once.
pub async fn filter_of(app: &App, rec: &SessionRecord) -> Result<Vec<String>, ApiError> {
    Ok(super::webhook::owned(app, rec)
        .await?
        .into_iter()
        .find(|s| s.main)
        .map(|s| s.events)
        .unwrap_or_else(|| rec.events.clone()))
}

/// `GET /session/status`.
pub async fn status(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let mut rec = auth::session(app, req.headers()).await?;
    rec.events = filter_of(app, &rec).await?;
    let st = app.engine.status(&rec.id);
    Ok(ok(
        StatusCode::OK,
        status_json(&st, &rec.id, &rec.name, &rec.events),
    ))
}

/// `POST /session/connect`: starts the connection; with `Phone`, pairs by code.
pub async fn connect(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let mut rec = auth::session(app, req.headers()).await?;
    let r: ConnectRequest = body::json(app, req, Empty::AsObject).await?;
    if let Some(events) = r.subscribe {
        check_filter(&events)
            .map_err(|u| ApiError::field(&format!("Subscribe[{}]", u.index), u.to_string()))?;
        app.store
            .set_session_events(&rec.id, events.clone())
            .await?;
        rec.events = events;
    } else {
        rec.events = filter_of(app, &rec).await?;
    }
    let pair_phone = match r.phone.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => {
            let jid = crate::engine::jid::normalize(p)
                .map_err(|e| ApiError::field("Phone", e.to_string()))?;
            match crate::engine::jid::phone_of(&jid) {
                Some(digits) => Some(digits.to_string()),
                None => {
                    return Err(ApiError::field(
                        "Phone",
                        "pairing by code needs a phone number",
                    ));
                }
            }
        }
    };
    let by_code = pair_phone.is_some();
    let started = app.engine.connect(&rec.id, pair_phone);
    let mut st = started;
    if by_code || !r.immediate.unwrap_or(false) {
        if let Some(mut rx) = app.engine.watch(&rec.id) {
            // Decided: a code to show, online, stopped, or a failed attempt
            // (the session keeps retrying; the answer says why it is not up).
            let wait = rx.wait_for(|s| {
                let settled =
                    matches!(s.state, State::Connected | State::Failed | State::LoggedOut)
                        || s.last_error.is_some();
                settled
                    || if by_code {
                        s.pair_code.is_some()
                    } else {
                        s.state == State::Pairing
                    }
            });
            let _ = tokio::time::timeout(CONNECT_WAIT, wait).await;
        }
        st = app.engine.status(&rec.id);
        if by_code && st.pair_code.is_none() && st.state != State::Connected {
            return Err(no_pair_code(&st));
        }
    }
    Ok(ok(
        StatusCode::OK,
        status_json(&st, &rec.id, &rec.name, &rec.events),
    ))
}

/// The 409 for a pair code that cannot be had, naming why.
fn no_pair_code(st: &SessionStatus) -> ApiError {
    let (code, why) = match &st.last_error {
        Some(d) => (
            "whatsapp_unreachable",
            format!("no pair code: {}", d.message),
        ),
        None => (
            "pair_code_pending",
            format!(
                "no pair code yet: WhatsApp did not answer within {} s; the session keeps trying, ask again shortly",
                CONNECT_WAIT.as_secs()
            ),
        ),
    };
    let mut e = ApiError::new(StatusCode::CONFLICT, code, why);
    e.details = Some(Box::new(json!({
        "State": st.state,
        "LastError": st.last_error.as_ref().map(|d| &d.message),
        "LastErrorCode": st.last_error.as_ref().map(|d| d.code),
        "LastErrorAt": st.last_error.as_ref().map(|d| d.at),
    })));
    e
}

/// Prometheus lines for the sessions' connections: failed attempts by code
/// since start, and when each session's current `LastError` happened.
pub fn connection_metrics(app: &App, t: &mut String) {
    use std::fmt::Write as _;
    let name = "wago_session_connect_failures_total";
    let _ = writeln!(
        t,
        "# HELP {name} Failed connection attempts since start, by session and code.\n# TYPE {name} counter"
    );
    for (session, code, n) in app.engine.failure_counts() {
        let _ = writeln!(t, "{name}{{session=\"{session}\",code=\"{code}\"}} {n}");
    }
    let name = "wago_session_last_error_timestamp_seconds";
    let _ = writeln!(
        t,
        "# HELP {name} When the session's current LastError happened, by code.\n# TYPE {name} gauge"
    );
    for (session, st) in app.engine.statuses() {
        if let Some(d) = &st.last_error {
            let _ = writeln!(
                t,
                "{name}{{session=\"{session}\",code=\"{}\"}} {}",
                d.code,
                d.at as f64 / 1000.0
            );
        }
    }
}

/// `POST /session/disconnect`: closes the connection, keeps the keys.
pub async fn disconnect(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let mut rec = auth::session(app, req.headers()).await?;
    rec.events = filter_of(app, &rec).await?;
    app.engine.disconnect(&rec.id).await;
    let st = app.engine.status(&rec.id);
    Ok(ok(
        StatusCode::OK,
        status_json(&st, &rec.id, &rec.name, &rec.events),
    ))
}

/// `POST /session/logout`: logs out on WhatsApp and wipes the keys.
pub async fn logout(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let mut rec = auth::session(app, req.headers()).await?;
    rec.events = filter_of(app, &rec).await?;
    app.engine
        .logout(&rec.id)
        .await
        .map_err(super::engine_error)?;
    let st = app.engine.status(&rec.id);
    Ok(ok(
        StatusCode::OK,
        status_json(&st, &rec.id, &rec.name, &rec.events),
    ))
}

/// `GET /session/qr`: the current pairing QR code.
pub async fn qr_code(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    if !super::display::allow_qr(app, &req) {
        return Err(ApiError::forbidden(
            "this box shows its pairing QR code only on its own screen (display.qr_on_lan = false)",
        ));
    }
    let st = app.engine.status(&rec.id);
    let Some(code) = st.qr.as_ref() else {
        let hint = match st.state {
            State::Connected => "the session is already paired and connected",
            State::Connecting => "no QR code yet; try again in a moment",
            _ => "the session is not pairing; POST /session/connect first",
        };
        let mut e = ApiError::new(StatusCode::CONFLICT, "not_pairing", hint);
        e.details = Some(Box::new(json!({ "State": st.state })));
        return Err(e);
    };
    let url = qr::data_url(&code.code).map_err(|e| {
        tracing::error!(error = %e, "QR rendering failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "cannot render the QR code",
        )
    })?;
    Ok(ok(
        StatusCode::OK,
        json!({ "QRCode": url, "Code": code.code, "ExpiresAt": code.expires_at }),
    ))
}
