//! The message writes that produce events: an inbound batch, a receipt, a
//! finished send. Each one commits the message change and its events (with
//! one outbox job per matching subscription) in one transaction, then rings
//! the outbox's bell, so delivery looks at once and no caller has to.
//!
//! A finished send is settled only while it is still on the send queue: it
//! stays there from accept until WhatsApp's server acknowledged it (in
//! flight included), so a crash or a lost connection leaves it queued, and
//! two parties that may settle it (the ack, the send worker or the expiry
//! sweeper on its age) never both do.
//!
//! The events themselves are the caller's to shape (the engine knows the
//! session's account and the payload format): it passes a function from the
//! changed record to its event.

use super::{
    MessageRecord, MessageState, StateChange, advance, amend_target, get, insert_inbound, key, put,
    seq_key,
};
use crate::event::Event;
use crate::store::guard::{OptChange, apply_opt};
use crate::store::media::put_media_ref;
use crate::store::outbox::record_events;
use crate::store::tables::{OUTBOUND_MEDIA, SEND_QUEUE};
use crate::store::{Store, StoreError};

/// An inbound message as the engine hands it over.
#[derive(Debug, Clone)]
pub struct InboundRecord {
    /// The message as stored (its `seq` is assigned by the store).
    pub record: MessageRecord,
    /// For media kinds, the encoded message to download its file from later
    /// (a restart must not lose it).
    pub media: Option<Vec<u8>>,
}

impl Store {
    /// Commits a batch of inbound messages in one transaction: each new
    /// message (idempotent on its id: a replayed batch inserts nothing), its
    /// media reference, what an edit or deletion changes in the message it
    /// points at, and the event `event_of` makes of it; then rings the bell.
    /// Returns how many messages were new.
    pub async fn commit_inbound<F>(
        &self,
        session: &str,
        batch: Vec<InboundRecord>,
        event_of: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&MessageRecord) -> Event + Send + 'static,
    {
        self.commit_inbound_with(session, batch, event_of, |_| None)
            .await
    }

    /// [`Store::commit_inbound`] that also applies the opt-out or opt-in
    /// `opt_of` finds in each new message (the guard's keywords) to the
    /// session's suppression list in the same transaction, with its event
    /// when the list changed: an opt-out is durable before WhatsApp is acked.
    pub async fn commit_inbound_with<F, O>(
        &self,
        session: &str,
        batch: Vec<InboundRecord>,
        mut event_of: F,
        mut opt_of: O,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&MessageRecord) -> Event + Send + 'static,
        O: FnMut(&MessageRecord) -> Option<(OptChange, Option<Event>)> + Send + 'static,
    {
        let session = session.to_string();
        let (new, _) = self
            .commit_events(move |tx| {
                let mut events = Vec::new();
                let mut new = 0;
                for InboundRecord { record, media } in batch {
                    if let Some(media) = &media {
                        put_media_ref(tx, &session, &record.id, &record.kind, media)?;
                    }
                    if let Some(rec) = insert_inbound(tx, &session, record)? {
                        // An edit or a deletion also changes the message it
                        // points at (once: a replayed batch inserts nothing).
                        let target = rec
                            .detail
                            .as_ref()
                            .and_then(|d| d.get("targetId"))
                            .and_then(|t| t.as_str());
                        if let Some(target) = target
                            && matches!(rec.kind.as_str(), "edit" | "revoke")
                        {
                            amend_target(
                                tx,
                                &session,
                                target,
                                &rec.kind,
                                rec.body.clone(),
                                rec.timestamp,
                            )?;
                        }
                        new += 1;
                        events.push(event_of(&rec));
                        if let Some((change, event)) = opt_of(&rec)
                            && apply_opt(tx, &session, &change)?
                        {
                            events.extend(event);
                        }
                    }
                }
                Ok((new, events))
            })
            .await?;
        Ok(new)
    }

    /// Moves messages `ids` of `session` forward to `state` (a receipt, at
    /// `at`), with the event `event_of` makes of each one that changed, in
    /// one transaction; then rings the bell. Returns how many changed.
    pub async fn apply_receipt<F>(
        &self,
        session: &str,
        ids: Vec<String>,
        state: MessageState,
        at: i64,
        mut event_of: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&MessageRecord) -> Event + Send + 'static,
    {
        let session = session.to_string();
        let ((), seqs) = self
            .commit_events(move |tx| {
                let mut events = Vec::new();
                for id in &ids {
                    if let Some(rec) = advance(tx, &session, id, state, at)? {
                        events.push(event_of(&rec));
                    }
                }
                Ok(((), events))
            })
            .await?;
        Ok(seqs.len())
    }

