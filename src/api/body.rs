//! Reading request bodies: content type, size limit, read timeout, JSON.
//!
//! Every failure here is the client's: 415 for a wrong content type, 413 for
//! a body over the limit, 408 for one that arrives too slowly, 400
//! `invalid_json` for malformed JSON and 422 naming the field for JSON of the
//! wrong shape.

use super::App;
use super::peer::PeerLimits;
use super::reply::ApiError;
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Request, StatusCode, header};
use serde::de::DeserializeOwned;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whether an empty body stands for `{}` on this route.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Empty {
    /// An empty body is parsed as `{}`.
    AsObject,
    /// An empty body is an `invalid_json` error.
    Refuse,
}

/// Reads and parses a JSON request body.
pub async fn json<T: DeserializeOwned>(
    app: &App,
    req: Request<Incoming>,
    empty: Empty,
) -> Result<T, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?").to_string());
    let bytes = read(app, req).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) && empty == Empty::AsObject {
        return parse(b"{}");
    }
    match content_type {
        Some(ct) if is_json(&ct) => {
            let value = parse(&bytes)?;
            // serde reads a struct from an array too (`[null, null]`); these
            // routes take an object.
            if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
                return Err(ApiError::field("body", "must be a JSON object"));
            }
            Ok(value)
        }
        Some(ct) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("expected Content-Type: application/json, got {ct}"),
        )),
        None => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        )),
    }
}

/// `application/json`, any case, with or without parameters; also `+json` types.
fn is_json(ct: &str) -> bool {
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Reads the whole body within the size limit and the read timeout.
pub async fn read(app: &App, req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let limit = app.limits.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit
    {
        return Err(too_large());
    }
    let (limits, ip) = (
        super::peer::limits(&req),
        super::peer::addr(&req).map(|a| a.ip()),
    );
    let limited = Limited::new(
        req.into_body(),
        usize::try_from(limit).unwrap_or(usize::MAX),
    );
    match collect(limits, ip, app.limits.body_timeout, limited).await {
        Err(Cut::Timeout) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        )),
        Err(Cut::TooSlow) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body arrived too slowly while the gateway is busy (limits.min_body_rate)",
        )),
        Err(Cut::Failed(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(Cut::Failed(e)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the request body could not be read: {e}"),
        )),
        Ok(bytes) => Ok(bytes),
    }
}

/// How often a body being read is checked against its deadline and rate.
const BODY_CHECK: Duration = Duration::from_millis(250);

/// Why a request body was not read whole.
enum Cut<E> {
    /// Over `http.body_timeout_secs`.
    Timeout,
    /// Under pressure, slower than `limits.min_body_rate`.
    TooSlow,
    /// The body itself failed (too large, connection lost).
    Failed(E),
}

/// Reads `body` whole within `timeout`; under pressure (the server's
/// [`PeerLimits::body_floor`]) a body that, after the grace, has come slower
/// than the floor on average is cut.
async fn collect<B>(
    limits: Option<Arc<dyn PeerLimits>>,
    ip: Option<IpAddr>,
    timeout: Duration,
    mut body: B,
) -> Result<Bytes, Cut<B::Error>>
where
    B: hyper::body::Body + Unpin,
{
    let started = Instant::now();
    let mut buf = BytesMut::new();
    let mut check = tokio::time::interval(BODY_CHECK);
    loop {
        tokio::select! {
            f = body.frame() => match f {
                None => return Ok(buf.freeze()),
                Some(Err(e)) => return Err(Cut::Failed(e)),
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        while data.has_remaining() {
                            let chunk = data.chunk();
                            buf.extend_from_slice(chunk);
                            let n = chunk.len();
                            data.advance(n);
                        }
                    }
                }
            },
            _ = check.tick() => {
                let elapsed = started.elapsed();
                if elapsed >= timeout {
                    return Err(Cut::Timeout);
                }
                if let Some(l) = &limits
                    && let Some((grace, rate)) = l.body_floor()
                    && elapsed > grace
                    && (buf.len() as f64) < f64::from(rate) * elapsed.as_secs_f64()
                {
                    if let Some(ip) = ip {
                        l.cut_slow_body(ip);
                    }
                    return Err(Cut::TooSlow);
                }
            }
        }
    }
}

/// Parses JSON, telling malformed JSON (400) from JSON of the wrong shape (422).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    result.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = field_of(&path, &inner.to_string());
                ApiError::field(&field, inner.to_string())
            }
            _ => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {inner}"),
            ),
        }
    })
}

/// The field a data error is about: the path, or for a missing field the name
/// serde puts in backticks ("missing field `Name`").
fn field_of(path: &str, message: &str) -> String {
    if message.starts_with("missing field")
        && let Some(name) = message.split('`').nth(1)
    {
        return if path == "." || path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
    }
    if path == "." {
        "body".into()
    } else {
        path.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct T {
        #[serde(rename = "Name")]
        name: String,
        #[serde(rename = "Events", default)]
        events: Vec<String>,
    }

    #[test]
    fn classify_errors() {
        let cases: &[(&str, u16, Option<&str>)] = &[
            ("{", 400, None),
            ("nope", 400, None),
            ("{}", 422, Some("Name")),
            ("{\"Name\": 5}", 422, Some("Name")),
            ("{\"Name\": \"a\", \"Events\": [1]}", 422, Some("Events[0]")),
            ("[]", 422, Some("body")),
        ];
        for (input, status, field) in cases {
            let err = parse::<T>(input.as_bytes()).expect_err(input);
            assert_eq!(err.status.as_u16(), *status, "{input}");
            let got = err.details.as_ref().and_then(|d| d["field"].as_str());
            assert_eq!(got, *field, "{input}");
        }
        assert!(parse::<T>(b"{\"Name\": \"x\"}").is_ok());
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/problem+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
