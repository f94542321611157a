//! The gateway's own event vocabulary: the WaGo filter names clients
//! subscribe with, and the normalized names carried in payloads; the seed
//! gateways' names ([`names`]) are accepted as filter names too.

pub mod names;

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
    "recipient.opted_out",
];

/// Now, Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Whether `name` may appear in an event filter.
pub fn is_filter_name(name: &str) -> bool {
    WAGO_FILTERS.contains(&name) || NORMALIZED.contains(&name) || names::is_seed_name(name)
}

/// The first name of an event filter that may not appear in one: the one
/// check behind every route and config key that takes a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFilter {
    /// Its position in the filter (for `Events[i]`-style field names).
    pub index: usize,
    /// The name as given.
    pub name: String,
}

impl std::fmt::Display for UnknownFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown event `{}`", self.name)
    }
}

impl UnknownFilter {
    /// The message with the names that are allowed.
    pub fn with_hint(&self) -> String {
        format!(
            "{self}; use {}, a normalized name or a WA Gateway or Wawp event name",
            WAGO_FILTERS.join(", ")
        )
    }
}

/// Checks every name of an event filter (see [`is_filter_name`]).
pub fn check_filter(filter: &[String]) -> Result<(), UnknownFilter> {
    match filter.iter().position(|e| !is_filter_name(e)) {
        Some(index) => Err(UnknownFilter {
            index,
            name: filter[index].clone(),
        }),
        None => Ok(()),
    }
}

/// The WaGo filter name that covers a normalized event name.
pub fn wago_filter_of(normalized: &str) -> Option<&'static str> {
    Some(match normalized {
        n if n.starts_with("message.")
            && matches!(n, "message.read" | "message.delivered" | "message.played") =>
        {
            "ReadReceipt"
        }
        n if n.starts_with("message.") => "Message",
        n if n.starts_with("group.") => "Message",
        "presence.update" => "Presence",
        "chat.presence" => "ChatPresence",
        "call.received" | "call.missed" => "Call",
        "session.logged_out" => "LoggedOut",
        _ => return None,
    })
}

/// Whether an event filter (WaGo and/or normalized names) selects `normalized`.
/// An empty filter selects everything.
pub fn filter_matches(filter: &[String], normalized: &str) -> bool {
    filter.is_empty()
        || filter.iter().any(|f| {
            f == "All" || f == normalized || wago_filter_of(normalized).is_some_and(|w| f == w)
        })
}

/// Whether `filter` selects `normalized` in `chat`: [`filter_matches`], and
/// a seed name (one that is neither WaGo nor normalized) selects the events
/// it stands for (`instance.connected` → `session.connected`, `message` →
/// `message.received`, `group.message_received` → a group's `message.received`).
pub fn filter_selects(filter: &[String], normalized: &str, chat: Option<&str>) -> bool {
    filter_matches(filter, normalized)
        || filter.iter().any(|f| {
            !WAGO_FILTERS.contains(&f.as_str())
                && !NORMALIZED.contains(&f.as_str())
                && names::seed_name_selects(f, normalized, chat)
        })
}

/// The account an event belongs to, as webhook receivers see it (`me`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Me {
    /// The account's JID, e.g. `15551230000@s.whatsapp.net`.
    pub id: String,
    /// The account's push name.
    #[serde(rename = "pushName")]
    pub push_name: String,
}

/// A gateway event: what the engine produces and the outbox delivers.
///
/// The engine builds these from library events; the store gives each a
/// sequence number and a stable id when it records it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// The session (WhatsApp account) it belongs to.
    pub session: String,
    /// Normalized name, one of [`NORMALIZED`].
    pub event: String,
    /// The chat it concerns (full JID), used to keep delivery in order per chat.
    pub chat: Option<String>,
    /// When it happened, Unix milliseconds.
    pub timestamp: i64,
    /// The event's own data.
    pub payload: serde_json::Value,
    /// The account, where known.
    pub me: Option<Me>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: &[(&[&str], &str, bool)] = &[
            (&[], "message.received", true),
            (&["All"], "call.missed", true),
            (&["Message"], "message.received", true),
            (&["Message"], "message.read", false),
            (&["ReadReceipt"], "message.read", true),
            (&["message.read"], "message.read", true),
            (&["message.read"], "message.delivered", false),
            (&["Call"], "call.received", true),
            (&["LoggedOut"], "session.logged_out", true),
            (&["Presence"], "chat.presence", false),
        ];
        for (filter, name, want) in cases {
            assert_eq!(filter_matches(&f(filter), name), *want, "{filter:?} {name}");
        }
        for n in NORMALIZED {
            assert!(is_filter_name(n));
        }
    }

    #[test]
    fn check_filter_names_the_first_unknown_entry_with_its_hint() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(check_filter(&f(&["Message", "message.read"])), Ok(()));
        let u = check_filter(&f(&["Message", "Nope", "Bad"])).expect_err("unknown");
        assert_eq!((u.index, u.name.as_str()), (1, "Nope"));
        assert_eq!(u.to_string(), "unknown event `Nope`");
        assert_eq!(
            u.with_hint(),
            "unknown event `Nope`; use Message, ReadReceipt, Presence, ChatPresence, Call, LoggedOut, All, a normalized name or a WA Gateway or Wawp event name"
        );
    }

    #[test]
    fn seed_names_are_filter_names_and_select_what_they_stand_for() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for n in names::WA_GATEWAY.iter().chain(names::WAWP) {
            assert!(is_filter_name(n), "{n}");
        }
        let dm = Some("1@s.whatsapp.net");
        let grp = Some("1-2@g.us");
        let cases: &[(&[&str], &str, Option<&str>, bool)] = &[
            (&["instance.connected"], "session.connected", None, true),
            (&["instance.connected"], "session.disconnected", None, false),
            (
                &["instance.connection_updated"],
                "session.logged_out",
                None,
                true,
            ),
            (&["instance.qr_updated"], "session.qr_updated", None, true),
            (&["message.status_updated"], "message.read", dm, true),
            (&["message.status_updated"], "message.received", dm, false),
            (&["group.message_received"], "message.received", grp, true),
            (&["group.message_received"], "message.received", dm, false),
            (&["conversation.updated"], "message.revoked", dm, true),
            (&["message"], "message.received", dm, true),
            (&["message"], "message.sent", dm, false),
            (&["message.ack"], "message.delivered", dm, true),
            (&["message.ack"], "message.received", dm, false),
            (
                &["status.update"],
                "message.received",
                Some("status@broadcast"),
                true,
            ),
            (&["status.update"], "message.received", dm, false),
            // Normalized names keep their meaning exactly.
            (&["group.updated"], "group.participants.update", grp, false),
            (&["message.received"], "message.received", grp, true),
        ];
        for (filter, name, chat, want) in cases {
            assert_eq!(
                filter_selects(&f(filter), name, *chat),
                *want,
                "{filter:?} {name} {chat:?}"
            );
        }
    }
}
