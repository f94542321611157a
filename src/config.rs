//! The gateway's typed configuration.
//!
//! Sources, later ones winning: built-in defaults, a TOML file (`--config`,
//! else `/etc/wago/wago.toml` when it exists), then `WAGO_*` environment
//! variables. The merged table is parsed (unknown keys are errors naming the
//! key), then validated (bad values are errors naming the key). Nothing here
//! is global: `daemon` passes the parts down.
//!
//! Files: the types and loading here; the `WAGO_*` table and its
//! application in `env`; the checks of parsed values in `validate`; the
//! `[display]` section in `display`.

mod display;
mod env;
mod guard;
mod limits;
mod validate;

pub use crate::guard::settings::{GuardConfig, SessionGuardConfig, limits_of as guard_limits};
pub use display::{DISPLAY_TOKEN_FILE, DisplayConfig, Driver, PixelFormat};
pub use limits::LimitsConfig;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where the packaged config lives; read only when it exists.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/wago/wago.toml";
/// Data directory when neither config nor systemd says otherwise.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Name of the file in the data directory the generated admin token is
/// written to (by `wago serve`; read by `wago display` and `wago pair`).
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
/// LAN clients are not trusted until the operator says so: loopback by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:1337";
/// Large enough for base64 media (a 16 MB video is ~22 MB as base64).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;
/// Time a client has to send its request headers.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
/// Time a client has to send the whole request body.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 60;
/// Time in-flight requests get to finish on shutdown.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 10;
/// redb page cache in MiB: small, for a 512 MB board.
pub const DEFAULT_CACHE_MIB: u64 = 4;
/// Refused logins in a row before a session is marked failed.
pub const DEFAULT_MAX_CONNECT_FAILURES: u32 = 5;
/// Send attempts per message while connected.
pub const DEFAULT_SEND_ATTEMPTS: u32 = 5;
/// Default total size of kept received media, MiB.
pub const DEFAULT_RECEIVED_MEDIA_MAX_MIB: u64 = 256;
/// Default age at which kept received media is deleted (7 days).
pub const DEFAULT_RECEIVED_MEDIA_RETENTION_HOURS: u64 = 7 * 24;
/// Longest `whatsapp.reject_call_message`, bytes.
pub const MAX_REJECT_CALL_MESSAGE: usize = 4096;
/// Default oldest age of a queued send before it fails (24 h).
pub const DEFAULT_SEND_MAX_AGE_SECS: u64 = 24 * 3600;
/// Default largest media file a send accepts (16 MiB, WhatsApp's image/video scale).
pub const DEFAULT_MEDIA_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Default time a media URL fetch may take.
pub const DEFAULT_MEDIA_FETCH_TIMEOUT_SECS: u64 = 30;

/// Default cap on the event log (delivered events are pruned above it): an SD card is small.
pub const DEFAULT_MAX_LOG_MIB: u64 = 64;
/// Default age after which delivered events are pruned.
pub const DEFAULT_RETENTION_HOURS: u64 = 7 * 24;
/// Default time an old secret keeps signing after a rotation.
pub const DEFAULT_SECRET_OVERLAP_HOURS: u64 = 24;

/// A secret string: `Debug` and `Display` print a mask, never the value.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory holding `wago.redb` and `admin-token`.
    pub data_dir: PathBuf,
    /// Address the HTTP API listens on. Loopback unless the box is set up for the LAN.
    pub listen: String,
    /// Admin token; when absent one is generated on first start and shown once.
    pub admin_token: Option<Secret>,
    /// Log filter: a default level and/or `target=level` pairs, comma-separated
    /// (`info`, `wago=debug,hyper=warn`).
    pub log: String,
    /// HTTP server limits.
    pub http: HttpConfig,
    /// Store tuning.
    pub store: StoreConfig,
    /// The WhatsApp connection.
    pub whatsapp: WhatsAppConfig,
    /// Webhook delivery.
    pub webhook: WebhookConfig,
    /// Files of received messages kept on the box.
    pub received_media: ReceivedMediaConfig,
    /// The pairing display (`wago display`) and the gateway's display routes.
    pub display: DisplayConfig,
    /// Connection and request limits per client.
    pub limits: LimitsConfig,
    /// Responsible messaging: purposes, fair-use limits, sending speed, opt-outs.
    pub guard: GuardConfig,
}

