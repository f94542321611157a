//! The router: one table of every (method, path) the API answers, each with
//! its handler, in OpenAPI path syntax.
//!
//! A request takes the first entry whose path matches (`{name}` matches one
//! non-empty segment; a leading or trailing `/` is ignored); among the
//! entries with that same path, the one with the request's method answers,
//! and if none has it the answer is a 405 whose `Allow` lists their methods
//! in table order. So a literal path must come before a `{param}` path that
//! would also match it (`/message/react` before `/message/{id}`).
//!
//! The OpenAPI tests require every entry documented and every documented
//! operation listed, and the `openapi` integration test probes each entry
//! against the running gateway (it must not answer `no route` or 405).

use super::reply::{ApiError, Body};
use super::{
    App, actions, dialect, display, events, explorer, group, guard, health, media, messages,
    openapi, pairing, send, send_media, send_message, session, user, webhook, webhook_status,
};
use crate::store::MediaKind;
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::future::Future;
use std::pin::Pin;

/// A handler's answer, boxed so that the table can hold every handler.
pub type Reply<'a> = Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send + 'a>>;

/// A handler: the app, the request and the path's `{param}` segments.
pub type Handler = for<'a> fn(&'a App, Request<Incoming>, Params) -> Reply<'a>;

/// The `{param}` segments of a matched path, in order.
#[derive(Debug, Default)]
pub struct Params(Vec<String>);

impl Params {
    /// The `i`-th parameter (`""` past the end; the table's paths fix the count).
    pub fn at(&self, i: usize) -> &str {
        self.0.get(i).map(String::as_str).unwrap_or("")
    }
}

