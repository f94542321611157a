//! The HTTP client the WhatsApp library uses (version lookup, media).
//!
//! hyper-util with rustls (ring, webpki roots): no OpenSSL. Every request is
//! bounded in time and response size.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use whatsapp_rust::wacore::net::{HttpClient, HttpRequest, HttpResponse};

/// Longest a request may take, connect to last byte.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest response body accepted (media downloads included).
pub const MAX_RESPONSE_BYTES: usize = 100 * 1024 * 1024;

/// hyper-based [`HttpClient`].
#[derive(Clone)]
pub struct HyperHttp {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// Test builds only: `http://127.0.0.1:PORT` that takes every `https://`
    /// request instead of its host (the simulator's media host).
    #[cfg(feature = "test-sim")]
    media_redirect: Option<String>,
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
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .map_err(|_| anyhow::anyhow!("HTTP request timed out after {REQUEST_TIMEOUT:?}"))?
    }
}
