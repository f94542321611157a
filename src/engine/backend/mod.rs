//! The gateway's implementation of whatsapp-rust's storage `Backend`: the
//! adapter between wacore's types and the key store's rows.
//!
//! Owns: the WhatsApp key store of every session (Signal identities,
//! sessions, prekeys, sender keys, app-state sync, LID mappings, device
//! lists, tokens, message secrets, the inbound durability buffer and the
//! account's own `Device`). All rows live in the gateway's one redb file, in
//! the `wa_*` tables of `store::tables`, keyed `session id ‖ 0x00 ‖ natural
//! key` so one session is one key range per table (see `keys.rs`).
//! The transactions and row operations are the store's (`store::keys`):
//! nothing here opens a transaction or sees a redb type.
//!
//! Contracts (from wacore's trait docs):
//! - every call is one store transaction on tokio's blocking pool; every
//!   write, batches included, commits with redb's default immediate
//!   durability, so it is on disk when the call returns;
//! - read-modify-write methods (`take_sent_message`, tc-token touch/store,
//!   msg-secret merge, prekey upload marks, LID remaps) read and write in the
//!   same write transaction, which redb serialises, so they are atomic;
//! - a bad stored row is an error for point reads and is skipped (listings)
//!   or swept (expiry sweeps) by scans; nothing here panics on stored data.
//!
//! Must not: touch tables outside `wa_*`, or know about HTTP or sessions'
//! records (the caller decides when to [`wipe_session`]).
//!
//! Use: `Bot::builder().with_backend(Arc::new(RedbBackend::new(store.clone(),
//! session_id)))`; on logout or session delete, [`RedbBackend::wipe`] (or
//! [`wipe_session_in`] inside the transaction that deletes the session).

mod appsync;
mod codec;
mod device;
mod error;
mod keys;
mod msg_secret;
mod protocol;
mod protocol_lid;
mod protocol_messages;
mod protocol_tokens;
mod signal;

pub use device::DEVICE_ID;
pub use error::BackendError;

use crate::store::Store;
use crate::store::keys::{KeyDb, KeyRead, KeyWrite, ReadKeys, Rows, WriteRows};
use crate::store::tables::WA_TABLES;
use keys::SessionPrefix;
use std::sync::Arc;

/// The result type of wacore's store traits.
type WaResult<T> = whatsapp_rust::wacore::store::error::Result<T>;

/// The key store of one session, backed by the gateway's redb file.
///
/// Cheap to clone (a [`Store`] handle and the session id); one per session,
/// handed to the whatsapp-rust client as its `Backend`.
#[derive(Clone)]
pub struct RedbBackend {
    /// The shared database handle.
    store: Store,
    /// The session whose rows this backend reads and writes.
    session_id: String,
    /// `session id ‖ 0x00`, or `None` when the id is unusable as a key prefix
    /// (every call then fails with [`BackendError::InvalidSessionId`]).
    prefix: Option<Arc<SessionPrefix>>,
}

impl std::fmt::Debug for RedbBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbBackend")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl RedbBackend {
    /// A key store for `session_id` in `store`. An id that is empty or holds
    /// a NUL byte makes every call fail (it cannot be told apart in keys).
    pub fn new(store: Store, session_id: impl Into<String>) -> Self {
        let session_id = session_id.into();
        let prefix = SessionPrefix::new(&session_id).ok().map(Arc::new);
        RedbBackend {
            store,
            session_id,
            prefix,
        }
    }

    /// The session this backend belongs to.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Deletes every key-store row of this session (see [`wipe_session`]).
    pub async fn wipe(&self) -> Result<u64, BackendError> {
        let session_id = self.session_id.clone();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let r = SessionPrefix::new(&session_id)
                .and_then(|p| store.keys_write(|tx| wipe_prefix(tx, &p)));
            note(&store, &r);
            r
        })
        .await?
    }

    fn prefix(&self) -> Result<Arc<SessionPrefix>, BackendError> {
        self.prefix
            .clone()
            .ok_or_else(|| BackendError::InvalidSessionId(self.session_id.clone()))
    }

    /// Runs `f` in a read transaction on the blocking pool.
    async fn read<R, F>(&self, f: F) -> WaResult<R>
    where
        F: FnOnce(&KeyRead<'_>, &SessionPrefix) -> Result<R, BackendError> + Send + 'static,
        R: Send + 'static,
    {
        let prefix = self.prefix()?;
        let store = self.store.clone();
        let out = tokio::task::spawn_blocking(move || {
            let r = store.keys_read(|tx| f(tx, &prefix));
            note(&store, &r);
            r
        })
        .await
        .map_err(BackendError::from)??;
        Ok(out)
    }

    /// Runs `f` in a write transaction on the blocking pool and commits it
    /// (immediate durability: on disk when this returns). An error from `f`
    /// aborts the transaction, so a call writes all or nothing.
    async fn write<R, F>(&self, f: F) -> WaResult<R>
    where
        F: FnOnce(&KeyWrite<'_>, &SessionPrefix) -> Result<R, BackendError> + Send + 'static,
        R: Send + 'static,
    {
        let prefix = self.prefix()?;
        let store = self.store.clone();
        let out = tokio::task::spawn_blocking(move || {
            let r = store.keys_write(|tx| f(tx, &prefix));
            note(&store, &r);
            r
        })
        .await
        .map_err(BackendError::from)??;
        Ok(out)
    }
}

/// Tells the store an I/O failure happened, so it reopens the file first.
fn note<R>(store: &Store, result: &Result<R, BackendError>) {
    if let Err(e) = result
        && e.needs_reopen()
    {
        store.mark_broken();
    }
}

/// Deletes every key-store row of `session_id`, in all `wa_*` tables, in one
/// write transaction; other sessions' rows are untouched. Blocking. Returns
/// the number of rows removed. Used by logout and session delete.
pub fn wipe_session<'a>(db: impl Into<KeyDb<'a>>, session_id: &str) -> Result<u64, BackendError> {
    let prefix = SessionPrefix::new(session_id)?;
    db.into().write(|tx| wipe_prefix(tx, &prefix))
}

