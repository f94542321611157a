//! Library events → the session's status, stored receipts, and whether the
//! supervisor must stop.
//!
//! Inbound messages are not handled here: they are committed in the
//! durability hook before this sees them (see `hook.rs`).

use super::session::Outcome;
use super::{Code, Engine, SessionCtl, State};
use crate::event::now_ms;
use crate::store::MessageState;
use crate::store::messages::advance;
use std::sync::Arc;
use whatsapp_rust::Client;
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
    let now = now_ms();
    match event {
        Event::PairingQrCode(qr) => {
            let expires_at = now + qr.timeout.as_millis() as i64;
            ctl.update(|s| {
                s.state = State::Pairing;
                s.qr = Some(Code {
                    code: qr.code.clone(),
                    expires_at,
                });
            });
            tracing::info!(session = %ctl.id, "pairing QR code issued");
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
        Event::PairingQrCodesExhausted(_) => {
            tracing::info!(session = %ctl.id, "no QR code was scanned in time");
            return Flow::Stop(Outcome::Failed(
                "pairing timed out: no QR code was scanned; connect again to get a new one".into(),
            ));
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
            ctl.update(|s| s.last_error = Some(reason));
        }
        Event::Connected(_) => {
            *failures = 0;
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
            // Senders see delivered ticks only once we are "available".
            let c = client.clone();
            engine.inner.tasks.spawn(async move {
                if let Err(e) = c.presence().set_available().await {
                    tracing::warn!(error = %e, "could not set presence available");
                }
            });
            ctl.wake.notify_one();
        }
        Event::Disconnected(d) => {
            ctl.update(|s| {
                if s.state == State::Connected {
                    s.state = State::Connecting;
                }
                s.last_error = Some(format!("connection lost ({:?}); reconnecting", d.reason));
            });
        }
        Event::LoggedOut(lo) => {
            let reason = format!("logged out by WhatsApp ({:?})", lo.reason);
            return Flow::Stop(Outcome::LoggedOut(Some(reason)));
        }
        Event::StreamReplaced(_) => {
            return Flow::Stop(Outcome::Failed(
                "another client took over this session (stream replaced)".into(),
            ));
        }
        Event::TemporaryBan(ban) => {
            return Flow::Stop(Outcome::Failed(format!(
                "WhatsApp temporarily banned this number ({:?}) for {} s",
                ban.code,
                ban.expire.num_seconds()
            )));
        }
        Event::ClientOutdated(_) => {
            return Flow::Stop(Outcome::Failed(
                "WhatsApp says this client version is outdated; update wago".into(),
            ));
        }
        Event::ConnectFailure(f) => {
            if matches!(f.reason, ConnectFailureReason::LoggedOut) {
                return Flow::Stop(Outcome::LoggedOut(Some(
                    "WhatsApp refused the login".into(),
                )));
            }
            *failures += 1;
            let reason = format!(
                "WhatsApp refused the connection ({:?}{})",
                f.reason,
                f.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            );
            ctl.update(|s| s.last_error = Some(reason.clone()));
            if *failures >= engine.inner.cfg.max_connect_failures {
                return Flow::Stop(Outcome::Failed(format!(
                    "{reason}, {failures} times in a row"
                )));
            }
        }
        Event::Receipt(r) => {
            let state = match r.r#type {
                ReceiptType::Delivered => MessageState::Delivered,
                ReceiptType::Read | ReceiptType::ReadSelf => MessageState::Read,
                ReceiptType::Played | ReceiptType::PlayedSelf => MessageState::Played,
                _ => return Flow::Continue,
            };
            let ids: Vec<String> = r.message_ids.iter().map(|m| m.to_string()).collect();
            let at = r.timestamp.timestamp_millis();
            let session = ctl.id.clone();
            let result = engine
                .inner
                .store
                .run(move |db| {
                    let tx = db.begin_write()?;
                    let mut changed = Vec::new();
                    for id in &ids {
                        if let Some(rec) = advance(&tx, &session, id, state, at)? {
                            changed.push(rec);
                        }
                    }
                    tx.commit()?;
                    Ok(changed)
                })
                .await;
            if let Err(e) = result {
                tracing::error!(session = %ctl.id, error = %e, "could not record a receipt");
            }
        }
        _ => {}
    }
    Flow::Continue
}
