//! Running supervised tasks: restart with backoff, give up on critical ones.
//!
//! A task is a factory called once per run with a fresh [`Heartbeat`]. When a
//! run fails (returns `Err` or panics) while the gateway is not shutting down,
//! it is run again after a delay that doubles up to [`RESTART_BACKOFF_MAX`]
//! and resets after a long healthy run. A critical task that fails more than
//! [`CRITICAL_MAX_RESTARTS`] times in a row makes the process stop with an
//! error ([`Supervisor::fail`]), so systemd restarts the whole daemon. A run
//! that returns `Ok(())` is finished and not restarted.
//!
//! In the release build `panic = "abort"`: a panic ends the process at once
//! and systemd (`Restart=on-failure`) restarts it; catching panics here only
//! matters in debug builds and tests.

use super::{Criticality, DEFAULT_MAX_SILENCE, Heartbeat, Supervisor};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// First restart delay.
pub const RESTART_BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// Longest restart delay.
pub const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A run at least this long resets the backoff and the failure count.
const RESTART_RESET_AFTER: Duration = Duration::from_secs(120);
/// Consecutive failures a critical task may have before the process gives up.
pub const CRITICAL_MAX_RESTARTS: u32 = 3;

impl Supervisor {
    /// Runs `make(heartbeat)` as a supervised task named `name`.
    ///
    /// The task must beat at least every [`DEFAULT_MAX_SILENCE`] and should
    /// end when [`Supervisor::shutdown`] is cancelled.
    pub fn spawn<F, Fut>(&self, name: &str, criticality: Criticality, mut make: F)
    where
        F: FnMut(Heartbeat) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let sup = self.clone();
        let name = name.to_string();
        let span = tracing::info_span!("task", name = %name);
        self.inner.tasks.spawn(tracing::Instrument::instrument(
            async move {
                let shutdown = sup.shutdown().clone();
                let mut backoff = RESTART_BACKOFF_FIRST;
                let mut failures = 0u32;
                loop {
                    let hb = sup.heartbeat(&name, criticality, DEFAULT_MAX_SILENCE);
                    let started = Instant::now();
                    let outcome =
                        tokio::spawn(tracing::Instrument::in_current_span(make(hb))).await;
                    if shutdown.is_cancelled() {
                        return;
                    }
                    let reason = match outcome {
                        Ok(Ok(())) => return,
                        Ok(Err(e)) => e,
                        Err(e) if e.is_panic() => "panicked".to_string(),
                        Err(e) => e.to_string(),
                    };
                    if started.elapsed() >= RESTART_RESET_AFTER {
                        backoff = RESTART_BACKOFF_FIRST;
                        failures = 0;
                    }
                    failures += 1;
                    if criticality == Criticality::Critical && failures > CRITICAL_MAX_RESTARTS {
                        sup.fail(format!(
                            "task {name} failed {failures} times in a row, last: {reason}"
                        ));
                        return;
                    }
                    tracing::warn!(error = %reason, retry_in = ?backoff, failures, "task failed; restarting");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
                }
            },
            span,
        ));
    }
}
