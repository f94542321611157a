//! The inbound durability hook: the library holds back its ack to WhatsApp
//! until this returns, so a message is either committed here or redelivered.
//!
//! One store commit per batch ([`Store::commit_inbound`]: the messages and
//! their events in one transaction), idempotent on the message id (a crash
//! after commit and before the ack replays the batch).
//!
//! [`Store::commit_inbound`]: crate::store::Store::commit_inbound

use super::inbound::{classify, event_name, has_media};
use super::{Engine, SessionCtl};
use crate::event::now_ms;
use crate::guard::keywords::Opt;
use crate::store::messages::StateChange;
use crate::store::{InboundRecord, MessageRecord, MessageState, OptChange, Suppression};
use std::sync::Arc;
use whatsapp_rust::wacore::proto_helpers::MessageExt;
use whatsapp_rust::wacore::types::events::InboundMessage;
use whatsapp_rust::waproto::buffa::Message as _;
use whatsapp_rust::{Client, InboundDurabilityHook};

/// Commits inbound messages to the store.
pub(super) struct StoreHook {
    engine: Engine,
    ctl: Arc<SessionCtl>,
}

impl StoreHook {
    pub(super) fn new(engine: Engine, ctl: Arc<SessionCtl>) -> Self {
        StoreHook { engine, ctl }
    }
}

/// The stored form of one inbound message, or `None` for protocol messages.
pub(super) fn record_of(m: &InboundMessage) -> Option<MessageRecord> {
    let info = &m.info;
    let c = classify(&m.message)?;
    let at = info.timestamp.timestamp_millis();
    let state = if info.source.is_from_me {
        MessageState::Sent
    } else {
        MessageState::Received
    };
    let mut detail = c.detail;
    // Person events carry both the phone JID and the @lid where known.
    let sender = &info.source.sender;
    let alt = info.source.sender_alt.as_ref().map(|j| j.to_string());
    let (pn, lid) = if sender.is_lid() {
        (alt, Some(sender.to_string()))
    } else {
        (Some(sender.to_string()), alt)
    };
    if let Some(pn) = pn {
        detail.insert("senderPn".into(), pn.into());
    }
    if let Some(lid) = lid {
        detail.insert("senderLid".into(), lid.into());
    }
    if has_media(c.kind) {
        // The file is at `GET /media/{id}`.
        detail.insert("hasMedia".into(), true.into());
    }
    if info.source.is_group {
        detail.insert("isGroup".into(), true.into());
    }
    Some(MessageRecord {
        id: info.id.to_string(),
        seq: 0,
        chat: info.source.chat.to_string(),
        sender: sender.to_string(),
        from_me: info.source.is_from_me,
        kind: c.kind.into(),
        body: c.body,
        push_name: (!info.push_name.is_empty()).then(|| info.push_name.clone()),
        timestamp: at,
        state,
        history: vec![StateChange {
            state,
            at: now_ms(),
        }],
        client_id: None,
        error: None,
        attempts: 0,
        detail: (!detail.is_empty()).then_some(detail),
        payload: None,
    })
}

/// The opt-out or opt-in a received message asks for (its whole text is a
/// keyword, in a one-to-one chat), with the `recipient.opted_out` event.
fn opt_change(
    guard: &crate::guard::Guard,
    ctl: &SessionCtl,
    rec: &MessageRecord,
) -> Option<(OptChange, Option<crate::event::Event>)> {
    let detail = rec.detail.as_ref();
    let is_group = detail.and_then(|d| d.get("isGroup")).is_some();
    if rec.from_me || is_group || rec.kind != "text" {
        return None;
    }
    let text = rec.body.as_deref()?;
    let opt = guard.keywords().classify(text)?;
    // The number, also when the chat is addressed by its @lid.
    let pn = detail
        .and_then(|d| d.get("senderPn"))
        .and_then(|v| v.as_str())
        .unwrap_or(&rec.sender);
    let phone = crate::guard::recipient_key(pn);
    match opt {
        Opt::Out => {
            let reason = "recipient_requested_stop";
            let event = ctl.event(
                "recipient.opted_out",
                Some(rec.chat.clone()),
                serde_json::json!({
                    "instance_id": ctl.id,
                    "from": format!("+{phone}"),
                    "phone": phone,
                    "reason": reason,
                    "message_text": text,
                    "message_id": rec.id,
                    "timestamp": rec.timestamp,
                }),
            );
            let entry = Suppression {
                phone,
                reason: reason.into(),
                source: "keyword".into(),
                at: now_ms(),
                message_text: Some(text.to_string()),
            };
            Some((OptChange::Out(entry), Some(event)))
        }
        Opt::In => Some((OptChange::In(phone), None)),
    }
}

#[whatsapp_rust::async_trait]
impl InboundDurabilityHook for StoreHook {
    async fn on_messages(
        &self,
        _client: Arc<Client>,
        batch: &[InboundMessage],
    ) -> anyhow::Result<()> {
        // Each record with, for media kinds, the encoded message to download
        // its file from later (a restart must not lose that).
        let records: Vec<InboundRecord> = batch
            .iter()
            .filter_map(|m| {
                let record = record_of(m)?;
                let media =
                    has_media(&record.kind).then(|| m.message.get_base_message().encode_to_vec());
                Some(InboundRecord { record, media })
            })
            .collect();
        // Test-only crash injection (compiled only with the `test-sim`
        // feature, which a release build refuses): the process dies between
        // receiving a user message and committing it.
        #[cfg(feature = "test-sim")]
        if std::env::var_os("TEST_WAGO_CRASH_BEFORE_INBOUND_COMMIT").is_some()
            && !records.is_empty()
        {
            tracing::error!("test crash injection: aborting before the inbound commit");
            std::process::abort();
        }
        let ctl = self.ctl.clone();
        let (opt_ctl, guard) = (self.ctl.clone(), self.engine.inner.cfg.guard.clone());
        // The messages, their webhook jobs and any opt-out they carry commit
        // together, before the ack.
        let stored = self
            .engine
            .inner
            .store
            .commit_inbound_with(
                &self.ctl.id,
                records,
                move |rec| {
                    let name = event_name(&rec.kind, rec.from_me);
                    ctl.event(name, Some(rec.chat.clone()), super::message_payload(rec))
                },
                move |rec| opt_change(&guard, &opt_ctl, rec),
            )
            .await?;
        if stored > 0 {
            let at = now_ms();
            self.ctl.update(|s| s.last_message_at = Some(at));
        }
        tracing::debug!(session = %self.ctl.id, batch = batch.len(), stored, "inbound messages committed");
        Ok(())
    }
}
