//! The message writes that produce events: an inbound batch, a receipt, a
//! finished send. Each one commits the message change and its events (with
//! one outbox job per matching subscription) in one transaction, then rings
//! the outbox's bell, so delivery looks at once and no caller has to.
//!
//! The events themselves are the caller's to shape (the engine knows the
//! session's account and the payload format): it passes a function from the
//! changed record to its event.

use super::{MessageRecord, MessageState, advance, amend_target, insert_inbound};
use crate::event::Event;
use crate::store::media::put_media_ref;
use crate::store::outbox::record_events;
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
        mut event_of: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(&MessageRecord) -> Event + Send + 'static,
    {
        let session = session.to_string();
        let seqs = self
            .run(move |db| {
                let tx = db.begin_write()?;
                let mut events = Vec::new();
                for InboundRecord { record, media } in batch {
                    if let Some(media) = &media {
                        put_media_ref(&tx, &session, &record.id, &record.kind, media)?;
                    }
                    if let Some(rec) = insert_inbound(&tx, &session, record)? {
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
                                &tx,
                                &session,
                                target,
                                &rec.kind,
                                rec.body.clone(),
                                rec.timestamp,
                            )?;
                        }
                        events.push(event_of(&rec));
                    }
                }
                let seqs = record_events(&tx, &events)?;
                tx.commit()?;
                Ok(seqs)
            })
            .await?;
        self.bell().events_committed(&seqs);
        Ok(seqs.len())
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
        let seqs = self
            .run(move |db| {
                let tx = db.begin_write()?;
                let mut events = Vec::new();
                for id in &ids {
                    if let Some(rec) = advance(&tx, &session, id, state, at)? {
                        events.push(event_of(&rec));
                    }
                }
                let seqs = record_events(&tx, &events)?;
                tx.commit()?;
                Ok(seqs)
            })
            .await?;
        self.bell().events_committed(&seqs);
        Ok(seqs.len())
    }

    /// Takes a message off the send queue as `state` (`sent` or `failed`,
    /// with `error`), with the event `event_of` makes of it, in one
    /// transaction; then rings the bell. Returns the finished record, or
    /// `None` when the message is unknown.
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
        let done = self
            .finish_queued(session, id, state, error, move |tx, rec| {
                record_events(tx, &[event_of(rec)])
            })
            .await?;
        Ok(done.map(|(rec, seqs)| {
            self.bell().events_committed(&seqs);
            rec
        }))
    }
}
