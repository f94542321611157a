//! Linking with the 8-character pair code instead of a QR. Each pairing
//! runs a 131 072-round PBKDF2 four times (two on each side), so these tests
//! take a few seconds in a debug build.

mod common;

use common::{STEP, TestClient, init_logs, new_backend};
use wa_sim::Simulator;
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::types::events::Event;

/// The pair-code tests take turns: run side by side, their key derivations
/// compete for the same cores and each takes several times longer.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A fresh simulator and an unpaired client, once its first QR shows the
/// unpaired connection is up.
async fn unpaired_client() -> (Simulator, TestClient) {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let mut client = TestClient::start(&sim, new_backend()).await;
    client
        .wait_for("PairingQrCode", STEP, |e| {
            matches!(e, Event::PairingQrCode(_)).then_some(())
        })
        .await;
    (sim, client)
}

/// Linking with the 8-character code: the client shows `PairingCode`, the
/// phone "types" it, and the client ends up paired and `Connected`.
#[tokio::test]
async fn pair_code_then_login() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (sim, mut client) = unpaired_client().await;
    let code = client
        .client
        .pair_with_code(PairCodeOptions {
            phone_number: wa_sim::DEFAULT_ACCOUNT.to_string(),
            ..Default::default()
        })
        .await
        .expect("client gets a pair code");
    assert_eq!(code.replace('-', "").len(), 8);

    let device = sim
        .phone()
        .enter_pair_code(&code)
        .await
        .expect("phone accepts the code");
    let paired_jid = client
        .wait_for("PairSuccess", STEP, |e| match e {
            Event::PairSuccess(p) => Some(p.id.to_string()),
            _ => None,
        })
        .await;
    assert_eq!(paired_jid, device.jid);
    client.connected(STEP).await;
    client.stop().await;
}

/// A wrong code is refused by the phone and links nothing.
#[tokio::test]
async fn wrong_pair_code_is_refused() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (sim, client) = unpaired_client().await;
    let code = client
        .client
        .pair_with_code(PairCodeOptions {
            phone_number: wa_sim::DEFAULT_ACCOUNT.to_string(),
            custom_code: Some("ABCDEFGH".to_string()),
            ..Default::default()
        })
        .await
        .expect("client gets a pair code");
    assert_eq!(code.replace('-', ""), "ABCDEFGH");
    let refused = sim.phone().enter_pair_code("ZZZZZZZZ").await;
    assert!(refused.is_err(), "a wrong code must not link a device");
    assert_eq!(sim.logins().len(), 0);
    client.stop().await;
}
