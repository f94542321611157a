//! Library events → the session's status, stored receipts, and whether the
//! supervisor must stop.
//!
//! Inbound messages are not handled here: they are committed in the
//! durability hook before this sees them (see `hook.rs`).

use super::diagnosis::{Diagnosis, FailureCode};
use super::session::Outcome;
use super::{Code, Engine, SessionCtl, State, notices};
use crate::event::now_ms;
use crate::store::MessageState;
use serde_json::json;
use std::sync::Arc;
use whatsapp_rust::Client;
use whatsapp_rust::wacore::types::call::IncomingCall;
use whatsapp_rust::wacore::types::events::{ConnectFailureReason, Event};
use whatsapp_rust::wacore::types::presence::ReceiptType;

/// What the supervisor does after an event.
#[derive(Debug)]
pub(super) enum Flow {
    /// Keep running.
    Continue,
    /// Stop this run with the outcome.
    Stop(Outcome),
}

/// Applies one library event.
pub(super) async fn apply(
    engine: &Engine,
    ctl: &Arc<SessionCtl>,
    client: &Arc<Client>,
    event: &Event,
    failures: &mut u32,
) -> Flow {
    // Test-only fault injection (behind the simulator feature, which a
    // release build refuses): once connected, the event loop hangs on the
    // next inbound message, as it would on a store call that never returns.
    #[cfg(feature = "test-sim")]
    if matches!(event, Event::Messages(_))
        && ctl.status.borrow().state == State::Connected
        && std::env::var_os("TEST_WAGO_STALL_EVENT_LOOP").is_some()
    {
        tracing::error!("test stall injection: the event loop hangs");
        std::future::pending::<()>().await;
    }
    if let Some(outcome) = decide(event, failures, engine.inner.cfg.max_connect_failures) {
        if let Outcome::Failed(d) | Outcome::LoggedOut(Some(d)) = &outcome {
            ctl.diagnose(&engine.inner.failures, d.clone(), None);
        }
        return Flow::Stop(outcome);
    }
    if let Event::ConnectFailure(_) = event {
        ctl.diagnose(&engine.inner.failures, refusal(event), None);
    }
    if let Some(n) = notices::notice(event) {
        engine
            .publish(vec![ctl.event(n.name, n.chat, n.payload)])
            .await;
    }
    if engine.inner.cfg.reject_calls
        && let Some(call) = notices::call_offer(event)
    {
        reject_call(engine, ctl, client, call).await;
    }
    let now = now_ms();
    match event {
        Event::PairingQrCode(qr) => {
            let expires_at = now + qr.timeout.as_millis() as i64;
            ctl.update(|s| {
                s.state = State::Pairing;
                s.last_error = None;
                s.qr = Some(Code {
                    code: qr.code.clone(),
                    expires_at,
                });
            });
            tracing::info!(session = %ctl.id, "pairing QR code issued");
            let payload = if engine.inner.cfg.qr_in_events {
                json!({ "code": qr.code, "expiresAt": expires_at })
            } else {
                json!({ "expiresAt": expires_at })
            };
            engine
                .publish(vec![ctl.event("session.qr_updated", None, payload)])
                .await;
        }
        Event::PairingCode(pc) => {
            let expires_at = now + pc.timeout.as_millis() as i64;
            ctl.update(|s| {
                s.state = State::Pairing;
                s.pair_code = Some(Code {
                    code: pc.code.clone(),
                    expires_at,
                });
            });
        }
        Event::PairSuccess(_) => {
            ctl.update(|s| {
                s.state = State::Connecting;
                s.qr = None;
                s.pair_code = None;
                s.last_error = None;
            });
            tracing::info!(session = %ctl.id, "paired");
        }
        Event::PairError(e) => {
            let reason = format!(
                "pairing failed: {}",
                serde_json::to_string(e).unwrap_or_default()
            );
            ctl.diagnose(
                &engine.inner.failures,
                Diagnosis::new(FailureCode::PairingFailed, reason),
                None,
            );
        }
        Event::Connected(_) => {
            let (jid, lid, name) = (
                client.pn().map(|j| j.to_string()),
                client.lid().map(|j| j.to_string()),
                client.push_name(),
            );
            ctl.update(|s| {
                s.state = State::Connected;
                s.jid = jid;
                s.lid = lid;
                s.push_name = (!name.is_empty()).then_some(name);
                s.qr = None;
                s.pair_code = None;
                s.last_error = None;
            });
            tracing::info!(session = %ctl.id, "connected");
            engine
                .publish(vec![ctl.event("session.connected", None, json!({}))])
                .await;
            // Senders see delivered ticks only once we are "available".
            let c = client.clone();
            let span = tracing::info_span!("presence", session = %ctl.id);
            engine.inner.tasks.spawn(tracing::Instrument::instrument(
                async move {
                    if let Err(e) = c.presence().set_available().await {
                        tracing::warn!(error = %e, "could not set presence available");
                    }
                },
                span,
            ));
            ctl.wake.notify_one();
        }
        Event::Disconnected(d) => {
            ctl.acks.connection_lost();
            ctl.update(|s| {
                if s.state == State::Connected {
                    s.state = State::Connecting;
                }
                s.last_error = Some(Diagnosis::new(
                    FailureCode::ConnectionLost,
                    format!("connection lost ({:?}); reconnecting", d.reason),
                ));
            });
            engine
                .publish(vec![ctl.event(
                    "session.disconnected",
                    None,
                    json!({ "reason": format!("{:?}", d.reason) }),
                )])
                .await;
        }
        Event::ServerAck(ack) => super::settle::on_server_ack(engine, ctl, ack).await,
        Event::Receipt(r) => {
            let state = match r.r#type {
                ReceiptType::Delivered => MessageState::Delivered,
                ReceiptType::Read | ReceiptType::ReadSelf => MessageState::Read,
                ReceiptType::Played | ReceiptType::PlayedSelf => MessageState::Played,
                _ => return Flow::Continue,
            };
            let ids: Vec<String> = r.message_ids.iter().map(|m| m.to_string()).collect();
            let at = r.timestamp.timestamp_millis();
            let name = match state {
                MessageState::Delivered => "message.delivered",
                MessageState::Read => "message.read",
                _ => "message.played",
            };
            let c = ctl.clone();
            let result = engine
                .inner
                .store
                .apply_receipt(&ctl.id, ids, state, at, move |rec| {
                    c.event(name, Some(rec.chat.clone()), super::message_payload(rec))
                })
                .await;
            if let Err(e) = result {
                tracing::error!(session = %ctl.id, error = %e, "could not record a receipt")
            }
        }
        _ => {}
    }
    Flow::Continue
}

