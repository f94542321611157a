//! What goes on the wire: the JSON envelope, or WaGo's multipart form.
//!
//! The envelope is the same bytes on every attempt (it holds the event's
//! time, not the attempt's), so receivers can deduplicate on `id` and compare.

use super::media::MediaPart;
use crate::store::{Format, LoggedEvent};
use bytes::Bytes;
use rand::Rng;
use serde_json::json;

/// The JSON envelope of the contract.
pub fn envelope(ev: &LoggedEvent) -> serde_json::Value {
    let e = &ev.event;
    let me = e.me.clone().unwrap_or_default();
    json!({
        "id": ev.id,
        "timestamp": e.timestamp,
        "session": e.session,
        "engine": "wago",
        "event": e.event,
        "payload": e.payload,
        "me": me,
        "metadata": { "seq": ev.seq, "chat": e.chat, "recordedAt": ev.recorded_at },
    })
}

/// A request body and its content type.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// `Content-Type` header value.
    pub content_type: String,
    /// The bytes to send (and sign).
    pub body: Bytes,
}

/// Encodes `ev` in `format`; `form_token` is the `token` field of forms,
/// `file` their `file` part (received media).
pub fn encode(
    ev: &LoggedEvent,
    format: Format,
    form_token: Option<&str>,
    file: Option<&MediaPart>,
) -> Encoded {
    let json = || serde_json::to_vec(&envelope(ev)).unwrap_or_else(|_| b"{}".to_vec());
    match format {
        Format::Json => Encoded {
            content_type: "application/json".into(),
            body: Bytes::from(json()),
        },
        // A dialect's own body: the dialect owns its shape.
        Format::WagoGo => Encoded {
            content_type: "application/json".into(),
            body: Bytes::from(crate::api::dialect::wago_go::wire::webhook_body(ev)),
        },
        Format::Form => {
            let json = json();
            let mut b = [0u8; 12];
            rand::rng().fill_bytes(&mut b);
            let boundary = format!("wago-{}", hex::encode(b));
            let mut body = Vec::with_capacity(json.len() + 256);
            part(
                &mut body,
                &boundary,
                "token",
                form_token.unwrap_or("").as_bytes(),
                None,
            );
            part(
                &mut body,
                &boundary,
                "jsonData",
                &json,
                Some("application/json"),
            );
            if let Some(f) = file {
                file_part(&mut body, &boundary, f);
            }
            body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            Encoded {
                content_type: format!("multipart/form-data; boundary={boundary}"),
                body: Bytes::from(body),
            }
        }
    }
}

/// The `file` part: the file name stripped of quotes and line breaks.
fn file_part(out: &mut Vec<u8>, boundary: &str, f: &MediaPart) {
    let name: String = f
        .file_name
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect();
    let ct: String = f.mimetype.chars().filter(|c| !c.is_control()).collect();
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    out.extend_from_slice(
        format!("Content-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n")
            .as_bytes(),
    );
    out.extend_from_slice(format!("Content-Type: {ct}\r\n\r\n").as_bytes());
    out.extend_from_slice(&f.bytes);
    out.extend_from_slice(b"\r\n");
}

fn part(out: &mut Vec<u8>, boundary: &str, name: &str, value: &[u8], ct: Option<&str>) {
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    out.extend_from_slice(
        format!("Content-Disposition: form-data; name=\"{name}\"\r\n").as_bytes(),
    );
    if let Some(ct) = ct {
        out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    fn ev() -> LoggedEvent {
        LoggedEvent {
            seq: 3,
            id: "evt_x_3".into(),
            recorded_at: 5,
            event: Event {
                session: "s1".into(),
                event: "message.received".into(),
                chat: Some("1@s.whatsapp.net".into()),
                timestamp: 42,
                payload: json!({ "text": "hi" }),
                me: None,
            },
        }
    }

    #[test]
    fn envelope_has_the_contract_fields_and_is_stable() {
        let v = envelope(&ev());
        for k in [
            "id",
            "timestamp",
            "session",
            "engine",
            "event",
            "payload",
            "me",
            "metadata",
        ] {
            assert!(v.get(k).is_some(), "{k} missing in {v}");
        }
        assert_eq!(v["engine"], "wago");
        assert_eq!(v["me"]["pushName"], "");
        let a = encode(&ev(), Format::Json, None, None);
        let b = encode(&ev(), Format::Json, None, None);
        assert_eq!(a.body, b.body, "same bytes on every attempt");
    }

    #[test]
    fn form_has_token_and_json_data() {
        let f = encode(&ev(), Format::Form, Some("tok"), None);
        let text = String::from_utf8(f.body.to_vec()).expect("utf8");
        let boundary = f.content_type.split("boundary=").nth(1).expect("boundary");
        assert!(text.contains("name=\"token\"\r\n\r\ntok\r\n"), "{text}");
        assert!(text.contains("name=\"jsonData\""));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }

    #[test]
    fn form_carries_the_file_part_when_given() {
        let file = MediaPart {
            bytes: vec![0xff, 0xd8, 0x00, 0x01],
            mimetype: "image/jpeg".into(),
            file_name: "x\"y\r\n.jpg".into(),
        };
        let f = encode(&ev(), Format::Form, Some("tok"), Some(&file));
        let body = f.body.to_vec();
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("name=\"file\"; filename=\"xy.jpg\""),
            "{text}"
        );
        assert!(text.contains("Content-Type: image/jpeg"));
        assert!(body.windows(4).any(|w| w == [0xff, 0xd8, 0x00, 0x01]));
        let plain = encode(&ev(), Format::Form, Some("tok"), None);
        assert!(!String::from_utf8_lossy(&plain.body).contains("name=\"file\""));
    }
}
