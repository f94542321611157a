//! Groups: list, info, create, participants, invite link, leave, name,
//! topic. Each call needs the session connected now and returns plain
//! JSON-ready values (WaGo field spelling), so the API never sees library
//! types.

use super::contacts::person_jids;
use super::{Engine, EngineError, jid};
use serde_json::{Value, json};
use whatsapp_rust::Jid;
use whatsapp_rust::features::{
    GroupCreateOptions, GroupDescription, GroupMetadata, GroupParticipantOptions, GroupSubject,
    ParticipantChangeResponse, PreviousDescription,
};

/// Longest group name WhatsApp takes, characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest group topic (description) WhatsApp takes, characters.
pub const MAX_TOPIC_CHARS: usize = 2048;

/// What to do with participants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantAction {
    /// Add them to the group.
    Add,
    /// Remove them.
    Remove,
    /// Make them admins.
    Promote,
    /// Take admin away.
    Demote,
}

/// Parses an API `GroupJID` (`…@g.us`, or the bare id).
pub fn group_jid(input: &str) -> Result<Jid, EngineError> {
    let s = input.trim();
    let full = if s.contains('@') {
        jid::normalize(s)?
    } else {
        jid::normalize(&format!("{s}@g.us"))?
    };
    if !full.ends_with("@g.us") {
        return Err(jid::BadAddress(format!("`{input}` is not a group JID (…@g.us)")).into());
    }
    full.parse::<Jid>()
        .map_err(|e| jid::BadAddress(format!("`{input}`: {e}")).into())
}

/// A library group error: unknown group / not a member, or anything else.
fn group_error(group: &Jid, e: impl std::fmt::Display) -> EngineError {
    let text = e.to_string();
    if [
        "404",
        "item-not-found",
        "403",
        "forbidden",
        "not-authorized",
    ]
    .iter()
    .any(|c| text.contains(c))
    {
        EngineError::UnknownGroup(format!(
            "WhatsApp does not know group {group}, or this account is not in it"
        ))
    } else {
        EngineError::WhatsApp(text)
    }
}

/// A group as the API shows it.
pub fn group_view(g: &GroupMetadata) -> Value {
    json!({
        "JID": g.id.to_string(),
        "Name": g.subject,
        "Topic": g.description,
        "OwnerJID": g.creator.as_ref().map(Jid::to_string),
        "GroupCreated": g.creation_time,
        "Participants": g.participants.iter().map(|p| json!({
            "JID": p.jid.to_string(),
            "PhoneNumber": p.phone_number.as_ref().map(Jid::to_string),
            "LID": p.lid.as_ref().map(Jid::to_string),
            "IsAdmin": p.is_admin(),
            "IsSuperAdmin": p.participant_type.as_str() == "superadmin",
        })).collect::<Vec<_>>(),
    })
}

fn change_view(r: &ParticipantChangeResponse) -> Value {
    json!({
        "JID": r.jid.to_string(),
        "Ok": r.error.is_none(),
        "Error": r.error,
    })
}

impl Engine {
    /// Groups this account is in.
    pub async fn group_list(&self, session: &str) -> Result<Vec<Value>, EngineError> {
        let client = self.connected_client(session)?;
        let groups = client
            .groups()
            .get_participating()
            .await
            .map_err(|e| EngineError::WhatsApp(e.to_string()))?;
        let mut list: Vec<Value> = groups.values().map(group_view).collect();
        list.sort_by(|a, b| a["JID"].as_str().cmp(&b["JID"].as_str()));
        Ok(list)
    }

    /// One group's info, fresh from WhatsApp.
    pub async fn group_info(&self, session: &str, group: &str) -> Result<Value, EngineError> {
        let g = group_jid(group)?;
        let client = self.connected_client(session)?;
        let meta = client
            .groups()
            .get_metadata(&g)
            .await
            .map_err(|e| group_error(&g, e))?;
        Ok(group_view(&meta))
    }

    /// Creates a group named `name` with `phones` as members.
    pub async fn group_create(
        &self,
        session: &str,
        name: &str,
        phones: &[String],
    ) -> Result<Value, EngineError> {
        let members = person_jids(phones)?;
        let client = self.connected_client(session)?;
        let mut options = GroupCreateOptions::new(name);
        for m in members {
            options = options.with_participant(GroupParticipantOptions::new(m));
        }
        let created = client
            .groups()
            .create_group(options)
            .await
            .map_err(|e| EngineError::WhatsApp(e.to_string()))?;
        Ok(group_view(&created.metadata))
    }

    /// Adds, removes, promotes or demotes `phones`; one result each.
    pub async fn group_participants(
        &self,
        session: &str,
        group: &str,
        phones: &[String],
        action: ParticipantAction,
    ) -> Result<Vec<Value>, EngineError> {
        let g = group_jid(group)?;
        let people = person_jids(phones)?;
        let client = self.connected_client(session)?;
        let groups = client.groups();
        let result = match action {
            ParticipantAction::Add => groups.add_participants(g.clone(), &people).await,
            ParticipantAction::Remove => groups.remove_participants(g.clone(), &people).await,
            ParticipantAction::Promote => groups.promote_participants(g.clone(), &people).await,
            ParticipantAction::Demote => groups.demote_participants(g.clone(), &people).await,
        }
        .map_err(|e| group_error(&g, e))?;
        Ok(result.iter().map(change_view).collect())
    }

    /// The group's invite link (a new one with `reset`).
    pub async fn group_invite_link(
        &self,
        session: &str,
        group: &str,
        reset: bool,
    ) -> Result<String, EngineError> {
        let g = group_jid(group)?;
        let client = self.connected_client(session)?;
        client
            .groups()
            .get_invite_link(g.clone(), reset)
            .await
            .map_err(|e| group_error(&g, e))
    }

    /// Leaves the group.
    pub async fn group_leave(&self, session: &str, group: &str) -> Result<(), EngineError> {
        let g = group_jid(group)?;
        let client = self.connected_client(session)?;
        client
            .groups()
            .leave(g.clone())
            .await
            .map_err(|e| group_error(&g, e))
    }

    /// Renames the group.
    pub async fn group_set_name(
        &self,
        session: &str,
        group: &str,
        name: &str,
    ) -> Result<(), EngineError> {
        let g = group_jid(group)?;
        let subject = GroupSubject::new(name).map_err(|e| EngineError::WhatsApp(e.to_string()))?;
        let client = self.connected_client(session)?;
        client
            .groups()
            .set_subject(g.clone(), subject)
            .await
            .map_err(|e| group_error(&g, e))
    }

    /// Sets the group's topic (description); empty removes it.
    pub async fn group_set_topic(
        &self,
        session: &str,
        group: &str,
        topic: &str,
    ) -> Result<(), EngineError> {
        let g = group_jid(group)?;
        let description = if topic.is_empty() {
            None
        } else {
            Some(GroupDescription::new(topic).map_err(|e| EngineError::WhatsApp(e.to_string()))?)
        };
        let client = self.connected_client(session)?;
        client
            .groups()
            .set_description(g.clone(), description, PreviousDescription::Resolve)
            .await
            .map_err(|e| group_error(&g, e))
    }
}
