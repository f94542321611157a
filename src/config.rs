//! The gateway's typed configuration.
//!
//! Sources, later ones winning: built-in defaults, a TOML file (`--config`,
//! else `/etc/wago/wago.toml` when it exists), then `WAGO_*` environment
//! variables. The merged table is parsed (unknown keys are errors naming the
//! key), then validated (bad values are errors naming the key). Nothing here
//! is global: `daemon` passes the parts down.

mod display;

pub use display::{DISPLAY_TOKEN_FILE, DisplayConfig, Driver, PixelFormat};
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
    /// Log filter (`info`, `wago=debug`, ...), tracing's EnvFilter syntax.
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

/// The kind of value an environment override carries.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
}

/// `WAGO_*` variables and the keys they set.
const ENV_KEYS: &[(&str, &str, Kind)] = &[
    ("WAGO_DATA_DIR", "data_dir", Kind::Str),
    ("WAGO_LISTEN", "listen", Kind::Str),
    ("WAGO_ADMIN_TOKEN", "admin_token", Kind::Str),
    ("WAGO_LOG", "log", Kind::Str),
    ("WAGO_MAX_BODY_BYTES", "http.max_body_bytes", Kind::Int),
    (
        "WAGO_HEADER_TIMEOUT_SECS",
        "http.header_timeout_secs",
        Kind::Int,
    ),
    (
        "WAGO_BODY_TIMEOUT_SECS",
        "http.body_timeout_secs",
        Kind::Int,
    ),
    (
        "WAGO_SHUTDOWN_GRACE_SECS",
        "http.shutdown_grace_secs",
        Kind::Int,
    ),
    ("WAGO_CACHE_MIB", "store.cache_mib", Kind::Int),
    ("WAGO_WA_SERVER_URL", "whatsapp.server_url", Kind::Str),
    ("WAGO_WA_VERSION", "whatsapp.version", Kind::Str),
    ("WAGO_REJECT_CALLS", "whatsapp.reject_calls", Kind::Bool),
    (
        "WAGO_RECEIVED_MEDIA_MAX_MIB",
        "received_media.max_total_mib",
        Kind::Int,
    ),
    (
        "WAGO_RECEIVED_MEDIA_RETENTION_HOURS",
        "received_media.retention_hours",
        Kind::Int,
    ),
    (
        "WAGO_REJECT_CALL_MESSAGE",
        "whatsapp.reject_call_message",
        Kind::Str,
    ),
    (
        "WAGO_WA_SEND_MAX_AGE_SECS",
        "whatsapp.send_max_age_secs",
        Kind::Int,
    ),
    (
        "WAGO_WA_MEDIA_MAX_BYTES",
        "whatsapp.media_max_bytes",
        Kind::Int,
    ),
    (
        "WAGO_WA_MEDIA_FETCH_TIMEOUT_SECS",
        "whatsapp.media_fetch_timeout_secs",
        Kind::Int,
    ),
    ("WAGO_WEBHOOK_BASE_URL", "webhook.base_url", Kind::Str),
    ("WAGO_WEBHOOK_URL", "webhook.global_url", Kind::Str),
    ("WAGO_WEBHOOK_SECRET", "webhook.global_secret", Kind::Str),
    ("WAGO_WEBHOOK_FORMAT", "webhook.global_format", Kind::Str),
    ("WAGO_WEBHOOK_CONCURRENCY", "webhook.concurrency", Kind::Int),
    (
        "WAGO_WEBHOOK_TIMEOUT_SECS",
        "webhook.timeout_secs",
        Kind::Int,
    ),
    (
        "WAGO_WEBHOOK_RETRY_FIRST_MS",
        "webhook.retry_first_ms",
        Kind::Int,
    ),
    (
        "WAGO_WEBHOOK_RETRY_MAX_DELAY_MS",
        "webhook.retry_max_delay_ms",
        Kind::Int,
    ),
    (
        "WAGO_WEBHOOK_GIVE_UP_SECS",
        "webhook.give_up_secs",
        Kind::Int,
    ),
    (
        "WAGO_WEBHOOK_RETENTION_HOURS",
        "webhook.retention_hours",
        Kind::Int,
    ),
    ("WAGO_WEBHOOK_MAX_LOG_MIB", "webhook.max_log_mib", Kind::Int),
    (
        "WAGO_WEBHOOK_FORWARD_MEDIA",
        "webhook.forward_media",
        Kind::Bool,
    ),
    ("WAGO_DISPLAY_DRIVER", "display.driver", Kind::Str),
    ("WAGO_DISPLAY_DEVICE", "display.device", Kind::Str),
    ("WAGO_DISPLAY_WIDTH", "display.width", Kind::Int),
    ("WAGO_DISPLAY_HEIGHT", "display.height", Kind::Int),
    ("WAGO_DISPLAY_FORMAT", "display.format", Kind::Str),
    ("WAGO_DISPLAY_ROTATION", "display.rotation", Kind::Int),
    ("WAGO_DISPLAY_BUTTON_CHIP", "display.button_chip", Kind::Str),
    ("WAGO_DISPLAY_BUTTON_LINE", "display.button_line", Kind::Int),
    (
        "WAGO_DISPLAY_BUTTON_INPUT",
        "display.button_input",
        Kind::Str,
    ),
    ("WAGO_DISPLAY_QR_ON_LAN", "display.qr_on_lan", Kind::Bool),
    ("WAGO_DISPLAY_TOKEN_FILE", "display.token_file", Kind::Str),
    ("WAGO_DISPLAY_SESSION", "display.session", Kind::Str),
    ("WAGO_DISPLAY_GATEWAY_URL", "display.gateway_url", Kind::Str),
    ("WAGO_DISPLAY_LAN_URL", "display.lan_url", Kind::Str),
    ("WAGO_DISPLAY_AUTO_PAIR", "display.auto_pair", Kind::Bool),
    ("WAGO_DISPLAY_POLL_MS", "display.poll_ms", Kind::Int),
];

