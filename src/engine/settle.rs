//! How a queued send ends: `sent` on WhatsApp's server ack, `failed` when it
//! expires or keeps failing.
//!
//! whatsapp-rust's send calls return once the stanza is written to the
//! socket, before the server has it (a nack even returns `Ok`). What proves
//! the server has a message is its `<ack class="message" id>`, which the
//! library reports as `Event::ServerAck`. So a send stays on the durable
//! queue while in flight; the session's event loop settles it on the ack
//! ([`on_server_ack`]) and wakes the send worker waiting for it
//! ([`AckWaiters`]). The expiry sweeper ([`run_expiry`]) fails queued sends
//! past their maximum age for sessions whose client is not running (never
//! connected, stopped, failed); a running send worker expires its own.
//! Settling is conditional in the store, so the two never settle one
//! message twice. Must not send anything itself.

use super::{Engine, SessionCtl};
use crate::store::{MessageRecord, MessageState};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use whatsapp_rust::wacore::types::events::ServerAck;

/// Longest the expiry sweeper sleeps without a wake-up.
pub const EXPIRY_IDLE: Duration = Duration::from_secs(60);

/// What the server said about a message: `Ok` it has it (and it is settled
/// `sent`), `Err` why not (a nack, or the settle could not be recorded).
pub(super) type Verdict = Result<(), String>;

/// The send worker's waiters for server acks, by message id.
#[derive(Default)]
pub(crate) struct AckWaiters(Mutex<HashMap<String, oneshot::Sender<Verdict>>>);

impl AckWaiters {
    /// Waits for the ack of `id`; register before the send, since the ack
    /// can arrive before the send call returns.
    pub(super) fn expect(&self, id: &str) -> oneshot::Receiver<Verdict> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.0.lock() {
            m.insert(id.to_string(), tx);
        }
        rx
    }

    /// Stops waiting for `id`.
    pub(super) fn forget(&self, id: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(id);
        }
    }

    /// The connection dropped: no ack can come for what is in flight, so
    /// every waiter learns it now (its message stays queued for the resend).
    pub(super) fn connection_lost(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }

    fn resolve(&self, id: &str, verdict: Verdict) {
        let waiter = self.0.lock().ok().and_then(|mut m| m.remove(id));
        if let Some(tx) = waiter {
            let _ = tx.send(verdict);
        }
    }
}

/// Applies a server `<ack>`: a message ack settles that queued send as
/// `sent` (when it is still queued) and then wakes its waiter; a nack only
/// tells the waiter (the worker retries within the attempt limit).
pub(super) async fn on_server_ack(engine: &Engine, ctl: &SessionCtl, ack: &ServerAck) {
    if ack.class.as_deref().is_some_and(|c| c != "message") {
        return;
    }
    if let Some(code) = &ack.error {
        tracing::warn!(session = %ctl.id, message = %ack.id, %code, "WhatsApp refused a message");
        ctl.acks
            .resolve(&ack.id, Err(format!("WhatsApp refused it (error {code})")));
        return;
    }
    let verdict = settle(engine, ctl, &ack.id, MessageState::Sent, None)
        .await
        .map(|_| ());
    ctl.acks.resolve(&ack.id, verdict);
}

/// Settles the queued send `id` of `ctl`'s session as `state`, with its
/// `message.sent` / `message.failed` event, unless it is no longer queued.
/// Returns whether it settled it.
pub(super) async fn settle(
    engine: &Engine,
    ctl: &SessionCtl,
    id: &str,
    state: MessageState,
    error: Option<String>,
) -> Result<bool, String> {
    let settled = settle_in(engine, &ctl.id, ctl.me(), id, state, error).await?;
    if settled && state == MessageState::Sent {
        let at = crate::event::now_ms();
        ctl.update(|s| s.last_message_at = Some(at));
    }
    Ok(settled)
}

async fn settle_in(
    engine: &Engine,
    session: &str,
    me: Option<crate::event::Me>,
    id: &str,
    state: MessageState,
    error: Option<String>,
) -> Result<bool, String> {
    let name = if state == MessageState::Sent {
        "message.sent"
    } else {
        "message.failed"
    };
    let owner = session.to_string();
    let event_of = move |rec: &MessageRecord| crate::event::Event {
        session: owner,
        event: name.to_string(),
        chat: Some(rec.chat.clone()),
        timestamp: crate::event::now_ms(),
        payload: super::message_payload(rec),
        me,
    };
    match engine
        .inner
        .store
        .finish_send(session, id, state, error, event_of)
        .await
    {
        Ok(Some(_)) => Ok(true),
        Ok(None) => Ok(false),
        Err(e) => {
            tracing::error!(session, message = %id, error = %e, "cannot record a send's outcome");
            Err(format!("cannot record it: {e}"))
        }
    }
}

/// Why an expired send failed.
pub(super) fn expiry_reason(engine: &Engine) -> String {
    let age = engine.inner.cfg.send_max_age.as_secs();
    format!("expired: not sent within {age} s of being accepted")
}

/// When `rec` expires (Unix ms); `None` when sends never expire.
pub(super) fn expires_at(engine: &Engine, rec: &MessageRecord) -> Option<i64> {
    let max = engine.inner.cfg.send_max_age;
    (!max.is_zero()).then(|| rec.timestamp.saturating_add(max.as_millis() as i64))
}

/// Fails queued sends past their maximum age in every session whose client
/// is not running, whether or not it was ever connected. Sleeps until the
/// next one is due, a new send arrives, or [`EXPIRY_IDLE`]. Runs until
/// `stop` is cancelled.
pub(super) async fn run_expiry(engine: Engine, stop: CancellationToken) {
    loop {
        let next = sweep(&engine).await;
        let wait = next
            .map(
                |at| Duration::from_millis(at.saturating_sub(crate::event::now_ms()).max(0) as u64),
            )
            .unwrap_or(EXPIRY_IDLE)
            .min(EXPIRY_IDLE);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = engine.inner.expiry_wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One pass; returns when the next queued send of a stopped session expires.
async fn sweep(engine: &Engine) -> Option<i64> {
    let sessions = match engine.inner.store.list_sessions().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "expiry: cannot list sessions");
            return None;
        }
    };
    let mut next: Option<i64> = None;
    for session in sessions {
        let ctl = engine.ctl(&session.id);
        if ctl
            .as_ref()
            .is_some_and(|c| c.client.lock().is_ok_and(|c| c.is_some()))
        {
            // Its send worker runs and expires its own queue.
            continue;
        }
        let me = ctl.as_ref().and_then(|c| c.me());
        loop {
            let rec = match engine.inner.store.next_queued(&session.id).await {
                Ok(Some(rec)) => rec,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(session = %session.id, error = %e, "expiry: cannot read the queue");
                    break;
                }
            };
            // Sends never expire: nothing to wake up for.
            let at = expires_at(engine, &rec)?;
            if at > crate::event::now_ms() {
                next = Some(next.map_or(at, |n| n.min(at)));
                break;
            }
            let why = expiry_reason(engine);
            tracing::info!(session = %session.id, message = %rec.id, "queued send expired");
            if settle_in(
                engine,
                &session.id,
                me.clone(),
                &rec.id,
                MessageState::Failed,
                Some(why),
            )
            .await
            .is_err()
            {
                break;
            }
        }
    }
    next
}
