//! The send queue worker: hands accepted messages to WhatsApp, in order.
//!
//! Runs while the client runs. Takes the oldest queued message; when the
//! session is connected, sends it with the id it was given at accept time
//! (so a resend after a crash is the same message to WhatsApp and the phone
//! dedupes it), then marks it `sent`. A send that fails while connected is
//! retried up to the configured attempts, then marked `failed`. While
//! disconnected it waits: nothing is lost, it goes out after reconnecting.
//! A message older than the configured maximum age fails instead (also
//! while disconnected). What each payload becomes is [`super::outbound`]'s.

use super::outbound::{self, BuildError, Built};
use super::{Engine, SessionCtl, State};
use crate::store::MessageState;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use whatsapp_rust::RevokeType;
use whatsapp_rust::{Client, SendOptions};

/// Longest one send may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a failed send before the next attempt.
pub const RETRY_PAUSE: Duration = Duration::from_secs(2);
/// How often the worker looks at the queue even without a wake-up.
pub const POLL: Duration = Duration::from_secs(5);

/// Runs until `stop` is cancelled.
pub(super) async fn run(
    engine: Engine,
    ctl: Arc<SessionCtl>,
    client: Arc<Client>,
    stop: CancellationToken,
) {
    loop {
        // The head of the queue expires even while disconnected.
        match engine.inner.store.next_queued(&ctl.id).await {
            Ok(Some(rec)) if expired(&engine, &rec) => {
                let age = engine.inner.cfg.send_max_age.as_secs();
                let why = format!("expired: not sent within {age} s of being accepted");
                finish(&engine, &ctl, &rec.id, MessageState::Failed, Some(why)).await;
                continue;
            }
            Ok(Some(rec)) if ctl.status.borrow().state == State::Connected => {
                send_one(&engine, &ctl, &client, &rec).await;
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(session = %ctl.id, error = %e, "cannot read the send queue")
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ctl.wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Whether `rec` waited longer than the configured maximum age.
fn expired(engine: &Engine, rec: &crate::store::MessageRecord) -> bool {
    let max = engine.inner.cfg.send_max_age;
    !max.is_zero() && crate::event::now_ms().saturating_sub(rec.timestamp) > max.as_millis() as i64
}

async fn send_one(
    engine: &Engine,
    ctl: &SessionCtl,
    client: &Client,
    rec: &crate::store::MessageRecord,
) {
    let id = rec.id.as_str();
    let to = match rec.chat.parse::<whatsapp_rust::Jid>() {
        Ok(j) => j,
        Err(e) => {
            let why = format!("bad recipient {}: {e}", rec.chat);
            finish(engine, ctl, id, MessageState::Failed, Some(why)).await;
            return;
        }
    };
    let media = match engine.inner.store.outbound_media(&ctl.id, id).await {
        Ok(m) => m,
        Err(e) => {
            retry_or_fail(engine, ctl, id, format!("reading its media: {e}")).await;
            return;
        }
    };
    let built = match outbound::build(client, rec, media).await {
        Ok(b) => b,
        Err(BuildError::Permanent(why)) => {
            finish(engine, ctl, id, MessageState::Failed, Some(why)).await;
            return;
        }
        Err(BuildError::Transient(why)) => {
            retry_or_fail(engine, ctl, id, why).await;
            return;
        }
    };
    let send = async {
        match built {
            Built::Message(message) => {
                let options = SendOptions::default().with_message_id(id.to_string());
                client
                    .send_message_with_options(to, message, options)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            // Edits and revokes go out under a stanza id of the library's: the
            // target's id is inside, and applying one twice changes nothing.
            Built::Edit { target, message } => client
                .edit_message(to, target, message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Built::Revoke { target } => client
                .revoke_message(to, target, RevokeType::Sender)
                .await
                .map_err(|e| e.to_string()),
        }
    };
    match tokio::time::timeout(SEND_TIMEOUT, send).await {
        Ok(Ok(())) => finish(engine, ctl, id, MessageState::Sent, None).await,
        Ok(Err(e)) => retry_or_fail(engine, ctl, id, e).await,
        Err(_) => retry_or_fail(engine, ctl, id, "timed out".into()).await,
    }
}

async fn retry_or_fail(engine: &Engine, ctl: &SessionCtl, id: &str, error: String) {
    tracing::warn!(session = %ctl.id, message = %id, %error, "send failed");
    if ctl.status.borrow().state != State::Connected {
        // Not the message's fault: it waits for the reconnect.
        return;
    }
    match engine
        .inner
        .store
        .note_attempt(&ctl.id, id, error.clone())
        .await
    {
        Ok(n) if n >= engine.inner.cfg.send_attempts => {
            finish(engine, ctl, id, MessageState::Failed, Some(error)).await;
        }
        Ok(_) => tokio::time::sleep(RETRY_PAUSE).await,
        Err(e) => {
            tracing::error!(session = %ctl.id, error = %e, "cannot record a send attempt");
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}

async fn finish(
    engine: &Engine,
    ctl: &SessionCtl,
    id: &str,
    state: MessageState,
    error: Option<String>,
) {
    let (ctl_id, me) = (ctl.id.clone(), ctl.me());
    let name = if state == MessageState::Sent {
        "message.sent"
    } else {
        "message.failed"
    };
    let event_of = move |rec: &crate::store::MessageRecord| crate::event::Event {
        session: ctl_id,
        event: name.to_string(),
        chat: Some(rec.chat.clone()),
        timestamp: crate::event::now_ms(),
        payload: super::message_payload(rec),
        me,
    };
    match engine
        .inner
        .store
        .finish_send(&ctl.id, id, state, error, event_of)
        .await
    {
        Ok(_) => {
            if state == MessageState::Sent {
                let at = crate::event::now_ms();
                ctl.update(|s| s.last_message_at = Some(at));
            }
        }
        Err(e) => tracing::error!(session = %ctl.id, error = %e, "cannot record a send"),
    }
}
