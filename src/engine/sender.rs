//! The send queue worker: hands accepted messages to WhatsApp, in order.
//!
//! Runs while the client runs. Takes the oldest queued message; when the
//! session is connected, sends it with the id it was given at accept time,
//! then waits, with the message still queued (in flight), for WhatsApp's
//! server to acknowledge that id: the ack settles it `sent` (see
//! [`super::settle`]). Stop-and-wait keeps the order per session and means
//! at most one message is in flight. If the connection drops before the
//! ack, the message stays queued and goes out again after the reconnect
//! under the same id (WhatsApp dedupes by id), as after a crash. A send
//! that fails, is refused (nack) or gets no ack while connected is retried
//! up to the configured attempts, then marked `failed`. While disconnected
//! it waits: nothing is lost. A message older than the configured maximum
//! age fails instead. What each payload becomes is [`super::outbound`]'s.

use super::outbound::{self, BuildError, Built};
use super::settle::{self, Verdict};
use super::{Engine, SessionCtl, State};
use crate::store::MessageState;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use whatsapp_rust::{Client, EditOptions, SendOptions};

/// Longest one send call (writing the stanza) may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the worker waits, while connected, for the server's ack of a
/// message it wrote; then it counts as a failed attempt and goes out again.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(30);
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
                let why = settle::expiry_reason(&engine);
                finish(&engine, &ctl, &rec.id, MessageState::Failed, Some(why)).await;
                continue;
            }
            Ok(Some(rec)) if ctl.status.borrow().state == State::Connected => {
                send_one(&engine, &ctl, &client, &rec, &stop).await;
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
    settle::expires_at(engine, rec).is_some_and(|at| crate::event::now_ms() > at)
}

async fn send_one(
    engine: &Engine,
    ctl: &SessionCtl,
    client: &Client,
    rec: &crate::store::MessageRecord,
    stop: &CancellationToken,
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
    // Every stanza goes out under the record's own id, so the server's ack
    // names it and a resend is the same message to WhatsApp and the phone.
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
            // A group edit: the library knows which of our JIDs the group uses.
            Built::Edit { target, message } => {
                let options = EditOptions::default().with_stanza_id(id.to_string());
                client
                    .edit_message_with_options(to, target, message, options)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    };
    // Registered first: the ack can arrive before the send call returns.
    let ack = ctl.acks.expect(id);
    let written = match tokio::time::timeout(SEND_TIMEOUT, send).await {
        Ok(r) => r,
        Err(_) => Err("timed out".into()),
    };
    if let Err(e) = written {
        ctl.acks.forget(id);
        retry_or_fail(engine, ctl, id, e).await;
        return;
    }
    match wait_for_ack(ctl, ack, stop).await {
        AckWait::Acked => {}
        AckWait::Refused(why) => retry_or_fail(engine, ctl, id, why).await,
        AckWait::Lost => {
            ctl.acks.forget(id);
            tracing::info!(session = %ctl.id, message = %id,
                "connection lost before WhatsApp acknowledged; it goes out again after the reconnect");
        }
        AckWait::TimedOut => {
            ctl.acks.forget(id);
            let why = format!(
                "no acknowledgement from WhatsApp within {} s",
                ACK_TIMEOUT.as_secs()
            );
            retry_or_fail(engine, ctl, id, why).await;
        }
        AckWait::Stopped => ctl.acks.forget(id),
    }
}

/// How waiting for a server ack ended.
enum AckWait {
    /// The server has it; it is settled `sent`.
    Acked,
    /// The server refused it, or its outcome could not be recorded.
    Refused(String),
    /// The connection dropped first: the message stays queued.
    Lost,
    /// No ack in [`ACK_TIMEOUT`] while connected.
    TimedOut,
    /// The worker is stopping.
    Stopped,
}

async fn wait_for_ack(
    ctl: &SessionCtl,
    ack: oneshot::Receiver<Verdict>,
    stop: &CancellationToken,
) -> AckWait {
    let mut status = ctl.status.subscribe();
    tokio::select! {
        biased;
        verdict = ack => match verdict {
            Ok(Ok(())) => AckWait::Acked,
            Ok(Err(why)) => AckWait::Refused(why),
            Err(_) => AckWait::Lost,
        },
        _ = status.wait_for(|s| s.state != State::Connected) => AckWait::Lost,
        _ = stop.cancelled() => AckWait::Stopped,
        _ = tokio::time::sleep(ACK_TIMEOUT) => AckWait::TimedOut,
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

/// Settles `id` as `state` unless something else settled it first.
async fn finish(
    engine: &Engine,
    ctl: &SessionCtl,
    id: &str,
    state: MessageState,
    error: Option<String>,
) {
    // Errors are logged where they happen; the message stays queued.
    let _ = settle::settle(engine, ctl, id, state, error).await;
}
