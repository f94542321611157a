//! The WebSocket transport to WhatsApp's chat server, opened step by step
//! so that a failure says which step failed and why.
//!
//! The library's own factory (`TokioWebSocketTransportFactory`) turns every
//! failure into one string. This one does the same work (name lookup, TCP,
//! TLS with the library's connector, WebSocket upgrade with WhatsApp Web's
//! `Origin`) in separate steps, classifies the failure from the step and the
//! error's kind ([`super::diagnosis`]), reports it to the session
//! ([`Reporter`]) and then hands the library the same error it would have
//! had. Once open, the socket is the library's (`from_websocket`).

use super::diagnosis::{Diagnosis, FailureCode, cause_words, io_class};
use super::reporter::Reporter;
use hyper::Uri;
use hyper::header::{HeaderValue, ORIGIN};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_websockets::{ClientBuilder, Connector, MaybeTlsStream, WebSocketStream};
use whatsapp_rust::transport::{Transport, TransportEvent, TransportFactory, from_websocket};
use whatsapp_rust::wacore::net::{WHATSAPP_WEB_ORIGIN, WHATSAPP_WEB_WS_URL};

/// Longest the whole opening (lookup, TCP, TLS, upgrade) may take. Below the
/// library's own 20 s limit, so a silent network is diagnosed, and below
/// `POST /session/connect`'s wait, so the answer can carry the diagnosis.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A transport factory that reports why a connection could not be opened.
pub(crate) struct DiagnosingTransport {
    url: String,
    tls: Connector,
    reporter: Arc<Reporter>,
}

