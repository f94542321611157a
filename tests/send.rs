//! Sending end to end: every `/send/*` kind, the aliases, message actions
//! and chat presence, through the real gateway binary and its real client,
//! checked on what the simulated contact decrypted (media downloaded and
//! decrypted by the contact, bytes compared). Media uploads and downloads go
//! to the simulator's loopback media host (`TEST_WAGO_MEDIA_URL`).

#[cfg(not(feature = "test-sim"))]
compile_error!(
    "the send tests talk to the simulated WhatsApp server: run them with `--features test-sim`"
);

mod common;
#[path = "support/files.rs"]
mod files;
#[path = "support/simgw.rs"]
mod simgw;

use common::{Gateway, Opts, client, create_session};
use serde_json::{Value, json};
use simgw::{CONTACT, get, paired_named, post, wait_connected, wait_for, wait_message_state};
use std::collections::HashMap;
use std::time::Duration;
use wa_sim::ReceivedMessage;
use whatsapp_rust::waproto::whatsapp as wa;

const OTHER: &str = "15559871111";
const STEP: Duration = Duration::from_secs(30);

/// Sends and returns the accepted message id (asserting 200 + pending).
async fn send_ok(gw: &Gateway, token: &str, path: &str, body: Value) -> String {
    let (status, v) = post(gw, token, path, body).await;
    assert_eq!(status, 200, "{path}: {v}\n{}", gw.log_text());
    assert_eq!(v["data"]["State"], "pending", "{v}");
    v["data"]["Id"].as_str().expect("id").to_string()
}

/// Bytes that are not all the same, so a wrong key or offset shows.
fn blob(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| ((i * 7 + seed) % 251) as u8)
        .collect()
}