/// One entry of the table.
pub struct Route {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The path in OpenAPI syntax: `/webhooks/{id}/replay`.
    pub path: &'static str,
    handler: Handler,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// An entry: `r!("GET", "/path/{id}", |app, req, params| handler(...))`,
/// where the body is a future borrowing at most `app` and `params`.
macro_rules! r {
    ($m:literal, $p:literal, |$a:ident, $q:ident, $ps:ident| $body:expr) => {
        Route {
            method: $m,
            path: $p,
            handler: |$a, $q, $ps| Box::pin(async move { $body.await }),
        }
    };
    ($m:literal, $p:literal, |$a:ident, $q:ident| $body:expr) => {
        r!($m, $p, |$a, $q, _ps| $body)
    };
    ($m:literal, $p:literal, $ready:expr) => {
        r!($m, $p, |_a, _q, _ps| std::future::ready($ready))
    };
}

/// Every route, in match order.
pub const ROUTES: &[Route] = &[
    r!("GET", "/health", Ok(health::health())),
    r!("GET", "/server/ok", Ok(health::server_ok())),
    r!("GET", "/openapi.json", openapi::serve()),
    r!("GET", "/api", Ok(explorer::serve())),
    r!("POST", "/session/init", |a, q| session::init(a, q)),
    r!("GET", "/session/status", |a, q| pairing::status(a, q)),
    r!("POST", "/session/connect", |a, q| pairing::connect(a, q)),
    r!("POST", "/session/disconnect", |a, q| pairing::disconnect(
        a, q
    )),
    r!("POST", "/session/logout", |a, q| pairing::logout(a, q)),
    r!("GET", "/session/qr", |a, q| pairing::qr_code(a, q)),
    r!("POST", "/send/text", |a, q| send::text(a, q)),
    r!("POST", "/send/location", |a, q| send::location(a, q)),
    r!("POST", "/send/contact", |a, q| send::contact(a, q)),
    r!("POST", "/send/poll", |a, q| send::poll(a, q)),
    r!("POST", "/send/image", |a, q| send_media::send(
        a,
        q,
        MediaKind::Image
    )),
    r!("POST", "/send/video", |a, q| send_media::send(
        a,
        q,
        MediaKind::Video
    )),
    r!("POST", "/send/audio", |a, q| send_media::send(
        a,
        q,
        MediaKind::Audio
    )),
    r!("POST", "/send/document", |a, q| send_media::send(
        a,
        q,
        MediaKind::Document
    )),
    r!("POST", "/send/sticker", |a, q| send_media::send(
        a,
        q,
        MediaKind::Sticker
    )),
    // WAGO-Go's own paths (api::dialect::wago_go).
    r!("POST", "/send-text", |a, q| dialect::wago_go::send_text(
        a, q
    )),
    r!("POST", "/send-otp", |a, q| dialect::wago_go::send_otp(a, q)),
    r!("POST", "/message/react", |a, q| actions::react(a, q)),
    r!("POST", "/message/edit", |a, q| actions::edit(a, q)),
    r!("POST", "/message/revoke", |a, q| actions::revoke(a, q)),
    r!("POST", "/message/read", |a, q| actions::read(a, q)),
    r!("POST", "/chat/presence", |a, q| actions::presence(a, q)),
    r!("POST", "/user/check", |a, q| user::check(a, q)),
    r!("GET", "/user/info", |a, q| user::info(a, q)),
    r!("POST", "/user/info", |a, q| user::info(a, q)),
    r!("GET", "/user/avatar", |a, q| user::avatar(a, q)),
    r!("POST", "/user/avatar", |a, q| user::avatar(a, q)),
    r!("POST", "/user/presence", |a, q| user::presence(a, q)),
    r!("GET", "/group/list", |a, q| group::route(a, q, "list")),
    r!("GET", "/group/info", |a, q| group::route(a, q, "info")),
    r!("POST", "/group/info", |a, q| group::route(a, q, "info")),
    r!("POST", "/group/create", |a, q| group::route(a, q, "create")),
    r!("POST", "/group/participants", |a, q| group::route(
        a,
        q,
        "participants"
    )),
    r!("GET", "/group/invitelink", |a, q| group::route(
        a,
        q,
        "invitelink"
    )),
    r!("POST", "/group/leave", |a, q| group::route(a, q, "leave")),
    r!("POST", "/group/name", |a, q| group::route(a, q, "name")),
    r!("POST", "/group/topic", |a, q| group::route(a, q, "topic")),
    r!("GET", "/media/{message_id}", |a, q, p| media::get(
        a,
        q,
        p.at(0)
    )),
    // Shared by WaGo and WAGO-Go: in the session's dialect.
    r!("GET", "/messages", |a, q| dialect::messages(a, q)),
    r!("GET", "/message/{id}", |a, q, p| messages::get(
        a,
        q,
        p.at(0)
    )),
    r!("GET", "/admin/sessions", |a, q| session::list(a, q)),
    r!("DELETE", "/admin/sessions/{id}", |a, q, p| session::delete(
        a,
        q,
        p.at(0)
    )),
    r!("GET", "/webhook", |a, q| webhook::main_route(a, q)),
    r!("POST", "/webhook", |a, q| webhook::main_route(a, q)),
    r!("PUT", "/webhook", |a, q| webhook::main_route(a, q)),
    r!("DELETE", "/webhook", |a, q| webhook::main_route(a, q)),
    r!("GET", "/webhook/status", |a, q| webhook_status::status(
        a, q
    )),
    r!("GET", "/webhooks", |a, q| webhook::collection(a, q, None)),
    r!("POST", "/webhooks", |a, q| webhook::collection(a, q, None)),
    r!("GET", "/webhooks/dead", |a, q| webhook_status::list_dead(
        a, q
    )),
    r!(
        "POST",
        "/webhooks/dead/{subscription}/{seq}/replay",
        |a, q, p| webhook_status::replay(a, q, p.at(0), Some(p.at(1)))
    ),
    r!(
        "DELETE",
        "/webhooks/dead/{subscription}/{seq}",
        |a, q, p| webhook_status::discard(a, q, p.at(0), p.at(1))
    ),
    r!("POST", "/webhooks/{id}/replay", |a, q, p| {
        webhook_status::replay(a, q, p.at(0), None)
    }),
    r!("GET", "/webhooks/{id}", |a, q, p| webhook::collection(
        a,
        q,
        Some(p.at(0))
    )),
    r!("PUT", "/webhooks/{id}", |a, q, p| webhook::collection(
        a,
        q,
        Some(p.at(0))
    )),
    r!("DELETE", "/webhooks/{id}", |a, q, p| webhook::collection(
        a,
        q,
        Some(p.at(0))
    )),
    r!("GET", "/events", |a, q| events::list(a, q)),
    r!("GET", "/events/stream", |a, q| events::stream(a, q)),
    r!("POST", "/admin/events", |a, q| events::inject(a, q)),
    r!("GET", "/display/status", |a, q| display::status(a, q)),
    r!("POST", "/display/pair", |a, q| display::pair(a, q)),
    r!("GET", "/display/screen.png", |a, q| display::screen_png(
        a, q
    )),
    r!("GET", "/metrics", |a, q| webhook_status::metrics(a, q)),
    r!("POST", "/api/send-message", |a, q| send_message::send(a, q)),
    r!("GET", "/usage", |a, q| guard::usage(a, q)),
    r!("GET", "/policy-log", |a, q| guard::policy_log(a, q)),
    r!("GET", "/suppressed-recipients", |a, q| guard::list(a, q)),
    r!("POST", "/suppressed-recipients", |a, q| guard::add(a, q)),
    r!("DELETE", "/suppressed-recipients/{phone}", |a, q, p| {
        guard::remove(a, q, p.at(0))
    }),
];

/// The `{param}` values if `pattern` matches the path's segments.
fn matches(pattern: &str, segs: &[&str]) -> Option<Params> {
    let mut params = Vec::new();
    let mut pat = pattern.trim_matches('/').split('/');
    for seg in segs {
        let p = pat.next()?;
        if p.starts_with('{') {
            if seg.is_empty() {
                return None;
            }
            params.push((*seg).to_string());
        } else if p != *seg {
            return None;
        }
    }
    pat.next().is_none().then_some(Params(params))
}

/// Answers a request from the table.
pub(super) async fn dispatch(
    app: &App,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let Some((first, params)) = ROUTES
        .iter()
        .find_map(|r| matches(r.path, &segs).map(|p| (r, p)))
    else {
        return Err(ApiError::no_route(&path));
    };
    let same = || ROUTES.iter().filter(|r| r.path == first.path);
    let method = req.method().as_str();
    match same().find(|r| r.method == method) {
        Some(r) => (r.handler)(app, req, params).await,
        None => Err(ApiError::method_not_allowed(
            same().map(|r| r.method).collect::<Vec<_>>().join(", "),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<&str> {
        p.trim_matches('/').split('/').collect()
    }

    #[test]
    fn a_literal_segment_matches_only_itself_and_a_param_any_non_empty_one() {
        assert!(matches("/health", &segs("/health/")).is_some());
        assert!(matches("/health", &segs("/healthz")).is_none());
        let p = matches("/webhooks/dead/{s}/{q}", &segs("/webhooks/dead/3/9")).expect("match");
        assert_eq!((p.at(0), p.at(1), p.at(2)), ("3", "9", ""));
        assert!(matches("/message/{id}", &segs("/message/")).is_none());
        assert!(matches("/message/{id}", &segs("/message/a/b")).is_none());
        assert!(matches("/webhooks/{id}", &segs("/webhooks")).is_none());
    }

    #[test]
    fn the_first_matching_path_decides_so_literals_shadow_params() {
        let first = |p: &str| {
            ROUTES
                .iter()
                .find(|r| matches(r.path, &segs(p)).is_some())
                .map(|r| r.path)
        };
        assert_eq!(first("/message/react"), Some("/message/react"));
        assert_eq!(first("/message/abc"), Some("/message/{id}"));
        assert_eq!(first("/webhooks/dead"), Some("/webhooks/dead"));
        assert_eq!(
            first("/webhooks/dead/1/2"),
            Some("/webhooks/dead/{subscription}/{seq}")
        );
        assert_eq!(first("/webhooks/7"), Some("/webhooks/{id}"));
        assert_eq!(first("/send/bogus"), None);
    }

    #[test]
    fn no_entry_is_listed_twice_and_a_path_s_entries_are_adjacent() {
        for (i, r) in ROUTES.iter().enumerate() {
            assert!(
                !ROUTES[..i]
                    .iter()
                    .any(|o| o.path == r.path && o.method == r.method),
                "{r:?} is listed twice"
            );
            // Adjacent, so that the Allow text reads in one place.
            if let Some(j) = ROUTES[..i].iter().rposition(|o| o.path == r.path) {
                assert_eq!(j + 1, i, "{r:?} is apart from its path's other methods");
            }
        }
    }
}
