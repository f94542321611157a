//! Every redb table of the gateway, in one place.
//!
//! Names say what maps to what. Values that are records are JSON bytes so a
//! record can grow a field without a schema step; keys are fixed-shape so
//! range scans stay cheap. Adding a table means adding it to the schema step
//! that introduces it (see `schema.rs`).

use redb::TableDefinition;

/// `"schema_version"` → the last upgrade step applied. Other keys: small
/// settings and counters (`msg_seq`, the guard's `guard_day\0…` / `guard_month\0…`).
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
//
// Every table below maps `session id ‖ 0x00 ‖ natural key` → value bytes.
// Composite natural keys length-prefix every component but the last
// (`u32` big-endian length, then the bytes), so a range scan over
// `session ‖ 0x00 ‖ len ‖ first` finds exactly the rows of that first
// component. Value encodings are documented in `engine/backend/codec.rs`:
// the library's own opaque records are stored as-is, wacore's serde types as
// JSON, and the backend's own small rows in fixed big-endian layouts.

/// `session ‖ 0x00` → JSON `wacore::store::Device` (the account's own keys and state).
pub const WA_DEVICE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_device");

/// `session ‖ 0x00 ‖ name` → small per-session values (latest sync key id, counters).
pub const WA_META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_meta");

/// `session ‖ 0x00 ‖ signal address` → 32-byte remote identity key.
pub const WA_IDENTITY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_identity");

/// `session ‖ 0x00 ‖ signal address` → serialized Signal session record.
pub const WA_SESSION: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_session");

/// `session ‖ 0x00 ‖ prekey id (u32 BE)` → uploaded flag byte ‖ prekey record.
pub const WA_PREKEY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_prekey");

/// `session ‖ 0x00 ‖ signed prekey id (u32 BE)` → signed prekey record.
pub const WA_SIGNED_PREKEY: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("wa_signed_prekey");

/// `session ‖ 0x00 ‖ sender key address` → sender key record (groups).
pub const WA_SENDER_KEY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_sender_key");

/// `session ‖ 0x00 ‖ key id` → JSON `AppStateSyncKey`.
pub const WA_SYNC_KEY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_sync_key");

/// `session ‖ 0x00 ‖ collection name` → JSON `HashState` (app-state version).
pub const WA_APPSTATE_VERSION: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("wa_appstate_version");

/// `session ‖ 0x00 ‖ lp(collection) ‖ index MAC` → value MAC.
pub const WA_MUTATION_MAC: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_mutation_mac");

/// `session ‖ 0x00 ‖ lp(group jid) ‖ device jid` → 1 byte: device has our sender key.
pub const WA_SENDER_KEY_DEVICE: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("wa_sender_key_device");

/// `session ‖ 0x00 ‖ lid` → JSON `LidPnMappingEntry`.
pub const WA_LID_PN: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_lid_pn");

/// `session ‖ 0x00 ‖ lp(phone) ‖ lid` → updated_at (i64 BE) ‖ write sequence (u64 BE).
/// Reverse index of [`WA_LID_PN`]: the newest LID of a phone.
pub const WA_PN_LID: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_pn_lid");

/// `session ‖ 0x00 ‖ lp(address) ‖ message id` → base key (retry collision detection).
pub const WA_BASE_KEY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_base_key");

/// `session ‖ 0x00 ‖ user` → JSON `DeviceListRecord`.
pub const WA_DEVICE_LIST: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_device_list");

/// `session ‖ 0x00 ‖ group jid` → opaque serialized group metadata.
pub const WA_GROUP_METADATA: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("wa_group_metadata");

/// `session ‖ 0x00 ‖ jid` → JSON `TcTokenEntry` (trusted-contact privacy token).
pub const WA_TC_TOKEN: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_tc_token");

/// `session ‖ 0x00 ‖ lp(chat) ‖ message id` → stored_at (i64 BE) ‖ message payload.
pub const WA_SENT_MESSAGE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_sent_message");

/// `session ‖ 0x00 ‖ lp(chat) ‖ lp(sender) ‖ stanza id` → stored_at (i64 BE) ‖ message.
pub const WA_PENDING_INBOUND: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("wa_pending_inbound");

