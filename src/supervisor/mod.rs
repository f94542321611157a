//! The supervisor: task heartbeats and the systemd watchdog.
//!
//! Owns what the process tells its service manager: `READY=1` once the store
//! is open and the server listens, `STATUS=` lines a technician reads in
//! `systemctl status`, `STOPPING=1` on shutdown, and `WATCHDOG=1` **only while
//! every critical task has checked in recently**. A deadlocked accept loop or
//! engine therefore stops the pings, and systemd kills and restarts the
//! daemon; a blind timer would keep a dead gateway "alive".
//!
//! Tasks check in through a [`Heartbeat`] ([`Supervisor::heartbeat`], or a
//! [`Checkin`] for tasks that come and go). Restarting is the owners' own:
//! a session's run loop backs off with jitter and marks the session failed
//! (`engine::session`), the outbox retries a delivery; a stall they cannot
//! cure stops the pings and systemd restarts the daemon. It does not own
//! shutdown: it watches the one [`CancellationToken`] the daemon hands it.
//!
//! Without `NOTIFY_SOCKET` every notification is a no-op; without
//! `WATCHDOG_USEC` (for this pid) no ping is sent, but stalls still show in the
//! log.

mod heartbeat;
mod notify;

pub use heartbeat::{Criticality, Health, Heartbeat};
pub use notify::{Note, Notifier, SdNotify};

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a task should beat, idle or not.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Default silence after which a task counts as stalled.
pub const DEFAULT_MAX_SILENCE: Duration = Duration::from_secs(10);
/// How often health is checked when systemd asked for no watchdog.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(5);
/// Fastest check/ping period, however short `WatchdogSec=` is.
const MIN_PERIOD: Duration = Duration::from_millis(20);

/// The supervisor handle; clones share one state.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    registry: heartbeat::Registry,
    notifier: Box<dyn Notifier>,
    /// The watchdog period systemd asked for, if any.
    watchdog: Option<Duration>,
    shutdown: CancellationToken,
    /// First words of STATUS= ("Starting: …", "Serving on …").
    headline: Mutex<String>,
}

impl Supervisor {
    /// A supervisor talking to systemd (if it is there), watchdog period
    /// from `WATCHDOG_USEC`/`WATCHDOG_PID`.
    pub fn new(shutdown: CancellationToken) -> Supervisor {
        Self::with_notifier(
            shutdown,
            Box::new(SdNotify::default()),
            sd_notify::watchdog_enabled(),
        )
    }

    /// A supervisor with its own notifier and watchdog period (tests).
    pub fn with_notifier(
        shutdown: CancellationToken,
        notifier: Box<dyn Notifier>,
        watchdog: Option<Duration>,
    ) -> Supervisor {
        Supervisor {
            inner: Arc::new(Inner {
                registry: heartbeat::Registry::new(),
                notifier,
                watchdog,
                shutdown,
                headline: Mutex::new("Starting".into()),
            }),
        }
    }

    /// Registers a task that will check in itself; it counts as fresh now.
    pub fn heartbeat(
        &self,
        name: &str,
        criticality: Criticality,
        max_silence: Duration,
    ) -> Heartbeat {
        self.inner.registry.register(name, criticality, max_silence)
    }

    /// A handle that registers heartbeats for tasks started later (each
    /// session's engine loop, each webhook worker).
    pub fn checkin(&self) -> Checkin {
        Checkin(Some(self.clone()))
    }

    /// The shutdown token the supervisor watches.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Sets the STATUS= headline and sends it now.
    pub fn status(&self, headline: &str) {
        self.set_headline(headline);
        let line = self.inner.registry.assess().status_line(headline);
        self.inner.notifier.notify(&[Note::Status(line)]);
    }

    /// `READY=1` with a headline such as "Serving on 0.0.0.0:1337".
    pub fn ready(&self, headline: &str) {
        self.set_headline(headline);
        let line = self.inner.registry.assess().status_line(headline);
        self.inner
            .notifier
            .notify(&[Note::Ready, Note::Status(line)]);
    }

    fn set_headline(&self, headline: &str) {
        *self
            .inner
            .headline
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = headline.into();
    }

    /// Health of every registered task now.
    pub fn health(&self) -> Health {
        self.inner.registry.assess()
    }

    /// Starts the watchdog loop; it stops on shutdown or when the guard drops.
    pub fn spawn_watchdog(&self) -> WatchdogGuard {
        WatchdogGuard(tokio::spawn(tracing::Instrument::instrument(
            self.clone().run(),
            tracing::info_span!("watchdog"),
        )))
    }

    /// The watchdog loop: every period (half of `WatchdogSec=`, as systemd
    /// advises) assess the tasks, send STATUS= when it changed and
    /// `WATCHDOG=1` only when no critical task is stalled.
    pub async fn run(self) {
        let period = match self.inner.watchdog {
            Some(w) => (w / 2).max(MIN_PERIOD),
            None => CHECK_INTERVAL,
        };
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_status = String::new();
        let mut was_stalled = false;
        loop {
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let health = self.inner.registry.assess();
            let headline = self
                .inner
                .headline
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let status = health.status_line(&headline);
            let stalled = !health.ping_allowed();
            if stalled != was_stalled {
                if stalled {
                    tracing::error!(status = %status, "critical task stalled");
                } else {
                    tracing::info!("every critical task checks in again");
                }
                was_stalled = stalled;
            }
            let mut notes = Vec::new();
            if status != last_status {
                notes.push(Note::Status(status.clone()));
                last_status = status;
            }
            if self.inner.watchdog.is_some() && !stalled {
                notes.push(Note::Watchdog);
            }
            if !notes.is_empty() {
                self.inner.notifier.notify(&notes);
            }
        }
        self.inner
            .notifier
            .notify(&[Note::Stopping, Note::Status("Stopping".into())]);
    }
}

/// Registers heartbeats for tasks that come and go; without a supervisor
/// (benchmarks, library use) the heartbeats are watched by nobody.
#[derive(Clone, Default)]
pub struct Checkin(Option<Supervisor>);

impl Checkin {
    /// Heartbeats nobody watches.
    pub fn unwatched() -> Checkin {
        Checkin(None)
    }

    /// Registers a task (see [`Supervisor::heartbeat`]).
    pub fn register(
        &self,
        name: &str,
        criticality: Criticality,
        max_silence: Duration,
    ) -> Heartbeat {
        match &self.0 {
            Some(s) => s.heartbeat(name, criticality, max_silence),
            None => Heartbeat::detached(name),
        }
    }
}

impl std::fmt::Debug for Checkin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Checkin(supervised)"
        } else {
            "Checkin(unwatched)"
        })
    }
}

/// Aborts the watchdog loop when dropped (e.g. on a start-up error).
#[derive(Debug)]
pub struct WatchdogGuard(tokio::task::JoinHandle<()>);

impl Drop for WatchdogGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests;
