//! Messages, in and out, and the durable send queue.
//!
//! A send is accepted by writing its record, its log entries, its client-id
//! index entry and its queue entry in one transaction: once the API answers,
//! the send survives a crash. The engine takes queue entries in order and
//! marks them sent or failed. Inbound messages are committed from the
//! engine's durability hook, with their events ([`Store::commit_inbound`]).
//! Receipts move a message's state forward only. The writes that produce
//! events (and ring the outbox's bell) are in `commit`.

use super::tables::*;
use super::{Store, StoreError};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

mod commit;
mod guarded;
pub use commit::InboundRecord;
pub use guarded::Guarded;

/// Largest page `list_messages` returns.
pub const MAX_PAGE: usize = 1000;

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Accepted by the box, not yet acknowledged by WhatsApp's server
    /// (queued, or handed over and awaiting the server's ack).
    Pending,
    /// Acknowledged by WhatsApp's server.
    Sent,
    /// On the recipient's phone.
    Delivered,
    /// Read by the recipient.
    Read,
    /// A voice note or video played.
    Played,
    /// Received by this account.
    Received,
    /// Gave up; `error` says why.
    Failed,
}

/// One state change with its time (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// The new state.
    pub state: MessageState,
    /// When, Unix milliseconds.
    pub at: i64,
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// WhatsApp message id.
    pub id: String,
    /// Position in the session's log (the `/messages` cursor).
    pub seq: u64,
    /// The chat JID.
    pub chat: String,
    /// The sender JID (this account for outbound messages).
    pub sender: String,
    /// Whether this account sent it.
    pub from_me: bool,
    /// `text`, `image`, … .
    pub kind: String,
    /// Text body or caption.
    pub body: Option<String>,
    /// The sender's push name, for inbound messages.
    #[serde(default)]
    pub push_name: Option<String>,
    /// Message time, Unix milliseconds.
    pub timestamp: i64,
    /// Current state.
    pub state: MessageState,
    /// Every state it has been in, oldest first.
    pub history: Vec<StateChange>,
    /// The client's own id (`Id` / `Idempotency-Key`), for outbound messages.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Why it failed, if it did.
    #[serde(default)]
    pub error: Option<String>,
    /// Send attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// Kind-specific fields (media metadata, location, the message a
    /// reaction/edit/revoke points at, the sender's other JID), camelCase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Map<String, serde_json::Value>>,
    /// What an outbound message carries until it is sent; `None` for inbound
    /// messages and for texts stored before payloads existed (their text is
    /// `body`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<super::payload::Payload>,
}

fn key(session: &str, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(session.len() + 1 + rest.len());
    k.extend_from_slice(session.as_bytes());
    k.push(0);
    k.extend_from_slice(rest);
    k
}

fn seq_key(session: &str, seq: u64) -> Vec<u8> {
    key(session, &seq.to_be_bytes())
}

fn chat_key(session: &str, chat: &str, seq: u64) -> Vec<u8> {
    let mut rest = Vec::with_capacity(chat.len() + 9);
    rest.extend_from_slice(chat.as_bytes());
    rest.push(0);
    rest.extend_from_slice(&seq.to_be_bytes());
    key(session, &rest)
}

/// The range of keys under `prefix` (session ‖ 0 [‖ chat ‖ 0]).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    end.push(0xff);
    end
}

fn decode(bytes: &[u8]) -> Result<MessageRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table: "msg_record",
        reason: e.to_string(),
    })
}

fn encode(rec: &MessageRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(rec).map_err(|e| StoreError::Db(e.to_string()))
}

const SEQ_KEY: &str = "msg_seq";

fn next_seq(tx: &WriteTransaction) -> Result<u64, StoreError> {
    let mut meta = tx.open_table(META)?;
    let seq = meta.get(SEQ_KEY)?.map(|v| v.value()).unwrap_or(0) + 1;
    meta.insert(SEQ_KEY, seq)?;
    Ok(seq)
}