/// Received media (`GET /media/{message_id}`): downloaded from WhatsApp on
/// first request, then kept under `<data_dir>/media` within a total size and
/// an age.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReceivedMediaConfig {
    /// Total size of the kept files, MiB; the oldest go first.
    pub max_total_mib: u64,
    /// Kept files older than this are deleted (fetched again on request
    /// while WhatsApp still has them).
    pub retention_hours: u64,
}

impl Default for ReceivedMediaConfig {
    fn default() -> Self {
        ReceivedMediaConfig {
            max_total_mib: DEFAULT_RECEIVED_MEDIA_MAX_MIB,
            retention_hours: DEFAULT_RECEIVED_MEDIA_RETENTION_HOURS,
        }
    }
}

/// The WhatsApp connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WhatsAppConfig {
    /// WebSocket URL of the chat server; empty means WhatsApp's own.
    pub server_url: String,
    /// WhatsApp Web version to announce, `2.3000.N`; empty means fetch the current one.
    pub version: String,
    /// Consecutive refused logins (not network drops) before a session goes to `failed`.
    pub max_connect_failures: u32,
    /// Attempts at sending one message while connected before it is `failed`.
    pub send_attempts: u32,
    /// Reject incoming calls at once (the caller sees "declined"); the
    /// `call.received` event is still delivered.
    pub reject_calls: bool,
    /// Text sent to a caller whose call was rejected; empty sends nothing.
    pub reject_call_message: String,
    /// A queued send older than this (seconds since it was accepted) fails
    /// with `message.failed` instead of going out late.
    pub send_max_age_secs: u64,
    /// Largest media file (decoded bytes) a send accepts, from a data URL or a URL.
    pub media_max_bytes: u64,
    /// Time a media URL fetch may take, connect to last byte.
    pub media_fetch_timeout_secs: u64,
}

impl Default for WhatsAppConfig {
    fn default() -> Self {
        WhatsAppConfig {
            server_url: String::new(),
            version: String::new(),
            max_connect_failures: DEFAULT_MAX_CONNECT_FAILURES,
            send_attempts: DEFAULT_SEND_ATTEMPTS,
            reject_calls: false,
            reject_call_message: String::new(),
            send_max_age_secs: DEFAULT_SEND_MAX_AGE_SECS,
            media_max_bytes: DEFAULT_MEDIA_MAX_BYTES,
            media_fetch_timeout_secs: DEFAULT_MEDIA_FETCH_TIMEOUT_SECS,
        }
    }
}

impl WhatsAppConfig {
    /// The pinned version as a triple, if one is set.
    pub fn version_triple(&self) -> Result<Option<(u32, u32, u32)>, ConfigError> {
        if self.version.is_empty() {
            return Ok(None);
        }
        let bad = || ConfigError::Key {
            key: "whatsapp.version".into(),
            reason: format!("`{}` is not a version like 2.3000.1023456789", self.version),
        };
        let parts: Vec<u32> = self
            .version
            .split('.')
            .map(|p| p.parse::<u32>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        match parts.as_slice() {
            [a, b, c] => Ok(Some((*a, *b, *c))),
            _ => Err(bad()),
        }
    }
}

/// Webhook delivery, retries and the event log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Base URL that relative webhook URLs (`/hook`) are resolved against.
    pub base_url: Option<String>,
    /// URL of the global subscription that receives every session's events.
    pub global_url: Option<String>,
    /// Event filter of the global subscription (empty: everything).
    pub global_events: Vec<String>,
    /// Signing secret of the global subscription; generated when absent.
    pub global_secret: Option<Secret>,
    /// Format of the global subscription: `json` or `form`.
    pub global_format: String,
    /// Attempts in flight per subscription, across chats.
    pub concurrency: u64,
    /// Seconds a receiver has to answer.
    pub timeout_secs: u64,
    /// First retry delay, ms (then x3: 10 s, 30 s, 90 s, ...).
    pub retry_first_ms: u64,
    /// Longest retry delay, ms.
    pub retry_max_delay_ms: u64,
    /// Seconds a job is retried before it is dead-lettered.
    pub give_up_secs: u64,
    /// Delivered events older than this are pruned.
    pub retention_hours: u64,
    /// Delivered events are pruned, oldest first, while the log is larger.
    pub max_log_mib: u64,
    /// Hours an old secret keeps signing after a rotation.
    pub secret_overlap_hours: u64,
    /// `form` deliveries of events with received media carry the file
    /// (`file` part).
    pub forward_media: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            base_url: None,
            global_url: None,
            global_events: Vec::new(),
            global_secret: None,
            global_format: "json".into(),
            concurrency: 8,
            timeout_secs: 15,
            retry_first_ms: 10_000,
            retry_max_delay_ms: 3_600_000,
            give_up_secs: 3 * 24 * 3600,
            retention_hours: DEFAULT_RETENTION_HOURS,
            max_log_mib: DEFAULT_MAX_LOG_MIB,
            secret_overlap_hours: DEFAULT_SECRET_OVERLAP_HOURS,
            forward_media: true,
        }
    }
}

