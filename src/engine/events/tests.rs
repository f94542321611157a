//! The supervisor's stop decisions, on real library events.

use super::*;
use whatsapp_rust::wacore::types::events::{
    ClientOutdated, ConnectFailure, Connected, Disconnected, LoggedOut, PairingQrCodesExhausted,
    StreamReplaced,
};

fn failure(reason: ConnectFailureReason) -> Event {
    Event::ConnectFailure(ConnectFailure::builder().reason(reason).build())
}

#[test]
fn terminal_events_stop_with_the_right_outcome() {
    let cases: Vec<(Event, &str)> = vec![
        (
            Event::StreamReplaced(StreamReplaced::builder().build()),
            "failed: another client took over",
        ),
        (
            Event::ClientOutdated(ClientOutdated::builder().build()),
            "failed: WhatsApp says this client version is outdated",
        ),
        (
            Event::PairingQrCodesExhausted(
                PairingQrCodesExhausted::builder()
                    .disconnected(true)
                    .build(),
            ),
            "failed: pairing timed out",
        ),
        (
            Event::LoggedOut(
                LoggedOut::builder()
                    .on_connect(false)
                    .reason(ConnectFailureReason::LoggedOut)
                    .build(),
            ),
            "logged_out",
        ),
        (failure(ConnectFailureReason::LoggedOut), "logged_out"),
    ];
    for (event, want) in cases {
        let mut failures = 0;
        let got = match decide(&event, &mut failures, 5) {
            Some(Outcome::Failed(r)) => format!("failed: {r}"),
            Some(Outcome::LoggedOut(_)) => "logged_out".into(),
            other => format!("{other:?}"),
        };
        assert!(got.starts_with(want), "{got} should start with {want}");
    }
}

#[test]
fn refusals_fail_only_when_repeated_and_connected_resets_the_count() {
    let mut failures = 0;
    for _ in 0..4 {
        assert!(decide(&failure(ConnectFailureReason::Generic), &mut failures, 5).is_none());
    }
    // A successful connection in between starts the count again.
    assert!(
        decide(
            &Event::Connected(Connected::builder().build()),
            &mut failures,
            5
        )
        .is_none()
    );
    assert_eq!(failures, 0);
    for _ in 0..4 {
        assert!(
            decide(
                &failure(ConnectFailureReason::InternalServerError),
                &mut failures,
                5
            )
            .is_none()
        );
    }
    match decide(
        &failure(ConnectFailureReason::InternalServerError),
        &mut failures,
        5,
    ) {
        Some(Outcome::Failed(r)) => assert!(r.message.contains("5 times in a row"), "{r}"),
        other => panic!("expected failed, got {other:?}"),
    }
}

#[test]
fn network_drops_never_fail_a_session() {
    let mut failures = 0;
    for _ in 0..100 {
        let ev = Event::Disconnected(
            Disconnected::builder()
                .reason(whatsapp_rust::wacore::net::DisconnectReason::StreamEnded)
                .build(),
        );
        assert!(decide(&ev, &mut failures, 5).is_none());
    }
    assert_eq!(failures, 0);
}

mod mapping {
    //! Inbound messages and notices → kind, body, details and event name.

    use crate::engine::inbound::{classify, event_name};
    use crate::engine::notices::notice;
    use serde_json::{Value, json};
    use wa::message as m;
    use whatsapp_rust::Jid;
    use whatsapp_rust::chrono::Utc;
    use whatsapp_rust::wacore::stanza::groups::GroupNotificationAction;
    use whatsapp_rust::wacore::types::call::{CallAction, IncomingCall};
    use whatsapp_rust::wacore::types::events::{ChatPresenceUpdate, PresenceUpdate};
    use whatsapp_rust::wacore::types::events::{Event, GroupUpdate};
    use whatsapp_rust::wacore::types::message::MessageSource;
    use whatsapp_rust::wacore::types::presence::{ChatPresence, ChatPresenceMedia};
    use whatsapp_rust::waproto::buffa::MessageField;
    use whatsapp_rust::waproto::whatsapp as wa;

    fn key(id: &str) -> MessageField<wa::MessageKey> {
        MessageField::some(wa::MessageKey {
            id: Some(id.into()),
            ..Default::default()
        })
    }

    fn jid(s: &str) -> Jid {
        s.parse().expect("jid")
    }