/// [`wipe_session`] inside the caller's write transaction, so a session
/// delete can drop the session record and its key store atomically. Nothing
/// is removed unless the caller commits.
pub fn wipe_session_in<'a>(
    tx: impl Into<KeyWrite<'a>>,
    session_id: &str,
) -> Result<u64, BackendError> {
    let prefix = SessionPrefix::new(session_id)?;
    wipe_prefix(&tx.into(), &prefix)
}

fn wipe_prefix(tx: &KeyWrite<'_>, prefix: &SessionPrefix) -> Result<u64, BackendError> {
    let mut removed = 0;
    for def in WA_TABLES {
        removed += tx
            .open_table(*def)?
            .remove_prefix(prefix.as_bytes().to_vec())?;
    }
    Ok(removed)
}

/// A table of the key store, as opened in a write transaction.
type WriteTable<'t> = WriteRows<'t>;

/// One row's value, copied out.
fn get<T: ReadKeys>(table: &T, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
    Ok(table.get(key)?)
}

/// Every `(key, value)` whose key starts with `prefix`, in key order.
fn scan<T: ReadKeys>(table: &T, prefix: Vec<u8>) -> Result<Rows, BackendError> {
    Ok(table.scan(prefix)?)
}

/// Whether any key starts with `prefix`.
fn any_with_prefix<T: ReadKeys>(table: &T, prefix: Vec<u8>) -> Result<bool, BackendError> {
    Ok(table.any_with_prefix(prefix)?)
}

/// Removes the rows under `prefix` for which `doomed(key, value)` holds.
/// Returns how many were removed.
fn remove_where(
    table: &mut WriteTable<'_>,
    prefix: Vec<u8>,
    doomed: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<u64, BackendError> {
    Ok(table.remove_where(prefix, doomed)?)
}

/// Removes every row under `prefix`.
fn remove_prefix(table: &mut WriteTable<'_>, prefix: Vec<u8>) -> Result<u64, BackendError> {
    Ok(table.remove_prefix(prefix)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DEFAULT_CACHE_BYTES;
    use whatsapp_rust::wacore::store::traits::{Backend, SignalStore};

    #[test]
    fn redb_backend_is_a_wacore_backend() {
        fn as_dyn(b: RedbBackend) -> Arc<dyn Backend> {
            Arc::new(b)
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
        let _ = as_dyn(RedbBackend::new(store, "s"));
    }

    #[tokio::test]
    async fn a_failing_write_commits_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
        let b = RedbBackend::new(store, "s");
        let err = b
            .write(|tx, p| {
                tx.open_table(crate::store::tables::WA_SESSION)?
                    .insert(p.key().last(b"x@lid").as_slice(), &b"half"[..])?;
                Err::<(), _>(BackendError::Db("injected".into()))
            })
            .await
            .expect_err("injected failure");
        assert!(err.to_string().contains("database"), "{err}");
        assert!(b.get_session("x@lid").await.expect("read").is_none());
    }
}
