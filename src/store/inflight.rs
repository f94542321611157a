//! Settling a queued send exactly once: when WhatsApp's server acknowledged
//! it, or when it expired.
//!
//! A send stays on the durable queue (`send_queue`) from accept until its
//! outcome is known, including while it is in flight (handed to WhatsApp,
//! no server ack yet): a crash or a lost connection then leaves it queued and
//! it goes out again under the same id. Two parties can settle the same
//! message (the session's event loop on the server ack, the send worker or
//! the expiry sweeper on its age), so settling is conditional: only a
//! message still on the queue is settled, in one transaction with its event.
//! Must not know about WhatsApp types.

use super::messages::{MessageRecord, MessageState, StateChange, get, key, put, seq_key};
use super::outbox::record_events;
use super::tables::*;
use super::{Store, StoreError};
use crate::event::Event;

impl Store {
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

    fn pending(id: &str) -> MessageRecord {
        MessageRecord {
            id: id.into(),
            seq: 0,
            chat: "1@s.whatsapp.net".into(),
            sender: String::new(),
            from_me: true,
            kind: "text".into(),
            body: Some("hi".into()),
            push_name: None,
            timestamp: 1,
            state: MessageState::Pending,
            history: vec![StateChange {
                state: MessageState::Pending,
                at: 1,
            }],
            client_id: None,
            error: None,
            attempts: 0,
            detail: None,
            payload: None,
        }
    }

    fn event(rec: &MessageRecord) -> Event {
        Event {
            session: "s".into(),
            event: "message.sent".into(),
            chat: Some(rec.chat.clone()),
            timestamp: 2,
            payload: serde_json::json!({ "id": rec.id }),
            me: None,
        }
    }

    #[tokio::test]
    async fn settles_once_and_only_while_queued() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), crate::store::DEFAULT_CACHE_BYTES).expect("open");
        store.enqueue_outbound("s", pending("A")).await.expect("a");
        store.enqueue_outbound("s", pending("B")).await.expect("b");

        let rec = store
            .finish_send("s", "A", MessageState::Sent, None, event)
            .await
            .expect("settle")
            .expect("was queued");
        assert_eq!(rec.state, MessageState::Sent);
        assert_eq!(rec.attempts, 1);
        let log = store.events_after(None, 0, 10).await.expect("log");
        assert_eq!(log.len(), 1, "its event is recorded with it");
        let next = store.next_queued("s").await.expect("next").expect("B");
        assert_eq!(next.id, "B", "A left the queue");

        // A second ack, or an expiry racing the ack, changes nothing.
        let again = store
            .finish_send("s", "A", MessageState::Failed, Some("late".into()), event)
            .await
            .expect("settle again");
        assert!(again.is_none());
        let a = store.message("s", "A").await.expect("get").expect("A");
        assert_eq!((a.state, a.error), (MessageState::Sent, None));
        assert!(
            store
                .finish_send("s", "nope", MessageState::Sent, None, event)
                .await
                .expect("unknown")
                .is_none()
        );
    }
}
