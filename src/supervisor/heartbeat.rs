//! Heartbeats: how a task proves it is still making progress.
//!
//! Owns the registry of check-in slots and the pure decision "is every
//! critical task fresh?" ([`assess`]). Knows nothing of systemd: the watchdog
//! loop in [`super`] turns a [`Health`] into notify lines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// Whether a task's silence should cost the watchdog ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criticality {
    /// The gateway is useless without it (the HTTP accept loop, an engine
    /// loop): when it goes silent the watchdog ping is withheld.
    Critical,
    /// Nice to have (a display refresher): its silence is only reported.
    Optional,
}

/// One registered task's check-in record.
#[derive(Debug)]
struct Slot {
    name: String,
    criticality: Criticality,
    max_silence: Duration,
    /// Zero point of `last_ms`: the registry's creation.
    base: Instant,
    /// Milliseconds after `base` of the last beat.
    last_ms: AtomicU64,
}

/// A task's check-in handle: call [`Heartbeat::beat`] at least every
/// `max_silence`, including when idle (a `select!` arm on a tick). Dropping
/// every clone unregisters the task.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    slot: Arc<Slot>,
}

impl Heartbeat {
    /// Records that the task is alive now.
    pub fn beat(&self) {
        let ms = millis(self.slot.base.elapsed());
        self.slot.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// The name the task was registered under.
    pub fn name(&self) -> &str {
        &self.slot.name
    }

    /// A heartbeat watched by nobody, for running a task without a supervisor.
    pub fn detached(name: &str) -> Heartbeat {
        Heartbeat {
            slot: Arc::new(Slot {
                name: name.into(),
                criticality: Criticality::Optional,
                max_silence: Duration::MAX,
                base: Instant::now(),
                last_ms: AtomicU64::new(0),
            }),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Every live heartbeat; holds them weakly so a finished task disappears.
#[derive(Debug)]
pub(crate) struct Registry {
    base: Instant,
    slots: Mutex<Vec<Weak<Slot>>>,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            base: Instant::now(),
            slots: Mutex::new(Vec::new()),
        }
    }

    /// Registers a task; it counts as having beaten just now.
    pub(crate) fn register(
        &self,
        name: &str,
        criticality: Criticality,
        max_silence: Duration,
    ) -> Heartbeat {
        let slot = Arc::new(Slot {
            name: name.into(),
            criticality,
            max_silence,
            base: self.base,
            last_ms: AtomicU64::new(millis(self.base.elapsed())),
        });
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|w| w.strong_count() > 0);
        slots.push(Arc::downgrade(&slot));
        Heartbeat { slot }
    }

    /// Every live task's state now.
    pub(crate) fn assess(&self) -> Health {
        let now = millis(self.base.elapsed());
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|w| w.strong_count() > 0);
        let views = slots.iter().filter_map(Weak::upgrade).map(|s| TaskView {
            name: s.name.clone(),
            criticality: s.criticality,
            max_silence: s.max_silence,
            silent_for: Duration::from_millis(
                now.saturating_sub(s.last_ms.load(Ordering::Relaxed)),
            ),
        });
        assess(views)
    }
}

/// One task as the watchdog sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskView {
    pub(crate) name: String,
    pub(crate) criticality: Criticality,
    pub(crate) max_silence: Duration,
    pub(crate) silent_for: Duration,
}

/// The verdict over every task at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Tasks checking in.
    pub tasks: usize,
    /// Critical tasks silent for longer than allowed, with their silence.
    pub critical_stalled: Vec<(String, Duration)>,
    /// Optional tasks silent for longer than allowed.
    pub optional_stalled: Vec<(String, Duration)>,
}

impl Health {
    /// Whether the watchdog may be pinged: no critical task is stalled.
    pub fn ping_allowed(&self) -> bool {
        self.critical_stalled.is_empty()
    }

    /// The STATUS= text a technician reads in `systemctl status`, after `headline`.
    pub fn status_line(&self, headline: &str) -> String {
        let list = |v: &[(String, Duration)]| {
            v.iter()
                .map(|(n, d)| format!("{n} silent {}s", d.as_secs()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.critical_stalled.is_empty() {
            return format!(
                "STALLED: critical task {}; watchdog ping withheld so systemd restarts wago",
                list(&self.critical_stalled)
            );
        }
        let mut s = format!(
            "{headline}; {} task{} checking in",
            self.tasks,
            if self.tasks == 1 { "" } else { "s" }
        );
        if !self.optional_stalled.is_empty() {
            s.push_str(&format!("; degraded: {}", list(&self.optional_stalled)));
        }
        s
    }
}

/// The decision: which tasks are over their allowed silence.
pub(crate) fn assess(views: impl IntoIterator<Item = TaskView>) -> Health {
    let mut h = Health::default();
    for v in views {
        h.tasks += 1;
        if v.silent_for <= v.max_silence {
            continue;
        }
        let entry = (v.name, v.silent_for);
        match v.criticality {
            Criticality::Critical => h.critical_stalled.push(entry),
            Criticality::Optional => h.optional_stalled.push(entry),
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, c: Criticality, silent: u64) -> TaskView {
        TaskView {
            name: name.into(),
            criticality: c,
            max_silence: Duration::from_secs(10),
            silent_for: Duration::from_secs(silent),
        }
    }

    #[test]
    fn only_a_stalled_critical_task_withholds_the_ping() {
        use Criticality::*;
        // (tasks, ping allowed, status contains)
        let cases: &[(&[TaskView], bool, &str)] = &[
            (&[], true, "0 tasks checking in"),
            (
                &[view("http-accept", Critical, 3)],
                true,
                "1 task checking in",
            ),
            (&[view("http-accept", Critical, 10)], true, "Serving"),
            (
                &[view("http-accept", Critical, 11)],
                false,
                "STALLED: critical task http-accept silent 11s",
            ),
            (
                &[
                    view("http-accept", Critical, 1),
                    view("display", Optional, 30),
                ],
                true,
                "degraded: display silent 30s",
            ),
            (
                &[
                    view("display", Optional, 1),
                    view("engine:s1", Critical, 60),
                ],
                false,
                "engine:s1 silent 60s; watchdog ping withheld",
            ),
        ];
        for (views, ping, text) in cases {
            let h = assess(views.iter().cloned());
            assert_eq!(h.ping_allowed(), *ping, "{views:?}");
            let line = h.status_line("Serving on 127.0.0.1:1337");
            assert!(line.contains(text), "{line:?} lacks {text:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn beats_keep_a_task_fresh_and_dropping_it_unregisters() {
        let reg = Registry::new();
        let hb = reg.register("t", Criticality::Critical, Duration::from_secs(5));
        tokio::time::sleep(Duration::from_secs(4)).await;
        hb.beat();
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(reg.assess().ping_allowed(), "beaten 4 s ago");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let h = reg.assess();
        assert_eq!(
            h.critical_stalled,
            vec![("t".into(), Duration::from_secs(6))]
        );
        let clone = hb.clone();
        drop(hb);
        assert_eq!(reg.assess().tasks, 1, "a clone keeps it registered");
        drop(clone);
        assert_eq!(reg.assess(), Health::default());
    }
}
