//! Why a session is not online, in a form a technician can act on: a stable
//! code, a plain sentence and the time ([`Diagnosis`]), and the per-process
//! count of failed attempts by code ([`FailureCounts`], for `/metrics`).
//!
//! The classes come from the structure of the failure, not from its words:
//! the connection stage that failed (name lookup, TCP, TLS, WebSocket
//! upgrade; see [`super::transport`]), the `io::ErrorKind` at the bottom of
//! the error chain, and the library's typed events (`ConnectFailure`,
//! `LoggedOut`, `TemporaryBan`, `ClientOutdated`). This module owns no
//! state of a session and never touches the store.

use serde::Serialize;
use std::collections::BTreeMap;
use std::io;
use std::sync::Mutex;

/// What kept the session from WhatsApp, as a stable code (`snake_case` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureCode {
    /// The network has no route to WhatsApp (no uplink, no default gateway).
    NoRoute,
    /// WhatsApp's host name could not be resolved.
    DnsFailure,
    /// Something answered, but refused the TCP connection.
    ConnectionRefused,
    /// The connection was cut while it was being opened.
    ConnectionReset,
    /// Nothing answered in time (a firewall dropping packets, a dead uplink).
    Timeout,
    /// The TLS handshake failed or the certificate was not trusted.
    TlsFailure,
    /// The server answered, but not as WhatsApp's WebSocket does.
    HandshakeFailed,
    /// Another network error opening the connection.
    NetworkError,
    /// WhatsApp Web's current version could not be fetched.
    VersionFetchFailed,
    /// WhatsApp's server refused the login.
    LoginRefused,
    /// The account was unlinked (from the phone, or by WhatsApp).
    LoggedOut,
    /// WhatsApp banned the number for a while.
    RateLimited,
    /// WhatsApp refuses this client version.
    ClientOutdated,
    /// Another client took over the session.
    StreamReplaced,
    /// An established connection dropped; the client reconnects by itself.
    ConnectionLost,
    /// Pairing failed or no code was scanned in time.
    PairingFailed,
    /// The WhatsApp client itself could not run.
    ClientError,
}

impl FailureCode {
    /// Every code, in the order the README's table lists them.
    pub const ALL: [FailureCode; 17] = [
        FailureCode::NoRoute,
        FailureCode::DnsFailure,
        FailureCode::ConnectionRefused,
        FailureCode::ConnectionReset,
        FailureCode::Timeout,
        FailureCode::TlsFailure,
        FailureCode::HandshakeFailed,
        FailureCode::NetworkError,
        FailureCode::VersionFetchFailed,
        FailureCode::LoginRefused,
        FailureCode::LoggedOut,
        FailureCode::RateLimited,
        FailureCode::ClientOutdated,
        FailureCode::StreamReplaced,
        FailureCode::ConnectionLost,
        FailureCode::PairingFailed,
        FailureCode::ClientError,
    ];

    /// The wire form (`dns_failure`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::NoRoute => "no_route",
            FailureCode::DnsFailure => "dns_failure",
            FailureCode::ConnectionRefused => "connection_refused",
            FailureCode::ConnectionReset => "connection_reset",
            FailureCode::Timeout => "timeout",
            FailureCode::TlsFailure => "tls_failure",
            FailureCode::HandshakeFailed => "handshake_failed",
            FailureCode::NetworkError => "network_error",
            FailureCode::VersionFetchFailed => "version_fetch_failed",
            FailureCode::LoginRefused => "login_refused",
            FailureCode::LoggedOut => "logged_out",
            FailureCode::RateLimited => "rate_limited",
            FailureCode::ClientOutdated => "client_outdated",
            FailureCode::StreamReplaced => "stream_replaced",
            FailureCode::ConnectionLost => "connection_lost",
            FailureCode::PairingFailed => "pairing_failed",
            FailureCode::ClientError => "client_error",
        }
    }
}

impl FailureCode {
    /// Whether the code is about opening the socket (the network, not
    /// WhatsApp's answer): a socket that opens makes it stale.
    pub fn is_socket(self) -> bool {
        matches!(
            self,
            FailureCode::NoRoute
                | FailureCode::DnsFailure
                | FailureCode::ConnectionRefused
                | FailureCode::ConnectionReset
                | FailureCode::Timeout
                | FailureCode::TlsFailure
                | FailureCode::HandshakeFailed
                | FailureCode::NetworkError
        )
    }
}

impl std::fmt::Display for FailureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong last: the code, the sentence, and when (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The class, stable across versions.
    pub code: FailureCode,
    /// A plain sentence for people.
    pub message: String,
    /// When it happened, Unix ms.
    pub at: i64,
}

impl Diagnosis {
    /// A diagnosis of now.
    pub fn new(code: FailureCode, message: impl Into<String>) -> Diagnosis {
        Diagnosis {
            code,
            message: message.into(),
            at: crate::event::now_ms(),
        }
    }
}

impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The class of an I/O error by its kind, when the kind says it.
pub fn io_class(e: &io::Error) -> Option<FailureCode> {
    use io::ErrorKind as K;
    Some(match e.kind() {
        K::ConnectionRefused => FailureCode::ConnectionRefused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            FailureCode::ConnectionReset
        }
        K::NetworkUnreachable | K::HostUnreachable | K::NetworkDown | K::AddrNotAvailable => {
            FailureCode::NoRoute
        }
        K::TimedOut => FailureCode::Timeout,
        _ => return None,
    })
}

