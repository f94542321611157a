//! `GET /media/{message_id}` end to end: a simulated contact sends real
//! encrypted media through the simulator's media host; the gateway binary
//! downloads and decrypts it through whatsapp-rust, keeps it under a quota,
//! still finds it after a restart, and says clearly when WhatsApp's copy
//! is gone.

#[cfg(not(feature = "test-sim"))]
compile_error!(
    "these tests talk to the simulated WhatsApp server: run them with `--features test-sim`"
);

mod common;
#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/simgw.rs"]
mod simgw;

use common::client;
use serde_json::Value;
use serde_json::json;
use simgw::{CONTACT, paired, post, start, stop, wait_connected, wait_event};
use std::time::Duration;

/// `GET /media/{id}`: status, Content-Type, body.
async fn media(gw: &common::Gateway, token: &str, id: &str) -> (u16, String, Vec<u8>) {
    let r = client()
        .get(gw.url(&format!("/media/{id}")))
        .header("token", token)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, ct, r.bytes().await.expect("body").to_vec())
}

fn error_code(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("a JSON error body")
}

fn picture(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

/// The contact sends an image to the box; waits for its `message.received`
/// event and returns the message id and the event payload.
async fn receive_image(
    gw: &common::Gateway,
    token: &str,
    contact: &wa_sim::Contact,
    me: &str,
    bytes: &[u8],
    mime: &str,
    caption: Option<&str>,
) -> (String, Value) {
    let id = contact
        .send_image(me, bytes, mime, caption)
        .await
        .expect("send image");
    let p = wait_event(gw, token, "message.received", |p| p["id"] == id.as_str()).await;
    (id, p)
}

#[tokio::test]
async fn received_media_is_downloaded_kept_and_survives_a_restart() {
    let (sim, dir, gw, token) = paired(&[("WAGO_RECEIVED_MEDIA_MAX_MIB", "1")]).await;
    let me = sim.phone().jid();
    let contact = sim.contact(CONTACT);
    let photo = picture(20_000, 7);
    let (id, p) = receive_image(
        &gw,
        &token,
        &contact,
        &me,
        &photo,
        "image/jpeg",
        Some("the receipt"),
    )
    .await;
    assert_eq!(p["type"], "image");
    assert_eq!(p["hasMedia"], true);
    assert_eq!(p["mimetype"], "image/jpeg");

    let (status, ct, body) = media(&gw, &token, &id).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(ct, "image/jpeg");
    assert_eq!(body, photo, "the decrypted bytes are the contact's");

    // Kept on the box: served even after WhatsApp's copy is gone.
    let later = picture(30_000, 9);
    let (later_id, _) = receive_image(&gw, &token, &contact, &me, &later, "image/png", None).await;
    assert!(sim.expire_media() >= 2);
    let (status, _, body) = media(&gw, &token, &id).await;
    assert_eq!((status, body == photo), (200, true));
    // Never fetched before WhatsApp's copy expired: 410 with a clear message.
    let (status, _, body) = media(&gw, &token, &later_id).await;
    assert_eq!(status, 410);
    let e = error_code(&body);
    assert_eq!(e["error"], "media_expired");
    assert!(
        e["message"].as_str().is_some_and(|m| m.contains("expired")),
        "{e}"
    );

    // Unknown ids, and messages without media.
    let (status, _, body) = media(&gw, &token, "3EB0DOESNOTEXIST").await;
    assert_eq!(
        (status, error_code(&body)["error"].clone()),
        (404, "unknown_media".into())
    );
    let text_id = contact.send_text(&me, "no file here").await.expect("text");
    wait_event(&gw, &token, "message.received", |p| {
        p["id"] == text_id.as_str()
    })
    .await;
    let (status, _, _) = media(&gw, &token, &text_id).await;
    assert_eq!(status, 404);

    // Larger than the whole quota (1 MiB): 413.
    let big = picture(1_200_000, 3);
    let (big_id, _) = receive_image(&gw, &token, &contact, &me, &big, "image/jpeg", None).await;
    let (status, _, body) = media(&gw, &token, &big_id).await;
    assert_eq!(status, 413);
    assert_eq!(error_code(&body)["error"], "media_over_quota");

    // A restart keeps the ability to fetch a file never fetched before.
    let third = picture(10_000, 1);
    let (third_id, _) = receive_image(&gw, &token, &contact, &me, &third, "image/webp", None).await;
    assert!(stop(gw).await, "clean exit");
    let gw = start(dir.path(), &sim, &[("WAGO_RECEIVED_MEDIA_MAX_MIB", "1")]);
    wait_connected(&gw, &token, Duration::from_secs(30)).await;
    let (status, ct, body) = media(&gw, &token, &third_id).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!((ct.as_str(), body == third), ("image/webp", true));
    let (status, _, body) = media(&gw, &token, &id).await;
    assert_eq!(
        (status, body == photo),
        (200, true),
        "kept across the restart"
    );
}

#[tokio::test]
async fn form_webhooks_carry_the_received_file() {
    let (sim, _dir, gw, token) = paired(&[]).await;
    let hook = receiver::Receiver::start().await;
    let (status, v) = post(
        &gw,
        &token,
        "/webhook",
        json!({ "WebhookURL": hook.url("/form"), "Format": "form", "Events": ["Message"] }),
    )
    .await;
    assert!(status == 200 || status == 201, "{v}");
    let photo = picture(5_000, 42);
    let id = sim
        .contact(CONTACT)
        .send_image(&sim.phone().jid(), &photo, "image/jpeg", Some("x-ray"))
        .await
        .expect("send image");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let hit = loop {
        let found = hook
            .hits()
            .into_iter()
            .find(|h| String::from_utf8_lossy(&h.body).contains(id.as_str()));
        if let Some(h) = found {
            break h;
        }
        assert!(std::time::Instant::now() < deadline, "no form delivery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        hit.header("content-type")
            .starts_with("multipart/form-data")
    );
    let text = String::from_utf8_lossy(&hit.body).to_string();
    assert!(text.contains("name=\"jsonData\""), "{text}");
    assert!(
        text.contains("name=\"file\"; filename="),
        "the file part is there"
    );
    assert!(text.contains("Content-Type: image/jpeg"));
    assert!(
        hit.body.windows(photo.len()).any(|w| w == photo.as_slice()),
        "the file part holds the decrypted image"
    );
}
