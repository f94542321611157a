//! QR pairing and login of the real client against the simulator.

mod common;

use common::{STEP, TestClient, init_logs, new_backend};
use wa_sim::Simulator;
use whatsapp_rust::types::events::Event;

/// QR appears → phone scans → `PairSuccess` with the device the phone
/// linked → the client reconnects after 515, logs in and is `Connected`.
#[tokio::test]
async fn qr_pairing_then_login() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let mut client = TestClient::start(&sim, new_backend()).await;
    let qr = client
        .wait_for("PairingQrCode", STEP, |e| match e {
            Event::PairingQrCode(q) => Some(q.code.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        qr.split(',').count(),
        5,
        "QR has ref,noise,identity,adv,type"
    );

    let device = sim.phone().scan_qr(&qr).await.expect("phone scans the QR");
    assert_eq!(
        device.jid,
        format!(
            "{}:{}@s.whatsapp.net",
            wa_sim::DEFAULT_ACCOUNT,
            device.device
        )
    );

    let paired_jid = client
        .wait_for("PairSuccess", STEP, |e| match e {
            Event::PairSuccess(p) => Some(p.id.to_string()),
            _ => None,
        })
        .await;
    assert_eq!(paired_jid, device.jid);
    client.connected(STEP).await;
    assert_eq!(sim.logged_in_count(), 1);
    assert_eq!(
        client.client.pn().map(|j| j.to_string()),
        Some(device.jid.clone())
    );
    client.stop().await;
}

/// A restarted client on the same store logs in with IK (cached server key)
/// and reaches `Connected` without showing a QR.
#[tokio::test]
async fn restart_logs_in_with_ik_without_qr() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let (client, backend, _device) = common::paired_client(&sim).await;
    assert_eq!(sim.logins(), vec![wa_sim::HandshakeKind::Xx]);
    client.stop().await;

    let mut restarted = TestClient::start(&sim, backend).await;
    let saw_qr = restarted
        .wait_for("Connected or a QR", STEP, |e| match e {
            Event::Connected(_) => Some(false),
            Event::PairingQrCode(_) => Some(true),
            _ => None,
        })
        .await;
    assert!(!saw_qr, "a paired client must not ask for a QR");
    assert_eq!(
        sim.logins(),
        vec![wa_sim::HandshakeKind::Xx, wa_sim::HandshakeKind::Ik]
    );
    restarted.stop().await;
}
