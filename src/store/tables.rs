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
