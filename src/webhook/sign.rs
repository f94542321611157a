//! Signing deliveries: Standard Webhooks headers and the older `X-Wago-Signature`.
//!
//! - `webhook-id`: the event id; `webhook-timestamp`: Unix seconds of the attempt;
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one
//!   per live secret, space-separated (two while a secret rotates);
//! - `X-Wago-Signature`: hex HMAC-SHA256 of the body with the current secret.
//!
//! A secret `whsec_<base64>` (the Standard Webhooks form, what wago
//! generates) signs with the decoded bytes; any other string signs with its
//! UTF-8 bytes, which is what WaGo receivers expect of a `Secret` they chose.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;

/// Prefix of Standard Webhooks secrets.
pub const WHSEC_PREFIX: &str = "whsec_";

/// The HMAC key a secret stands for.
pub fn key_of(secret: &str) -> Vec<u8> {
    match secret.strip_prefix(WHSEC_PREFIX) {
        Some(b64) => STANDARD
            .decode(b64)
            .or_else(|_| STANDARD_NO_PAD.decode(b64))
            .unwrap_or_else(|_| b64.as_bytes().to_vec()),
        None => secret.as_bytes().to_vec(),
    }
}

/// Whether a client-given secret is usable: non-empty, and valid base64 after `whsec_`.
pub fn valid_secret(secret: &str) -> bool {
    match secret.strip_prefix(WHSEC_PREFIX) {
        Some(b64) => STANDARD
            .decode(b64)
            .or_else(|_| STANDARD_NO_PAD.decode(b64))
            .is_ok_and(|k| k.len() >= 16),
        None => !secret.is_empty(),
    }
}

/// Whether a secret is usable for a subscription of `format`, the one rule
/// the API (`Secret`) and the config (`webhook.global_secret`) share. The
/// `wago-go` format keys its HMAC with the string as written, so any
/// non-empty string goes; the others read a `whsec_` secret as Standard
/// Webhooks base64 and refuse one that is not.
pub fn valid_secret_for(secret: &str, format: crate::store::Format) -> bool {
    match format {
        crate::store::Format::WagoGo => !secret.is_empty(),
        _ => valid_secret(secret),
    }
}

/// A new secret: `whsec_` and 32 random bytes in base64.
pub fn generate_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("{WHSEC_PREFIX}{}", STANDARD.encode(b))
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes any key length"),
    }
}

/// `v1,<sig>` for one secret.
pub fn standard_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut m = mac(&key_of(secret));
    m.update(id.as_bytes());
    m.update(b".");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    format!("v1,{}", STANDARD.encode(m.finalize().into_bytes()))
}

/// The `webhook-signature` value: one `v1,` signature per secret, space-separated.
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a str>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .into_iter()
        .map(|s| standard_signature(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `X-Wago-Signature`: hex HMAC-SHA256 of the body.
pub fn hex_signature(secret: &str, body: &[u8]) -> String {
    let mut m = mac(&key_of(secret));
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

/// A secret shown in listings: its kind and last 4 characters only.
pub fn mask(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if secret.starts_with(WHSEC_PREFIX) {
        format!("{WHSEC_PREFIX}…{tail}")
    } else {
        format!("…{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_test_vector() {
        // The example from the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            standard_signature(secret, id, 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn rotation_sends_both_and_raw_secrets_work() {
        let h = signature_header(["whsec_AAAAAAAAAAAAAAAAAAAAAA==", "plain"], "i", 1, b"b");
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_eq!(key_of("plain"), b"plain");
        assert_eq!(hex_signature("k", b"").len(), 64);
        assert!(valid_secret(&generate_secret()));
        assert!(!valid_secret("whsec_!!"));
        assert!(!valid_secret(""));
        assert_eq!(mask("whsec_abcdefgh"), "whsec_…efgh");
    }
}
