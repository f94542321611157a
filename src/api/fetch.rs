//! Fetching media a send names by URL: http and https only, with a size cap,
//! a time limit and at most a few redirects.
//!
//! Every failure is the client's to fix and says why: the API turns it into
//! a 422 (`media_unreachable`) or a 413 (`media_too_large`) naming the field.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 3;

/// Why a media URL gave no usable file.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not an http or https URL.
    #[error("{0}")]
    BadUrl(String),
    /// No answer, an error status, or too many redirects.
    #[error("{0}")]
    Unreachable(String),
    /// Larger than the cap.
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
}

/// A fetched file.
#[derive(Debug)]
pub struct Fetched {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The answer's `Content-Type` without parameters, lowercase, if any.
    pub content_type: Option<String>,
}

/// Checks that `url` is an absolute http(s) URL with a host.
pub fn check_url(url: &str) -> Result<hyper::Uri, FetchError> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| FetchError::BadUrl(format!("not a URL: {e}")))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => {
            return Err(FetchError::BadUrl(
                "only http:// and https:// URLs (or a base64 data URL) are accepted".into(),
            ));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(FetchError::BadUrl("the URL has no host".into()));
    }
    Ok(uri)
}

/// GETs `url`, following up to [`MAX_REDIRECTS`] redirects, within `timeout`
/// and `max_bytes`.
pub async fn get(url: &str, max_bytes: u64, timeout: Duration) -> Result<Fetched, FetchError> {
    let mut uri = check_url(url)?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let work = async {
        for _ in 0..=MAX_REDIRECTS {
            let req = hyper::Request::get(uri.clone())
                .header(header::USER_AGENT, "wago")
                .body(Empty::new())
                .map_err(|e| FetchError::BadUrl(e.to_string()))?;
            let resp = client.request(req).await.map_err(|e| {
                FetchError::Unreachable(format!("cannot fetch {uri}: {}", chain(&e)))
            })?;
            let status = resp.status();
            if status.is_redirection() {
                let to = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| FetchError::Unreachable(format!("{uri} redirected nowhere")))?;
                uri = resolve(&uri, to)?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Unreachable(format!("{uri} answered {status}")));
            }
            let declared = resp
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > max_bytes) {
                return Err(FetchError::TooLarge(max_bytes));
            }
            let content_type = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                })
                .filter(|v| !v.is_empty());
            let cap = usize::try_from(max_bytes).unwrap_or(usize::MAX);
            let bytes = Limited::new(resp.into_body(), cap)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        FetchError::TooLarge(max_bytes)
                    } else {
                        FetchError::Unreachable(format!("reading {uri} failed: {e}"))
                    }
                })?
                .to_bytes()
                .to_vec();
            return Ok(Fetched {
                bytes,
                content_type,
            });
        }
        Err(FetchError::Unreachable(format!(
            "more than {MAX_REDIRECTS} redirects"
        )))
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| {
        FetchError::Unreachable(format!("no complete answer within {} s", timeout.as_secs()))
    })?
}

/// A `Location` against the URL that sent it.
fn resolve(base: &hyper::Uri, location: &str) -> Result<hyper::Uri, FetchError> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return check_url(location);
    }
    if !location.starts_with('/') {
        return Err(FetchError::Unreachable(format!(
            "unsupported redirect to {location}"
        )));
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    check_url(&format!("{scheme}://{authority}{location}"))
}

/// An error and its causes on one line (hyper's top-level message is vague).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https() {
        for good in ["http://127.0.0.1:8/a.png", "https://example.com/x"] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in [
            "ftp://example.com/a",
            "file:///etc/passwd",
            "example.com/a",
            "http://",
        ] {
            assert!(
                matches!(check_url(bad), Err(FetchError::BadUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn relative_redirects_keep_the_origin() {
        let base: hyper::Uri = "http://127.0.0.1:9/a/b".parse().expect("uri");
        let to = resolve(&base, "/c").expect("resolves");
        assert_eq!(to.to_string(), "http://127.0.0.1:9/c");
        assert!(resolve(&base, "gopher://x").is_err());
    }
}
