//! The outbox: the store-and-forward wing of the store.
//!
//! Owns the event log (`eventlog`), the delivery jobs with their
//! recording, scanning and settling (`jobs`), the dead letters
//! (`deadletters`), the subscriptions that decide which events get jobs
//! (`subscriptions`) and the `bell` that wakes delivery after each commit.
//!
//! Producers (the engine, `POST /admin/events`) hand events over through
//! the store's domain methods, which record each event with one job per
//! matching subscription in the same transaction as whatever caused it,
//! commit, and then ring the bell:
//!
//! ```text
//! store.append_events(events)            // log + jobs, commit, ring
//! store.commit_inbound(session, batch, …) // messages + media refs + events, commit, ring
//! store.finish_send(session, id, …)       // the send's record + its event, commit, ring
//! ```
//!
//! Delivery (`webhook`) only reads jobs ([`Store::scan_due`]) and reports
//! outcomes back ([`Store::apply_outcomes`]); it decides backoff and
//! dead-lettering, this wing only records them. Must not know about HTTP.

mod bell;
mod deadletters;
mod eventlog;
mod jobs;
mod subscriptions;

pub use deadletters::{DeadFilter, DeadLetter};
pub use eventlog::{LogStatus, PRUNE_BATCH, Retention};
pub use jobs::{DueJob, JobRecord, LoggedEvent, Outcome, Scan, now_ms};
pub use subscriptions::{Format, SigningSecret, SubStats, Subscription};

pub(in crate::store) use bell::Bell;
pub(in crate::store) use jobs::record_events;
pub(in crate::store) use subscriptions::{delete_session_subscriptions_in, set_main_events_in};
