//! End-to-end encrypted messages and receipts between the real client and a
//! simulated contact.

mod common;

use common::{STEP, init_logs, paired_client};
use wa_sim::{ReceiptKind, Simulator};
use whatsapp_rust::Jid;
use whatsapp_rust::types::events::Event;
use whatsapp_rust::types::presence::ReceiptType;

const CONTACT: &str = "15559870000";

fn contact_jid() -> Jid {
    format!("{CONTACT}@s.whatsapp.net")
        .parse()
        .expect("valid contact JID")
}

/// The client's `send_text` reaches the contact, who decrypts exactly that
/// body, under the id the client reported.
#[tokio::test]
async fn client_text_is_decrypted_by_contact() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact(CONTACT);
    let (client, _backend, device) = paired_client(&sim).await;

    let sent = tokio::time::timeout(
        STEP,
        client
            .client
            .send_text(contact_jid(), "hello from the gateway"),
    )
    .await
    .expect("send_text returns in time")
    .expect("send_text succeeds");
    let got = contact.wait_for_text(STEP).await.expect("contact gets it");
    assert_eq!(got.body, "hello from the gateway");
    assert_eq!(got.id, sent.message_id);
    assert_eq!(got.from, device.jid);

    // A second message rides the established session (`msg`, not `pkmsg`).
    client
        .client
        .send_text(contact_jid(), "second")
        .await
        .expect("second send succeeds");
    let second = contact.wait_for_text(STEP).await.expect("second arrives");
    assert_eq!(second.body, "second");
    assert_eq!(contact.received().await.len(), 2);
    client.stop().await;
}

/// A contact's text becomes a `Messages` event with that body and sender,
/// and the server sees the client's delivery receipt for it.
#[tokio::test]
async fn contact_text_reaches_client_and_is_receipted() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact(CONTACT);
    let (mut client, _backend, _device) = paired_client(&sim).await;

    let id = contact
        .send_text(&sim.phone().jid(), "hi gateway")
        .await
        .expect("contact sends");
    let (body, sender, got_id) = client
        .wait_for("Messages", STEP, |e| match e {
            Event::Messages(batch) => batch.iter().find_map(|m| {
                m.message
                    .conversation
                    .clone()
                    .map(|b| (b, m.info.source.sender.to_string(), m.info.id.to_string()))
            }),
            _ => None,
        })
        .await;
    assert_eq!(body, "hi gateway");
    assert_eq!(sender, contact.jid());
    assert_eq!(got_id, id);

    let receipt = contact
        .wait_for_client_receipt(&id, STEP)
        .await
        .expect("client acknowledges delivery");
    assert!(receipt.ids.contains(&id));
    assert_ne!(receipt.kind, "read", "delivery is not a read receipt");
    client.stop().await;
}

/// The contact's delivered and read receipts for a message the client sent
/// become `Receipt` events of the matching type.
#[tokio::test]
async fn contact_receipts_become_receipt_events() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact(CONTACT);
    let (mut client, _backend, _device) = paired_client(&sim).await;

    let sent = client
        .client
        .send_text(contact_jid(), "did you get this?")
        .await
        .expect("send succeeds");
    let id = sent.message_id.clone();

    contact
        .send_receipt(&id, ReceiptKind::Delivered)
        .await
        .expect("delivered receipt sent");
    let delivered = client
        .wait_for("delivered Receipt", STEP, |e| match e {
            Event::Receipt(r) if r.message_ids.contains(&id) => Some(r.r#type.clone()),
            _ => None,
        })
        .await;
    assert_eq!(delivered, ReceiptType::Delivered);

    contact
        .send_receipt(&id, ReceiptKind::Read)
        .await
        .expect("read receipt sent");
    let read = client
        .wait_for("read Receipt", STEP, |e| match e {
            Event::Receipt(r) if r.message_ids.contains(&id) => Some(r.r#type.clone()),
            _ => None,
        })
        .await;
    assert_eq!(read, ReceiptType::Read);
    client.stop().await;
}

/// With auto-delivery on, the contact's phone answers by itself and the
/// client sees the delivered tick; the recorded message keeps the stanza
/// type and the whole decrypted protobuf.
#[tokio::test]
async fn auto_delivery_receipt_reaches_client() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact(CONTACT);
    contact.set_auto_delivery(true);
    let (mut client, _backend, _device) = paired_client(&sim).await;

    let sent = client
        .client
        .send_text(contact_jid(), "auto tick")
        .await
        .expect("send succeeds");
    let id = sent.message_id.clone();
    let kind = client
        .wait_for("delivered Receipt", STEP, |e| match e {
            Event::Receipt(r) if r.message_ids.contains(&id) => Some(r.r#type.clone()),
            _ => None,
        })
        .await;
    assert_eq!(kind, ReceiptType::Delivered);
    let got = contact.wait_for_text(STEP).await.expect("recorded");
    assert_eq!(got.kind, "text");
    assert_eq!(got.message.conversation.as_deref(), Some("auto tick"));
    client.stop().await;
}

/// A message the client cannot decrypt raises `UndecryptableMessage`, and
/// the client asks the sender to retry.
#[tokio::test]
async fn undecryptable_message_is_reported_and_retried() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact(CONTACT);
    let (mut client, _backend, _device) = paired_client(&sim).await;

    let id = contact
        .send_undecryptable(&sim.phone().jid())
        .await
        .expect("garbage sent");
    let got = client
        .wait_for("UndecryptableMessage", STEP, |e| match e {
            Event::UndecryptableMessage(u) => Some(u.info.id.to_string()),
            _ => None,
        })
        .await;
    assert_eq!(got, id);
    let retry = sim
        .wait_for_client_receipt_kind(&id, "retry", STEP)
        .await
        .expect("retry receipt");
    assert_eq!(retry.to, contact.jid());
    client.stop().await;
}