/// Writes a new message with its log entries; returns it with its `seq` set.
fn insert_new(
    tx: &WriteTransaction,
    session: &str,
    mut rec: MessageRecord,
) -> Result<MessageRecord, StoreError> {
    rec.seq = next_seq(tx)?;
    tx.open_table(MSG_RECORD)?.insert(
        key(session, rec.id.as_bytes()).as_slice(),
        encode(&rec)?.as_slice(),
    )?;
    tx.open_table(MSG_LOG)?
        .insert(seq_key(session, rec.seq).as_slice(), rec.id.as_str())?;
    tx.open_table(MSG_CHAT_LOG)?.insert(
        chat_key(session, &rec.chat, rec.seq).as_slice(),
        rec.id.as_str(),
    )?;
    Ok(rec)
}

fn get(
    tx: &WriteTransaction,
    session: &str,
    id: &str,
) -> Result<Option<MessageRecord>, StoreError> {
    let t = tx.open_table(MSG_RECORD)?;
    let v = t.get(key(session, id.as_bytes()).as_slice())?;
    v.map(|v| decode(v.value())).transpose()
}

fn put(tx: &WriteTransaction, session: &str, rec: &MessageRecord) -> Result<(), StoreError> {
    tx.open_table(MSG_RECORD)?.insert(
        key(session, rec.id.as_bytes()).as_slice(),
        encode(rec)?.as_slice(),
    )?;
    Ok(())
}

/// Records an inbound message inside the caller's transaction. Idempotent: a
/// message id already stored is left alone and `None` is returned (the
/// library redelivers after a crash between commit and ack).
pub(in crate::store) fn insert_inbound(
    tx: &WriteTransaction,
    session: &str,
    rec: MessageRecord,
) -> Result<Option<MessageRecord>, StoreError> {
    if get(tx, session, &rec.id)?.is_some() {
        return Ok(None);
    }
    insert_new(tx, session, rec).map(Some)
}

/// Moves a message to `state` (forward only; `failed` and `received` are
/// terminal). Returns the updated record when the state changed.
pub(in crate::store) fn advance(
    tx: &WriteTransaction,
    session: &str,
    id: &str,
    state: MessageState,
    at: i64,
) -> Result<Option<MessageRecord>, StoreError> {
    let Some(mut rec) = get(tx, session, id)? else {
        return Ok(None);
    };
    let terminal = matches!(rec.state, MessageState::Failed | MessageState::Received);
    if terminal || state <= rec.state {
        return Ok(None);
    }
    rec.state = state;
    rec.history.push(StateChange { state, at });
    put(tx, session, &rec)?;
    Ok(Some(rec))
}

/// Applies an edit (`edit`, new `body`) or a deletion (`revoke`) to the
/// message it points at, inside the caller's transaction: the body changes
/// (a deletion clears it) and `detail` gets `edited` / `revoked` with the
/// time. Returns the changed record; `None` when the target is unknown.
pub(in crate::store) fn amend_target(
    tx: &WriteTransaction,
    session: &str,
    target: &str,
    kind: &str,
    body: Option<String>,
    at: i64,
) -> Result<Option<MessageRecord>, StoreError> {
    let Some(mut rec) = get(tx, session, target)? else {
        return Ok(None);
    };
    let detail = rec.detail.get_or_insert_with(Default::default);
    match kind {
        "edit" => {
            rec.body = body;
            detail.insert("editedAt".into(), at.into());
        }
        "revoke" => {
            rec.body = None;
            detail.insert("revokedAt".into(), at.into());
        }
        _ => return Ok(None),
    }
    put(tx, session, &rec)?;
    Ok(Some(rec))
}

impl Store {
    /// Accepts an outbound message: stores it as pending and queues it, or,
    /// when its client id was seen before, returns the earlier message.
    /// Returns `(record, created)`.
    pub async fn enqueue_outbound(
        &self,
        session: &str,
        rec: MessageRecord,
    ) -> Result<(MessageRecord, bool), StoreError> {
        self.enqueue_outbound_media(session, rec, None).await
    }

