//! `GET /api`: the API explorer, one self-contained HTML page over
//! `/openapi.json` (HTML, CSS and vanilla JS embedded in the binary, no
//! external resources). The CSS and JS are inlined and allowed by their
//! SHA-256 in a strict Content-Security-Policy, so nothing else can run or
//! load, and the page can only talk to the gateway itself.

use super::reply::Body;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const HTML: &str = include_str!("explorer/index.html");
const CSS: &str = include_str!("explorer/explorer.css");
const JS: &str = include_str!("explorer/explorer.js");

/// The page and its Content-Security-Policy.
struct Page {
    html: Bytes,
    csp: String,
}

fn hash(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
}

fn page() -> &'static Page {
    static PAGE: OnceLock<Page> = OnceLock::new();
    PAGE.get_or_init(|| {
        let html = HTML.replacen("/*CSS*/", CSS, 1).replacen("/*JS*/", JS, 1);
        let csp = format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
             connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'",
            hash(JS),
            hash(CSS)
        );
        Page {
            html: Bytes::from(html),
            csp,
        }
    })
}

/// `GET /api`.
pub fn serve() -> Response<Body> {
    let p = page();
    let mut resp = Response::new(Full::new(p.html.clone()).boxed());
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&p.csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_self_contained_and_csp_matches_inlined_code() {
        let p = page();
        let html = std::str::from_utf8(&p.html).expect("utf8");
        assert!(html.contains(JS) && html.contains(CSS), "code inlined");
        assert!(!html.contains("/*JS*/") && !html.contains("/*CSS*/"));
        for needle in ["http://", "https://", "//cdn", "src=\"", "@import"] {
            assert!(!html.contains(needle), "external reference {needle}");
        }
        assert!(p.csp.contains(&format!("'sha256-{}'", hash(JS))));
        assert!(p.csp.starts_with("default-src 'none'"));
        assert!(!p.csp.contains("unsafe"));
    }
}
