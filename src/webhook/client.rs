//! The delivery HTTP client: HTTP/1.1 over TCP or rustls (ring, Mozilla
//! roots), with keep-alive connections reused per receiver.
//!
//! Each subscription's worker owns its own client, so a slow receiver's
//! connections never hold up another's. A request that a reused connection
//! could not even send (the receiver closed it while idle) is sent again on
//! a fresh connection; once sent, it is never repeated here.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most bytes of a receiver's answer that are read (the rest is ignored).
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// Idle connections kept per receiver.
pub const MAX_IDLE: usize = 32;

/// Why a delivery attempt got no HTTP answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The URL cannot be used.
    #[error("bad webhook URL: {0}")]
    BadUrl(String),
    /// DNS or TCP connect failed.
    #[error("connect failed: {0}")]
    Connect(String),
    /// The TLS handshake failed.
    #[error("TLS failed: {0}")]
    Tls(String),
    /// The HTTP exchange failed.
    #[error("HTTP failed: {0}")]
    Http(String),
    /// No answer in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// A receiver's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After`, raw.
    pub retry_after: Option<String>,
}

type Sender = SendRequest<Full<Bytes>>;

/// A client with a pool of idle connections per `scheme://host:port`.
pub struct Client {
    tls: tokio_rustls::TlsConnector,
    idle: Mutex<HashMap<String, Vec<Sender>>>,
    connect_timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

/// The TLS settings: ring provider, webpki roots, TLS 1.2 and 1.3.
pub fn tls_config() -> Result<Arc<rustls::ClientConfig>, DeliveryError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| DeliveryError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(cfg))
}

impl Client {
    /// A client using `tls` for `https://` receivers.
    pub fn new(tls: Arc<rustls::ClientConfig>, connect_timeout: Duration) -> Client {
        Client {
            tls: tokio_rustls::TlsConnector::from(tls),
            idle: Mutex::new(HashMap::new()),
            connect_timeout,
        }
    }

    /// POSTs `body` to `url` and reads the answer (within `timeout` overall).
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Reply, DeliveryError> {
        tokio::time::timeout(timeout, self.post_inner(url, headers, body))
            .await
            .map_err(|_| DeliveryError::Timeout(timeout))?
    }

    async fn post_inner(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<Reply, DeliveryError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| DeliveryError::BadUrl(format!("{e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(DeliveryError::BadUrl("not http(s)".into())),
        };
        let host = uri
            .host()
            .ok_or_else(|| DeliveryError::BadUrl("no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let key = format!("{}://{host}:{port}", if https { "https" } else { "http" });
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        let path = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .to_string();
        let build = || {
            let mut rb =
                Request::post(path.as_str()).header(hyper::header::HOST, authority.as_str());
            for (k, v) in headers {
                rb = rb.header(k.as_str(), v.as_str());
            }
            rb.body(Full::new(body.clone()))
                .map_err(|e| DeliveryError::Http(e.to_string()))
        };
        let mut req = build()?;
        // A pooled connection first; if it could not even take the request, a fresh one.
        while let Some(mut s) = self.take_idle(&key) {
            if s.ready().await.is_err() {
                continue;
            }
            match s.try_send_request(req).await {
                Ok(resp) => return self.finish(key, s, resp).await,
                Err(mut e) => match e.take_message() {
                    Some(r) => req = r,
                    None => return Err(DeliveryError::Http(e.into_error().to_string())),
                },
            }
        }
        let mut s = self.connect(&host, port, https).await?;
        s.ready()
            .await
            .map_err(|e| DeliveryError::Http(e.to_string()))?;
        let resp = s
            .send_request(req)
            .await
            .map_err(|e| DeliveryError::Http(e.to_string()))?;
        self.finish(key, s, resp).await
    }

    async fn finish(
        &self,
        key: String,
        s: Sender,
        resp: hyper::Response<hyper::body::Incoming>,
    ) -> Result<Reply, DeliveryError> {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Read (and drop) the answer so the connection can be reused.
        let complete = Limited::new(resp.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .is_ok();
        if complete && !s.is_closed() {
            self.put_idle(key, s);
        }
        Ok(Reply {
            status,
            retry_after,
        })
    }

    fn take_idle(&self, key: &str) -> Option<Sender> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(key)?;
        while let Some(s) = list.pop() {
            if !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    fn put_idle(&self, key: String, s: Sender) {
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(key).or_default();
            if list.len() < MAX_IDLE {
                list.push(s);
            }
        }
    }

    async fn connect(&self, host: &str, port: u16, https: bool) -> Result<Sender, DeliveryError> {
        let tcp = tokio::time::timeout(
            self.connect_timeout,
            tokio::net::TcpStream::connect((host, port)),
        )
        .await
        .map_err(|_| {
            DeliveryError::Connect(format!("no connection within {:?}", self.connect_timeout))
        })?
        .map_err(|e| DeliveryError::Connect(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        if https {
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| DeliveryError::Tls(e.to_string()))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| DeliveryError::Tls(e.to_string()))?;
            handshake(TokioIo::new(tls)).await
        } else {
            handshake(TokioIo::new(tcp)).await
        }
    }
}

async fn handshake<T>(io: T) -> Result<Sender, DeliveryError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(io)
        .await
        .map_err(|e| DeliveryError::Http(e.to_string()))?;
    // The connection task carries the span of the attempt that opened it.
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "webhook connection closed");
        }
    }));
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncWriteExt;

    /// A loopback HTTP server answering 204 and counting its connections.
    async fn counting_server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        let conns = Arc::new(AtomicUsize::new(0));
        let c = conns.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(|_req| async {
                        let mut r = hyper::Response::new(Full::new(Bytes::new()));
                        *r.status_mut() = hyper::StatusCode::NO_CONTENT;
                        Ok::<_, std::convert::Infallible>(r)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        (addr, conns)
    }

    fn client() -> Client {
        Client::new(tls_config().expect("tls"), Duration::from_secs(2))
    }

    #[tokio::test]
    async fn connections_are_reused() {
        let (addr, conns) = counting_server().await;
        let c = client();
        for _ in 0..5 {
            let r = c
                .post(
                    &format!("http://{addr}/h"),
                    &[],
                    Bytes::from_static(b"{}"),
                    Duration::from_secs(5),
                )
                .await
                .expect("post");
            assert_eq!(r.status, 204);
        }
        assert_eq!(
            conns.load(Ordering::SeqCst),
            1,
            "one keep-alive connection for five posts"
        );
    }

    #[tokio::test]
    async fn https_speaks_tls_and_never_falls_back_to_plaintext() {
        // A plaintext server: the TLS handshake must fail, not send the body in clear.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let err = client()
            .post(
                &format!("https://{addr}/h"),
                &[],
                Bytes::from_static(b"{}"),
                Duration::from_secs(5),
            )
            .await
            .expect_err("not TLS");
        assert!(matches!(err, DeliveryError::Tls(_)), "{err}");
        let err = client()
            .post(
                "ftp://127.0.0.1/",
                &[],
                Bytes::new(),
                Duration::from_secs(1),
            )
            .await
            .expect_err("bad scheme");
        assert!(matches!(err, DeliveryError::BadUrl(_)), "{err}");
    }
}
