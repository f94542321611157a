//! Immediate actions that are not queued: read receipts and chat presence.
//!
//! They only make sense now (a "typing…" sent an hour late is wrong), so
//! they need a connected session and fail with `NotConnected` otherwise.

use super::{Engine, EngineError, jid};
use std::time::Duration;

/// Longest an immediate action may take.
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(15);

/// What the account is doing in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatPresence {
    /// Typing.
    Composing,
    /// Recording a voice note.
    Recording,
    /// Stopped typing or recording.
    Paused,
}

impl Engine {
    /// Sends read receipts for `ids` (messages of `chat` from `sender`).
    pub async fn mark_read(
        &self,
        session: &str,
        chat: &str,
        sender: Option<&str>,
        ids: &[String],
    ) -> Result<(), EngineError> {
        let client = self.connected_client(session)?;
        let chat: whatsapp_rust::Jid = jid::normalize(chat)?
            .parse()
            .map_err(|e| EngineError::WhatsApp(format!("{e}")))?;
        let sender: Option<whatsapp_rust::Jid> = match sender {
            Some(s) => Some(
                s.parse()
                    .map_err(|e| EngineError::WhatsApp(format!("{e}")))?,
            ),
            None => None,
        };
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        tokio::time::timeout(
            ACTION_TIMEOUT,
            client.mark_as_read(&chat, sender.as_ref(), &refs),
        )
        .await
        .map_err(|_| EngineError::WhatsApp("timed out".into()))?
        .map_err(|e| EngineError::WhatsApp(e.to_string()))
    }

    /// Tells `phone`'s chat that the account is typing, recording or paused.
    pub async fn chat_presence(
        &self,
        session: &str,
        phone: &str,
        state: ChatPresence,
    ) -> Result<(), EngineError> {
        let to: whatsapp_rust::Jid = jid::normalize(phone)?
            .parse()
            .map_err(|e| EngineError::WhatsApp(format!("{e}")))?;
        let client = self.connected_client(session)?;
        let cs = client.chatstate();
        let fut = async {
            match state {
                ChatPresence::Composing => cs.send_composing(&to).await,
                ChatPresence::Recording => cs.send_recording(&to).await,
                ChatPresence::Paused => cs.send_paused(&to).await,
            }
        };
        tokio::time::timeout(ACTION_TIMEOUT, fut)
            .await
            .map_err(|_| EngineError::WhatsApp("timed out".into()))?
            .map_err(|e| EngineError::WhatsApp(e.to_string()))
    }
}
