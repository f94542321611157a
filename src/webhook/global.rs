//! The global subscription from the config (`webhook.global_url`): every
//! session's events go there too. Synced at start: created, updated or
//! removed to match the config. Signing is on: without a configured secret
//! one is generated once, kept in the store and written to
//! `<data>/webhook-secret` (mode 0600).

use super::sign;
use crate::config::WebhookConfig;
use crate::store::{Format, SigningSecret, Store, StoreError, Subscription, now_ms};
use std::io::Write;
use std::path::Path;

/// File the generated global secret is written to.
pub const SECRET_FILE: &str = "webhook-secret";

/// Makes the stored global subscription match `cfg`. Returns whether anything changed.
pub async fn sync_global(store: &Store, cfg: &WebhookConfig) -> Result<bool, StoreError> {
    let existing = store
        .list_subscriptions()
        .await?
        .into_iter()
        .find(|s| s.session.is_none());
    let Some(url) = &cfg.global_url else {
        if let Some(old) = existing {
            store.delete_subscription(old.id).await?;
            return Ok(true);
        }
        return Ok(false);
    };
    let secret = match (&cfg.global_secret, &existing) {
        (Some(s), _) => s.expose().to_string(),
        (None, Some(old)) if !old.secrets.is_empty() => old.secrets[0].value.clone(),
        (None, _) => {
            let s = sign::generate_secret();
            write_secret(store.dir(), &s);
            s
        }
    };
    let want = Subscription {
        id: existing.as_ref().map_or(0, |s| s.id),
        session: None,
        main: false,
        url: url.clone(),
        events: cfg.global_events.clone(),
        // Validated at start (`config::validate`): one of the known names.
        format: Format::parse(&cfg.global_format).unwrap_or_default(),
        secrets: vec![SigningSecret {
            value: secret,
            expires_at: None,
        }],
        headers: Vec::new(),
        form_token: None,
        created_at: existing.as_ref().map_or_else(now_ms, |s| s.created_at),
    };
    match existing {
        Some(old) if old == want => Ok(false),
        Some(_) => store.update_subscription(want).await.map(|_| true),
        None => store.create_subscription(want).await.map(|_| true),
    }
}

fn write_secret(dir: &Path, secret: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(SECRET_FILE);
    let _ = std::fs::remove_file(&path);
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{secret}"));
    match result {
        Ok(()) => eprintln!(
            "wago: generated the signing secret of the global webhook (also in {}, mode 0600):\n\n    {secret}\n",
            path.display()
        ),
        Err(e) => tracing::warn!(error = %e, "cannot write the global webhook secret file"),
    }
}
