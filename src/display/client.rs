//! A small HTTP client for the local gateway's display routes: plain HTTP on
//! loopback, a fresh connection per request (the gateway may restart at any
//! time), a timeout on each call. The token is never logged.

use super::model::DisplayStatus;
use crate::config::Secret;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use std::time::Duration;

/// Time one call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read (a status is a few hundred bytes).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No answer: the gateway is down or starting.
    #[error("the gateway does not answer: {0}")]
    Unreachable(String),
    /// The token was refused (401/403).
    #[error("the gateway refused the token ({0})")]
    Refused(u16),
    /// Any other error answer.
    #[error("the gateway answered {status}: {message}")]
    Answer {
        /// HTTP status.
        status: u16,
        /// The envelope's message.
        message: String,
    },
}

/// Talks to the gateway.
#[derive(Clone)]
pub struct GatewayClient {
    base: String,
    token: Secret,
    session: Option<String>,
    http: Client<HttpConnector, Empty<Bytes>>,
}

impl std::fmt::Debug for GatewayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayClient")
            .field("base", &self.base)
            .field("token", &self.token)
            .field("session", &self.session)
            .finish()
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: Option<T>,
    message: Option<String>,
}

impl GatewayClient {
    /// A client for `base` (`http://127.0.0.1:1337`) with `token`, showing `session` (or the gateway's choice).
    pub fn new(base: &str, token: Secret, session: Option<String>) -> GatewayClient {
        let mut conn = HttpConnector::new();
        conn.set_connect_timeout(Some(CALL_TIMEOUT));
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(conn);
        GatewayClient {
            base: base.trim_end_matches('/').to_string(),
            token,
            session,
            http,
        }
    }

    /// Replaces the token (after the gateway made a new one).
    pub fn set_token(&mut self, token: Secret) {
        self.token = token;
    }

    fn url(&self, path: &str) -> String {
        match &self.session {
            Some(s) => format!("{}{path}?session={s}", self.base),
            None => format!("{}{path}", self.base),
        }
    }

    async fn call(&self, method: hyper::Method, path: &str) -> Result<DisplayStatus, ClientError> {
        let req = hyper::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("authorization", format!("Bearer {}", self.token.expose()))
            .body(Empty::<Bytes>::new())
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let fut = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| ClientError::Unreachable(e.to_string()))?;
            let status = resp.status().as_u16();
            let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| ClientError::Unreachable(e.to_string()))?
                .to_bytes();
            Ok::<_, ClientError>((status, body))
        };
        let (status, body) = tokio::time::timeout(CALL_TIMEOUT, fut)
            .await
            .map_err(|_| ClientError::Unreachable("timed out".into()))??;
        if status == 401 || status == 403 {
            return Err(ClientError::Refused(status));
        }
        let env: Envelope<DisplayStatus> =
            serde_json::from_slice(&body).map_err(|e| ClientError::Answer {
                status,
                message: format!("not a display status: {e}"),
            })?;
        match (status, env.data) {
            (200, Some(d)) => Ok(d),
            _ => Err(ClientError::Answer {
                status,
                message: env.message.unwrap_or_default(),
            }),
        }
    }

    /// `GET /display/status`.
    pub async fn status(&self) -> Result<DisplayStatus, ClientError> {
        self.call(hyper::Method::GET, "/display/status").await
    }

    /// `POST /display/pair`.
    pub async fn pair(&self) -> Result<DisplayStatus, ClientError> {
        self.call(hyper::Method::POST, "/display/pair").await
    }
}

/// The gateway URL for a config: `display.gateway_url`, else loopback on the `listen` port.
pub fn gateway_url(cfg: &crate::config::Config) -> String {
    if let Some(u) = &cfg.display.gateway_url {
        return u.clone();
    }
    let port = cfg.listen_addr().map(|a| a.port()).unwrap_or(1337);
    format!("http://127.0.0.1:{port}")
}
