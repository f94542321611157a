//! Turns a queued [`Payload`] into what the library sends.
//!
//! Runs in the send queue worker, at send time: media is uploaded here
//! (the library encrypts it), so a send queued while offline uploads once
//! the session is back. Owns no state; must not touch the queue itself.

use crate::store::{MediaKind, MessageRecord, Payload, Quote};
use whatsapp_rust::Client;
use whatsapp_rust::media::{
    AudioOptions, DocumentOptions, ImageOptions, VideoOptions, audio_message, document_message,
    image_message, video_message,
};
use whatsapp_rust::upload::UploadOptions;
use whatsapp_rust::wacore::download::MediaType;
use whatsapp_rust::wacore::proto_helpers::{MessageBuilderExt, build_reaction_message};
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

/// What the worker hands the library.
pub(super) enum Built {
    /// A message sent with the record's own id (also a revoke, and an edit
    /// in a direct chat: the library infers their stanza attributes).
    Message(wa::Message),
    /// An edit of this account's message `target` in a group (the library
    /// picks the JID the group knows us by); sent with the record's id too.
    Edit {
        target: String,
        message: wa::Message,
    },
}

/// Why a payload could not be built.
#[derive(Debug, thiserror::Error)]
pub(super) enum BuildError {
    /// The payload can never be sent (it fails the message).
    #[error("{0}")]
    Permanent(String),
    /// Worth another attempt (an upload failed).
    #[error("{0}")]
    Transient(String),
}

/// The payload of `rec`: its stored one, or, for records from before
/// payloads existed, a text of its `body`.
pub(super) fn payload_of(rec: &MessageRecord) -> Payload {
    rec.payload.clone().unwrap_or_else(|| Payload::Text {
        body: rec.body.clone().unwrap_or_default(),
        quote: None,
    })
}

/// Builds the message for `rec`; `media` is its stored bytes, if any.
pub(super) async fn build(
    client: &Client,
    rec: &MessageRecord,
    media: Option<Vec<u8>>,
) -> Result<Built, BuildError> {
    let message = match payload_of(rec) {
        Payload::Text { body, quote } => match quote.map(|q| context(&q)) {
            Some(ctx) => wa::Message::text_with_context(body, ctx),
            // No preview is generated: link previews are off.
            None => wa::Message::text(body),
        },
        Payload::Media {
            media: kind,
            mime,
            caption,
            file_name,
            ptt,
            quote,
        } => {
            let bytes = media.ok_or_else(|| {
                BuildError::Permanent("the media bytes of this send are gone".into())
            })?;
            let ctx = quote.map(|q| Box::new(context(&q)));
            upload_media(client, kind, bytes, mime, caption, file_name, ptt, ctx).await?
        }
        Payload::Location {
            latitude,
            longitude,
            name,
            address,
        } => wa::Message {
            location_message: MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(latitude),
                degrees_longitude: Some(longitude),
                name,
                address,
                ..Default::default()
            }),
            ..Default::default()
        },
        Payload::Contact {
            display_name,
            vcard,
        } => wa::Message {
            contact_message: MessageField::some(wa::message::ContactMessage {
                display_name: Some(display_name),
                vcard: Some(vcard),
                ..Default::default()
            }),
            ..Default::default()
        },
        Payload::Poll {
            name,
            options,
            selectable,
        } => poll(name, options, selectable),
        Payload::Reaction {
            target,
            target_from_me,
            target_sender,
            emoji,
        } => {
            let key = wa::MessageKey {
                remote_jid: Some(rec.chat.clone()),
                from_me: Some(target_from_me),
                id: Some(target),
                participant: target_sender.filter(|_| rec.chat.ends_with("@g.us")),
            };
            build_reaction_message(key, emoji, crate::event::now_ms())
        }
        Payload::Edit { target, body } if rec.chat.ends_with("@g.us") => {
            return Ok(Built::Edit {
                target,
                message: wa::Message::text(body),
            });
        }
        Payload::Edit { target, body } => protocol(
            rec,
            target,
            wa::message::protocol_message::Type::MessageEdit,
            Some(wa::Message::text(body)),
        ),
        Payload::Revoke { target } => protocol(
            rec,
            target,
            wa::message::protocol_message::Type::Revoke,
            None,
        ),
    };
    Ok(Built::Message(message))
}

