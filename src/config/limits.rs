//! The `[limits]` section: how much of the box one LAN client may take.
//!
//! Connection caps (global, per peer address, a share kept for the box's own
//! loopback address), request rates (per peer address and per token, token
//! buckets), open event streams per session token, and when the server
//! counts as under pressure. Separate from any message-sending limits: these
//! protect the HTTP server, not WhatsApp accounts. Read by `server`.

use super::ConfigError;
use super::env::Kind;
use serde::Deserialize;

/// Default most connections open at once (file descriptors: see the README).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 256;
/// Default most connections of one peer address: a till or a pooled client
/// needs a handful; 32 leaves room for eight such peers before the cap.
pub const DEFAULT_PEER_CONNECTIONS: u32 = 32;
/// Default connections kept for 127.0.0.1 / ::1 (the display, local tools).
pub const DEFAULT_LOCAL_RESERVED: u32 = 16;
/// Default requests per second of one peer address (sustained): a till, a
/// dashboard or an integration on a shop LAN needs a few; every accepted
/// send is a store commit on an SD card.
pub const DEFAULT_PEER_RATE: u32 = 20;
/// Default burst of one peer address.
pub const DEFAULT_PEER_BURST: u32 = 40;
/// Default requests per second of one token (sustained).
pub const DEFAULT_TOKEN_RATE: u32 = 20;
/// Default burst of one token.
pub const DEFAULT_TOKEN_BURST: u32 = 40;
/// Default requests per second kept for the display token (it polls once a second).
pub const DEFAULT_DISPLAY_RATE: u32 = 10;
/// Default open `GET /events/stream` per session token.
pub const DEFAULT_STREAMS_PER_TOKEN: u32 = 4;
/// Default share of `max_connections`, percent, above which the server is
/// under pressure (idle and slow connections are cut early).
pub const DEFAULT_PRESSURE_PERCENT: u32 = 75;
/// Default seconds a connection may wait between requests (idle, or headers
/// trickling in) while the server is under pressure.
pub const DEFAULT_PRESSURE_IDLE_SECS: u32 = 2;
/// Default lowest request-body rate, bytes/s, kept up under pressure.
pub const DEFAULT_MIN_BODY_RATE: u32 = 1024;

/// `WAGO_*` variables of this section (chained onto the main table).
pub(super) const ENV_KEYS: &[(&str, &str, Kind)] = &[
    (
        "WAGO_LIMITS_MAX_CONNECTIONS",
        "limits.max_connections",
        Kind::Int,
    ),
    (
        "WAGO_LIMITS_PEER_CONNECTIONS",
        "limits.peer_connections",
        Kind::Int,
    ),
    ("WAGO_LIMITS_PEER_RATE", "limits.peer_rate", Kind::Int),
    ("WAGO_LIMITS_TOKEN_RATE", "limits.token_rate", Kind::Int),
];

/// How much of the server one client may take.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Most connections open at once; above it idle ones are closed, then
    /// the busiest peer's, then new ones refused.
    pub max_connections: u32,
    /// Most connections of one peer address; a new one closes that peer's
    /// oldest idle connection, or is refused.
    pub peer_connections: u32,
    /// Connections only 127.0.0.1 / ::1 may use (the display, `wago pair`).
    pub local_reserved: u32,
    /// Requests per second of one peer address, sustained.
    pub peer_rate: u32,
    /// Requests one peer address may send at once above its rate.
    pub peer_burst: u32,
    /// Requests per second of one token, sustained, from any address.
    pub token_rate: u32,
    /// Requests one token may send at once above its rate.
    pub token_burst: u32,
    /// Requests per second of the display token, in a bucket of its own that
    /// no peer's or token's flood can drain.
    pub display_rate: u32,
    /// Open event streams (`GET /events/stream`) per session token.
    pub streams_per_token: u32,
    /// Percent of `max_connections` above which the server is under pressure.
    pub pressure_percent: u32,
    /// Under pressure: seconds a connection may sit between requests
    /// (idle or sending headers) before it is closed.
    pub pressure_idle_secs: u32,
    /// Under pressure: a request body slower than this (bytes/s, after the
    /// first `pressure_idle_secs`) is cut with a 408.
    pub min_body_rate: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            peer_connections: DEFAULT_PEER_CONNECTIONS,
            local_reserved: DEFAULT_LOCAL_RESERVED,
            peer_rate: DEFAULT_PEER_RATE,
            peer_burst: DEFAULT_PEER_BURST,
            token_rate: DEFAULT_TOKEN_RATE,
            token_burst: DEFAULT_TOKEN_BURST,
            display_rate: DEFAULT_DISPLAY_RATE,
            streams_per_token: DEFAULT_STREAMS_PER_TOKEN,
            pressure_percent: DEFAULT_PRESSURE_PERCENT,
            pressure_idle_secs: DEFAULT_PRESSURE_IDLE_SECS,
            min_body_rate: DEFAULT_MIN_BODY_RATE,
        }
    }
}

