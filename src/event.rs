//! The gateway's own event vocabulary: the WaGo filter names clients
//! subscribe with, and the normalized names carried in payloads.

/// WaGo event-filter names.
pub const WAGO_FILTERS: &[&str] = &[
    "Message",
    "ReadReceipt",
    "Presence",
    "ChatPresence",
    "Call",
    "LoggedOut",
    "All",
];

/// Normalized event names carried in payloads.
pub const NORMALIZED: &[&str] = &[
    "message.received",
    "message.sent",
    "message.failed",
    "message.delivered",
    "message.read",
    "message.played",
    "message.reaction",
    "message.edited",
    "message.revoked",
    "presence.update",
    "chat.presence",
    "call.received",
    "call.missed",
    "group.updated",
    "group.participants.update",
    "session.connected",
    "session.disconnected",
    "session.qr_updated",
    "session.logged_out",
];

/// Whether `name` may appear in an event filter.
pub fn is_filter_name(name: &str) -> bool {
    WAGO_FILTERS.contains(&name) || NORMALIZED.contains(&name)
}
