//! Library events that are not messages or receipts (presence, typing,
//! calls, group changes) → the gateway's normalized event name, the chat it
//! concerns and its payload. Pure: `events::apply` publishes the result.

use serde_json::{Value, json};
use whatsapp_rust::Jid;
use whatsapp_rust::wacore::types::call::CallAction;
use whatsapp_rust::wacore::types::events::Event;
use whatsapp_rust::wacore::types::presence::{ChatPresence, ChatPresenceMedia};

/// A gateway event to publish: normalized name, chat, payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// One of [`crate::event::NORMALIZED`].
    pub name: &'static str,
    /// The chat it concerns (orders delivery per chat).
    pub chat: Option<String>,
    /// The event's data.
    pub payload: Value,
}

/// Group actions that change who is in the group or their rank.
const PARTICIPANT_ACTIONS: &[&str] = &["add", "remove", "promote", "demote", "modify", "leave"];

/// The notice for `event`, or `None` when it is not one of these kinds (or
/// is call signalling other than an offer).
pub fn notice(event: &Event) -> Option<Notice> {
    Some(match event {
        Event::Presence(p) => Notice {
            name: "presence.update",
            chat: Some(p.from.to_string()),
            payload: json!({
                "from": p.from.to_string(),
                "fromLid": p.from.is_lid().then(|| p.from.to_string()),
                "available": !p.unavailable,
                "state": if p.unavailable { "unavailable" } else { "available" },
                "lastSeen": p.last_seen.map(|t| t.timestamp_millis()),
            }),
        },
        Event::ChatPresence(c) => {
            let state = match (c.state, c.media) {
                (ChatPresence::Composing, ChatPresenceMedia::Audio) => "recording",
                (ChatPresence::Composing, _) => "composing",
                (ChatPresence::Paused, _) => "paused",
            };
            Notice {
                name: "chat.presence",
                chat: Some(c.source.chat.to_string()),
                payload: json!({
                    "chat": c.source.chat.to_string(),
                    "sender": c.source.sender.to_string(),
                    "senderAlt": c.source.sender_alt.as_ref().map(Jid::to_string),
                    "isGroup": c.source.is_group,
                    "state": state,
                }),
            }
        }
        // The caller hung up before anyone answered. The library reports
        // that as `MissedCall` only with its `voip-runtime` feature (not
        // built: the box never answers calls), so the gateway maps the
        // `<terminate>` the same way: no reason or a timeout is missed,
        // answered/declined elsewhere is not.
        Event::IncomingCall(call)
            if matches!(
                &call.action,
                CallAction::Terminate { reason, .. }
                    if matches!(reason.as_deref(), None | Some("timeout"))
            ) =>
        {
            Notice {
                name: "call.missed",
                chat: Some(call.from.to_string()),
                payload: json!({
                    "callId": call.action.call_id(),
                    "from": call.from.to_string(),
                    "reason": "remote",
                    "timestamp": call.timestamp.timestamp_millis(),
                }),
            }
        }
        Event::IncomingCall(call) => {
            let CallAction::Offer {
                call_id,
                call_creator,
                caller_pn,
                is_video,
                group_jid,
                ..
            } = &call.action
            else {
                return None;
            };
            Notice {
                name: "call.received",
                chat: Some(call.from.to_string()),
                payload: json!({
                    "callId": call_id,
                    "from": call.from.to_string(),
                    "creator": call_creator.to_string(),
                    "creatorPn": caller_pn.as_ref().map(Jid::to_string),
                    "isVideo": is_video,
                    "isGroup": group_jid.is_some(),
                    "groupJid": group_jid.as_ref().map(Jid::to_string),
                    "pushName": call.notify,
                    "offline": call.offline,
                    "timestamp": call.timestamp.timestamp_millis(),
                }),
            }
        }
        Event::MissedCall(m) => Notice {
            name: "call.missed",
            chat: Some(m.from.to_string()),
            payload: json!({
                "callId": m.call_id,
                "from": m.from.to_string(),
                "reason": serde_json::to_value(&m.reason).unwrap_or(Value::Null),
                "timestamp": m.timestamp.timestamp_millis(),
            }),
        },
        Event::GroupUpdate(g) => {
            let mut action = serde_json::to_value(&g.action).unwrap_or(Value::Null);
            let kind = action
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string();
            let name = if PARTICIPANT_ACTIONS.contains(&kind.as_str()) {
                "group.participants.update"
            } else {
                "group.updated"
            };
            if let Some(obj) = action.as_object_mut() {
                obj.remove("type");
            }
            Notice {
                name,
                chat: Some(g.group_jid.to_string()),
                payload: json!({
                    "group": g.group_jid.to_string(),
                    "action": kind,
                    "author": g.participant.as_ref().map(Jid::to_string),
                    "authorPn": g.participant_pn.as_ref().map(Jid::to_string),
                    "authorName": g.notify,
                    "details": action,
                    "timestamp": g.timestamp.timestamp_millis(),
                }),
            }
        }
        _ => return None,
    })
}

/// The call, when `event` is an incoming call offer (what auto-reject acts on).
pub fn call_offer(event: &Event) -> Option<&whatsapp_rust::wacore::types::call::IncomingCall> {
    match event {
        Event::IncomingCall(call) if matches!(call.action, CallAction::Offer { .. }) => Some(call),
        _ => None,
    }
}
