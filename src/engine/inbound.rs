//! What an inbound WhatsApp message is, in the gateway's words: its kind
//! (`text`, `image`, `reaction`, `edit`, …), its text or caption, the
//! kind-specific details webhook receivers get (media metadata, location,
//! contact card, poll, the message a reaction/edit/revoke points at) and
//! the normalized event name it becomes.
//!
//! Pure functions over the decoded protobuf: no I/O, no store.

use serde_json::{Map, Value, json};
use wa::message::protocol_message::Type as ProtocolType;
use whatsapp_rust::wacore::proto_helpers::MessageExt;
use whatsapp_rust::waproto::whatsapp as wa;

/// One inbound message, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    /// `text`, `image`, `video`, `audio`, `document`, `sticker`,
    /// `location`, `contact`, `poll`, `poll_vote`, `reaction`, `edit`,
    /// `revoke` or `other`.
    pub kind: &'static str,
    /// Text, caption, new text of an edit, poll question, emoji.
    pub body: Option<String>,
    /// Kind-specific fields (camelCase), merged into the event payload.
    pub detail: Map<String, Value>,
}

/// Classifies a decrypted message; `None` for protocol-only traffic (key
/// shares, sender-key distribution, history-sync notices, …) that is
/// neither stored nor reported.
pub fn classify(message: &wa::Message) -> Option<Classified> {
    let m = message.get_base_message();
    let mut detail = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            detail.insert(k.to_string(), v);
        }
    };
    let (kind, body): (&'static str, Option<String>) =
        if let Some(pm) = m.protocol_message.as_option() {
            let target = pm.key.as_option().and_then(|k| k.id.clone());
            match pm.r#type {
                Some(ProtocolType::REVOKE) => {
                    put("targetId", json!(target));
                    ("revoke", None)
                }
                Some(ProtocolType::MESSAGE_EDIT) => {
                    put("targetId", json!(target));
                    let text = pm
                        .edited_message
                        .as_option()
                        .and_then(|e| e.text_content().or(e.get_caption()).map(str::to_string));
                    ("edit", text)
                }
                _ => return None,
            }
        } else if m.sender_key_distribution_message.is_set() && !has_content(m) {
            return None;
        } else if let Some(text) = m.text_content() {
            if let Some(ext) = m.extended_text_message.as_option() {
                put("matchedText", json!(ext.matched_text));
                put("title", json!(ext.title));
                put("description", json!(ext.description));
            }
            ("text", Some(text.to_string()))
        } else if let Some(r) = m.reaction_message.as_option() {
            put(
                "targetId",
                json!(r.key.as_option().and_then(|k| k.id.clone())),
            );
            put("removed", json!(r.text.as_deref().unwrap_or("").is_empty()));
            ("reaction", r.text.clone())
        } else if let Some(i) = m.image_message.as_option() {
            put("mimetype", json!(i.mimetype));
            put("fileLength", json!(i.file_length));
            put("width", json!(i.width));
            put("height", json!(i.height));
            ("image", i.caption.clone())
        } else if let Some(v) = m.video_message.as_option() {
            put("mimetype", json!(v.mimetype));
            put("fileLength", json!(v.file_length));
            put("seconds", json!(v.seconds));
            put("gif", json!(v.gif_playback));
            ("video", v.caption.clone())
        } else if let Some(a) = m.audio_message.as_option() {
            put("mimetype", json!(a.mimetype));
            put("fileLength", json!(a.file_length));
            put("seconds", json!(a.seconds));
            put("ptt", json!(a.ptt.unwrap_or(false)));
            ("audio", None)
        } else if let Some(d) = m.document_message.as_option() {
            put("mimetype", json!(d.mimetype));
            put("fileLength", json!(d.file_length));
            put("fileName", json!(d.file_name));
            put("title", json!(d.title));
            put("pageCount", json!(d.page_count));
            ("document", d.caption.clone())
        } else if let Some(s) = m.sticker_message.as_option() {
            put("mimetype", json!(s.mimetype));
            put("fileLength", json!(s.file_length));
            put("animated", json!(s.is_animated.unwrap_or(false)));
            ("sticker", None)
        } else if let Some(l) = m.location_message.as_option() {
            put("latitude", json!(l.degrees_latitude));
            put("longitude", json!(l.degrees_longitude));
            put("name", json!(l.name));
            put("address", json!(l.address));
            put("url", json!(l.url));
            put("live", json!(l.is_live.unwrap_or(false)));
            ("location", l.name.clone())
        } else if let Some(l) = m.live_location_message.as_option() {
            put("latitude", json!(l.degrees_latitude));
            put("longitude", json!(l.degrees_longitude));
            put("live", json!(true));
            ("location", l.caption.clone())
        } else if let Some(c) = m.contact_message.as_option() {
            put("displayName", json!(c.display_name));
            put("vcard", json!(c.vcard));
            ("contact", c.display_name.clone())
        } else if let Some(ca) = m.contacts_array_message.as_option() {
            let cards: Vec<Value> = ca
                .contacts
                .iter()
                .map(|c| json!({ "displayName": c.display_name, "vcard": c.vcard }))
                .collect();
            put("displayName", json!(ca.display_name));
            put("contacts", json!(cards));
            ("contact", ca.display_name.clone())
        } else if let Some(p) = poll_creation(m) {
            let options: Vec<Value> = p.options.iter().map(|o| json!(o.option_name)).collect();
            put("options", json!(options));
            put("selectableCount", json!(p.selectable_options_count));
            ("poll", p.name.clone())
        } else if let Some(v) = m.poll_update_message.as_option() {
            let key = v.poll_creation_message_key.as_option();
            put("targetId", json!(key.and_then(|k| k.id.clone())));
            ("poll_vote", None)
        } else {
            ("other", None)
        };
    Some(Classified { kind, body, detail })
}

/// The poll in any of its three versions.
fn poll_creation(m: &wa::Message) -> Option<&wa::message::PollCreationMessage> {
    m.poll_creation_message
        .as_option()
        .or(m.poll_creation_message_v2.as_option())
        .or(m.poll_creation_message_v3.as_option())
}

/// Whether a message that also carries a sender-key distribution has
/// user content beside it (the first group message does).
fn has_content(m: &wa::Message) -> bool {
    m.text_content().is_some()
        || m.image_message.is_set()
        || m.video_message.is_set()
        || m.audio_message.is_set()
        || m.document_message.is_set()
        || m.sticker_message.is_set()
        || m.location_message.is_set()
        || m.contact_message.is_set()
        || m.reaction_message.is_set()
        || poll_creation(m).is_some()
}

/// The normalized event name for a stored inbound message of `kind`.
pub fn event_name(kind: &str, from_me: bool) -> &'static str {
    match kind {
        "reaction" => "message.reaction",
        "edit" => "message.edited",
        "revoke" => "message.revoked",
        _ if from_me => "message.sent",
        _ => "message.received",
    }
}

/// Whether messages of `kind` carry a downloadable file.
pub fn has_media(kind: &str) -> bool {
    matches!(kind, "image" | "video" | "audio" | "document" | "sticker")
}
