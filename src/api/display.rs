//! The pairing display's routes (display token, admin token, or a session
//! token for its own session):
//!
//! - `GET /display/status?session=`: what the screens show ([`DisplayStatus`]).
//! - `POST /display/pair?session=`: start pairing (QR) when logged out or disconnected.
//! - `GET /display/screen.png?width=&height=&session=`: the current screen as a PNG.
//!
//! With `display.qr_on_lan = false`, a peer not on loopback never gets the
//! QR payload nor a PNG showing it: only someone at the box can pair it.

use super::auth::{self, DisplayCaller};
use super::events::{num, query};
use super::reply::{ApiError, Body, ok};
use super::{App, PeerAddr};
use crate::display::model::{DisplayState, DisplayStatus, WebhookHealth};
use crate::display::screens::{self, COLOUR};
use crate::engine::{SessionStatus, State};
use crate::store::{RESERVE_FILE, SessionRecord, now_ms};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};

/// Default size of `GET /display/screen.png`.
pub const DEFAULT_PNG_SIZE: (u32, u32) = (320, 240);
/// Largest PNG side served.
pub const MAX_PNG_SIDE: u64 = 1920;

/// The session a caller sees: its own (session token), the one asked for,
/// the configured one, or the only one. `None`: no session exists.
async fn shown_session(
    app: &App,
    caller: &DisplayCaller,
    asked: Option<&str>,
) -> Result<Option<SessionRecord>, ApiError> {
    if let DisplayCaller::Session(rec) = caller {
        if asked.is_some_and(|a| a != rec.id) {
            return Err(ApiError::forbidden(
                "a session token shows only its own session",
            ));
        }
        return Ok(Some(rec.clone()));
    }
    let all = app.store.list_sessions().await?;
    let want = asked.or(app.display.session.as_deref());
    if let Some(id) = want {
        return match all.into_iter().find(|s| s.id == id) {
            Some(s) => Ok(Some(s)),
            None if asked.is_some() => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no session `{id}`"),
            )),
            None => Ok(None),
        };
    }
    // Several and none configured: the first by id (stable), and say so in the README.
    Ok(all.into_iter().next())
}

/// Whether a peer may get the QR payload: always on loopback (the display
/// process, `wago pair` on the box), from the LAN only with `qr_on_lan`. An
/// unknown peer counts as the LAN.
fn may_see_qr(qr_on_lan: bool, peer: Option<std::net::SocketAddr>) -> bool {
    qr_on_lan || peer.is_some_and(|p| p.ip().is_loopback())
}

/// Whether this request's peer may get the QR payload (also used by `GET /session/qr`).
pub fn allow_qr(app: &App, req: &Request<Incoming>) -> bool {
    may_see_qr(
        app.display.qr_on_lan,
        req.extensions().get::<PeerAddr>().map(|p| p.0),
    )
}

/// The URL LAN software sends to, as shown to staff.
fn lan_url(app: &App) -> String {
    if let Some(u) = &app.display.lan_url {
        return u.clone();
    }
    let l = app.display.listen;
    let ip = if l.ip().is_unspecified() {
        // The address the box would use towards the LAN. A UDP connect sends
        // nothing; it only asks the kernel for a route.
        std::net::UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| {
                s.connect("192.0.2.1:9")?;
                s.local_addr()
            })
            .map(|a| a.ip())
            .unwrap_or(l.ip())
    } else {
        l.ip()
    };
    match ip {
        std::net::IpAddr::V6(v6) => format!("http://[{v6}]:{}", l.port()),
        v4 => format!("http://{v4}:{}", l.port()),
    }
}

fn state_of(s: &SessionStatus) -> DisplayState {
    match s.state {
        State::Disconnected => DisplayState::Disconnected,
        State::Connecting => DisplayState::Connecting,
        State::Pairing => DisplayState::Pairing,
        State::Connected => DisplayState::Connected,
        State::LoggedOut => DisplayState::LoggedOut,
        State::Failed => DisplayState::Failed,
    }
}

async fn build(
    app: &App,
    rec: Option<&SessionRecord>,
    allow_qr: bool,
) -> Result<DisplayStatus, ApiError> {
    let now = now_ms();
    let store_full = !app.store.dir().join(RESERVE_FILE).exists();
    let Some(rec) = rec else {
        let mut s = DisplayStatus::empty(DisplayState::NoSession, now);
        s.lan_url = lan_url(app);
        s.store_full = store_full;
        return Ok(s);
    };
    let st = app.engine.status(&rec.id);
    let mut webhooks = WebhookHealth::default();
    let subs = super::webhook::owned(app, rec).await?;
    let stats = app.store.subscription_stats().await?;
    for sub in &subs {
        webhooks.subscriptions += 1;
        if let Some((_, s)) = stats.iter().find(|(id, _)| *id == sub.id) {
            webhooks.pending += s.pending;
            webhooks.dead += s.dead;
        }
        if let Some((_, at)) = app.store.oldest_pending(sub.id).await? {
            let age = (now - at).max(0);
            webhooks.oldest_pending_age_ms =
                Some(webhooks.oldest_pending_age_ms.unwrap_or(0).max(age));
        }
    }
    let phone = st
        .jid
        .as_deref()
        .map(|j| j.split(['@', ':']).next().unwrap_or(j).to_string())
        .filter(|p| !p.is_empty() && st.state != State::LoggedOut);
    Ok(DisplayStatus {
        state: state_of(&st),
        session_id: Some(rec.id.clone()),
        session_name: Some(rec.name.clone()),
        phone,
        push_name: st.push_name.clone().filter(|n| !n.is_empty()),
        qr_code: st.qr.as_ref().filter(|_| allow_qr).map(|c| c.code.clone()),
        qr_expires_at: st.qr.as_ref().map(|c| c.expires_at),
        qr_withheld: st.qr.is_some() && !allow_qr,
        pair_code: st.pair_code.as_ref().map(|c| c.code.clone()),
        lan_url: lan_url(app),
        webhooks,
        last_message_at: st.last_message_at,
        last_error: st.last_error.as_ref().map(|d| d.message.clone()),
        last_error_code: st.last_error.as_ref().map(|d| d.code.as_str().to_string()),
        last_error_at: st.last_error.as_ref().map(|d| d.at),
        store_full,
        now,
    })
}