impl LimitsConfig {
    /// Checks every key's range; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |k: &str, r: String| ConfigError::Key {
            key: format!("limits.{k}"),
            reason: r,
        };
        let max = self.max_connections;
        let ranges: [(&str, u32, u32, u32); 12] = [
            ("max_connections", max, 16, 16_384),
            ("peer_connections", self.peer_connections, 1, max),
            ("local_reserved", self.local_reserved, 0, max / 2),
            ("peer_rate", self.peer_rate, 1, 100_000),
            ("peer_burst", self.peer_burst, 1, 100_000),
            ("token_rate", self.token_rate, 1, 100_000),
            ("token_burst", self.token_burst, 1, 100_000),
            ("display_rate", self.display_rate, 1, 1000),
            ("streams_per_token", self.streams_per_token, 1, 1024),
            ("pressure_percent", self.pressure_percent, 10, 100),
            ("pressure_idle_secs", self.pressure_idle_secs, 1, 3600),
            ("min_body_rate", self.min_body_rate, 1, 1 << 30),
        ];
        for (k, v, lo, hi) in ranges {
            if !(lo..=hi).contains(&v) {
                return Err(err(k, format!("must be between {lo} and {hi}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_and_env_overrides() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("wago.toml");
        std::fs::write(&path, "[limits]\npeer_connections = 8\ntoken_rate = 5\n").expect("write");
        let env = [
            ("WAGO_LIMITS_PEER_RATE", "7"),
            ("WAGO_LIMITS_TOKEN_RATE", "9"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let cfg = super::super::Config::load(Some(&path), env).expect("load");
        assert_eq!(cfg.limits.peer_connections, 8);
        assert_eq!(cfg.limits.peer_rate, 7);
        assert_eq!(cfg.limits.token_rate, 9, "the environment wins");
        assert_eq!(cfg.limits.max_connections, DEFAULT_MAX_CONNECTIONS);
        std::fs::write(&path, "[limits]\npeer_conections = 8\n").expect("write");
        let e = super::super::Config::load(Some(&path), []).expect_err("unknown key");
        assert!(e.to_string().contains("peer_conections"), "{e}");
    }

    #[test]
    fn defaults_are_valid() {
        LimitsConfig::default().validate().expect("defaults");
    }

    #[test]
    fn errors_name_the_key() {
        type Case = (&'static str, fn(&mut LimitsConfig));
        let cases: &[Case] = &[
            ("limits.max_connections", |c| c.max_connections = 1),
            ("limits.peer_connections", |c| c.peer_connections = 0),
            ("limits.peer_connections", |c| c.peer_connections = 999),
            ("limits.local_reserved", |c| c.local_reserved = 200),
            ("limits.peer_burst", |c| c.peer_burst = 0),
            ("limits.token_rate", |c| c.token_rate = 0),
            ("limits.token_burst", |c| c.token_burst = 0),
            ("limits.streams_per_token", |c| c.streams_per_token = 0),
            ("limits.pressure_percent", |c| c.pressure_percent = 5),
        ];
        for (key, f) in cases {
            let mut c = LimitsConfig::default();
            f(&mut c);
            let e = c.validate().expect_err(key).to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }
}
