//! `POST /send-text {"to", "text"}` and `POST /send-otp {"to", "code",
//! "template"?}`: the core's text send, answered `{"message_id": "…"}`.

use super::super::super::App;
use super::super::super::body::{self, Empty};
use super::super::super::reply::{ApiError, Body, json_response};
use super::super::super::send::{check_text, client_id, submit};
use crate::engine::Outgoing;
use crate::store::Payload;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// The default `/send-otp` template.
pub const DEFAULT_OTP_TEMPLATE: &str = "Your verification code is %s";

#[derive(Deserialize)]
struct SendText {
    to: String,
    text: String,
    /// What the message is for (see the README's "Responsible messaging").
    #[serde(default)]
    message_purpose: Option<String>,
}

#[derive(Deserialize)]
struct SendOtp {
    to: String,
    code: String,
    #[serde(default)]
    template: Option<String>,
    /// What the message is for; a code is `authentication` unless said otherwise.
    #[serde(default)]
    message_purpose: Option<String>,
}

/// `POST /send-text`.
pub async fn text(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (session, headers) = (
        super::caller(app, req.headers()).await?,
        req.headers().clone(),
    );
    let r: SendText = body::json(app, req, Empty::Refuse).await?;
    check_text("text", &r.text)?;
    let payload = Payload::Text {
        body: r.text,
        quote: None,
    };
    let out =
        Outgoing::new(&r.to, payload, client_id(&headers, None)?).with_purpose(r.message_purpose);
    answer(app, &session.id, out).await
}

/// `POST /send-otp`: the template must hold exactly one `%s`, which the code replaces.
pub async fn otp(app: &App, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (session, headers) = (
        super::caller(app, req.headers()).await?,
        req.headers().clone(),
    );
    let r: SendOtp = body::json(app, req, Empty::Refuse).await?;
    let code = r.code.trim();
    if code.is_empty() || code.chars().count() > 32 || code.chars().any(char::is_whitespace) {
        return Err(ApiError::field(
            "code",
            "must be 1 to 32 characters without spaces",
        ));
    }
    let template = r.template.unwrap_or_else(|| DEFAULT_OTP_TEMPLATE.into());
    if template.matches("%s").count() != 1 {
        return Err(ApiError::field(
            "template",
            "must contain exactly one %s (replaced by the code)",
        ));
    }
    let text = template.replacen("%s", code, 1);
    check_text("template", &text)?;
    let payload = Payload::Text {
        body: text,
        quote: None,
    };
    let purpose = r.message_purpose.or(Some("authentication".into()));
    let out = Outgoing::new(&r.to, payload, client_id(&headers, None)?).with_purpose(purpose);
    answer(app, &session.id, out).await
}

/// Queues the send (as `/send/text` does) and answers WAGO-Go's way.
async fn answer(app: &App, session: &str, out: Outgoing) -> Result<Response<Body>, ApiError> {
    let (msg, _created) = submit(app, session, out, "to").await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "message_id": msg.id }),
    ))
}