    #[test]
    fn every_message_kind_maps_to_a_kind_body_details_and_name() {
        use m::protocol_message::Type;
        let text = |s: &str| Some(s.to_string());
        // (message, kind, body, a detail that must be present, event name)
        type Case<'a> = (
            wa::Message,
            &'a str,
            Option<&'a str>,
            (&'a str, Value),
            &'a str,
        );
        let cases: Vec<Case> = vec![
            (
                wa::Message {
                    conversation: text("hello"),
                    ..Default::default()
                },
                "text",
                Some("hello"),
                ("", Value::Null),
                "message.received",
            ),
            (
                wa::Message {
                    extended_text_message: MessageField::some(m::ExtendedTextMessage {
                        text: text("see https://x.test"),
                        matched_text: text("https://x.test"),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "text",
                Some("see https://x.test"),
                ("matchedText", json!("https://x.test")),
                "message.received",
            ),
            (
                wa::Message {
                    image_message: MessageField::some(m::ImageMessage {
                        caption: text("receipt"),
                        mimetype: text("image/jpeg"),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "image",
                Some("receipt"),
                ("mimetype", json!("image/jpeg")),
                "message.received",
            ),
            (
                wa::Message {
                    video_message: MessageField::some(m::VideoMessage {
                        seconds: Some(7),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "video",
                None,
                ("seconds", json!(7)),
                "message.received",
            ),
            (
                wa::Message {
                    audio_message: MessageField::some(m::AudioMessage {
                        ptt: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "audio",
                None,
                ("ptt", json!(true)),
                "message.received",
            ),
            (
                wa::Message {
                    document_message: MessageField::some(m::DocumentMessage {
                        file_name: text("invoice.pdf"),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "document",
                None,
                ("fileName", json!("invoice.pdf")),
                "message.received",
            ),
            (
                wa::Message {
                    sticker_message: MessageField::some(m::StickerMessage {
                        is_animated: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "sticker",
                None,
                ("animated", json!(true)),
                "message.received",
            ),
            (
                wa::Message {
                    location_message: MessageField::some(m::LocationMessage {
                        degrees_latitude: Some(52.5),
                        degrees_longitude: Some(13.4),
                        name: text("Shop"),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "location",
                Some("Shop"),
                ("latitude", json!(52.5)),
                "message.received",
            ),
            (
                wa::Message {
                    contact_message: MessageField::some(m::ContactMessage {
                        display_name: text("Ann"),
                        vcard: text("BEGIN:VCARD\nEND:VCARD"),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "contact",
                Some("Ann"),
                ("vcard", json!("BEGIN:VCARD\nEND:VCARD")),
                "message.received",
            ),
            (
                wa::Message {
                    poll_creation_message_v3: MessageField::some(m::PollCreationMessage {
                        name: text("Lunch?"),
                        options: vec![m::poll_creation_message::Option {
                            option_name: text("Yes"),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "poll",
                Some("Lunch?"),
                ("options", json!(["Yes"])),
                "message.received",
            ),
            (
                wa::Message {
                    poll_update_message: MessageField::some(m::PollUpdateMessage {
                        poll_creation_message_key: key("POLL1"),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "poll_vote",
                None,
                ("targetId", json!("POLL1")),
                "message.received",
            ),
            (
                wa::Message {
                    reaction_message: MessageField::some(m::ReactionMessage {
                        key: key("T1"),
                        text: text("👍"),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "reaction",
                Some("👍"),
                ("targetId", json!("T1")),
                "message.reaction",
            ),
            (
                wa::Message {
                    protocol_message: MessageField::some(m::ProtocolMessage {
                        key: key("T2"),
                        r#type: Some(Type::MESSAGE_EDIT),
                        edited_message: MessageField::some(wa::Message {
                            conversation: text("fixed"),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "edit",
                Some("fixed"),
                ("targetId", json!("T2")),
                "message.edited",
            ),
            (
                wa::Message {
                    protocol_message: MessageField::some(m::ProtocolMessage {
                        key: key("T3"),
                        r#type: Some(Type::REVOKE),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "revoke",
                None,
                ("targetId", json!("T3")),
                "message.revoked",
            ),
        ];
        for (msg, kind, body, (field, value), name) in cases {
            let c = classify(&msg).unwrap_or_else(|| panic!("{kind} classified"));
            assert_eq!(c.kind, kind);
            assert_eq!(c.body.as_deref(), body, "{kind}");
            if !field.is_empty() {
                assert_eq!(c.detail.get(field), Some(&value), "{kind}.{field}");
            }
            assert_eq!(event_name(c.kind, false), name, "{kind}");
        }
        assert_eq!(event_name("text", true), "message.sent");
    }

    #[test]
    fn protocol_only_messages_are_not_reported() {
        let share = wa::Message {
            protocol_message: MessageField::some(m::ProtocolMessage {
                r#type: Some(m::protocol_message::Type::APP_STATE_SYNC_KEY_SHARE),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(classify(&share), None);
        let skdm = wa::Message {
            sender_key_distribution_message: MessageField::some(Default::default()),
            ..Default::default()
        };
        assert_eq!(classify(&skdm), None);
    }

    fn source(chat: &str, sender: &str) -> MessageSource {
        MessageSource {
            chat: jid(chat),
            sender: jid(sender),
            ..Default::default()
        }
    }

    #[test]
    fn notices_get_their_normalized_names_and_payloads() {
        let contact = "15559870000@s.whatsapp.net";
        let group = "120363000000000001@g.us";
        let group_event = |action: GroupNotificationAction| {
            Event::GroupUpdate(
                GroupUpdate::builder()
                    .group_jid(jid(group))
                    .participant(jid(contact))
                    .timestamp(Utc::now())
                    .is_lid_addressing_mode(false)
                    .action(action)
                    .build(),
            )
        };
        let offer = CallAction::Offer {
            call_id: "CALL1".into(),
            call_creator: jid(contact),
            caller_pn: None,
            caller_country_code: None,
            device_class: None,
            joinable: false,
            is_video: true,
            audio: vec![],
            group_jid: None,
        };
        type Case<'a> = (Event, Option<&'a str>, (&'a str, Value));
        let cases: Vec<Case> = vec![
            (
                Event::Presence(
                    PresenceUpdate::builder()
                        .from(jid(contact))
                        .unavailable(false)
                        .build(),
                ),
                Some("presence.update"),
                ("state", json!("available")),
            ),
            (
                Event::ChatPresence(
                    ChatPresenceUpdate::builder()
                        .source(source(contact, contact))
                        .state(ChatPresence::Composing)
                        .media(ChatPresenceMedia::Audio)
                        .build(),
                ),
                Some("chat.presence"),
                ("state", json!("recording")),
            ),
            (
                Event::IncomingCall(
                    IncomingCall::builder()
                        .from(jid(contact))
                        .stanza_id("S1".into())
                        .timestamp(Utc::now())
                        .offline(false)
                        .action(offer)
                        .build(),
                ),
                Some("call.received"),
                ("isVideo", json!(true)),
            ),
            (
                Event::IncomingCall(
                    IncomingCall::builder()
                        .from(jid(contact))
                        .stanza_id("S2".into())
                        .timestamp(Utc::now())
                        .offline(false)
                        .action(CallAction::Terminate {
                            call_id: "CALL1".into(),
                            call_creator: jid(contact),
                            reason: None,
                            duration: None,
                            audio_duration: None,
                        })
                        .build(),
                ),
                Some("call.missed"),
                ("callId", json!("CALL1")),
            ),
            (
                Event::IncomingCall(
                    IncomingCall::builder()
                        .from(jid(contact))
                        .stanza_id("S3".into())
                        .timestamp(Utc::now())
                        .offline(false)
                        .action(CallAction::Terminate {
                            call_id: "CALL2".into(),
                            call_creator: jid(contact),
                            reason: Some("accepted_elsewhere".into()),
                            duration: None,
                            audio_duration: None,
                        })
                        .build(),
                ),
                None,
                ("", Value::Null),
            ),
            (
                group_event(GroupNotificationAction::Subject {
                    subject: "Staff".into(),
                    subject_owner: None,
                    subject_time: None,
                }),
                Some("group.updated"),
                ("action", json!("subject")),
            ),
            (
                group_event(GroupNotificationAction::Add {
                    participants: Vec::new(),
                    reason: None,
                }),
                Some("group.participants.update"),
                ("action", json!("add")),
            ),
            (
                group_event(GroupNotificationAction::Demote {
                    participants: Vec::new(),
                }),
                Some("group.participants.update"),
                ("author", json!(contact)),
            ),
        ];
        for (event, name, (field, value)) in cases {
            let n = notice(&event);
            assert_eq!(n.as_ref().map(|n| n.name), name, "{event:?}");
            if let Some(n) = n {
                assert_eq!(n.payload[field], value, "{name:?}.{field}");
                assert!(n.chat.is_some());
            }
        }
    }
}
