//! What an outbound message carries while it waits in the send queue.
//!
//! Stored inside the [`super::MessageRecord`] (JSON, so it can grow fields).
//! Records written before payloads existed have none: they are plain texts
//! whose text is the record's `body`. Media bytes are not in here: they sit
//! in the `outbound_media` table until the send is finished.

use serde::{Deserialize, Serialize};

/// The kinds of media a send can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A picture (`imageMessage`).
    Image,
    /// A video (`videoMessage`).
    Video,
    /// Audio, or a voice note with `ptt` (`audioMessage`).
    Audio,
    /// Any file (`documentMessage`).
    Document,
    /// A WebP sticker (`stickerMessage`).
    Sticker,
}

impl MediaKind {
    /// The record's `kind` / the route's last segment.
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }
}

/// A reply and its mentions (WaGo's `ContextInfo`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// The quoted message id, if this is a reply.
    #[serde(default)]
    pub stanza_id: Option<String>,
    /// Who wrote the quoted message (full JID).
    #[serde(default)]
    pub participant: Option<String>,
    /// The quoted message's text, shown in the reply bubble.
    #[serde(default)]
    pub quoted_text: Option<String>,
    /// Mentioned JIDs.
    #[serde(default)]
    pub mentioned: Vec<String>,
}

/// One outbound message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// Text; `link_preview` is off unless asked for (no preview is fetched).
    Text {
        /// The text.
        body: String,
        /// Reply / mentions.
        #[serde(default)]
        quote: Option<Quote>,
    },
    /// Media whose bytes are in `outbound_media` under the message id.
    Media {
        /// Which kind.
        media: MediaKind,
        /// Its MIME type.
        mime: String,
        /// Caption (image, video, document).
        #[serde(default)]
        caption: Option<String>,
        /// File name (document).
        #[serde(default)]
        file_name: Option<String>,
        /// A voice note (audio).
        #[serde(default)]
        ptt: bool,
        /// Reply / mentions.
        #[serde(default)]
        quote: Option<Quote>,
    },
    /// A location pin.
    Location {
        /// Degrees north.
        latitude: f64,
        /// Degrees east.
        longitude: f64,
        /// Place name.
        #[serde(default)]
        name: Option<String>,
        /// Street address.
        #[serde(default)]
        address: Option<String>,
    },
    /// A contact card.
    Contact {
        /// Name shown on the card.
        display_name: String,
        /// The vCard text.
        vcard: String,
    },
    /// A poll.
    Poll {
        /// The question.
        name: String,
        /// The answers.
        options: Vec<String>,
        /// How many answers one voter may pick (0 = any number).
        selectable: u32,
    },
    /// A reaction to `target` (empty emoji removes it).
    Reaction {
        /// The message reacted to.
        target: String,
        /// Whether this account sent the target.
        target_from_me: bool,
        /// Who sent the target (group chats).
        #[serde(default)]
        target_sender: Option<String>,
        /// The emoji.
        emoji: String,
    },
    /// New text for this account's message `target`.
    Edit {
        /// The message edited.
        target: String,
        /// The new text.
        body: String,
    },
    /// Deletes this account's message `target` for everyone.
    Revoke {
        /// The message deleted.
        target: String,
    },
}
