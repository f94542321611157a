//! The wire dialects the box speaks over one core.
//!
//! Each dialect is an adapter: its routes, its request and response shapes,
//! its error rendering and its webhook body format, written against the
//! core's API plumbing (`api::auth`, `api::body`, `api::reply`) and the
//! store's and engine's domain methods. A dialect never reaches into the
//! engine's internals or the store's tables, and the core never names a
//! dialect: this module is the one place that does.
//!
//! Layout (one folder per dialect, the same files in each):
//!
//! ```text
//! api/                    WaGo, the default dialect (wuzapi-style), and the core plumbing
//! api/dialect/mod.rs      the dialect names, and which one a request speaks
//! api/dialect/wago_go/    WAGO-Go (X-API-Key, /send-text, /send-otp, /messages items)
//!     mod.rs              its routes and how a request is admitted (its 401/403)
//!     send.rs             request shapes → core sends, answers in its shape
//!     messages.rs         the message log in its item shape
//!     wire.rs             its wire shapes: message item, webhook body, signature
//! ```
//!
//! A later dialect (wuzapi, WAHA, Onebrick, WA Gateway) adds a folder beside
//! `wago_go/`, a variant of [`Dialect`], its routes in `api/routes.rs` and
//! `docs/openapi/`, and, if it has one, its webhook format as a variant of
//! `store::Format` that `webhook::payload` encodes with the dialect's
//! `wire` module (and `webhook::worker` signs as the dialect says).
//!
//! **Which dialect a request speaks.** A path only one dialect has (such as
//! `/send-text`) speaks that dialect. A path several share (`/messages`)
//! speaks the dialect of the session the token belongs to, set when the
//! session is created (`POST /session/init {"Dialect": "wago-go"}`), so a
//! client written from its own gateway's document works unchanged: it sends
//! only its token.

pub mod wago_go;

use super::reply::{ApiError, Body};
use super::{App, auth};
use crate::store::SessionRecord;
use hyper::body::Incoming;
use hyper::{Request, Response};

/// A dialect of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// WaGo (wuzapi-style), the default.
    WaGo,
    /// The small Go gateway on whatsmeow (document 002).
    WagoGo,
}

impl Dialect {
    /// Every dialect's name, as `Dialect` takes it.
    pub const NAMES: &'static [&'static str] = &["wago", "wago-go"];

    /// The dialect named `s` (case-insensitive; `_` for `-` accepted).
    pub fn parse(s: &str) -> Option<Dialect> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "wago" => Some(Dialect::WaGo),
            "wago-go" => Some(Dialect::WagoGo),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::WaGo => "wago",
            Dialect::WagoGo => "wago-go",
        }
    }

    /// The dialect a session's clients speak on shared paths.
    pub fn of(rec: &SessionRecord) -> Dialect {
        rec.dialect
            .as_deref()
            .and_then(Dialect::parse)
            .unwrap_or(Dialect::WaGo)
    }

    /// As the session record keeps it (`None` for the default).
    pub fn stored(self) -> Option<String> {
        match self {
            Dialect::WaGo => None,
            other => Some(other.name().to_string()),
        }
    }
}

/// `GET /messages`, shared by WaGo and WAGO-Go: in the session's dialect.
pub async fn messages(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let rec = auth::session(app, req.headers()).await?;
    match Dialect::of(&rec) {
        Dialect::WaGo => super::messages::list(app, req, rec).await,
        Dialect::WagoGo => wago_go::messages(app, req, rec).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in Dialect::NAMES {
            assert_eq!(Dialect::parse(n).map(Dialect::name), Some(*n));
        }
        assert_eq!(Dialect::parse("WAGO_GO"), Some(Dialect::WagoGo));
        assert_eq!(Dialect::parse("waha"), None);
        assert_eq!(Dialect::WaGo.stored(), None);
        assert_eq!(Dialect::WagoGo.stored().as_deref(), Some("wago-go"));
    }
}
