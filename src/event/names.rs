//! Other gateways' event names, as filter names: seed 003 (WA Gateway) and
//! seed 001 (Wawp). Each name selects the gateway's own events it stands
//! for; the WaGo and normalized names keep their meaning unchanged.

/// Seed 003 (WA Gateway) event names.
pub const WA_GATEWAY: &[&str] = &[
    "message.received",
    "message.sent",
    "message.failed",
    "message.delivered",
    "message.read",
    "message.status_updated",
    "recipient.opted_out",
    "instance.connected",
    "instance.disconnected",
    "instance.connection_updated",
    "instance.qr_updated",
    "conversation.updated",
    "call.received",
    "call.missed",
    "group.message_received",
    "group.updated",
];

/// Seed 001 (Wawp) event names ("Common Event Types").
pub const WAWP: &[&str] = &[
    "message",
    "message.reaction",
    "message.revoked",
    "message.ack",
    "group.participants.update",
    "presence.update",
    "call.received",
    "status.update",
];

fn is_group(chat: Option<&str>) -> bool {
    chat.is_some_and(|c| c.ends_with("@g.us"))
}

/// The seed-003 names of the normalized event `normalized` in `chat`,
/// most specific first.
pub fn wa_gateway_names(normalized: &str, chat: Option<&str>) -> &'static [&'static str] {
    match normalized {
        "message.received" if is_group(chat) => &["group.message_received"],
        "message.received" => &["message.received"],
        "message.sent" => &["message.sent", "message.status_updated"],
        "message.failed" => &["message.failed", "message.status_updated"],
        "message.delivered" => &["message.delivered", "message.status_updated"],
        "message.read" => &["message.read", "message.status_updated"],
        "message.played" => &["message.status_updated"],
        "message.reaction" | "message.edited" | "message.revoked" => &["conversation.updated"],
        "recipient.opted_out" => &["recipient.opted_out"],
        "session.connected" => &["instance.connected", "instance.connection_updated"],
        "session.disconnected" | "session.logged_out" => {
            &["instance.disconnected", "instance.connection_updated"]
        }
        "session.qr_updated" => &["instance.qr_updated"],
        "call.received" => &["call.received"],
        "call.missed" => &["call.missed"],
        "group.updated" | "group.participants.update" => &["group.updated"],
        _ => &[],
    }
}

/// The seed-001 (Wawp) names of the normalized event `normalized` in `chat`.
pub fn wawp_names(normalized: &str, chat: Option<&str>) -> &'static [&'static str] {
    match normalized {
        "message.received" if chat == Some("status@broadcast") => &["status.update"],
        "message.received" => &["message"],
        "message.delivered" | "message.read" | "message.played" => &["message.ack"],
        "message.reaction" => &["message.reaction"],
        "message.revoked" => &["message.revoked"],
        "group.participants.update" => &["group.participants.update"],
        "presence.update" => &["presence.update"],
        "call.received" => &["call.received"],
        _ => &[],
    }
}

/// Whether `name` is a seed name outside the WaGo and normalized ones.
pub fn is_seed_name(name: &str) -> bool {
    WA_GATEWAY.contains(&name) || WAWP.contains(&name)
}

/// Whether the seed name `name` (one that is neither a WaGo nor a
/// normalized name) selects `normalized` in `chat`.
pub fn seed_name_selects(name: &str, normalized: &str, chat: Option<&str>) -> bool {
    wa_gateway_names(normalized, chat).contains(&name)
        || wawp_names(normalized, chat).contains(&name)
}
