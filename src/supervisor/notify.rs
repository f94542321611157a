//! The service-manager side: what the supervisor tells systemd.
//!
//! Owns the [`Note`] type and the [`Notifier`] seam. [`SdNotify`] sends through
//! the pure-Rust `sd-notify` crate and does nothing when `NOTIFY_SOCKET` is
//! unset (a shell, a test, a non-systemd init). Tests record notes instead.

use std::sync::atomic::{AtomicBool, Ordering};

/// One line of the sd_notify protocol the gateway uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// `READY=1`: the store is open and the server listens.
    Ready,
    /// `STATUS=…`: one line for `systemctl status`.
    Status(String),
    /// `WATCHDOG=1`: every critical task checked in recently.
    Watchdog,
    /// `STOPPING=1`: shutdown has begun.
    Stopping,
}

/// Where notes go.
pub trait Notifier: Send + Sync + 'static {
    /// Sends `notes` as one message; failures are the notifier's to report.
    fn notify(&self, notes: &[Note]);
}

/// The real notifier: `sd_notify::notify`, a no-op without `NOTIFY_SOCKET`.
#[derive(Debug, Default)]
pub struct SdNotify {
    /// A send failure is logged once, not at every ping.
    warned: AtomicBool,
}

impl Notifier for SdNotify {
    fn notify(&self, notes: &[Note]) {
        use sd_notify::NotifyState as S;
        let states: Vec<S<'_>> = notes
            .iter()
            .map(|n| match n {
                Note::Ready => S::Ready,
                Note::Status(s) => S::Status(s),
                Note::Watchdog => S::Watchdog,
                Note::Stopping => S::Stopping,
            })
            .collect();
        if let Err(e) = sd_notify::notify(&states)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(error = %e, "cannot notify the service manager");
        }
    }
}

/// Records notes with the (tokio) time they were sent; for tests.
#[cfg(test)]
#[derive(Debug, Default, Clone)]
pub(crate) struct Recorder {
    pub(crate) notes: std::sync::Arc<std::sync::Mutex<Vec<(tokio::time::Instant, Note)>>>,
}

#[cfg(test)]
impl Recorder {
    /// Everything recorded so far.
    pub(crate) fn take(&self) -> Vec<(tokio::time::Instant, Note)> {
        self.notes.lock().expect("recorder lock").clone()
    }
}

#[cfg(test)]
impl Notifier for Recorder {
    fn notify(&self, notes: &[Note]) {
        let now = tokio::time::Instant::now();
        let mut v = self.notes.lock().expect("recorder lock");
        v.extend(notes.iter().map(|n| (now, n.clone())));
    }
}