impl DiagnosingTransport {
    /// Connects to `url` (WhatsApp's own when `None`).
    pub(crate) fn new(url: Option<String>, reporter: Arc<Reporter>) -> Self {
        DiagnosingTransport {
            url: url.unwrap_or_else(|| WHATSAPP_WEB_WS_URL.to_string()),
            tls: whatsapp_rust::transport::default_tls_connector(),
            reporter,
        }
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A step of opening the connection that failed.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error("bad chat server URL {0}")]
    Url(String),
    #[error("cannot look up {host}: {source}")]
    Lookup {
        host: String,
        source: std::io::Error,
    },
    #[error("{host} has no address")]
    NoAddress { host: String },
    #[error("cannot connect to {host} ({addr}): {source}")]
    Tcp {
        host: String,
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS with {host} failed: {source}")]
    Tls {
        host: String,
        source: tokio_websockets::Error,
    },
    #[error("WebSocket upgrade at {host} failed: {source}")]
    Upgrade {
        host: String,
        source: tokio_websockets::Error,
    },
    #[error("{host} did not answer within {CONNECT_TIMEOUT:?}")]
    Timeout { host: String },
}

impl OpenError {
    /// The class and the sentence.
    fn diagnosis(&self) -> Diagnosis {
        let (code, text) = match self {
            OpenError::Url(u) => (
                FailureCode::ClientError,
                format!("the chat server URL {u} is not a ws:// or wss:// URL"),
            ),
            OpenError::Lookup { host, .. } | OpenError::NoAddress { host } => (
                FailureCode::DnsFailure,
                format!(
                    "cannot look up {host}: the box's DNS server does not answer or does not know the name; check the network's DNS settings"
                ),
            ),
            OpenError::Tcp { host, addr, source } => match io_class(source) {
                Some(FailureCode::ConnectionRefused) => (
                    FailureCode::ConnectionRefused,
                    format!(
                        "{host} ({addr}) refused the connection: a firewall or proxy may block WhatsApp"
                    ),
                ),
                Some(FailureCode::NoRoute) => (
                    FailureCode::NoRoute,
                    format!(
                        "no network route to {host} ({addr}): check the cable or Wi-Fi and the router's internet connection"
                    ),
                ),
                Some(c) => (
                    c,
                    format!("cannot connect to {host} ({addr}): {}", cause_words(c)),
                ),
                None => (
                    FailureCode::NetworkError,
                    format!("cannot connect to {host} ({addr}): {source}"),
                ),
            },
            OpenError::Tls { host, source } => match ws_io_class(source) {
                Some(c) => (
                    c,
                    format!(
                        "the connection to {host} broke during the TLS handshake ({}): a firewall or proxy may block WhatsApp",
                        cause_words(c)
                    ),
                ),
                None => (
                    FailureCode::TlsFailure,
                    format!(
                        "the secure (TLS) connection to {host} failed ({}): a captive portal or a TLS-intercepting proxy may be in the way",
                        tls_detail(source)
                    ),
                ),
            },
            OpenError::Upgrade { host, source } => match ws_io_class(source) {
                Some(c) => (
                    c,
                    format!(
                        "the connection to {host} broke before WhatsApp answered ({}): a firewall or proxy may block WhatsApp",
                        cause_words(c)
                    ),
                ),
                None => (
                    FailureCode::HandshakeFailed,
                    format!(
                        "{host} answered, but not as WhatsApp's server does ({source}): a proxy or captive portal may be in the way"
                    ),
                ),
            },
            OpenError::Timeout { host } => (
                FailureCode::Timeout,
                format!(
                    "{host} did not answer within {} s: check the internet connection and that the firewall lets the box out",
                    CONNECT_TIMEOUT.as_secs()
                ),
            ),
        };
        Diagnosis::new(code, text)
    }
}

/// The class of a WebSocket-layer error when it is a plain I/O cut.
fn ws_io_class(e: &tokio_websockets::Error) -> Option<FailureCode> {
    match e {
        tokio_websockets::Error::Io(io) => io_class(io),
        _ => None,
    }
}

/// rustls' own words for a failed handshake (the certificate problem, the
/// corrupt record), without the wrappers.
fn tls_detail(e: &tokio_websockets::Error) -> String {
    if let tokio_websockets::Error::Io(io) = e
        && let Some(inner) = io.get_ref()
        && let Some(tls) = inner.downcast_ref::<rustls::Error>()
    {
        return tls.to_string();
    }
    e.to_string()
}

/// Opens the socket, one step at a time.
async fn open(url: &str, tls: &Connector) -> Result<Socket, OpenError> {
    let uri: Uri = url.parse().map_err(|_| OpenError::Url(url.to_string()))?;
    let secure = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => return Err(OpenError::Url(url.to_string())),
    };
    let host = uri
        .host()
        .ok_or_else(|| OpenError::Url(url.to_string()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|source| OpenError::Lookup {
            host: host.clone(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(OpenError::NoAddress { host });
    }
    let tcp = connect_any(&host, &addrs).await?;
    let connector = if secure { tls } else { &Connector::Plain };
    let stream = connector
        .wrap(&host, tcp)
        .await
        .map_err(|source| OpenError::Tls {
            host: host.clone(),
            source,
        })?;
    let upgrade = |source| OpenError::Upgrade {
        host: host.clone(),
        source,
    };
    let (ws, _) = ClientBuilder::from_uri(uri)
        .add_header(ORIGIN, HeaderValue::from_static(WHATSAPP_WEB_ORIGIN))
        .map_err(upgrade)?
        .connect_on(stream)
        .await
        .map_err(upgrade)?;
    Ok(ws)
}

/// TCP to the first address that accepts; the last address's error otherwise.
async fn connect_any(host: &str, addrs: &[SocketAddr]) -> Result<TcpStream, OpenError> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, source) = match last {
        Some(l) => l,
        None => return Err(OpenError::NoAddress { host: host.into() }),
    };
    Err(OpenError::Tcp {
        host: host.to_string(),
        addr: addr.to_string(),
        source,
    })
}

#[whatsapp_rust::async_trait]
impl TransportFactory for DiagnosingTransport {
    async fn create_transport(
        &self,
    ) -> Result<
        (
            Arc<dyn Transport>,
            whatsapp_rust::async_channel::Receiver<TransportEvent>,
        ),
        anyhow::Error,
    > {
        let attempt = self.reporter.begin_attempt();
        let opened = match tokio::time::timeout(CONNECT_TIMEOUT, open(&self.url, &self.tls)).await {
            Ok(r) => r,
            Err(_) => Err(OpenError::Timeout {
                host: Uri::try_from(self.url.as_str())
                    .ok()
                    .and_then(|u| u.host().map(str::to_string))
                    .unwrap_or_else(|| self.url.clone()),
            }),
        };
        match opened {
            Ok(ws) => {
                self.reporter.socket_opened();
                Ok(from_websocket(ws))
            }
            Err(e) => {
                tracing::debug!(error = ?e, "opening the chat socket failed");
                self.reporter.socket_failed(attempt, e.diagnosis());
                Err(anyhow::Error::new(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn code(e: OpenError) -> FailureCode {
        e.diagnosis().code
    }

    #[test]
    fn each_step_classifies_by_kind() {
        let tcp = |kind| OpenError::Tcp {
            host: "h".into(),
            addr: "127.0.0.1:1".into(),
            source: io::Error::from(kind),
        };
        assert_eq!(
            code(tcp(io::ErrorKind::ConnectionRefused)),
            FailureCode::ConnectionRefused
        );
        assert_eq!(
            code(tcp(io::ErrorKind::NetworkUnreachable)),
            FailureCode::NoRoute
        );
        assert_eq!(
            code(tcp(io::ErrorKind::PermissionDenied)),
            FailureCode::NetworkError
        );
        let tls_cut = OpenError::Tls {
            host: "h".into(),
            source: tokio_websockets::Error::Io(io::ErrorKind::ConnectionReset.into()),
        };
        assert_eq!(code(tls_cut), FailureCode::ConnectionReset);
        let bad_cert = OpenError::Tls {
            host: "h".into(),
            source: tokio_websockets::Error::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
            )),
        };
        let d = bad_cert.diagnosis();
        assert_eq!(d.code, FailureCode::TlsFailure);
        assert!(d.message.contains("UnknownIssuer"), "{}", d.message);
        let lookup = OpenError::Lookup {
            host: "web.whatsapp.com".into(),
            source: io::Error::other("failed to lookup address information"),
        };
        assert_eq!(code(lookup), FailureCode::DnsFailure);
        let upgrade = OpenError::Upgrade {
            host: "h".into(),
            source: tokio_websockets::Error::Io(io::ErrorKind::UnexpectedEof.into()),
        };
        assert_eq!(code(upgrade), FailureCode::ConnectionReset);
    }
}
