//! One session's supervisor: builds the client, runs it, and decides what
//! happens when it stops.
//!
//! The library reconnects by itself after network drops; this loop handles
//! what it does not: a run loop that exits unexpectedly is restarted with
//! jittered backoff; a logout wipes the keys and stops; a "stream replaced",
//! a temporary ban, an outdated client or repeated login refusals stop with
//! `failed` and the reason. Commands (disconnect, logout) and the engine's
//! shutdown token end it cleanly. On exit it cancels the session's token.

use super::diagnosis::{Diagnosis, FailureCode};
use super::events::{self, Flow};
use super::hook::StoreHook;
use super::http::HyperHttp;
use super::reporter::Reporter;
use super::transport::DiagnosingTransport;
use super::{Command, Engine, SessionCtl, State, backend::RedbBackend, sender};
use crate::supervisor::{Criticality, DEFAULT_MAX_SILENCE, HEARTBEAT_INTERVAL};
use rand::RngExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use whatsapp_rust::TokioRuntime;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::wacore::types::events::{Event, EventHandler};

/// Restarts of an exited run loop before the session is marked failed.
pub const MAX_RESTARTS: u32 = 8;
/// First restart delay; doubles each time, with jitter.
pub const RESTART_BASE: Duration = Duration::from_secs(1);
/// Longest restart delay.
pub const RESTART_CAP: Duration = Duration::from_secs(60);

/// How one run of the client ended.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Shutdown or an explicit disconnect.
    Stopped,
    /// Logged out (by us or by the phone): keys must go.
    LoggedOut(Option<Diagnosis>),
    /// Gave up, with the reason.
    Failed(Diagnosis),
    /// The run loop ended by itself.
    Exited,
}

/// Forwards library events, in order, into the supervisor's channel.
struct Forward(mpsc::UnboundedSender<Arc<Event>>);

impl EventHandler for Forward {
    fn handle_event(&self, event: Arc<Event>) {
        let _ = self.0.send(event);
    }
}

