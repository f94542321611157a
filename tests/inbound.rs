//! Inbound traffic end to end: every message kind, reactions, edits,
//! revokes, receipts, presence, typing, calls and group changes sent by the
//! simulated WhatsApp server reach the real client inside the real gateway
//! binary and come out as normalized events (`GET /events`, webhooks) and
//! stored messages (`GET /messages`).

#[cfg(not(feature = "test-sim"))]
compile_error!(
    "the inbound tests talk to the simulated WhatsApp server: run them with `--features test-sim`"
);

mod common;
#[path = "support/simgw.rs"]
mod simgw;

use serde_json::{Value, json};
use simgw::{CONTACT, paired, post, wait_event, wait_for};
use std::time::Duration;
use wa::message as m;
use wa_sim::ReceiptKind;
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

fn key(id: &str) -> MessageField<wa::MessageKey> {
    MessageField::some(wa::MessageKey {
        id: Some(id.into()),
        remote_jid: Some(format!("{}@s.whatsapp.net", wa_sim::DEFAULT_ACCOUNT)),
        ..Default::default()
    })
}

#[tokio::test]
async fn every_inbound_message_kind_becomes_an_event_and_a_stored_message() {
    let (sim, _dir, gw, token) = paired(&[]).await;
    let me = sim.phone().jid();
    let contact = sim.contact(CONTACT);
    let text = |s: &str| Some(s.to_string());
    let first = contact.send_text(&me, "Hello").await.expect("text");
    // (message, stanza type, stored kind, body)
    let cases: Vec<(wa::Message, &str, &str, Option<&str>)> = vec![
        (
            wa::Message {
                extended_text_message: MessageField::some(m::ExtendedTextMessage {
                    text: text("Menu at https://shop.test"),
                    matched_text: text("https://shop.test"),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "text",
            "text",
            Some("Menu at https://shop.test"),
        ),
        (
            wa::Message {
                video_message: MessageField::some(m::VideoMessage {
                    caption: text("the leak"),
                    mimetype: text("video/mp4"),
                    seconds: Some(4),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "media",
            "video",
            Some("the leak"),
        ),
        (
            wa::Message {
                audio_message: MessageField::some(m::AudioMessage {
                    mimetype: text("audio/ogg; codecs=opus"),
                    ptt: Some(true),
                    seconds: Some(3),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "media",
            "audio",
            None,
        ),
        (
            wa::Message {
                document_message: MessageField::some(m::DocumentMessage {
                    file_name: text("prescription.pdf"),
                    mimetype: text("application/pdf"),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "media",
            "document",
            None,
        ),
        (
            wa::Message {
                sticker_message: MessageField::some(m::StickerMessage {
                    mimetype: text("image/webp"),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "media",
            "sticker",
            None,
        ),
        (
            wa::Message {
                location_message: MessageField::some(m::LocationMessage {
                    degrees_latitude: Some(48.85),
                    degrees_longitude: Some(2.35),
                    name: text("Pharmacy"),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "media",
            "location",
            Some("Pharmacy"),
        ),
        (
            wa::Message {
                contact_message: MessageField::some(m::ContactMessage {
                    display_name: text("Dr. Lee"),
                    vcard: text("BEGIN:VCARD\nFN:Dr. Lee\nEND:VCARD"),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "media",
            "contact",
            Some("Dr. Lee"),
        ),
        (
            wa::Message {
                poll_creation_message_v3: MessageField::some(m::PollCreationMessage {
                    name: text("Open Sunday?"),
                    options: vec![
                        m::poll_creation_message::Option {
                            option_name: text("Yes"),
                            ..Default::default()
                        },
                        m::poll_creation_message::Option {
                            option_name: text("No"),
                            ..Default::default()
                        },
                    ],
                    selectable_options_count: Some(1),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "poll",
            "poll",
            Some("Open Sunday?"),
        ),
    ];
    let mut ids = vec![(first.clone(), "text")];
    for (msg, stanza, kind, _) in &cases {
        let id = contact.send_message(&me, msg, stanza).await.expect(kind);
        ids.push((id, kind));
    }
    for ((id, kind), body) in ids
        .iter()
        .zip(std::iter::once(Some("Hello")).chain(cases.iter().map(|c| c.3)))
    {
        let p = wait_event(&gw, &token, "message.received", |p| p["id"] == id.as_str()).await;
        assert_eq!(p["type"], *kind, "{p}");
        assert_eq!(p["body"].as_str(), body, "{kind}: {p}");
        assert!(
            p["senderPn"]
                .as_str()
                .is_some_and(|s| s.starts_with(CONTACT)),
            "{kind}: {p}"
        );
    }
    // Kind-specific details reach the payload.
    let video = wait_event(&gw, &token, "message.received", |p| p["type"] == "video").await;
    assert_eq!(video["mimetype"], "video/mp4");
    assert_eq!(video["seconds"], 4);
    let audio = wait_event(&gw, &token, "message.received", |p| p["type"] == "audio").await;
    assert_eq!(audio["ptt"], true);
    let doc = wait_event(&gw, &token, "message.received", |p| p["type"] == "document").await;
    assert_eq!(doc["fileName"], "prescription.pdf");
    let loc = wait_event(&gw, &token, "message.received", |p| p["type"] == "location").await;
    assert_eq!(loc["latitude"], 48.85);
    let card = wait_event(&gw, &token, "message.received", |p| p["type"] == "contact").await;
    assert!(
        card["vcard"]
            .as_str()
            .is_some_and(|v| v.contains("FN:Dr. Lee"))
    );
    let poll = wait_event(&gw, &token, "message.received", |p| p["type"] == "poll").await;
    assert_eq!(poll["options"], json!(["Yes", "No"]));

    // Reaction, edit and revoke point at the first message.
    let reaction = wa::Message {
        reaction_message: MessageField::some(m::ReactionMessage {
            key: key(&first),
            text: text("❤️"),
            sender_timestamp_ms: Some(1),
            ..Default::default()
        }),
        ..Default::default()
    };
    contact
        .send_message(&me, &reaction, "reaction")
        .await
        .expect("react");
    let p = wait_event(&gw, &token, "message.reaction", |p| {
        p["targetId"] == first.as_str()
    })
    .await;
    assert_eq!(p["body"], "❤️");
    let edit = wa::Message {
        protocol_message: MessageField::some(m::ProtocolMessage {
            key: key(&first),
            r#type: Some(m::protocol_message::Type::MESSAGE_EDIT),
            edited_message: MessageField::some(wa::Message {
                conversation: text("Hello, corrected"),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    contact
        .send_message(&me, &edit, "text")
        .await
        .expect("edit");
    let p = wait_event(&gw, &token, "message.edited", |p| {
        p["targetId"] == first.as_str()
    })
    .await;
    assert_eq!(p["body"], "Hello, corrected");
    let (_, v) = simgw::get(&gw, &token, &format!("/message/{first}")).await;
    assert_eq!(
        v["data"]["Body"], "Hello, corrected",
        "the edit changed the message: {v}"
    );
    let revoke = wa::Message {
        protocol_message: MessageField::some(m::ProtocolMessage {
            key: key(&first),
            r#type: Some(m::protocol_message::Type::REVOKE),
            ..Default::default()
        }),
        ..Default::default()
    };
    contact
        .send_message(&me, &revoke, "text")
        .await
        .expect("revoke");
    wait_event(&gw, &token, "message.revoked", |p| {
        p["targetId"] == first.as_str()
    })
    .await;

    // The edit changed the first message, then the deletion cleared it.
    let (_, v) = simgw::get(&gw, &token, &format!("/message/{first}")).await;
    let orig = &v["data"];
    assert_eq!(orig["Body"], Value::Null, "{v}");
    assert!(orig["Detail"]["editedAt"].is_i64(), "{v}");
    assert!(orig["Detail"]["revokedAt"].is_i64(), "{v}");

    // Every kind is in the message log.
    let v = wait_for(
        &gw,
        &token,
        "/messages?limit=100",
        Duration::from_secs(10),
        |_, v| v["data"]["Messages"].as_array().map(Vec::len) == Some(ids.len() + 3),
    )
    .await;
    let kinds: Vec<&str> = v["data"]["Messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["Type"].as_str())
        .collect();
    for want in [
        "text", "video", "audio", "document", "sticker", "location", "contact", "poll", "reaction",
        "edit", "revoke",
    ] {
        assert!(kinds.contains(&want), "{want} missing from {kinds:?}");
    }
}

#[tokio::test]
async fn receipts_presence_typing_and_group_changes_become_events() {
    let (sim, _dir, gw, token) = paired(&[]).await;
    let me = sim.phone().jid();
    let contact = sim.contact(CONTACT);
    // A voice note the contact plays: delivered, read, played.
    let (status, v) = post(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": CONTACT, "Body": "Your order is ready" }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let id = v["data"]["Id"].as_str().expect("id").to_string();
    contact
        .wait_for_text(Duration::from_secs(20))
        .await
        .expect("delivered to the contact");
    // One at a time: the library may apply receipts that arrive together in
    // any order, and a message's state only moves forward, so a `played`
    // applied first would (rightly) swallow the older `delivered`.
    for (kind, name) in [
        (ReceiptKind::Delivered, "message.delivered"),
        (ReceiptKind::Read, "message.read"),
        (ReceiptKind::Played, "message.played"),
    ] {
        contact.send_receipt(&id, kind).await.expect("receipt");
        wait_event(&gw, &token, name, |p| p["id"] == id.as_str()).await;
    }
    contact.send_presence(&me, true).expect("presence");
    let p = wait_event(&gw, &token, "presence.update", |_| true).await;
    assert_eq!(p["state"], "available");
    assert!(p["from"].as_str().is_some_and(|f| f.starts_with(CONTACT)));
    contact.send_typing(&me, true).expect("typing");
    let p = wait_event(&gw, &token, "chat.presence", |_| true).await;
    assert_eq!(p["state"], "composing");
    assert!(p["chat"].as_str().is_some_and(|f| f.starts_with(CONTACT)));

    let group = sim.create_group(CONTACT, "Night shift", &[wa_sim::DEFAULT_ACCOUNT]);
    sim.group_change(&group, CONTACT, "subject", &["Day shift"])
        .expect("subject");
    let p = wait_event(&gw, &token, "group.updated", |p| {
        p["group"] == group.as_str()
    })
    .await;
    assert_eq!(p["action"], "subject");
    assert_eq!(p["details"]["subject"], "Day shift");
    assert!(p["author"].as_str().is_some_and(|a| a.starts_with(CONTACT)));
    sim.group_change(&group, CONTACT, "add", &["15550001111"])
        .expect("add");
    let p = wait_event(&gw, &token, "group.participants.update", |p| {
        p["group"] == group.as_str()
    })
    .await;
    assert_eq!(p["action"], "add");
    assert!(
        p["details"].to_string().contains("15550001111"),
        "the added member is named: {p}"
    );
}

#[tokio::test]
async fn calls_are_reported_and_rejected_with_a_message_when_configured() {
    let (sim, _dir, gw, token) = paired(&[
        ("WAGO_REJECT_CALLS", "true"),
        (
            "WAGO_REJECT_CALL_MESSAGE",
            "We cannot take calls; please write.",
        ),
    ])
    .await;
    let me = sim.phone().jid();
    let contact = sim.contact(CONTACT);
    let call_id = contact.send_call_offer(&me, true).expect("ring");
    let p = wait_event(&gw, &token, "call.received", |p| {
        p["callId"] == call_id.as_str()
    })
    .await;
    assert_eq!(p["isVideo"], true);
    assert!(p["from"].as_str().is_some_and(|f| f.starts_with(CONTACT)));
    let reject = sim
        .wait_for_client_call(&call_id, "reject", Duration::from_secs(10))
        .await
        .expect("the gateway rejected the call");
    assert!(reject.to.starts_with(CONTACT), "{reject:?}");
    let got = contact
        .wait_for_text(Duration::from_secs(20))
        .await
        .expect("the caller gets the text");
    assert_eq!(got.body, "We cannot take calls; please write.");
}

#[tokio::test]
async fn an_unanswered_call_is_reported_missed_and_not_rejected_by_default() {
    let (sim, _dir, gw, token) = paired(&[]).await;
    let me = sim.phone().jid();
    let contact = sim.contact(CONTACT);
    let call_id = contact.send_call_offer(&me, false).expect("ring");
    let p = wait_event(&gw, &token, "call.received", |p| {
        p["callId"] == call_id.as_str()
    })
    .await;
    assert_eq!(p["isVideo"], false);
    contact.send_call_terminate(&me, &call_id).expect("hang up");
    let p = wait_event(&gw, &token, "call.missed", |p| {
        p["callId"] == call_id.as_str()
    })
    .await;
    assert!(p["from"].as_str().is_some_and(|f| f.starts_with(CONTACT)));
    assert!(
        !sim.client_calls()
            .iter()
            .any(|c| c.call_id == call_id && c.action == "reject"),
        "calls are not rejected unless configured"
    );
}

#[tokio::test]
async fn a_call_that_rang_while_the_box_was_offline_is_missed() {
    let (sim, _dir, gw, token) = paired(&[("WAGO_REJECT_CALLS", "true")]).await;
    let me = sim.phone().jid();
    let (s, _) = post(&gw, &token, "/session/disconnect", json!({})).await;
    assert_eq!(s, 200);
    // The API answers before the socket is gone; ring once the server has
    // seen it end, or the offer goes out on the closing socket and is lost.
    sim.wait_logged_out(Duration::from_secs(10))
        .await
        .expect("the server sees the box go offline");
    let call_id = sim
        .contact(CONTACT)
        .send_call_offer(&me, false)
        .expect("ring while offline");
    let (s, _) = post(
        &gw,
        &token,
        "/session/connect",
        json!({ "Immediate": true }),
    )
    .await;
    assert_eq!(s, 200);
    let p = wait_event(&gw, &token, "call.missed", |p| {
        p["callId"] == call_id.as_str()
    })
    .await;
    assert_eq!(p["reason"], "offline");
    // A dead call is neither reported as ringing nor rejected.
    let (_, v) = simgw::get(&gw, &token, "/events?limit=1000").await;
    assert!(
        !v.to_string().contains("\"call.received\""),
        "an offline offer is not a ringing call: {v}"
    );
    assert!(!sim.client_calls().iter().any(|c| c.call_id == call_id));
}
