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
        Some(Outcome::Failed(r)) => assert!(r.contains("5 times in a row"), "{r}"),
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