/// Runs the session until it stops for good.
pub(super) async fn run(
    engine: Engine,
    ctl: Arc<SessionCtl>,
    pair_phone: Option<String>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut restarts = 0u32;
    let outcome = loop {
        let outcome = run_once(&engine, &ctl, pair_phone.clone(), &mut commands).await;
        match outcome {
            Outcome::Exited if !ctl.cancel.is_cancelled() => {
                restarts += 1;
                if restarts > MAX_RESTARTS {
                    break Outcome::Failed(Diagnosis::new(
                        FailureCode::ClientError,
                        format!("the WhatsApp client stopped {restarts} times in a row"),
                    ));
                }
                let delay = backoff(restarts);
                tracing::warn!(session = %ctl.id, ?delay, "client stopped; restarting");
                ctl.update(|s| s.state = State::Connecting);
                tokio::select! {
                    _ = ctl.cancel.cancelled() => break Outcome::Stopped,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            Outcome::Exited => break Outcome::Stopped,
            other => break other,
        }
    };
    finish(&engine, &ctl, outcome).await;
    ctl.cancel.cancel();
}

/// Jittered exponential backoff: base·2ⁿ⁻¹ capped, times a factor in [0.5, 1.0].
pub(super) fn backoff(attempt: u32) -> Duration {
    let exp = RESTART_BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(RESTART_CAP);
    capped.mul_f64(rand::rng().random_range(0.5..=1.0))
}

async fn finish(engine: &Engine, ctl: &SessionCtl, outcome: Outcome) {
    ctl.set_client(None);
    match outcome {
        Outcome::LoggedOut(reason) => {
            let wiped = RedbBackend::new(engine.inner.store.clone(), ctl.id.clone())
                .wipe()
                .await;
            if let Err(e) = &wiped {
                tracing::error!(session = %ctl.id, error = %e, "could not wipe the keys after logout");
            }
            tracing::info!(session = %ctl.id, "logged out; keys wiped");
            let ev = ctl.event(
                "session.logged_out",
                None,
                serde_json::json!({ "reason": reason.as_ref().map(|d| &d.message) }),
            );
            engine.publish(vec![ev]).await;
            ctl.update(|s| {
                s.state = State::LoggedOut;
                s.jid = None;
                s.lid = None;
                s.qr = None;
                s.pair_code = None;
                s.last_error = reason;
            });
        }
        Outcome::Failed(reason) => {
            tracing::error!(session = %ctl.id, code = %reason.code, "session failed: {reason}");
            ctl.update(|s| {
                s.state = State::Failed;
                s.qr = None;
                s.pair_code = None;
                s.last_error = Some(reason);
            });
        }
        Outcome::Stopped | Outcome::Exited => ctl.update(|s| {
            s.state = State::Disconnected;
            s.qr = None;
            s.pair_code = None;
        }),
    }
}

/// Builds the client, runs it until something ends it, and shuts it down.
async fn run_once(
    engine: &Engine,
    ctl: &Arc<SessionCtl>,
    pair_phone: Option<String>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> Outcome {
    let (tx, mut events) = mpsc::unbounded_channel();
    let bot = match build(engine, ctl, pair_phone, tx).await {
        Ok(b) => b,
        Err(e) => {
            return Outcome::Failed(Diagnosis::new(
                FailureCode::ClientError,
                format!("cannot start the WhatsApp client: {e}"),
            ));
        }
    };
    let mut handle: BotHandle = bot.spawn();
    let client = handle.client();
    ctl.set_client(Some(client.clone()));
    let instance = ctl.cancel.child_token();
    engine.inner.tasks.spawn(tracing::Instrument::instrument(
        sender::run(
            engine.clone(),
            ctl.clone(),
            client.clone(),
            instance.clone(),
        ),
        tracing::info_span!("sender", session = %ctl.id),
    ));
    let mut failures = 0u32;
    // Events are applied inline below, so a stuck store write or event
    // handler silences this heartbeat and the watchdog ping stops with it.
    let beat = engine.inner.cfg.checkin.register(
        &format!("engine:{}", ctl.id),
        Criticality::Critical,
        DEFAULT_MAX_SILENCE,
    );
    let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let outcome = loop {
        beat.beat();
        tokio::select! {
            _ = tick.tick() => {}
            _ = ctl.cancel.cancelled() => break Outcome::Stopped,
            cmd = commands.recv() => match cmd {
                Some(Command::Disconnect) | None => break Outcome::Stopped,
                Some(Command::Logout) => {
                    client.logout().await;
                    break Outcome::LoggedOut(None);
                }
            },
            ev = events.recv() => {
                let Some(ev) = ev else { break Outcome::Exited };
                match events::apply(engine, ctl, &client, &ev, &mut failures).await {
                    Flow::Continue => {}
                    Flow::Stop(outcome) => break outcome,
                }
            }
            _ = &mut handle => break Outcome::Exited,
        }
    };
    // Closing may take a while; it is no longer this loop's liveness.
    drop(beat);
    instance.cancel();
    if !matches!(outcome, Outcome::Exited) {
        // Flushes buffered receipts and state before closing.
        let _ = tokio::time::timeout(Duration::from_secs(10), handle.shutdown()).await;
    }
    outcome
}

async fn build(
    engine: &Engine,
    ctl: &Arc<SessionCtl>,
    pair_phone: Option<String>,
    events: mpsc::UnboundedSender<Arc<Event>>,
) -> Result<Bot, String> {
    let cfg = &engine.inner.cfg;
    let backend = Arc::new(RedbBackend::new(engine.inner.store.clone(), ctl.id.clone()));
    // Both report why a connection attempt failed to the session.
    let reporter = Reporter::new(ctl, engine.inner.failures.clone());
    let transport = DiagnosingTransport::new(cfg.server_url.clone(), reporter.clone());
    let mut builder = Bot::builder()
        .with_backend_arc(backend)
        .with_transport_factory(transport)
        .with_http_client(HyperHttp::for_whatsapp().reporting_to(reporter))
        .with_runtime(TokioRuntime)
        .with_event_handler(Forward(events))
        .with_inbound_durability_hook(StoreHook::new(engine.clone(), ctl.clone()))
        .skip_history_sync();
    if let Some(v) = cfg.version {
        builder = builder.with_version(v);
    }
    if let Some(phone) = pair_phone {
        builder = builder.with_pair_code(PairCodeOptions {
            phone_number: phone,
            ..Default::default()
        });
    }
    builder.build().await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        for attempt in 1..12 {
            let d = backoff(attempt);
            let full = RESTART_BASE
                .saturating_mul(1 << (attempt - 1))
                .min(RESTART_CAP);
            assert!(
                d <= full && d >= full / 2,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
        assert!(backoff(30) <= RESTART_CAP);
    }
}