fn data_url(mime: &str, bytes: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

async fn next(contact: &wa_sim::Contact) -> ReceivedMessage {
    contact
        .wait_for_text(STEP)
        .await
        .expect("the contact gets it")
}

#[tokio::test]
async fn every_kind_reaches_the_contact_and_media_round_trips() {
    let (sim, _dir, gw, token) = paired_named("kinds", &[]).await;
    let contact = sim.contact(CONTACT);
    let clip = blob(70_000, 3);
    let files = files::Files::start(HashMap::from([(
        "/clip.mp4".to_string(),
        ("video/mp4".to_string(), clip.clone()),
    )]))
    .await;

    // Text, then a reply quoting it that mentions the contact.
    let first = send_ok(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": CONTACT, "Body": "see https://example.com" }),
    )
    .await;
    let got = next(&contact).await;
    assert_eq!(got.id, first);
    assert_eq!(got.body, "see https://example.com");
    let ext = got.message.extended_text_message.as_option();
    assert!(
        ext.is_none_or(|e| e.matched_text.is_none()),
        "no link preview by default"
    );
    let reply = send_ok(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": CONTACT, "Body": "reply @15559870000",
                "ContextInfo": { "StanzaId": first, "MentionedJID": [CONTACT] } }),
    )
    .await;
    let got = next(&contact).await;
    assert_eq!(got.id, reply);
    let ctx = got
        .message
        .extended_text_message
        .as_option()
        .and_then(|e| e.context_info.as_option())
        .expect("a context");
    assert_eq!(ctx.stanza_id.as_deref(), Some(first.as_str()));
    assert_eq!(ctx.mentioned_jid, vec![format!("{CONTACT}@s.whatsapp.net")]);
    let quoted = ctx.quoted_message.as_option().expect("quoted message");
    assert_eq!(
        quoted.conversation.as_deref(),
        Some("see https://example.com")
    );

    // Location, contact card, poll.
    send_ok(
        &gw,
        &token,
        "/send/location",
        json!({ "Phone": CONTACT, "Latitude": 48.85, "Longitude": 2.35, "Name": "Shop" }),
    )
    .await;
    let loc = next(&contact).await;
    let l = loc.message.location_message.as_option().expect("location");
    assert_eq!(
        (l.degrees_latitude, l.degrees_longitude),
        (Some(48.85), Some(2.35))
    );
    assert_eq!(l.name.as_deref(), Some("Shop"));
    let vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nTEL:+15550001111\nEND:VCARD";
    send_ok(
        &gw,
        &token,
        "/send/contact",
        json!({ "Phone": CONTACT, "Name": "Ana", "Vcard": vcard }),
    )
    .await;
    let card = next(&contact).await;
    let c = card
        .message
        .contact_message
        .as_option()
        .expect("contact card");
    assert_eq!(
        (c.display_name.as_deref(), c.vcard.as_deref()),
        (Some("Ana"), Some(vcard))
    );
    send_ok(
        &gw,
        &token,
        "/send/poll",
        json!({ "Phone": CONTACT, "Name": "Lunch?", "Options": ["yes", "no"] }),
    )
    .await;
    let poll = next(&contact).await;
    let p = poll
        .message
        .poll_creation_message_v3
        .as_option()
        .expect("single-choice poll");
    assert_eq!(p.name.as_deref(), Some("Lunch?"));
    let names: Vec<_> = p
        .options
        .iter()
        .map(|o| o.option_name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["yes", "no"]);

    // Media: a data URL for each kind, a fetched URL for the video.
    let picture = blob(5000, 1);
    send_ok(
        &gw,
        &token,
        "/send/image",
        json!({ "Phone": CONTACT, "Image": data_url("image/png", &picture), "Caption": "pic" }),
    )
    .await;
    let img = next(&contact).await;
    let i = img.message.image_message.as_option().expect("image");
    assert_eq!(
        (i.caption.as_deref(), i.mimetype.as_deref()),
        (Some("pic"), Some("image/png"))
    );
    assert_eq!(
        contact.download_media(&img).await.expect("download"),
        picture
    );

    send_ok(
        &gw,
        &token,
        "/send/video",
        json!({ "Phone": CONTACT, "Video": files.url("/clip.mp4") }),
    )
    .await;
    let vid = next(&contact).await;
    assert_eq!(
        vid.message
            .video_message
            .as_option()
            .and_then(|v| v.mimetype.clone())
            .as_deref(),
        Some("video/mp4")
    );
    assert_eq!(contact.download_media(&vid).await.expect("download"), clip);

    let voice = blob(3000, 2);
    send_ok(
        &gw,
        &token,
        "/send/audio",
        json!({ "Phone": CONTACT, "Audio": data_url("audio/ogg", &voice), "PTT": true }),
    )
    .await;
    let aud = next(&contact).await;
    assert_eq!(
        aud.message.audio_message.as_option().and_then(|a| a.ptt),
        Some(true)
    );
    assert_eq!(contact.download_media(&aud).await.expect("download"), voice);

    let pdf = blob(2000, 4);
    send_ok(&gw, &token, "/send/document", json!({ "Phone": CONTACT, "Document": data_url("application/pdf", &pdf), "FileName": "bill.pdf" })).await;
    let doc = next(&contact).await;
    assert_eq!(
        doc.message
            .document_message
            .as_option()
            .and_then(|d| d.file_name.clone())
            .as_deref(),
        Some("bill.pdf")
    );
    assert_eq!(contact.download_media(&doc).await.expect("download"), pdf);

    let webp = blob(1500, 5);
    send_ok(
        &gw,
        &token,
        "/send/sticker",
        json!({ "Phone": CONTACT, "Sticker": data_url("image/webp", &webp) }),
    )
    .await;
    let st = next(&contact).await;
    assert!(st.message.sticker_message.is_set(), "a sticker");
    assert_eq!(contact.download_media(&st).await.expect("download"), webp);

    // The smaller gateway's aliases, with X-API-Key.
    for (path, body, want) in [
        (
            "/send-text",
            json!({ "to": CONTACT, "text": "alias hi" }),
            "alias hi",
        ),
        (
            "/send-otp",
            json!({ "to": CONTACT, "code": "482913", "template": "Code: %s. Do not share." }),
            "Code: 482913. Do not share.",
        ),
    ] {
        let r = client()
            .post(gw.url(path))
            .header("X-API-Key", &token)
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(next(&contact).await.body, want);
    }
    // The log shows every send as sent, with its history.
    let v = wait_message_state(&gw, &token, &reply, "sent", STEP).await;
    let states: Vec<_> = v["data"]["History"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["State"].clone())
        .collect();
    assert_eq!(states, [json!("pending"), json!("sent")]);
    assert_eq!(contact.received().await.len(), 12, "each exactly once");
    // The log lists them oldest first, with their kinds, for X-API-Key clients too.
    let r = client()
        .get(gw.url(&format!("/messages?chat={CONTACT}&limit=100")))
        .header("X-API-Key", &token)
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.expect("json");
    let kinds: Vec<_> = page["data"]["Messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["Type"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "text", "text", "location", "contact", "poll", "image", "video", "audio", "document",
            "sticker", "text", "text"
        ]
    );
    let r = client()
        .get(gw.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn actions_reach_the_contact_and_need_a_connection_when_immediate() {
    let (sim, _dir, gw, token) = paired_named("actions", &[]).await;
    let contact = sim.contact(CONTACT);
    let id = send_ok(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": CONTACT, "Body": "typo" }),
    )
    .await;
    next(&contact).await;

    send_ok(
        &gw,
        &token,
        "/message/react",
        json!({ "Id": id, "Body": "👍" }),
    )
    .await;
    let r = next(&contact).await;
    let reaction = r.message.reaction_message.as_option().expect("reaction");
    assert_eq!(reaction.text.as_deref(), Some("👍"));
    assert_eq!(
        reaction.key.as_option().and_then(|k| k.id.clone()),
        Some(id.clone())
    );

    send_ok(
        &gw,
        &token,
        "/message/edit",
        json!({ "Id": id, "Body": "fixed" }),
    )
    .await;
    let e = next(&contact).await;
    let pm = e
        .message
        .protocol_message
        .as_option()
        .expect("protocol message");
    assert_eq!(
        pm.r#type,
        Some(wa::message::protocol_message::Type::MessageEdit)
    );
    assert_eq!(
        pm.key.as_option().and_then(|k| k.id.clone()),
        Some(id.clone())
    );
    assert_eq!(
        pm.edited_message
            .as_option()
            .and_then(|m| m.conversation.clone())
            .as_deref(),
        Some("fixed")
    );

    send_ok(&gw, &token, "/message/revoke", json!({ "Id": id })).await;
    let d = next(&contact).await;
    let pm = d
        .message
        .protocol_message
        .as_option()
        .expect("protocol message");
    assert_eq!(pm.r#type, Some(wa::message::protocol_message::Type::Revoke));
    assert_eq!(
        pm.key.as_option().and_then(|k| k.id.clone()),
        Some(id.clone())
    );

    // Read receipt for a received message.
    let jid = wait_for(&gw, &token, "/session/status", STEP, |_, v| {
        v["data"]["Jid"].is_string()
    })
    .await["data"]["Jid"]
        .as_str()
        .expect("jid")
        .to_string();
    let inbound = contact
        .send_text(&jid, "hello box")
        .await
        .expect("contact sends");
    wait_for(&gw, &token, &format!("/message/{inbound}"), STEP, |_, v| {
        v["success"] == true
    })
    .await;
    let (status, v) = post(&gw, &token, "/message/read", json!({ "Id": [inbound] })).await;
    assert_eq!(status, 200, "{v}");
    sim.wait_for_client_receipt_kind(&inbound, "read", STEP)
        .await
        .expect("read receipt");

    // Chat presence.
    for state in ["composing", "recording", "paused"] {
        let (status, v) = post(
            &gw,
            &token,
            "/chat/presence",
            json!({ "Phone": CONTACT, "State": state }),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        sim.wait_for_client_chat_state(CONTACT, state, STEP)
            .await
            .expect("chat state");
    }

    // Unknown ids are 404s naming the field.
    for (path, body) in [
        ("/message/react", json!({ "Id": "NOPE", "Body": "👍" })),
        ("/message/edit", json!({ "Id": "NOPE", "Body": "x" })),
        ("/message/revoke", json!({ "Id": "NOPE" })),
        ("/message/read", json!({ "Id": "NOPE" })),
    ] {
        let (status, v) = post(&gw, &token, path, body).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (404, Some("message_not_found")),
            "{path} {v}"
        );
        assert_eq!(v["details"]["field"], "Id", "{path}");
    }
    // Editing or deleting what the contact wrote is refused.
    let (status, v) = post(
        &gw,
        &token,
        "/message/edit",
        json!({ "Id": inbound, "Body": "x" }),
    )
    .await;
    assert_eq!(
        (status, v["details"]["field"].as_str()),
        (422, Some("Id")),
        "{v}"
    );

    // Immediate actions need the connection.
    sim.set_online(false);
    simgw::wait_not_connected(&gw, &token, STEP).await;
    let (status, v) = post(
        &gw,
        &token,
        "/chat/presence",
        json!({ "Phone": CONTACT, "State": "composing" }),
    )
    .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (409, Some("not_connected")),
        "{v}"
    );
    let (status, v) = post(&gw, &token, "/message/read", json!({ "Id": inbound })).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (409, Some("not_connected")),
        "{v}"
    );
}

