//! Every redb table of the gateway, in one place.
//!
//! Names say what maps to what. Values that are records are JSON bytes so a
//! record can grow a field without a schema step; keys are fixed-shape so
//! range scans stay cheap. Adding a table means adding it to the schema step
//! that introduces it (see `schema.rs`).

use redb::TableDefinition;

/// `"schema_version"` → the last upgrade step applied. Other keys: small settings.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Setting name → bytes (`"admin_token_sha256"` → 32-byte SHA-256 of the admin token).
pub const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");

/// Session id → JSON `SessionRecord`.
pub const SESSION_RECORD: TableDefinition<&str, &[u8]> = TableDefinition::new("session_record");

/// SHA-256 of a session token → session id. Tokens themselves are never stored.
pub const TOKENHASH_SESSION: TableDefinition<&[u8], &str> =
    TableDefinition::new("tokenhash_session");

// ---- WhatsApp key store (engine::backend) ----------------------------------
// Keyed per session: every key starts with the session id and a 0x00 byte.

// ---- Webhooks: event log, outbox, subscriptions (store::outbox, store::subscriptions) ----
// The log and the jobs that deliver it are written in one transaction, so an
// event is never recorded without its jobs, nor a job without its event.

/// Global event sequence number → JSON `LoggedEvent`. Sequence numbers only grow
/// (the next one is kept in `META["event_seq"]`, so pruning never reuses one).
pub const EVENT_LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("event_log");

/// Event sequence number → number of jobs (pending or dead) that still need it.
/// An event absent here is delivered everywhere and may be pruned.
pub const EVENT_REFS: TableDefinition<u64, u32> = TableDefinition::new("event_refs");

/// Subscription id → JSON `Subscription`.
pub const SUB_RECORD: TableDefinition<u64, &[u8]> = TableDefinition::new("sub_record");

/// Subscription id → JSON `SubStats` (pending, delivered, retried, dead counters).
pub const SUB_STATS: TableDefinition<u64, &[u8]> = TableDefinition::new("sub_stats");

/// (subscription id, event seq) → JSON `JobRecord`: jobs still to deliver,
/// scanned in seq order per subscription.
pub const PENDING_JOB: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("pending_job");

/// (subscription id, event seq) → JSON `JobRecord`: jobs that gave up, kept until
/// replayed or discarded.
pub const DEAD_JOB: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("dead_job");
