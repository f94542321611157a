//! WAGO-Go's wire shapes (document 002): the message item of `GET /messages`
//! and the webhook body, both flat, with whatsmeow's message kind names and
//! RFC 3339 times; and its signature, `X-Wago-Signature: hex(HMAC-SHA256(body,
//! secret))` keyed with the secret string exactly as the user wrote it.

use crate::store::{LoggedEvent, MessageRecord};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;

/// A message as WAGO-Go shows it (field order as the document prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Stable, increasing position in the session's log: the `after` cursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The chat's JID.
    pub chat_id: String,
    /// The sender's JID.
    pub sender_id: String,
    /// Text or caption; empty when the message has none.
    pub text: String,
    /// whatsmeow's name of the message kind (`conversation`, `imageMessage`, …).
    pub kind: String,
    /// Message time, RFC 3339 in UTC, seconds.
    pub timestamp: String,
}

/// whatsmeow's name for one of the store's message kinds.
pub fn kind_name(kind: &str) -> String {
    match kind {
        "text" => "conversation",
        "image" => "imageMessage",
        "video" => "videoMessage",
        "audio" => "audioMessage",
        "document" => "documentMessage",
        "sticker" => "stickerMessage",
        "location" => "locationMessage",
        "contact" => "contactMessage",
        "poll" => "pollCreationMessage",
        "poll_vote" => "pollUpdateMessage",
        "reaction" => "reactionMessage",
        "edit" => "editedMessage",
        "revoke" => "protocolMessage",
        other => other,
    }
    .to_string()
}

/// A log entry as an item.
pub fn item(m: &MessageRecord) -> Item {
    Item {
        id: Some(m.seq),
        chat_id: m.chat.clone(),
        sender_id: m.sender.clone(),
        text: m.body.clone().unwrap_or_default(),
        kind: kind_name(&m.kind),
        timestamp: rfc3339(m.timestamp),
    }
}

/// The webhook body of a `message.received` event: the item without `id`,
/// compact JSON (what `JSON.stringify` of the parsed body gives back, byte
/// for byte, so the document's Node check verifies it).
pub fn webhook_body(ev: &LoggedEvent) -> Vec<u8> {
    let p = &ev.event.payload;
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    let chat = s("chat")
        .or_else(|| ev.event.chat.clone())
        .unwrap_or_default();
    let ts = p
        .get("timestamp")
        .and_then(Value::as_i64)
        .unwrap_or(ev.event.timestamp);
    let body = Item {
        id: None,
        sender_id: s("sender").unwrap_or_else(|| chat.clone()),
        chat_id: chat,
        text: s("body").or_else(|| s("text")).unwrap_or_default(),
        kind: kind_name(s("type").as_deref().unwrap_or("text")),
        timestamp: rfc3339(ts),
    };
    serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec())
}

/// `X-Wago-Signature`: hex HMAC-SHA256 of `body`, keyed with the secret's
/// UTF-8 bytes as written (a `whsec_` prefix included: the document's
/// receiver keys its HMAC with the string it was given).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut m = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes any key length"),
    };
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

/// Unix milliseconds as RFC 3339 UTC with whole seconds (Go's `time.RFC3339`).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use serde_json::json;

    #[test]
    fn rfc3339_matches_known_instants() {
        for (ms, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (1_756_718_431_000, "2025-09-01T09:20:31Z"),
            (1_756_718_431_999, "2025-09-01T09:20:31Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (4_107_542_399_000, "2100-02-28T23:59:59Z"),
            (-1_000, "1969-12-31T23:59:59Z"),
        ] {
            assert_eq!(rfc3339(ms), want, "{ms}");
        }
    }

    #[test]
    fn webhook_body_is_the_documented_flat_object() {
        let ev = LoggedEvent {
            seq: 1,
            id: "evt".into(),
            recorded_at: 0,
            event: Event {
                session: "s".into(),
                event: "message.received".into(),
                chat: Some("62812@s.whatsapp.net".into()),
                timestamp: 1,
                payload: json!({ "chat": "62812@s.whatsapp.net", "sender": "62812@s.whatsapp.net",
                                 "type": "text", "body": "halo", "timestamp": 1_756_718_431_000i64 }),
                me: None,
            },
        };
        let body = webhook_body(&ev);
        assert_eq!(
            String::from_utf8(body.clone()).expect("utf8"),
            r#"{"chat_id":"62812@s.whatsapp.net","sender_id":"62812@s.whatsapp.net","text":"halo","kind":"conversation","timestamp":"2025-09-01T09:20:31Z"}"#
        );
        // Keyed with the string as written, prefix and all.
        let a = signature("whsec_123abc", &body);
        assert_ne!(a, signature("123abc", &body));
        assert_eq!(a.len(), 64);
    }
}