    /// Takes `id` off `session`'s send queue as `state` (`sent` on the
    /// server's ack, `failed` when it expired or kept failing), with `error`,
    /// and records the event `event_of` makes of the settled record, all in
    /// one transaction; then rings the outbox's bell. Returns the settled
    /// record; `None`, with nothing written, when the message is not on the
    /// queue (already settled, or unknown).
    pub async fn finish_send<F>(
        &self,
        session: &str,
        id: &str,
        state: MessageState,
        error: Option<String>,
        event_of: F,
    ) -> Result<Option<MessageRecord>, StoreError>
    where
        F: FnOnce(&MessageRecord) -> Event + Send + 'static,
    {
        let (session, id) = (session.to_string(), id.to_string());
        let at = crate::event::now_ms();
        let done = self
            .run(move |db| {
                let tx = db.begin_write()?;
                let Some(mut rec) = get(&tx, &session, &id)? else {
                    return Ok(None);
                };
                let queued = tx
                    .open_table(SEND_QUEUE)?
                    .remove(seq_key(&session, rec.seq).as_slice())?
                    .is_some();
                if !queued {
                    return Ok(None);
                }
                tx.open_table(OUTBOUND_MEDIA)?
                    .remove(key(&session, id.as_bytes()).as_slice())?;
                if state == MessageState::Sent {
                    // The attempt that got through.
                    rec.attempts += 1;
                }
                if state > rec.state {
                    rec.state = state;
                    rec.history.push(StateChange { state, at });
                }
                rec.error = error;
                put(&tx, &session, &rec)?;
                let seqs = record_events(&tx, &[event_of(&rec)])?;
                tx.commit()?;
                Ok(Some((rec, seqs)))
            })
            .await?;
        Ok(done.map(|(rec, seqs)| {
            self.bell().events_committed(&seqs);
            rec
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DEFAULT_CACHE_BYTES;
    use crate::store::messages::StateChange;

    fn inbound(id: &str, kind: &str, target: Option<&str>) -> InboundRecord {
        let detail = target.map(|t| {
            let mut d = serde_json::Map::new();
            d.insert("targetId".into(), t.into());
            d
        });
        InboundRecord {
            record: MessageRecord {
                id: id.into(),
                seq: 0,
                chat: "c@s.whatsapp.net".into(),
                sender: "c@s.whatsapp.net".into(),
                from_me: false,
                kind: kind.into(),
                body: Some(format!("body of {id}")),
                push_name: None,
                timestamp: 3,
                state: MessageState::Received,
                history: vec![StateChange {
                    state: MessageState::Received,
                    at: 3,
                }],
                client_id: None,
                error: None,
                attempts: 0,
                detail,
                payload: None,
            },
            media: (kind == "image").then(|| b"encoded".to_vec()),
        }
    }

    fn event_of(rec: &MessageRecord) -> Event {
        Event {
            session: "s".into(),
            event: format!("test.{}", rec.kind),
            chat: Some(rec.chat.clone()),
            timestamp: 1,
            payload: serde_json::json!({ "id": rec.id }),
            me: None,
        }
    }

    /// An inbound batch commits its messages, media references, target
    /// changes and events together and rings; a replayed batch records
    /// nothing and rings nothing. Receipts and finished sends ring too.
    #[tokio::test]
    async fn inbound_receipts_and_sends_commit_their_events_and_ring() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
        let mut bell = store.watch_events();
        let batch = || {
            vec![
                inbound("A", "text", None),
                inbound("P", "image", None),
                inbound("E", "edit", Some("A")),
            ]
        };
        let n = store.commit_inbound("s", batch(), event_of).await;
        assert_eq!(n.expect("commit"), 3);
        assert!(bell.has_changed().expect("open"), "rang after the commit");
        bell.borrow_and_update();
        let a = store.message("s", "A").await.expect("get").expect("A");
        assert_eq!(a.body.as_deref(), Some("body of E"), "the edit applied");
        assert!(store.media_ref("s", "P").await.expect("ref").is_some());
        let logged = store.events_after(None, 0, 10).await.expect("log");
        let names: Vec<&str> = logged.iter().map(|e| e.event.event.as_str()).collect();
        assert_eq!(names, ["test.text", "test.image", "test.edit"]);

        let n = store.commit_inbound("s", batch(), event_of).await;
        assert_eq!(n.expect("replay"), 0, "a replayed batch inserts nothing");
        assert!(!bell.has_changed().expect("open"), "and rings nothing");
        assert_eq!(store.events_after(None, 0, 10).await.expect("log").len(), 3);

        // Receipts on received messages do not move them (terminal): no event.
        let ids = vec!["A".to_string()];
        let n = store
            .apply_receipt("s", ids, MessageState::Read, 5, event_of)
            .await;
        assert_eq!(n.expect("receipt"), 0);
        assert!(!bell.has_changed().expect("open"));

        let (out, _) = store
            .enqueue_outbound(
                "s",
                MessageRecord {
                    id: "O".into(),
                    from_me: true,
                    state: MessageState::Pending,
                    ..inbound("O", "text", None).record
                },
            )
            .await
            .expect("enqueue");
        let done = store
            .finish_send("s", &out.id, MessageState::Sent, None, event_of)
            .await
            .expect("finish")
            .expect("known");
        assert_eq!(done.state, MessageState::Sent);
        assert!(bell.has_changed().expect("open"), "a finished send rings");
        bell.borrow_and_update();
        let ids = vec!["O".to_string()];
        let n = store
            .apply_receipt("s", ids, MessageState::Delivered, 6, event_of)
            .await;
        assert_eq!(n.expect("receipt"), 1);
        assert!(
            bell.has_changed().expect("open"),
            "a receipt that moved it rings"
        );
        assert_eq!(store.events_after(None, 0, 10).await.expect("log").len(), 5);
    }
}