/// A protocol message about this account's message `target` in `rec`'s
/// chat: an edit (with the new content) or a revoke, shaped as
/// whatsapp-rust's own `edit_message` / `revoke_message` build them, so the
/// stanza can carry the record's id (theirs always mint a fresh one).
fn protocol(
    rec: &MessageRecord,
    target: String,
    kind: wa::message::protocol_message::Type,
    edited: Option<wa::Message>,
) -> wa::Message {
    let editing = edited.is_some();
    wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: MessageField::some(wa::MessageKey {
                remote_jid: Some(rec.chat.clone()),
                from_me: Some(true),
                id: Some(target),
                participant: None,
            }),
            r#type: Some(kind),
            edited_message: edited.map_or_else(MessageField::none, MessageField::some),
            timestamp_ms: editing.then(crate::event::now_ms),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The `ContextInfo` of a reply / mentions.
fn context(q: &Quote) -> wa::ContextInfo {
    let quoted = q.quoted_text.as_ref().map(|t| wa::Message::text(t.clone()));
    wa::ContextInfo {
        stanza_id: q.stanza_id.clone(),
        participant: q.participant.clone(),
        quoted_message: quoted.map(MessageField::some).unwrap_or_default(),
        mentioned_jid: q.mentioned.clone(),
        ..Default::default()
    }
}

#[allow(clippy::too_many_arguments)]
async fn upload_media(
    client: &Client,
    kind: MediaKind,
    bytes: Vec<u8>,
    mime: String,
    caption: Option<String>,
    file_name: Option<String>,
    ptt: bool,
    ctx: Option<Box<wa::ContextInfo>>,
) -> Result<wa::Message, BuildError> {
    let media_type = match kind {
        MediaKind::Image => MediaType::Image,
        MediaKind::Video => MediaType::Video,
        MediaKind::Audio => MediaType::Audio,
        MediaKind::Document => MediaType::Document,
        MediaKind::Sticker => MediaType::Sticker,
    };
    let up = client
        .upload(bytes, media_type, UploadOptions::default())
        .await
        .map_err(|e| BuildError::Transient(format!("media upload failed: {e}")))?;
    let mimetype = Some(mime);
    Ok(match kind {
        MediaKind::Image => image_message(
            up,
            ImageOptions {
                caption,
                mimetype,
                context_info: ctx,
                ..Default::default()
            },
        ),
        MediaKind::Video => video_message(
            up,
            VideoOptions {
                caption,
                mimetype,
                context_info: ctx,
                ..Default::default()
            },
        ),
        MediaKind::Audio => audio_message(
            up,
            AudioOptions {
                mimetype,
                ptt: Some(ptt),
                context_info: ctx,
                ..Default::default()
            },
        ),
        MediaKind::Document => document_message(
            up,
            DocumentOptions {
                mimetype,
                title: file_name.clone(),
                file_name,
                caption,
                context_info: ctx,
                ..Default::default()
            },
        ),
        MediaKind::Sticker => wa::Message {
            sticker_message: MessageField::some(wa::message::StickerMessage {
                url: Some(up.url),
                direct_path: Some(up.direct_path),
                media_key: Some(up.media_key.to_vec()),
                file_sha256: Some(up.file_sha256.to_vec()),
                file_enc_sha256: Some(up.file_enc_sha256.to_vec()),
                file_length: Some(up.file_length),
                media_key_timestamp: Some(up.media_key_timestamp),
                mimetype,
                context_info: ctx.map(|c| MessageField::some(*c)).unwrap_or_default(),
                ..Default::default()
            }),
            ..Default::default()
        },
    })
}

/// A poll creation message with a fresh 32-byte secret (voters derive their
/// vote keys from it).
fn poll(name: String, options: Vec<String>, selectable: u32) -> wa::Message {
    use rand::Rng;
    let poll = wa::message::PollCreationMessage {
        name: Some(name),
        options: options
            .into_iter()
            .map(|o| wa::message::poll_creation_message::Option {
                option_name: Some(o),
                ..Default::default()
            })
            .collect(),
        selectable_options_count: Some(selectable),
        ..Default::default()
    };
    let mut secret = vec![0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    // WhatsApp Web: v3 for single-choice polls, v1 otherwise.
    let mut message = if selectable == 1 {
        wa::Message {
            poll_creation_message_v3: MessageField::some(poll),
            ..Default::default()
        }
    } else {
        wa::Message {
            poll_creation_message: MessageField::some(poll),
            ..Default::default()
        }
    };
    message.message_context_info = MessageField::some(wa::MessageContextInfo {
        message_secret: Some(secret),
        ..Default::default()
    });
    message
}