    /// [`Store::enqueue_outbound`] with the media bytes the send uploads,
    /// kept in `outbound_media` until the send is finished.
    pub async fn enqueue_outbound_media(
        &self,
        session: &str,
        rec: MessageRecord,
        media: Option<Vec<u8>>,
    ) -> Result<(MessageRecord, bool), StoreError> {
        let session = session.to_string();
        self.run(move |db| {
            let tx = db.begin_write()?;
            if let Some(found) = guarded::duplicate(&tx, &session, &rec)? {
                return Ok((found, false));
            }
            let rec = guarded::queue_new(&tx, &session, rec, media.as_deref())?;
            tx.commit()?;
            Ok((rec, true))
        })
        .await
    }

    /// The oldest queued outbound message of `session`, if any.
    pub async fn next_queued(&self, session: &str) -> Result<Option<MessageRecord>, StoreError> {
        let session = session.to_string();
        self.run(move |db| {
            let tx = db.begin_read()?;
            let prefix = key(&session, &[]);
            let end = prefix_end(&prefix);
            let queue = tx.open_table(SEND_QUEUE)?;
            let Some(row) = queue.range(prefix.as_slice()..end.as_slice())?.next() else {
                return Ok(None);
            };
            let (_, id) = row?;
            let recs = tx.open_table(MSG_RECORD)?;
            let v = recs.get(key(&session, id.value().as_bytes()).as_slice())?;
            v.map(|v| decode(v.value())).transpose()
        })
        .await
    }

    /// The media bytes of a queued send, if it has any.
    pub async fn outbound_media(
        &self,
        session: &str,
        id: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let k = key(session, id.as_bytes());
        self.run(move |db| {
            let tx = db.begin_read()?;
            let t = tx.open_table(OUTBOUND_MEDIA)?;
            let v = t.get(k.as_slice())?;
            Ok(v.map(|v| v.value().to_vec()))
        })
        .await
    }

    /// Counts a failed attempt on a queued message and keeps it queued.
    pub async fn note_attempt(
        &self,
        session: &str,
        id: &str,
        error: String,
    ) -> Result<u32, StoreError> {
        let (session, id) = (session.to_string(), id.to_string());
        self.run(move |db| {
            let tx = db.begin_write()?;
            let Some(mut rec) = get(&tx, &session, &id)? else {
                return Ok(0);
            };
            rec.attempts += 1;
            rec.error = Some(error);
            put(&tx, &session, &rec)?;
            tx.commit()?;
            Ok(rec.attempts)
        })
        .await
    }

    /// One message by id.
    pub async fn message(
        &self,
        session: &str,
        id: &str,
    ) -> Result<Option<MessageRecord>, StoreError> {
        let k = key(session, id.as_bytes());
        self.run(move |db| {
            let tx = db.begin_read()?;
            let t = tx.open_table(MSG_RECORD)?;
            let v = t.get(k.as_slice())?;
            v.map(|v| decode(v.value())).transpose()
        })
        .await
    }

    /// Messages after cursor `after` (a `seq`), oldest first, optionally of one chat.
    pub async fn list_messages(
        &self,
        session: &str,
        chat: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let session = session.to_string();
        let chat = chat.map(str::to_string);
        let limit = limit.min(MAX_PAGE);
        self.run(move |db| {
            let tx = db.begin_read()?;
            let recs = tx.open_table(MSG_RECORD)?;
            let start_seq = after.saturating_add(1);
            let (table, start, end) = match &chat {
                Some(c) => {
                    let prefix = chat_key(&session, c, 0);
                    let prefix = &prefix[..prefix.len() - 8];
                    (
                        MSG_CHAT_LOG,
                        chat_key(&session, c, start_seq),
                        prefix_end(prefix),
                    )
                }
                None => (
                    MSG_LOG,
                    seq_key(&session, start_seq),
                    prefix_end(&key(&session, &[])),
                ),
            };
            let log = tx.open_table(table)?;
            let mut out = Vec::new();
            for row in log.range(start.as_slice()..end.as_slice())? {
                if out.len() >= limit {
                    break;
                }
                let (_, id) = row?;
                if let Some(v) = recs.get(key(&session, id.value().as_bytes()).as_slice())? {
                    out.push(decode(v.value())?);
                }
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