/// Variables that are not config keys but belong to wago.
const ENV_OTHER: &[&str] = &["WAGO_CONFIG"];

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
        apply_env(&mut table, env)?;
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

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        let key = |key: &str, reason: &str| ConfigError::Key {
            key: key.into(),
            reason: reason.into(),
        };
        if self.data_dir.as_os_str().is_empty() {
            return Err(key("data_dir", "must not be empty"));
        }
        if let Some(t) = &self.admin_token
            && t.expose().len() < 16
        {
            return Err(key("admin_token", "must be at least 16 characters"));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            return Err(key("log", &e.to_string()));
        }
        let h = &self.http;
        if !(1024..=1 << 30).contains(&h.max_body_bytes) {
            return Err(key(
                "http.max_body_bytes",
                "must be between 1024 and 1073741824",
            ));
        }
        for (k, v) in [
            ("http.header_timeout_secs", h.header_timeout_secs),
            ("http.body_timeout_secs", h.body_timeout_secs),
            ("http.shutdown_grace_secs", h.shutdown_grace_secs),
        ] {
            if !(1..=3600).contains(&v) {
                return Err(key(k, "must be between 1 and 3600 seconds"));
            }
        }
        self.whatsapp.version_triple()?;
        let url = &self.whatsapp.server_url;
        if !(url.is_empty() || url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(key("whatsapp.server_url", "must be a ws:// or wss:// URL"));
        }
        if !(1..=100).contains(&self.whatsapp.max_connect_failures) {
            return Err(key(
                "whatsapp.max_connect_failures",
                "must be between 1 and 100",
            ));
        }
        if !(1..=100).contains(&self.whatsapp.send_attempts) {
            return Err(key("whatsapp.send_attempts", "must be between 1 and 100"));
        }
        if self.whatsapp.reject_call_message.len() > MAX_REJECT_CALL_MESSAGE {
            return Err(key(
                "whatsapp.reject_call_message",
                "must be at most 4096 bytes",
            ));
        }
        if !self.whatsapp.reject_call_message.is_empty() && !self.whatsapp.reject_calls {
            return Err(key(
                "whatsapp.reject_call_message",
                "is only sent when whatsapp.reject_calls is true",
            ));
        }
        if !(1..=30 * 24 * 3600).contains(&self.whatsapp.send_max_age_secs) {
            return Err(key(
                "whatsapp.send_max_age_secs",
                "must be between 1 and 2592000 (30 days)",
            ));
        }
        if !(1024..=100 * 1024 * 1024).contains(&self.whatsapp.media_max_bytes) {
            return Err(key(
                "whatsapp.media_max_bytes",
                "must be between 1024 and 104857600 (100 MiB)",
            ));
        }
        if !(1..=600).contains(&self.whatsapp.media_fetch_timeout_secs) {
            return Err(key(
                "whatsapp.media_fetch_timeout_secs",
                "must be between 1 and 600",
            ));
        }
        if !(1..=1024).contains(&self.store.cache_mib) {
            return Err(key("store.cache_mib", "must be between 1 and 1024"));
        }
        if !(1..=1 << 20).contains(&self.received_media.max_total_mib) {
            return Err(key(
                "received_media.max_total_mib",
                "must be between 1 and 1048576",
            ));
        }
        if !(1..=24 * 366).contains(&self.received_media.retention_hours) {
            return Err(key(
                "received_media.retention_hours",
                "must be between 1 and 8784 (a year)",
            ));
        }
        self.validate_webhook()
    }

    fn validate_webhook(&self) -> Result<(), ConfigError> {
        let key = |key: &str, reason: &str| ConfigError::Key {
            key: key.into(),
            reason: reason.into(),
        };
        let w = &self.webhook;
        let is_url = |u: &str| {
            (u.starts_with("http://") || u.starts_with("https://"))
                && u.len() > 8
                && !u.chars().any(char::is_whitespace)
        };
        if let Some(u) = &w.base_url
            && !is_url(u)
        {
            return Err(key(
                "webhook.base_url",
                "must be an http:// or https:// URL",
            ));
        }
        if let Some(u) = &w.global_url
            && !is_url(u)
        {
            return Err(key(
                "webhook.global_url",
                "must be an http:// or https:// URL",
            ));
        }
        if let Err(u) = crate::event::check_filter(&w.global_events) {
            return Err(key("webhook.global_events", &u.to_string()));
        }
        if !matches!(w.global_format.as_str(), "json" | "form") {
            return Err(key("webhook.global_format", "must be json or form"));
        }
        let ranges: [(&str, u64, u64, u64); 8] = [
            ("webhook.concurrency", w.concurrency, 1, 256),
            ("webhook.timeout_secs", w.timeout_secs, 1, 300),
            ("webhook.retry_first_ms", w.retry_first_ms, 1, 3_600_000),
            (
                "webhook.retry_max_delay_ms",
                w.retry_max_delay_ms,
                1,
                86_400_000,
            ),
            ("webhook.give_up_secs", w.give_up_secs, 1, 30 * 86_400),
            ("webhook.retention_hours", w.retention_hours, 1, 24 * 365),
            ("webhook.max_log_mib", w.max_log_mib, 1, 64 * 1024),
            (
                "webhook.secret_overlap_hours",
                w.secret_overlap_hours,
                0,
                24 * 30,
            ),
        ];
        for (k, v, lo, hi) in ranges {
            if !(lo..=hi).contains(&v) {
                return Err(key(k, &format!("must be between {lo} and {hi}")));
            }
        }
        self.display.validate()
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

fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (var, raw) in env {
        if !var.starts_with("WAGO_") || ENV_OTHER.contains(&var.as_str()) {
            continue;
        }
        let Some(&(_, key, kind)) = ENV_KEYS.iter().find(|(v, _, _)| *v == var) else {
            let known: Vec<&str> = ENV_KEYS.iter().map(|(v, _, _)| *v).collect();
            return Err(ConfigError::Env {
                var,
                reason: format!("unknown; known variables: {}", known.join(", ")),
            });
        };
        let value = match kind {
            Kind::Str => toml::Value::String(raw),
            Kind::Bool => match raw.trim() {
                "1" | "true" | "yes" | "on" => toml::Value::Boolean(true),
                "0" | "false" | "no" | "off" | "" => toml::Value::Boolean(false),
                _ => {
                    return Err(ConfigError::Env {
                        var,
                        reason: format!("sets `{key}`, which needs true or false"),
                    });
                }
            },
            Kind::Int => match raw.trim().parse::<i64>() {
                Ok(n) => toml::Value::Integer(n),
                Err(_) => {
                    return Err(ConfigError::Env {
                        var,
                        reason: format!("sets `{key}`, which needs a whole number"),
                    });
                }
            },
        };
        let mut parts = key.split('.').peekable();
        let mut cur = &mut *table;
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                cur.insert(part.to_string(), value);
                break;
            }
            let entry = cur
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cur = match entry {
                toml::Value::Table(t) => t,
                _ => {
                    return Err(ConfigError::Key {
                        key: part.into(),
                        reason: "must be a table".into(),
                    });
                }
            };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