/// Declines a call offer and, when configured, queues the text for the
/// caller (stored and retried like any send).
async fn reject_call(engine: &Engine, ctl: &SessionCtl, client: &Arc<Client>, call: &IncomingCall) {
    if let Err(e) = client.voip().reject(call).await {
        tracing::warn!(session = %ctl.id, error = %e, "could not reject a call");
        return;
    }
    tracing::info!(session = %ctl.id, from = %call.from, "call rejected");
    let text = &engine.inner.cfg.reject_call_message;
    if text.is_empty() {
        return;
    }
    let to = call.action.call_creator().to_non_ad_string();
    if let Err(e) = engine.send_text(&ctl.id, &to, text, None).await {
        tracing::warn!(session = %ctl.id, error = %e, "could not queue the call-rejection text");
    }
}

/// The diagnosis of a refused login.
fn refusal(event: &Event) -> Diagnosis {
    let words = match event {
        Event::ConnectFailure(f) => format!(
            "WhatsApp's server refused the login ({:?}{})",
            f.reason,
            f.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
        _ => String::new(),
    };
    Diagnosis::new(FailureCode::LoginRefused, words)
}

/// Whether `event` ends this run of the client, and how. Counts refused
/// logins in `failures` (reset by `Connected`); `max` of them in a row fail
/// the session. Network drops are not refusals: they never fail a session.
pub(super) fn decide(event: &Event, failures: &mut u32, max: u32) -> Option<Outcome> {
    match event {
        Event::Connected(_) => {
            *failures = 0;
            None
        }
        Event::PairingQrCodesExhausted(_) => Some(Outcome::Failed(Diagnosis::new(
            FailureCode::PairingFailed,
            "pairing timed out: no QR code was scanned; connect again to get a new one",
        ))),
        Event::LoggedOut(lo) => Some(Outcome::LoggedOut(Some(Diagnosis::new(
            FailureCode::LoggedOut,
            format!(
                "this box was unlinked (from the phone, or by WhatsApp: {:?}); link it again",
                lo.reason
            ),
        )))),
        Event::StreamReplaced(_) => Some(Outcome::Failed(Diagnosis::new(
            FailureCode::StreamReplaced,
            "another client took over this session (stream replaced)",
        ))),
        Event::TemporaryBan(ban) => Some(Outcome::Failed(Diagnosis::new(
            FailureCode::RateLimited,
            format!(
                "WhatsApp temporarily banned this number ({:?}) for {} s; wait, then connect again",
                ban.code,
                ban.expire.num_seconds()
            ),
        ))),
        Event::ClientOutdated(_) => Some(Outcome::Failed(Diagnosis::new(
            FailureCode::ClientOutdated,
            "WhatsApp says this client version is outdated; update wago",
        ))),
        Event::ConnectFailure(f) if matches!(f.reason, ConnectFailureReason::LoggedOut) => {
            Some(Outcome::LoggedOut(Some(Diagnosis::new(
                FailureCode::LoggedOut,
                "WhatsApp refused the login: this box is no longer linked; link it again",
            ))))
        }
        Event::ConnectFailure(_) => {
            *failures += 1;
            (*failures >= max).then(|| {
                let mut d = refusal(event);
                d.message = format!("{}, {failures} times in a row", d.message);
                Outcome::Failed(d)
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