/// `session ‖ 0x00 ‖ lp(chat) ‖ lp(sender) ‖ message id` →
/// secret (32 bytes) ‖ expires_at (i64 BE) ‖ message_ts (i64 BE).
pub const WA_MSG_SECRET: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wa_msg_secret");

/// Every WhatsApp key-store table, for schema creation and per-session wipes.
pub const WA_TABLES: &[TableDefinition<&[u8], &[u8]>] = &[
    WA_DEVICE,
    WA_META,
    WA_IDENTITY,
    WA_SESSION,
    WA_PREKEY,
    WA_SIGNED_PREKEY,
    WA_SENDER_KEY,
    WA_SYNC_KEY,
    WA_APPSTATE_VERSION,
    WA_MUTATION_MAC,
    WA_SENDER_KEY_DEVICE,
    WA_LID_PN,
    WA_PN_LID,
    WA_BASE_KEY,
    WA_DEVICE_LIST,
    WA_GROUP_METADATA,
    WA_TC_TOKEN,
    WA_SENT_MESSAGE,
    WA_PENDING_INBOUND,
    WA_MSG_SECRET,
];

// ---- Messages and the send queue (store::messages) -------------------------
// Keys start with the session id and a 0x00 byte; sequence numbers are 8-byte
// big-endian so range scans run in log order.

/// session ‖ 0 ‖ message id → JSON `MessageRecord`.
pub const MSG_RECORD: TableDefinition<&[u8], &[u8]> = TableDefinition::new("msg_record");

/// session ‖ 0 ‖ seq → message id: every message in the order the box saw it.
pub const MSG_LOG: TableDefinition<&[u8], &str> = TableDefinition::new("msg_log");

/// session ‖ 0 ‖ chat ‖ 0 ‖ seq → message id: the same log, per chat.
pub const MSG_CHAT_LOG: TableDefinition<&[u8], &str> = TableDefinition::new("msg_chat_log");

/// session ‖ 0 ‖ client id → message id: makes a send with the same `Id` idempotent.
pub const MSG_CLIENT_ID: TableDefinition<&[u8], &str> = TableDefinition::new("msg_client_id");

/// session ‖ 0 ‖ seq → message id: accepted sends WhatsApp has not acknowledged yet (queued or in flight), in order.
pub const SEND_QUEUE: TableDefinition<&[u8], &str> = TableDefinition::new("send_queue");

/// session ‖ 0 ‖ message id → the media bytes of a queued send, deleted when
/// the send is finished (sent or failed).
pub const OUTBOUND_MEDIA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("outbound_media");

/// session ‖ 0 ‖ message id → a received media message's download reference
/// (`kind` ‖ 0 ‖ the encoded WhatsApp message), written with the message in
/// the durability hook so a restart can still fetch it (`store::media`).
pub const MEDIA_REF: TableDefinition<&[u8], &[u8]> = TableDefinition::new("media_ref");

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

// ---- Responsible messaging (store::guard) ---------------------------------

// A session's fair-use counters are `meta` rows: `guard_day\0<session>` and
// `guard_month\0<session>` → `period << 40 | count` (see `store::guard`).

/// session ‖ 0 ‖ message id → JSON decision the guard took on that accepted
/// send (its purpose and the counters it used), written with the message.
pub const SEND_DECISION: TableDefinition<&[u8], &[u8]> = TableDefinition::new("send_decision");

/// session ‖ 0 ‖ phone digits → JSON `Suppression`: recipients who opted out
/// or whom the operator blocked.
pub const SUPPRESSED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("suppressed");

/// SHA-256 of a deleted session's token → when it was revoked (Unix ms), so
/// `/api/send-message` can tell a revoked key from one it never knew.
pub const REVOKED_TOKENHASH: TableDefinition<&[u8], i64> =
    TableDefinition::new("revoked_tokenhash");

/// session ‖ 0 ‖ per-session seq (u64 BE) → JSON refusal: the policy log,
/// the newest `guard::MAX_POLICY_LOG` refusals of each session.
pub const POLICY_LOG: TableDefinition<&[u8], &[u8]> = TableDefinition::new("policy_log");