/// Expects a 4xx JSON error with `code` naming `field`.
async fn refused(
    gw: &Gateway,
    token: &str,
    path: &str,
    body: Value,
    status: u16,
    code: &str,
    field: &str,
) {
    let (got, v) = post(gw, token, path, body.clone()).await;
    assert_eq!(got, status, "{path} {body}: {v}");
    assert_eq!(v["success"], false);
    assert_eq!(v["error"], code, "{path} {body}: {v}");
    assert_eq!(v["details"]["field"], field, "{path} {body}: {v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn bad_input_on_every_route_is_a_4xx_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Opts::default()
        .env("WAGO_WA_MEDIA_MAX_BYTES", "4096")
        .env("WAGO_WA_MEDIA_FETCH_TIMEOUT_SECS", "2");
    let gw = Gateway::start_with(dir.path(), &opts);
    let (_, token) = create_session(&gw, &gw.admin_token(), "bad").await;
    let files = files::Files::start(HashMap::from([
        (
            "/page".to_string(),
            ("text/html".to_string(), b"<html></html>".to_vec()),
        ),
        (
            "/big.png".to_string(),
            ("image/png".to_string(), vec![1u8; 10_000]),
        ),
    ]))
    .await;
    let v = "validation_error";
    let png = data_url("image/png", &[1, 2, 3]);
    // Missing fields, wrong types, bad Phone, per route.
    let routes: &[(&str, Value)] = &[
        ("/send/text", json!({ "Phone": CONTACT, "Body": "x" })),
        (
            "/send/location",
            json!({ "Phone": CONTACT, "Latitude": 1.0, "Longitude": 2.0 }),
        ),
        (
            "/send/contact",
            json!({ "Phone": CONTACT, "Name": "A", "Vcard": "BEGIN:VCARD\nEND:VCARD" }),
        ),
        (
            "/send/poll",
            json!({ "Phone": CONTACT, "Name": "Q", "Options": ["a", "b"] }),
        ),
        ("/send/image", json!({ "Phone": CONTACT, "Image": png })),
        (
            "/send/video",
            json!({ "Phone": CONTACT, "Video": data_url("video/mp4", &[1]) }),
        ),
        (
            "/send/audio",
            json!({ "Phone": CONTACT, "Audio": data_url("audio/ogg", &[1]) }),
        ),
        (
            "/send/document",
            json!({ "Phone": CONTACT, "Document": data_url("application/pdf", &[1]) }),
        ),
        (
            "/send/sticker",
            json!({ "Phone": CONTACT, "Sticker": data_url("image/webp", &[1]) }),
        ),
    ];
    for (path, good) in routes {
        refused(&gw, &token, path, json!({ "Body": "x" }), 422, v, "Phone").await;
        let mut bad = good.clone();
        bad["Phone"] = json!("not a number!");
        refused(&gw, &token, path, bad, 422, v, "Phone").await;
        let mut bad = good.clone();
        bad["Phone"] = json!(12345);
        refused(&gw, &token, path, bad, 422, v, "Phone").await;
        // And the good body is accepted (queued while never connected).
        assert_eq!(post(&gw, &token, path, good.clone()).await.0, 200, "{path}");
    }
    let p = CONTACT;
    for (path, body, field) in [
        ("/send/text", json!({ "Phone": p }), "Body"),
        ("/send/text", json!({ "Phone": p, "Body": 5 }), "Body"),
        ("/send/text", json!({ "Phone": p, "Body": "" }), "Body"),
        (
            "/send/text",
            json!({ "Phone": p, "Body": "x", "ContextInfo": { "MentionedJID": ["??"] } }),
            "ContextInfo.MentionedJID[0]",
        ),
        (
            "/send/location",
            json!({ "Phone": p, "Latitude": 91.0, "Longitude": 0.0 }),
            "Latitude",
        ),
        (
            "/send/location",
            json!({ "Phone": p, "Latitude": "north", "Longitude": 0.0 }),
            "Latitude",
        ),
        (
            "/send/contact",
            json!({ "Phone": p, "Name": "A", "Vcard": "hello" }),
            "Vcard",
        ),
        (
            "/send/poll",
            json!({ "Phone": p, "Name": "Q", "Options": ["only"] }),
            "Options",
        ),
        (
            "/send/poll",
            json!({ "Phone": p, "Name": "Q", "Options": ["a", "a"] }),
            "Options[1]",
        ),
        (
            "/send/poll",
            json!({ "Phone": p, "Name": "Q", "Options": ["a", "b"], "Selectable": 3 }),
            "Selectable",
        ),
        ("/send/image", json!({ "Phone": p }), "Image"),
        (
            "/send/image",
            json!({ "Phone": p, "Image": "data:image/png;base64,@@@" }),
            "Image",
        ),
        (
            "/send/image",
            json!({ "Phone": p, "Image": "ftp://127.0.0.1/a.png" }),
            "Image",
        ),
        ("/send-text", json!({ "to": "nope!", "text": "x" }), "to"),
        ("/send-text", json!({ "to": p }), "text"),
        (
            "/send-otp",
            json!({ "to": p, "code": "1", "template": "no placeholder" }),
            "template",
        ),
        (
            "/send-otp",
            json!({ "to": p, "code": "1", "template": "%s and %s" }),
            "template",
        ),
        ("/send-otp", json!({ "to": p }), "code"),
        ("/message/react", json!({ "Body": "x" }), "Id"),
        ("/message/edit", json!({ "Id": 7, "Body": "x" }), "Id"),
        ("/message/read", json!({ "Id": [] }), "Id"),
        (
            "/chat/presence",
            json!({ "Phone": p, "State": "dancing" }),
            "State",
        ),
        (
            "/chat/presence",
            json!({ "Phone": "??", "State": "paused" }),
            "Phone",
        ),
    ] {
        refused(&gw, &token, path, body, 422, v, field).await;
    }
    // Media type, size and reachability.
    for (path, body, status, code, field) in [
        (
            "/send/image",
            json!({ "Phone": p, "Image": data_url("text/html", b"<b>") }),
            422,
            "unsupported_media_type",
            "Image",
        ),
        (
            "/send/image",
            json!({ "Phone": p, "Image": files.url("/page") }),
            422,
            "unsupported_media_type",
            "Image",
        ),
        (
            "/send/sticker",
            json!({ "Phone": p, "Sticker": png }),
            422,
            "unsupported_media_type",
            "Sticker",
        ),
        (
            "/send/image",
            json!({ "Phone": p, "Image": data_url("image/png", &[0u8; 5000]) }),
            413,
            "media_too_large",
            "Image",
        ),
        (
            "/send/image",
            json!({ "Phone": p, "Image": files.url("/big.png") }),
            413,
            "media_too_large",
            "Image",
        ),
        (
            "/send/image",
            json!({ "Phone": p, "Image": files.url("/missing.png") }),
            422,
            "media_unreachable",
            "Image",
        ),
        (
            "/send/video",
            json!({ "Phone": p, "Video": files.url("/slow") }),
            422,
            "media_unreachable",
            "Video",
        ),
    ] {
        refused(&gw, &token, path, body, status, code, field).await;
    }
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let (status, body) = post(
        &gw,
        &token,
        "/send/document",
        json!({ "Phone": p, "Document": format!("http://{closed}/x.pdf") }),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("media_unreachable")),
        "{body}"
    );
    assert!(
        body["details"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("cannot fetch")),
        "{body}"
    );
    // Unknown ids and malformed JSON.
    let (status, body) = get(&gw, &token, "/message/UNKNOWN1").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("message_not_found"))
    );
    let r = client()
        .post(gw.url("/send/text"))
        .header("token", &token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    // The idempotency key works on every kind.
    let a = send_ok(
        &gw,
        &token,
        "/send/poll",
        json!({ "Phone": p, "Name": "Q", "Options": ["a", "b"], "Id": "poll-1" }),
    )
    .await;
    let (_, again) = post(
        &gw,
        &token,
        "/send/poll",
        json!({ "Phone": p, "Name": "Q", "Options": ["a", "b"], "Id": "poll-1" }),
    )
    .await;
    assert_eq!(
        (
            again["data"]["Id"].as_str(),
            again["data"]["Duplicate"].as_bool()
        ),
        (Some(a.as_str()), Some(true))
    );
}

