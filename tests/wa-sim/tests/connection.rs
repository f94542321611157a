//! Connection loss, the internet going away, and server-side logout.

mod common;

use common::{STEP, TestClient, init_logs, paired_client};
use std::time::Duration;
use wa_sim::Simulator;
use whatsapp_rust::types::events::Event;

/// How long the client's own reconnect backoff may take.
const RECONNECT: Duration = Duration::from_secs(10);

/// The server closing every socket makes the client see `Disconnected`, then
/// reconnect and log in again on its own, after which messages flow again.
#[tokio::test]
async fn client_reconnects_after_connections_drop() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact("15559870000");
    let (mut client, _backend, _device) = paired_client(&sim).await;
    let logins_before = sim.logins().len();

    client.forget_past();
    sim.drop_connections().await;
    client
        .wait_for("Disconnected", STEP, |e| {
            matches!(e, Event::Disconnected(_)).then_some(())
        })
        .await;
    client.connected(RECONNECT).await;
    assert_eq!(sim.logins().len(), logins_before + 1, "one new login");
    assert_eq!(sim.logged_in_count(), 1);

    let id = contact
        .send_text(&sim.phone().jid(), "after the blip")
        .await
        .expect("contact sends");
    let got = client
        .wait_for("Messages", STEP, |e| match e {
            Event::Messages(batch) => batch
                .iter()
                .find(|m| m.info.id == id)
                .and_then(|m| m.message.conversation.clone()),
            _ => None,
        })
        .await;
    assert_eq!(got, "after the blip");
    client.stop().await;
}

/// While offline the client cannot log in; a contact's message sent
/// meanwhile is delivered once the internet is back.
#[tokio::test]
async fn offline_then_online_delivers_queued_message() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact("15559870000");
    let (mut client, _backend, _device) = paired_client(&sim).await;

    client.forget_past();
    sim.set_online(false);
    client
        .wait_for("Disconnected", STEP, |e| {
            matches!(e, Event::Disconnected(_)).then_some(())
        })
        .await;
    let id = contact
        .send_text(&sim.phone().jid(), "queued while offline")
        .await
        .expect("contact sends while the client is away");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.logged_in_count(), 0, "nobody logs in while offline");

    sim.set_online(true);
    client.connected(RECONNECT).await;
    let (got, offline) = client
        .wait_for("queued Messages", STEP, |e| match e {
            Event::Messages(batch) => batch.iter().find(|m| m.info.id == id).and_then(|m| {
                m.message
                    .conversation
                    .clone()
                    .map(|b| (b, m.info.is_offline))
            }),
            _ => None,
        })
        .await;
    assert_eq!(got, "queued while offline");
    assert!(offline, "a queued message arrives as offline backlog");
    client.stop().await;
}

/// A server-side logout of the companion emits `LoggedOut`, and the device
/// cannot log in again afterwards.
#[tokio::test]
async fn server_logout_emits_logged_out() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let (mut client, backend, device) = paired_client(&sim).await;

    client.forget_past();
    sim.logout(&device.jid).await.expect("logout accepted");
    client
        .wait_for("LoggedOut", STEP, |e| {
            matches!(e, Event::LoggedOut(_)).then_some(())
        })
        .await;
    client.stop().await;

    // A restart with the stale credentials is refused at login.
    let logins = sim.logins().len();
    let mut again = TestClient::start(&sim, backend).await;
    again
        .wait_for("LoggedOut on connect", STEP, |e| {
            matches!(e, Event::LoggedOut(_)).then_some(())
        })
        .await;
    assert_eq!(
        sim.logins().len(),
        logins,
        "no new login for a removed device"
    );
    again.stop().await;
}

/// A second login of the same device replaces the first connection, which
/// is told so (`StreamReplaced`) and does not fight back.
#[tokio::test]
async fn second_login_replaces_the_first() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let (mut first, backend, _device) = paired_client(&sim).await;
    first.forget_past();

    let mut second = TestClient::start(&sim, backend).await;
    second.connected(STEP).await;
    first
        .wait_for("StreamReplaced", STEP, |e| {
            matches!(e, Event::StreamReplaced(_)).then_some(())
        })
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sim.logged_in_count(), 1, "only the new connection stays");
    first.stop().await;
    second.stop().await;
}
