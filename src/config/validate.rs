//! Validation of a parsed [`Config`]: every bad value is an error naming
//! its key. Runs after parsing (types and unknown keys are serde's).

use super::*;

impl Config {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
        if let Err(e) = self.log.parse::<tracing_subscriber::filter::Targets>() {
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
        let Some(format) = crate::store::Format::parse(&w.global_format) else {
            return Err(key(
                "webhook.global_format",
                "must be json, form or wago-go",
            ));
        };
        // The same rule as the API's `Secret`: a secret accepted here signs
        // exactly as a subscription given it over the API would.
        if let Some(s) = &w.global_secret
            && (!crate::wire::sign::valid_secret_for(s.expose(), format) || s.expose().len() > 512)
        {
            return Err(key(
                "webhook.global_secret",
                "must be 1 to 512 characters; with global_format json or form, a whsec_ secret must be valid base64 of at least 16 bytes (the wago-go format takes any string as written)",
            ));
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
        self.display.validate()?;
        self.limits.validate()?;
        self.guard.validate()
    }
}