/// HTTP server limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest request body accepted; larger ones get a 413.
    pub max_body_bytes: u64,
    /// Seconds a client has to send its headers.
    pub header_timeout_secs: u64,
    /// Seconds a client has to send its whole body.
    pub body_timeout_secs: u64,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_grace_secs: u64,
}

/// Store tuning.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// redb page cache, MiB.
    pub cache_mib: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            listen: DEFAULT_LISTEN.into(),
            admin_token: None,
            log: "info".into(),
            http: HttpConfig::default(),
            store: StoreConfig::default(),
            whatsapp: WhatsAppConfig::default(),
            webhook: WebhookConfig::default(),
            received_media: ReceivedMediaConfig::default(),
            display: DisplayConfig::default(),
            limits: LimitsConfig::default(),
            guard: GuardConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_timeout_secs: DEFAULT_HEADER_TIMEOUT_SECS,
            body_timeout_secs: DEFAULT_BODY_TIMEOUT_SECS,
            shutdown_grace_secs: DEFAULT_SHUTDOWN_GRACE_SECS,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cache_mib: DEFAULT_CACHE_MIB,
        }
    }
}

/// `$STATE_DIRECTORY` (set by systemd's `StateDirectory=`) or `./data`.
fn default_data_dir() -> PathBuf {
    match std::env::var("STATE_DIRECTORY") {
        Ok(v) if !v.is_empty() => PathBuf::from(v.split(':').next().unwrap_or(&v)),
        _ => PathBuf::from(DEFAULT_DATA_DIR),
    }
}

/// A configuration error; every variant names the key or file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    /// The file is not valid TOML.
    #[error("config file {path}: {reason}")]
    Syntax { path: PathBuf, reason: String },
    /// A key is unknown or has the wrong type.
    #[error("config key `{key}`: {reason}")]
    Key { key: String, reason: String },
    /// An environment variable is unknown or has a bad value.
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
}

impl Config {
    /// Loads the configuration: `path` if given (it must exist), else the
    /// default path if it exists, else defaults; then the environment.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = match path {
            Some(p) => read_table(p)?,
            None if Path::new(DEFAULT_CONFIG_PATH).exists() => {
                read_table(Path::new(DEFAULT_CONFIG_PATH))?
            }
            None => toml::Table::new(),
        };
        env::apply_env(&mut table, env)?;
        let cfg: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                ConfigError::Key {
                    key: e.path().to_string(),
                    reason: e.inner().to_string(),
                }
            })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The listen address, validated.
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|e| ConfigError::Key {
            key: "listen".into(),
            reason: format!("`{}` is not an address:port ({e})", self.listen),
        })
    }

    /// The display token file: `display.token_file`, else `<data_dir>/display-token`.
    pub fn display_token_file(&self) -> PathBuf {
        self.display
            .token_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join(DISPLAY_TOKEN_FILE))
    }
}

fn read_table(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests;
