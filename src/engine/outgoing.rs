//! A send as the API hands it to the engine, before it is stored.

use crate::store::Payload;

/// One outbound message to accept.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The recipient as the client wrote it (number or JID); normalized on accept.
    pub phone: String,
    /// What to send.
    pub payload: Payload,
    /// The client's own id (`Id` / `Idempotency-Key`).
    pub client_id: Option<String>,
    /// Media bytes, stored with the send until it is finished.
    pub media: Option<Vec<u8>>,
    /// What it is for (`message_purpose`); `None`: the session's default.
    pub purpose: Option<String>,
    /// The route requires a purpose (`/api/send-message`): no default applies.
    pub purpose_required: bool,
}

impl Outgoing {
    /// A send without media.
    pub fn new(phone: &str, payload: Payload, client_id: Option<String>) -> Self {
        Outgoing {
            phone: phone.to_string(),
            payload,
            client_id,
            media: None,
            purpose: None,
            purpose_required: false,
        }
    }

    /// The same send with its purpose (`None` keeps the default).
    pub fn with_purpose(mut self, purpose: Option<String>) -> Self {
        self.purpose = purpose;
        self
    }

    /// The record's `kind`: `text`, `image`, …, `reaction`, `edit`, `revoke`.
    pub fn kind(&self) -> String {
        match &self.payload {
            Payload::Text { .. } => "text",
            Payload::Media { media, .. } => media.name(),
            Payload::Location { .. } => "location",
            Payload::Contact { .. } => "contact",
            Payload::Poll { .. } => "poll",
            Payload::Reaction { .. } => "reaction",
            Payload::Edit { .. } => "edit",
            Payload::Revoke { .. } => "revoke",
        }
        .to_string()
    }

    /// The text `/messages` shows for it: the body, caption, poll question, …
    pub fn shown_text(&self) -> Option<String> {
        match &self.payload {
            Payload::Text { body, .. } | Payload::Edit { body, .. } => Some(body.clone()),
            Payload::Media { caption, .. } => caption.clone(),
            Payload::Location { name, .. } => name.clone(),
            Payload::Contact { display_name, .. } => Some(display_name.clone()),
            Payload::Poll { name, .. } => Some(name.clone()),
            Payload::Reaction { emoji, .. } => Some(emoji.clone()),
            Payload::Revoke { .. } => None,
        }
    }
}
