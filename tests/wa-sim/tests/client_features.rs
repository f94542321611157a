//! Client features a gateway relies on, checked against the simulator:
//! read receipts, presence-dependent delivery receipts, number lookups,
//! sending to a number that is not on WhatsApp, and several accounts.

mod common;

use common::{STEP, init_logs, paired_client, paired_client_of};
use wa_sim::Simulator;
use whatsapp_rust::Jid;
use whatsapp_rust::types::events::Event;

const CONTACT: &str = "15559870000";

fn jid(number: &str) -> Jid {
    format!("{number}@s.whatsapp.net")
        .parse()
        .expect("valid JID")
}

/// Waits for the text message `id` and returns its body.
async fn text_event(client: &mut common::TestClient, id: &str) -> String {
    client
        .wait_for("Messages", STEP, |e| match e {
            Event::Messages(batch) => batch
                .iter()
                .find(|m| m.info.id == id)
                .and_then(|m| m.message.conversation.clone()),
            _ => None,
        })
        .await
}

/// After `set_available` the client's receipt is a plain delivery receipt
/// (the sender's two grey ticks); `mark_as_read` sends a read receipt.
#[tokio::test]
async fn available_client_sends_delivery_then_read_receipts() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact(CONTACT);
    let (mut client, _backend, _device) = paired_client(&sim).await;
    client
        .client
        .presence()
        .set_available()
        .await
        .expect("presence set");

    let id = contact
        .send_text(&sim.phone().jid(), "tick me")
        .await
        .expect("contact sends");
    assert_eq!(text_event(&mut client, &id).await, "tick me");
    let delivered = contact
        .wait_for_client_receipt(&id, STEP)
        .await
        .expect("delivery receipt");
    assert_eq!(delivered.kind, "", "an active client sends a plain receipt");

    client
        .client
        .mark_as_read(&jid(CONTACT), None, &[id.as_str()])
        .await
        .expect("mark_as_read");
    let read = sim
        .wait_for_client_receipt_kind(&id, "read", STEP)
        .await
        .expect("read receipt");
    assert_eq!(read.to, contact.jid());
    client.stop().await;
}

/// `is_on_whatsapp` says yes for a simulated contact and no for an unknown
/// number.
#[tokio::test]
async fn is_on_whatsapp_knows_the_contacts() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let _contact = sim.contact(CONTACT);
    let (client, _backend, _device) = paired_client(&sim).await;
    let results = client
        .client
        .contacts()
        .is_on_whatsapp(&[jid(CONTACT), jid("15550000001")])
        .await
        .expect("lookup answers");
    let registered = |n: &str| {
        results
            .iter()
            .find(|r| r.jid.user == n)
            .map(|r| r.is_registered)
    };
    assert_eq!(registered(CONTACT), Some(true));
    assert_ne!(registered("15550000001"), Some(true));
    client.stop().await;
}

/// Sending to a number nobody has fails quickly instead of hanging.
#[tokio::test]
async fn send_to_unknown_number_fails_fast() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let (client, _backend, _device) = paired_client(&sim).await;
    let result = tokio::time::timeout(STEP, client.client.send_text(jid("15550000002"), "hello?"))
        .await
        .expect("send_text returns within a few seconds");
    if result.is_ok() {
        // The client may accept a send with no recipient device; then no
        // contact must have received anything.
        assert_eq!(sim.contact("15550000002").received().await, vec![]);
    }
    client.stop().await;
}

/// Two accounts, each with its own client, talk to the same contact; the
/// contact's replies and receipts reach the right client only.
#[tokio::test]
async fn two_accounts_are_kept_apart() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact(CONTACT);
    let second = sim.account("+15554440000").expect("second account");
    assert_eq!(second.jid(), "15554440000@s.whatsapp.net");
    let (mut a, _ba, dev_a) = paired_client(&sim).await;
    let (mut b, _bb, dev_b) = paired_client_of(&sim, &second).await;
    assert!(dev_b.jid.starts_with("15554440000:"));
    assert_ne!(dev_a.lid, dev_b.lid);

    let from_b = b
        .client
        .send_text(jid(CONTACT), "from account b")
        .await
        .expect("b sends");
    let got = contact.wait_for_text(STEP).await.expect("contact gets it");
    assert_eq!(got.body, "from account b");
    assert_eq!(got.from, dev_b.jid);

    let to_a = contact
        .send_text(&sim.phone().jid(), "only for a")
        .await
        .expect("contact writes to a");
    assert_eq!(text_event(&mut a, &to_a).await, "only for a");

    contact
        .send_receipt(&from_b.message_id, wa_sim::ReceiptKind::Read)
        .await
        .expect("receipt sent");
    let id = from_b.message_id.clone();
    b.wait_for("Receipt on b", STEP, |e| match e {
        Event::Receipt(r) if r.message_ids.contains(&id) => Some(()),
        _ => None,
    })
    .await;

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    a.forget_past();
    let leaked = tokio::time::timeout(std::time::Duration::from_millis(300), async {
        a.wait_for("anything for b", STEP, |e| match e {
            Event::Receipt(r) if r.message_ids.contains(&id) => Some(()),
            Event::Messages(batch) if batch.iter().any(|m| m.info.id == id) => Some(()),
            _ => None,
        })
        .await
    })
    .await;
    assert!(leaked.is_err(), "account a must not see b's traffic");
    a.stop().await;
    b.stop().await;
}

/// A contact's presence and typing reach the client as `Presence` and
/// `ChatPresence` events.
#[tokio::test]
async fn contact_presence_and_typing_reach_client() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact(CONTACT);
    let (mut client, _backend, _device) = paired_client(&sim).await;
    let account = sim.phone().jid();

    contact
        .send_presence(&account, false)
        .expect("presence sent");
    let (from, unavailable) = client
        .wait_for("Presence", STEP, |e| match e {
            Event::Presence(p) => Some((p.from.to_string(), p.unavailable)),
            _ => None,
        })
        .await;
    assert_eq!(from, contact.jid());
    assert!(unavailable);

    contact.send_typing(&account, true).expect("typing sent");
    let chat = client
        .wait_for("ChatPresence", STEP, |e| match e {
            Event::ChatPresence(c) => Some(c.source.chat.to_string()),
            _ => None,
        })
        .await;
    assert_eq!(chat, contact.jid());
    client.stop().await;
}

/// `Client::logout` unlinks the companion on the server: the same
/// credentials cannot log in again.
#[tokio::test]
async fn client_logout_unlinks_the_device() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let (client, backend, _device) = paired_client(&sim).await;
    client.client.logout().await;
    client.stop().await;

    let logins = sim.logins().len();
    let mut again = common::TestClient::start(&sim, backend).await;
    again
        .wait_for("LoggedOut or QR", STEP, |e| {
            matches!(e, Event::LoggedOut(_) | Event::PairingQrCode(_)).then_some(())
        })
        .await;
    assert_eq!(
        sim.logins().len(),
        logins,
        "an unlinked device cannot log in"
    );
    again.stop().await;
}