#[tokio::test]
async fn queued_sends_survive_a_restart_in_order_per_chat_and_old_ones_expire() {
    let (sim, dir, gw, token) = paired_named("queue", &[]).await;
    sim.set_online(false);
    simgw::wait_not_connected(&gw, &token, STEP).await;
    let pic = blob(4000, 9);
    // Interleaved across two chats: a1, image, b1, location, a3.
    let mut ids = Vec::new();
    for (path, body) in [
        ("/send/text", json!({ "Phone": CONTACT, "Body": "a1" })),
        (
            "/send/image",
            json!({ "Phone": CONTACT, "Image": data_url("image/png", &pic) }),
        ),
        ("/send/text", json!({ "Phone": OTHER, "Body": "b1" })),
        (
            "/send/location",
            json!({ "Phone": OTHER, "Latitude": 1.5, "Longitude": 2.5 }),
        ),
        (
            "/send/text",
            json!({ "Phone": CONTACT, "Body": "a3", "Id": "a3" }),
        ),
    ] {
        ids.push(send_ok(&gw, &token, path, body).await);
    }
    let to_a = vec![ids[0].clone(), ids[1].clone(), ids[4].clone()];
    let to_b = vec![ids[2].clone(), ids[3].clone()];
    // A restart while offline loses nothing (media bytes included).
    simgw::stop(gw).await;
    let gw = simgw::start(dir.path(), &sim, &[]);
    // A retry of an accepted send after the restart is still the same message.
    let (_, again) = post(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": CONTACT, "Body": "a3", "Id": "a3" }),
    )
    .await;
    assert_eq!(again["data"]["Id"].as_str(), Some(to_a[2].as_str()));
    sim.set_online(true);
    wait_connected(&gw, &token, STEP).await;
    let (a, b) = (sim.contact(CONTACT), sim.contact(OTHER));
    for (contact, ids) in [(&a, &to_a), (&b, &to_b)] {
        let mut got = Vec::new();
        for _ in 0..ids.len() {
            got.push(next(contact).await);
        }
        let got_ids: Vec<_> = got.iter().map(|m| m.id.clone()).collect();
        assert_eq!(&got_ids, ids, "in order per chat");
    }
    let img = a
        .received()
        .await
        .into_iter()
        .find(|m| m.id == to_a[1])
        .expect("image");
    assert_eq!(a.download_media(&img).await.expect("download"), pic);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(a.received().await.len(), 3, "each exactly once");
    assert_eq!(b.received().await.len(), 2, "each exactly once");
    drop(gw);
    drop(sim);
    expiry().await;
}

