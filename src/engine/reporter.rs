//! Where a session's connection failures land as they happen: the session's
//! `last_error` (the API, the display), the failure counts (`/metrics`) and
//! one log line per failed attempt.
//!
//! The library retries a failed connect by itself and tells nobody why it
//! failed (it logs and sleeps), so the pieces it calls on each attempt (the
//! transport factory, the HTTP client's version fetch) report here. One
//! attempt opens the socket and fetches the version at the same time; when
//! both fail, the socket's reason is the one shown (it names the network
//! problem, the version fetch only repeats it).

use super::SessionCtl;
use super::diagnosis::{Diagnosis, FailureCode, FailureCounts};
use super::status::State;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// One session's failure sink, shared by its transport and HTTP client.
#[derive(Debug)]
pub(crate) struct Reporter {
    ctl: Weak<SessionCtl>,
    counts: Arc<FailureCounts>,
    /// Connection attempts begun (transport factory calls).
    attempt: AtomicU64,
    /// The last attempt whose socket failed.
    socket_failed: AtomicU64,
}

impl Reporter {
    /// A sink for `ctl`'s failures.
    pub(crate) fn new(ctl: &Arc<SessionCtl>, counts: Arc<FailureCounts>) -> Arc<Reporter> {
        Arc::new(Reporter {
            ctl: Arc::downgrade(ctl),
            counts,
            attempt: AtomicU64::new(0),
            socket_failed: AtomicU64::new(0),
        })
    }

    /// A connection attempt begins; returns its number.
    pub(crate) fn begin_attempt(&self) -> u64 {
        self.attempt.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The socket of attempt `attempt` could not be opened.
    pub(crate) fn socket_failed(&self, attempt: u64, d: Diagnosis) {
        self.socket_failed.store(attempt, Ordering::SeqCst);
        self.land(attempt, d);
    }

    /// The socket opened: a socket failure shown so far is stale.
    pub(crate) fn socket_opened(&self) {
        self.clear_if(FailureCode::is_socket);
    }

    /// The version was fetched: a version failure shown so far is stale.
    pub(crate) fn version_fetched(&self) {
        self.clear_if(|c| c == FailureCode::VersionFetchFailed);
    }

    fn clear_if(&self, stale: impl Fn(FailureCode) -> bool) {
        if let Some(ctl) = self.ctl.upgrade() {
            ctl.update(|s| {
                if s.last_error.as_ref().is_some_and(|d| stale(d.code)) {
                    s.last_error = None;
                }
            });
        }
    }

    /// The version fetch of the current attempt failed.
    pub(crate) fn version_failed(&self, d: Diagnosis) {
        let attempt = self.attempt.load(Ordering::SeqCst);
        if self.socket_failed.load(Ordering::SeqCst) == attempt && attempt > 0 {
            // The socket's reason is already shown and says more.
            tracing::debug!(code = %d.code, "version fetch failed too: {}", d.message);
            return;
        }
        self.land(attempt, d);
    }

    fn land(&self, attempt: u64, d: Diagnosis) {
        let Some(ctl) = self.ctl.upgrade() else {
            return;
        };
        ctl.diagnose(&self.counts, d, Some(attempt));
    }
}

impl SessionCtl {
    /// Records why the session is not online: shown as its `last_error`
    /// (unless it is online by now), counted, and logged in one line.
    pub(crate) fn diagnose(&self, counts: &FailureCounts, d: Diagnosis, attempt: Option<u64>) {
        counts.add(&self.id, d.code);
        match attempt {
            Some(n) => tracing::warn!(
                session = %self.id,
                code = %d.code,
                attempt = n,
                "cannot reach WhatsApp: {}",
                d.message
            ),
            None => tracing::warn!(session = %self.id, code = %d.code, "{}", d.message),
        }
        self.update(|s| {
            if s.state != State::Connected {
                s.last_error = Some(d);
            }
        });
    }
}
