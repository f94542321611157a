//! Accepting a send through the guard: the duplicate check, the guard's
//! decision, the message, its queue entry, the session's counters and the
//! decision itself, in one transaction.

use super::{MessageRecord, get, insert_new, key, seq_key};
use crate::store::guard::{Allowed, SendFacts, facts, put_usage};
use crate::store::tables::{MSG_CLIENT_ID, OUTBOUND_MEDIA, SEND_DECISION, SEND_QUEUE};
use crate::store::{Store, StoreError};
use redb::{ReadableTable, WriteTransaction};

/// What became of a guarded send.
#[derive(Debug)]
pub enum Guarded<R> {
    /// Accepted (`created`), or the earlier send with the same client id
    /// (`!created`; not decided or counted again).
    Queued {
        /// The stored message.
        record: Box<MessageRecord>,
        /// Whether this call stored it.
        created: bool,
    },
    /// Refused by the guard: nothing was written.
    Refused(R),
}

/// The earlier message with `rec`'s client id, if there is one.
pub(super) fn duplicate(
    tx: &WriteTransaction,
    session: &str,
    rec: &MessageRecord,
) -> Result<Option<MessageRecord>, StoreError> {
    let Some(cid) = &rec.client_id else {
        return Ok(None);
    };
    let existing = tx
        .open_table(MSG_CLIENT_ID)?
        .get(key(session, cid.as_bytes()).as_slice())?
        .map(|v| v.value().to_string());
    match existing {
        Some(id) => get(tx, session, &id),
        None => Ok(None),
    }
}

/// Writes an accepted send: record, logs, client id, queue entry, media.
pub(in crate::store) fn queue_new(
    tx: &WriteTransaction,
    session: &str,
    rec: MessageRecord,
    media: Option<&[u8]>,
) -> Result<MessageRecord, StoreError> {
    let rec = insert_new(tx, session, rec)?;
    if let Some(cid) = &rec.client_id {
        tx.open_table(MSG_CLIENT_ID)?
            .insert(key(session, cid.as_bytes()).as_slice(), rec.id.as_str())?;
    }
    tx.open_table(SEND_QUEUE)?
        .insert(seq_key(session, rec.seq).as_slice(), rec.id.as_str())?;
    if let Some(bytes) = media {
        tx.open_table(OUTBOUND_MEDIA)?
            .insert(key(session, rec.id.as_bytes()).as_slice(), bytes)?;
    }
    Ok(rec)
}

impl Store {
    /// Accepts an outbound message if `decide` lets it through: it gets the
    /// session's counters and the suppression entry of `recipient` (read in
    /// the same write transaction, so concurrent sends are decided one after
    /// the other), and its [`Allowed`] counters and decision are written with
    /// the message. A refusal writes nothing. A repeated client id returns the
    /// earlier message without deciding again.
    pub async fn enqueue_guarded<F, R>(
        &self,
        session: &str,
        rec: MessageRecord,
        media: Option<Vec<u8>>,
        recipient: String,
        decide: F,
    ) -> Result<Guarded<R>, StoreError>
    where
        F: FnOnce(&SendFacts) -> Result<Allowed, R> + Send + 'static,
        R: Send + 'static,
    {
        let session = session.to_string();
        self.run(move |db| {
            let tx = db.begin_write()?;
            if let Some(found) = duplicate(&tx, &session, &rec)? {
                return Ok(Guarded::Queued {
                    record: Box::new(found),
                    created: false,
                });
            }
            let facts = facts(&tx, &session, &recipient)?;
            let allowed = match decide(&facts) {
                Ok(a) => a,
                Err(r) => return Ok(Guarded::Refused(r)),
            };
            let rec = queue_new(&tx, &session, rec, media.as_deref())?;
            put_usage(&tx, &session, &allowed.usage)?;
            let decision =
                serde_json::to_vec(&allowed.decision).map_err(|e| StoreError::Db(e.to_string()))?;
            tx.open_table(SEND_DECISION)?.insert(
                key(&session, rec.id.as_bytes()).as_slice(),
                decision.as_slice(),
            )?;
            tx.commit()?;
            Ok(Guarded::Queued {
                record: Box::new(rec),
                created: true,
            })
        })
        .await
    }

    /// The guard's decision on an accepted send, if it passed the guard.
    pub async fn send_decision(
        &self,
        session: &str,
        id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let k = key(session, id.as_bytes());
        self.run(move |db| {
            use redb::ReadableDatabase;
            let tx = db.begin_read()?;
            let t = tx.open_table(SEND_DECISION)?;
            let v = t.get(k.as_slice())?;
            v.map(|v| {
                serde_json::from_slice(v.value()).map_err(|e| StoreError::Corrupt {
                    table: "send_decision",
                    reason: e.to_string(),
                })
            })
            .transpose()
        })
        .await
    }
}
