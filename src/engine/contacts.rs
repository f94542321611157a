//! Contacts: is a number on WhatsApp, profile info, avatar, presence
//! subscription. Each call needs the session connected now
//! ([`EngineError::NotConnected`] otherwise) and returns plain JSON-ready
//! values, so the API never sees library types.

use super::{Engine, EngineError, jid};
use serde_json::{Value, json};
use whatsapp_rust::Jid;

/// Most numbers one check or info request takes.
pub const MAX_BATCH: usize = 50;

/// Parses API `Phone` values into person JIDs (`@s.whatsapp.net` / `@lid`).
pub fn person_jids(phones: &[String]) -> Result<Vec<Jid>, EngineError> {
    phones
        .iter()
        .map(|p| {
            let full = jid::normalize(p)?;
            if !(full.ends_with("@s.whatsapp.net") || full.ends_with("@lid")) {
                return Err(
                    jid::BadAddress(format!("`{p}` is not a person's number or JID")).into(),
                );
            }
            full.parse::<Jid>()
                .map_err(|e| jid::BadAddress(format!("`{p}`: {e}")).into())
        })
        .collect()
}

fn remote(e: impl std::fmt::Display) -> EngineError {
    EngineError::WhatsApp(e.to_string())
}

impl Engine {
    /// Which of `phones` are on WhatsApp, in the order asked.
    pub async fn check_users(
        &self,
        session: &str,
        phones: &[String],
    ) -> Result<Vec<Value>, EngineError> {
        let jids = person_jids(phones)?;
        let client = self.connected_client(session)?;
        let results = client
            .contacts()
            .is_on_whatsapp(&jids)
            .await
            .map_err(remote)?;
        Ok(phones
            .iter()
            .zip(&jids)
            .map(|(query, j)| {
                let found = results.iter().find(|r| {
                    r.jid.user == j.user || r.pn_jid.as_ref().is_some_and(|p| p.user == j.user)
                });
                json!({
                    "Query": query,
                    "Jid": found.map(|r| r.pn_jid.as_ref().unwrap_or(&r.jid).to_string()).unwrap_or_else(|| j.to_string()),
                    "Lid": found.and_then(|r| r.lid.as_ref().map(Jid::to_string)),
                    "IsInWhatsapp": found.is_some_and(|r| r.is_registered),
                    "IsBusiness": found.is_some_and(|r| r.is_business),
                })
            })
            .collect())
    }

    /// Profile info (about text, picture id, LID, business) of `phones`,
    /// keyed by the JID asked for.
    pub async fn user_info(&self, session: &str, phones: &[String]) -> Result<Value, EngineError> {
        let jids = person_jids(phones)?;
        let client = self.connected_client(session)?;
        let infos = client
            .contacts()
            .get_user_info(&jids)
            .await
            .map_err(remote)?;
        let mut users = serde_json::Map::new();
        for j in &jids {
            let info = infos.iter().find(|(k, _)| k.user == j.user).map(|(_, v)| v);
            users.insert(
                j.to_string(),
                json!({
                    "Jid": j.to_string(),
                    "Lid": info.and_then(|i| i.lid.as_ref().map(Jid::to_string)),
                    "Status": info.and_then(|i| i.status.clone()),
                    "PictureId": info.and_then(|i| i.picture_id.clone()),
                    "IsBusiness": info.is_some_and(|i| i.is_business),
                    "Found": info.is_some(),
                }),
            );
        }
        Ok(json!({ "Users": users }))
    }

    /// The profile picture of `phone` (or a group): URL and id, or `None`
    /// when there is none or it is hidden from this account.
    pub async fn avatar(
        &self,
        session: &str,
        phone: &str,
        preview: bool,
    ) -> Result<Option<Value>, EngineError> {
        let full = jid::normalize(phone)?;
        let j: Jid = full
            .parse()
            .map_err(|e| jid::BadAddress(format!("`{phone}`: {e}")))?;
        let client = self.connected_client(session)?;
        let pic = client
            .contacts()
            .get_profile_picture(&j, preview)
            .await
            .map_err(remote)?;
        Ok(pic.map(|p| {
            json!({
                "Jid": full,
                "URL": p.url,
                "ID": p.id,
                "Type": if preview { "preview" } else { "image" },
                "DirectPath": p.direct_path,
            })
        }))
    }

    /// Subscribes to `phone`'s presence: `presence.update` events follow.
    pub async fn subscribe_presence(
        &self,
        session: &str,
        phone: &str,
    ) -> Result<String, EngineError> {
        let j = person_jids(&[phone.to_string()])?.remove(0);
        let client = self.connected_client(session)?;
        client
            .presence()
            .subscribe(j.clone())
            .await
            .map_err(remote)?;
        Ok(j.to_string())
    }
}