/// A send older than `send_max_age_secs` fails with `message.failed`.
async fn expiry() {
    let (sim, _dir, gw, token) =
        paired_named("expiry", &[("WAGO_WA_SEND_MAX_AGE_SECS", "1")]).await;
    sim.set_online(false);
    simgw::wait_not_connected(&gw, &token, STEP).await;
    let id = send_ok(
        &gw,
        &token,
        "/send/text",
        json!({ "Phone": CONTACT, "Body": "too late" }),
    )
    .await;
    let v = wait_message_state(&gw, &token, &id, "failed", STEP).await;
    assert!(
        v["data"]["Error"]
            .as_str()
            .is_some_and(|e| e.contains("expired")),
        "{v}"
    );
    let ev = wait_for(&gw, &token, "/events?limit=1000", STEP, |_, v| {
        v["data"]["Events"].as_array().is_some_and(|a| {
            a.iter()
                .any(|e| e["event"] == "message.failed" && e["payload"]["id"] == id.as_str())
        })
    })
    .await;
    assert!(ev["success"] == true);
    // Nothing can act on a message that never went out.
    let (status, v) = post(&gw, &token, "/message/revoke", json!({ "Id": id })).await;
    assert_eq!(
        (status, v["details"]["field"].as_str()),
        (422, Some("Id")),
        "{v}"
    );
    sim.set_online(true);
    wait_connected(&gw, &token, STEP).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        sim.contact(CONTACT).received().await.is_empty(),
        "an expired send never goes out"
    );
}
