//! `WAGO_*` environment overrides: the table of variables and the config
//! keys they set, and applying them to the parsed TOML table before it is
//! deserialized (so an override is checked like a file value).

use super::ConfigError;

/// The kind of value an environment override carries.
#[derive(Clone, Copy)]
pub(super) enum Kind {
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

/// Sets the key of every `WAGO_*` variable in `env` in `table`; an unknown
/// variable or a value of the wrong kind is an error naming the variable.
pub(super) fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (var, raw) in env {
        if !var.starts_with("WAGO_") || ENV_OTHER.contains(&var.as_str()) {
            continue;
        }
        let all = || {
            ENV_KEYS
                .iter()
                .chain(super::limits::ENV_KEYS)
                .chain(super::guard::ENV_KEYS)
        };
        let Some(&(_, key, kind)) = all().find(|(v, _, _)| *v == var) else {
            let known: Vec<&str> = all().map(|(v, _, _)| *v).collect();
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