/// The deepest `io::Error` in an error's source chain.
pub fn root_io<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut found = None;
    let mut cur: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            found = Some(io);
        }
        cur = err.source();
    }
    found
}

/// Words for a network failure class, for sentences that name a cause.
pub fn cause_words(code: FailureCode) -> &'static str {
    match code {
        FailureCode::NoRoute => "no network route",
        FailureCode::DnsFailure => "the name lookup failed",
        FailureCode::ConnectionRefused => "the connection was refused",
        FailureCode::ConnectionReset => "the connection was reset",
        FailureCode::Timeout => "nothing answered in time",
        FailureCode::TlsFailure => "the TLS handshake failed",
        _ => "a network error",
    }
}

/// Failed connection attempts since the process started, by session and code.
#[derive(Debug, Default)]
pub struct FailureCounts(Mutex<BTreeMap<(String, FailureCode), u64>>);

impl FailureCounts {
    /// Counts one failure of `session`.
    pub fn add(&self, session: &str, code: FailureCode) {
        let mut m = match self.0.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        *m.entry((session.to_string(), code)).or_default() += 1;
    }

    /// Every (session, code, count), ordered.
    pub fn snapshot(&self) -> Vec<(String, FailureCode, u64)> {
        let m = match self.0.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.iter().map(|((s, c), n)| (s.clone(), *c, *n)).collect()
    }
}

/// The library's span around one connection attempt. On failure it logs
/// the whole error chain (multi-line, with a backtrace when enabled), which
/// repeats what the session's own one line per attempt says.
pub const CONNECT_SPAN: &str = "wa.conn.connect";
/// Where that span's error event comes from.
pub const CONNECT_TARGET: &str = "whatsapp_rust::client::lifecycle";

/// Whether the log should drop the library's per-attempt error chains: yes,
/// unless the configured filter asks for debug or trace output or names
/// the library itself.
pub fn quiet_connect_chains(configured: &str) -> bool {
    !["debug", "trace", "whatsapp_rust"]
        .iter()
        .any(|w| configured.contains(w))
}

/// Whether an event is the library's error chain for a failed connection
/// attempt (`span`: the name of the span it is logged in).
pub fn is_connect_chain(meta: &tracing::Metadata<'_>, span: Option<&str>) -> bool {
    meta.is_event()
        && meta.target() == CONNECT_TARGET
        && span == Some(CONNECT_SPAN)
        && meta.fields().field("error").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kinds_map_to_classes() {
        use io::ErrorKind as K;
        for (kind, want) in [
            (K::ConnectionRefused, Some(FailureCode::ConnectionRefused)),
            (K::ConnectionReset, Some(FailureCode::ConnectionReset)),
            (K::UnexpectedEof, Some(FailureCode::ConnectionReset)),
            (K::NetworkUnreachable, Some(FailureCode::NoRoute)),
            (K::HostUnreachable, Some(FailureCode::NoRoute)),
            (K::TimedOut, Some(FailureCode::Timeout)),
            (K::InvalidData, None),
        ] {
            assert_eq!(io_class(&io::Error::from(kind)), want, "{kind:?}");
        }
    }

    #[test]
    fn root_io_finds_the_kind_under_wrappers() {
        let inner = io::Error::from(io::ErrorKind::ConnectionRefused);
        let wrapped = anyhow::Error::new(inner).context("HTTP request failed");
        let e: &(dyn std::error::Error + 'static) = wrapped.as_ref();
        assert_eq!(
            root_io(e).map(|e| e.kind()),
            Some(io::ErrorKind::ConnectionRefused)
        );
    }

    #[test]
    fn codes_serialize_as_their_wire_names_and_are_all_listed() {
        for c in FailureCode::ALL {
            assert_eq!(
                serde_json::to_value(c).ok(),
                Some(serde_json::Value::String(c.as_str().into()))
            );
        }
        let mut names: Vec<_> = FailureCode::ALL.iter().map(|c| c.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), FailureCode::ALL.len());
    }

    #[test]
    fn the_library_chain_is_quiet_unless_detail_is_asked_for() {
        assert!(quiet_connect_chains("info"));
        assert!(quiet_connect_chains("warn,wago=info"));
        assert!(!quiet_connect_chains("wago=debug"));
        assert!(!quiet_connect_chains("info,whatsapp_rust=warn"));
    }

    #[test]
    fn the_readme_table_and_the_openapi_enum_list_every_code() {
        let readme = include_str!("../../README.md");
        let openapi: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/openapi/session.json"))
                .unwrap_or_default();
        let listed = &openapi["components"]["schemas"]["SessionFailureCode"]["enum"];
        for c in FailureCode::ALL {
            assert!(
                readme.contains(&format!("| `{c}` |")),
                "README's \"When WhatsApp cannot be reached\" table lacks {c}"
            );
            assert!(
                listed
                    .as_array()
                    .is_some_and(|l| l.iter().any(|v| v == c.as_str())),
                "SessionFailureCode lacks {c}"
            );
        }
    }

    #[test]
    fn counts_add_up_per_session_and_code() {
        let c = FailureCounts::default();
        c.add("a", FailureCode::DnsFailure);
        c.add("a", FailureCode::DnsFailure);
        c.add("b", FailureCode::Timeout);
        assert_eq!(
            c.snapshot(),
            vec![
                ("a".into(), FailureCode::DnsFailure, 2),
                ("b".into(), FailureCode::Timeout, 1)
            ]
        );
    }
}