async fn status_for(app: &App, req: &Request<Incoming>) -> Result<DisplayStatus, ApiError> {
    let caller = auth::display(app, req.headers()).await?;
    let q = query(req);
    let asked = q
        .iter()
        .find(|(k, _)| k == "session")
        .map(|(_, v)| v.as_str());
    let rec = shown_session(app, &caller, asked).await?;
    build(app, rec.as_ref(), allow_qr(app, req)).await
}

/// `GET /display/status`.
pub async fn status(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let s = status_for(app, &req).await?;
    Ok(ok(StatusCode::OK, s))
}

/// `POST /display/pair`: starts the session's connection, which shows a QR
/// code when it is not linked. Already running or linked: nothing changes.
pub async fn pair(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let caller = auth::display(app, req.headers()).await?;
    let q = query(&req);
    let asked = q
        .iter()
        .find(|(k, _)| k == "session")
        .map(|(_, v)| v.as_str());
    let Some(rec) = shown_session(app, &caller, asked).await? else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_session",
            "no WhatsApp account is set up; create one with POST /session/init",
        ));
    };
    let st = app.engine.status(&rec.id);
    if matches!(
        st.state,
        State::Disconnected | State::LoggedOut | State::Failed
    ) {
        tracing::info!(session = %rec.id, "pairing started from the display");
        app.engine.connect(&rec.id, None);
    }
    let allow = allow_qr(app, &req);
    Ok(ok(StatusCode::OK, build(app, Some(&rec), allow).await?))
}

/// `GET /display/screen.png`: the screen a panel of that size shows now.
pub async fn screen_png(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let q = query(&req);
    let side = |name: &str, default: u32| -> Result<u32, ApiError> {
        match num(&q, name)? {
            None => Ok(default),
            Some(v) if (64..=MAX_PNG_SIDE).contains(&v) => Ok(v as u32),
            Some(_) => Err(ApiError::field(
                name,
                format!("must be between 64 and {MAX_PNG_SIDE}"),
            )),
        }
    };
    let w = side("width", DEFAULT_PNG_SIZE.0)?;
    let h = side("height", DEFAULT_PNG_SIZE.1)?;
    let s = status_for(app, &req).await?;
    let screen = screens::pick(Some(&s));
    let canvas = screens::render(screen, Some(&s), w, h, &COLOUR, s.now);
    let bytes = crate::display::png::encode(&canvas).map_err(|e| {
        tracing::error!(error = %e, "screen PNG encoding failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "cannot render the screen",
        )
    })?;
    let mut resp = Response::new(Full::new(Bytes::from(bytes)).boxed());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("image/png"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::screens::{Screen, pick};

    #[test]
    fn only_loopback_peers_see_the_qr_when_it_is_kept_off_the_lan() {
        let lan: std::net::SocketAddr = "192.168.1.50:40000".parse().expect("addr");
        let v6lan: std::net::SocketAddr = "[fe80::1]:40000".parse().expect("addr");
        let local: std::net::SocketAddr = "127.0.0.1:40000".parse().expect("addr");
        let local6: std::net::SocketAddr = "[::1]:40000".parse().expect("addr");
        for (on_lan, peer, want) in [
            (true, Some(lan), true),
            (true, None, true),
            (false, Some(lan), false),
            (false, Some(v6lan), false),
            (false, None, false),
            (false, Some(local), true),
            (false, Some(local6), true),
        ] {
            assert_eq!(may_see_qr(on_lan, peer), want, "{on_lan} {peer:?}");
        }
    }

    #[test]
    fn a_withheld_qr_renders_a_screen_without_any_qr() {
        let mut s = DisplayStatus::empty(DisplayState::Pairing, 0);
        s.qr_withheld = true;
        s.qr_expires_at = Some(20_000);
        assert_eq!(pick(Some(&s)), Screen::Pairing);
        let c = screens::render(Screen::Pairing, Some(&s), 320, 240, &COLOUR, 0);
        let luma = c.luma();
        let mut img =
            rqrr::PreparedImage::prepare_from_greyscale(320, 240, |x, y| luma[y * 320 + x]);
        assert!(img.detect_grids().is_empty());
    }
}
