//! Who is calling: the admin, a session, the display, or nobody.
//!
//! The display token (`wago display`) is a third, narrow scope: it reads
//! display status and pairing data and starts pairing, nothing else; any
//! other route answers it 403.
//!
//! Tokens arrive in `token`, `Authorization: Bearer …` (or a bare
//! `Authorization` value, as WaGo's admin clients send) or `X-API-Key`. The
//! admin token is compared by hash in constant time; session tokens are found
//! by hash (see `store::sessions`). No token or an unknown one is a 401; a
//! valid token of the wrong scope is a 403.

use super::App;
use super::reply::ApiError;
use crate::store::{SessionRecord, hash_token};
use hyper::HeaderMap;
use subtle::ConstantTimeEq;

/// The token a request presents, if any.
pub fn presented(headers: &HeaderMap) -> Option<&str> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(t) = get("token") {
        return Some(t);
    }
    if let Some(a) = get("authorization") {
        if a.eq_ignore_ascii_case("bearer") {
            return get("x-api-key");
        }
        let t = match a.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => a,
        };
        if !t.is_empty() {
            return Some(t);
        }
    }
    get("x-api-key")
}

fn is_admin(app: &App, token: &str) -> bool {
    bool::from(hash_token(token).ct_eq(&app.admin_hash))
}

fn is_display(app: &App, token: &str) -> bool {
    bool::from(hash_token(token).ct_eq(&app.display.token_hash))
}

/// Who may use a display route.
#[derive(Debug)]
pub enum DisplayCaller {
    /// The display process's own token.
    Display,
    /// The admin token (`wago pair` on the box).
    Admin,
    /// A session token: only that session is shown.
    Session(SessionRecord),
}

/// Admits the display, the admin or a session (display routes only).
pub async fn display(app: &App, headers: &HeaderMap) -> Result<DisplayCaller, ApiError> {
    let Some(token) = presented(headers) else {
        return Err(ApiError::unauthorized(
            "this route needs the display token, the admin token or a session token",
        ));
    };
    if is_display(app, token) {
        return Ok(DisplayCaller::Display);
    }
    if is_admin(app, token) {
        return Ok(DisplayCaller::Admin);
    }
    match app.store.session_by_token(token).await? {
        Some(rec) => Ok(DisplayCaller::Session(rec)),
        None => Err(ApiError::unauthorized("invalid token")),
    }
}

fn display_refused() -> ApiError {
    ApiError::forbidden("the display token can only use the /display routes")
}

/// Admits the admin; refuses sessions with 403 and everyone else with 401.
pub async fn admin(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = presented(headers) else {
        return Err(ApiError::unauthorized("this route needs the admin token"));
    };
    if is_admin(app, token) {
        return Ok(());
    }
    if is_display(app, token) {
        return Err(display_refused());
    }
    if app.store.session_by_token(token).await?.is_some() {
        return Err(ApiError::forbidden(
            "a session token cannot use an admin route; use the admin token",
        ));
    }
    Err(ApiError::unauthorized("invalid token"))
}

/// Admits a session and returns it; refuses the admin token with 403.
pub async fn session(app: &App, headers: &HeaderMap) -> Result<SessionRecord, ApiError> {
    let Some(token) = presented(headers) else {
        return Err(ApiError::unauthorized(
            "this route needs a session token (header `token`, `Authorization: Bearer` or `X-API-Key`)",
        ));
    };
    if let Some(rec) = app.store.session_by_token(token).await? {
        return Ok(rec);
    }
    if is_admin(app, token) {
        return Err(ApiError::forbidden(
            "the admin token cannot use a session route; use the session's token",
        ));
    }
    if is_display(app, token) {
        return Err(display_refused());
    }
    Err(ApiError::unauthorized("invalid token"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn token_sources() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("token", "abc", Some("abc")),
            ("authorization", "Bearer abc", Some("abc")),
            ("authorization", "bearer  abc ", Some("abc")),
            ("authorization", "abc", Some("abc")),
            ("x-api-key", "abc", Some("abc")),
            ("token", "", None),
            ("authorization", "Bearer ", None),
            ("x-other", "abc", None),
        ];
        for (name, value, want) in cases {
            let mut h = HeaderMap::new();
            h.insert(*name, HeaderValue::from_static(value));
            assert_eq!(presented(&h), *want, "{name}: {value}");
        }
    }
}
