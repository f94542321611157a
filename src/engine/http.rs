//! The HTTP client the WhatsApp library uses (version lookup, media).
//!
//! hyper-util with rustls (ring, webpki roots): no OpenSSL. Every request is
//! bounded in time and response size. A session's client reports a failed
//! fetch of WhatsApp Web's current version to the session ([`Reporter`]):
//! without it the client cannot log in.

use super::diagnosis::{Diagnosis, FailureCode, cause_words, io_class, root_io};
use super::reporter::Reporter;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;
use whatsapp_rust::wacore::net::{HttpClient, HttpRequest, HttpResponse};

/// Longest a request may take, connect to last byte.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest response body accepted (media downloads included).
pub const MAX_RESPONSE_BYTES: usize = 100 * 1024 * 1024;
/// Where whatsapp-rust 0.7 fetches WhatsApp Web's current version (its
/// private `SW_URL`; re-check when the library moves).
pub const VERSION_URL: &str = "https://web.whatsapp.com/sw.js";

/// hyper-based [`HttpClient`].
#[derive(Clone)]
pub struct HyperHttp {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// Test builds only: `http://127.0.0.1:PORT` that takes every `https://`
    /// request instead of its host (the simulator's media host).
    #[cfg(feature = "test-sim")]
    media_redirect: Option<String>,
    /// The session told about a failed version fetch.
    reporter: Option<Arc<Reporter>>,
}

impl std::fmt::Debug for HyperHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HyperHttp")
    }
}

impl HyperHttp {
    /// A client with WebPKI roots that speaks http and https.
    pub fn new() -> Self {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        HyperHttp {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(https),
            #[cfg(feature = "test-sim")]
            media_redirect: None,
            reporter: None,
        }
    }

    /// The client the WhatsApp library uses. In test builds, when
    /// `TEST_WAGO_MEDIA_URL` is set, every `https://host/path` request goes to
    /// `TEST_WAGO_MEDIA_URL/path` instead (the simulator's loopback media host,
    /// whatever host its `media_conn` names).
    pub fn for_whatsapp() -> Self {
        #[allow(unused_mut)]
        let mut http = Self::new();
        #[cfg(feature = "test-sim")]
        {
            http.media_redirect = std::env::var("TEST_WAGO_MEDIA_URL")
                .ok()
                .filter(|u| !u.is_empty())
                .map(|u| u.trim_end_matches('/').to_string());
        }
        http
    }

    /// Reports failed version fetches to a session.
    pub(crate) fn reporting_to(mut self, reporter: Arc<Reporter>) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// The URL actually requested for `url`.
    fn target(&self, url: &str) -> String {
        #[cfg(feature = "test-sim")]
        if let Some(base) = &self.media_redirect
            && let Some(rest) = url.strip_prefix("https://")
        {
            let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
            return format!("{base}{path}");
        }
        url.to_string()
    }
}

impl Default for HyperHttp {
    fn default() -> Self {
        Self::new()
    }
}

#[whatsapp_rust::async_trait]
impl HttpClient for HyperHttp {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        if request.url != VERSION_URL {
            return self.send(request, REQUEST_TIMEOUT).await;
        }
        let result = self.send(request, super::transport::CONNECT_TIMEOUT).await;
        if let Some(reporter) = &self.reporter {
            let cause = match &result {
                Ok(r) if r.status_code >= 300 => Some(format!("HTTP {}", r.status_code)),
                Ok(_) => {
                    reporter.version_fetched();
                    None
                }
                Err(e) => Some(fetch_cause(e)),
            };
            if let Some(cause) = cause {
                reporter.version_failed(Diagnosis::new(
                    FailureCode::VersionFetchFailed,
                    format!(
                        "cannot fetch WhatsApp Web's current version from web.whatsapp.com ({cause}): the box needs HTTPS access to web.whatsapp.com, or set whatsapp.version"
                    ),
                ));
            }
        }
        result
    }
}

/// Why a request failed, in a few words: the I/O class at the bottom of
/// the chain, or the deepest error's own words.
fn fetch_cause(e: &anyhow::Error) -> String {
    let chain: &(dyn std::error::Error + 'static) = e.as_ref();
    if let Some(code) = root_io(chain).and_then(io_class) {
        return cause_words(code).to_string();
    }
    e.chain()
        .last()
        .map(|c| c.to_string())
        .unwrap_or_else(|| e.to_string())
}

impl HyperHttp {
    async fn send(&self, request: HttpRequest, limit: Duration) -> anyhow::Result<HttpResponse> {
        let mut builder = hyper::Request::builder()
            .method(request.method.as_str())
            .uri(self.target(&request.url).as_str());
        for (k, v) in &request.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let req = builder.body(Full::new(request.body.unwrap_or_default()))?;
        let fut = async {
            let resp = self.client.request(req).await?;
            let status_code = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("reading the response: {e}"))?
                .to_bytes()
                .to_vec();
            Ok::<_, anyhow::Error>(HttpResponse { status_code, body })
        };
        tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| anyhow::anyhow!("HTTP request timed out after {limit:?}"))?
    }
}

#[cfg(all(test, feature = "test-sim"))]
mod tests {
    use super::*;

    #[test]
    fn media_redirect_keeps_path_and_query_and_leaves_http_alone() {
        let mut http = HyperHttp::new();
        assert_eq!(
            http.target("https://mmg.whatsapp.net/x"),
            "https://mmg.whatsapp.net/x"
        );
        http.media_redirect = Some("http://127.0.0.1:9".into());
        assert_eq!(
            http.target("https://127.0.0.1:5/mms/image/t?auth=a&token=t"),
            "http://127.0.0.1:9/mms/image/t?auth=a&token=t"
        );
        assert_eq!(http.target("https://host"), "http://127.0.0.1:9/");
        assert_eq!(http.target("http://127.0.0.1:7/a"), "http://127.0.0.1:7/a");
    }
}
