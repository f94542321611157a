//! The gateway's single redb file: sessions, tokens, messages, queues and the
//! WhatsApp key store all live in `<data>/wago.redb`.
//!
//! Owns: opening the file (one process per data directory, enforced by redb's
//! file lock), schema upgrades, and the domain methods. It is the one front
//! door to the file: only this module opens redb transactions (the
//! WhatsApp key store's too: `keys` gives `engine::backend` row operations
//! on the `wa_*` tables), and no redb type appears in its domain methods. Each method that commits
//! events or changes subscriptions rings the outbox's bell itself (see
//! `outbox`'s module doc), so delivery can never be left waiting by
//! a producer that forgot to. Every redb call is blocking, so the methods go
//! through `Store::run`, which moves the work onto tokio's blocking pool.
//! Must not know about HTTP or WhatsApp types.

mod error;
pub mod guard;
pub mod keys;
pub mod media;
pub mod messages;
mod outbox;
pub mod payload;
mod schema;
pub mod seal;
mod sessions;
pub mod tables;

pub use error::StoreError;
pub use guard::{Allowed, OptChange, SendFacts, Suppression, Usage};
pub use messages::{Guarded, InboundRecord, MessageRecord, MessageState};
pub use outbox::{
    DeadFilter, DeadLetter, DueJob, Format, JobRecord, LogStatus, LoggedEvent, Outcome,
    PRUNE_BATCH, Retention, Scan, SigningSecret, SubStats, Subscription, now_ms,
};
pub use payload::{MediaKind, Payload, Quote};
pub use schema::SCHEMA_VERSION;
pub use sessions::{SessionRecord, hash_token};

use redb::{Database, DatabaseError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "wago.redb";

/// Ballast file kept in the data directory. When the disk fills up it is
/// deleted, so the store can reopen (redb repairs on reopen, which needs a
/// little space) and keep serving reads; writes answer "storage full" until
/// space is freed. Recreated at the next start.
pub const RESERVE_FILE: &str = ".wago-reserve";

/// Size of the ballast file.
pub const RESERVE_BYTES: usize = 1024 * 1024;

/// Default page cache: small, because the box may have 512 MB of RAM in all.
pub const DEFAULT_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// A cheap, clonable handle on the open database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// The open database. Swapped for a fresh handle after an I/O failure.
    /// `None` only between closing a broken handle and a successful reopen.
    db: RwLock<Option<Arc<Database>>>,
    /// Set when an operation failed with an I/O error: redb then refuses
    /// every write until the file is reopened (which repairs it).
    broken: AtomicBool,
    dir: PathBuf,
    cache_bytes: usize,
    /// Rung after each commit that gives delivery something to do.
    bell: outbox::Bell,
    /// The box's key for values sealed at rest; `None` when its file could
    /// not be read or made (logged; sealed values are then not kept).
    sealer: Option<seal::Sealer>,
}

/// How long a reopen waits for in-flight operations on the old handle.
const REOPEN_WAIT: Duration = Duration::from_secs(10);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `dir`. Blocking: call it before
    /// the runtime gets busy or from `spawn_blocking`.
    ///
    /// Fails at once, without touching the file, when another process has it
    /// open; fails with a clear message when the directory is missing and
    /// cannot be created, is read-only, or its disk is full.
    pub fn open(dir: &Path, cache_bytes: usize) -> Result<Store, StoreError> {
        prepare_dir(dir)?;
        let db = open_db(dir, cache_bytes)?;
        ensure_reserve(dir);
        let sealer = match seal::Sealer::load_or_create(dir) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "no seal key: form webhooks' token field stays empty for new sessions");
                None
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                db: RwLock::new(Some(Arc::new(db))),
                broken: AtomicBool::new(false),
                dir: dir.to_path_buf(),
                cache_bytes,
                bell: outbox::Bell::new(),
                sealer,
            }),
        })
    }

    /// The box's sealing key, if it has one.
    pub(crate) fn sealer(&self) -> Option<&seal::Sealer> {
        self.inner.sealer.as_ref()
    }

    /// The data directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The current database handle, for blocking code that reads rows
    /// directly: the key store's transactions (`keys`) and tests that
    /// inspect the file. Call it from blocking context, per operation: do
    /// not keep the handle, it is replaced after an I/O failure. Report I/O
    /// failures through [`Store::mark_broken`].
    pub fn database(&self) -> Result<Arc<Database>, StoreError> {
        self.inner.current()
    }

    /// Tells the store an operation on [`Store::database`] failed with an
    /// I/O error, so the file is reopened (and repaired) before the next one.
    pub fn mark_broken(&self) {
        self.inner.broken.store(true, Ordering::SeqCst);
    }

    /// Runs blocking store work on tokio's blocking pool. Private to the
    /// store: everything else calls a domain method.
    pub(in crate::store) async fn run<F, R>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Database) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let db = inner.current()?;
            let result = f(&db);
            drop(db);
            if let Err(e) = &result
                && e.needs_reopen()
            {
                tracing::warn!(error = %e, "store I/O failure; the file is reopened before the next operation");
                inner.broken.store(true, Ordering::SeqCst);
            }
            result
        })
        .await?
    }
}

impl Inner {
    /// The handle to use now, reopening the file first if it is broken.
    fn current(&self) -> Result<Arc<Database>, StoreError> {
        if !self.broken.load(Ordering::SeqCst)
            && let Some(db) = self.db.read().map_err(|_| poisoned())?.as_ref()
        {
            return Ok(db.clone());
        }
        let mut slot = self.db.write().map_err(|_| poisoned())?;
        if let (false, Some(db)) = (self.broken.load(Ordering::SeqCst), slot.as_ref()) {
            return Ok(db.clone());
        }
        // redb's file lock is per open file: the old handle must be closed
        // before the new one opens. Wait for in-flight users to drop theirs.
        if let Some(old) = slot.as_ref() {
            let deadline = Instant::now() + REOPEN_WAIT;
            while Arc::strong_count(old) > 1 {
                if Instant::now() > deadline {
                    return Err(StoreError::Io(
                        "store busy while reopening after an I/O failure".into(),
                    ));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        *slot = None;
        release_reserve(&self.dir);
        let db = Arc::new(open_db(&self.dir, self.cache_bytes)?);
        *slot = Some(db.clone());
        self.broken.store(false, Ordering::SeqCst);
        tracing::info!("store reopened after an I/O failure");
        Ok(db)
    }
}

/// Creates the ballast file if it is missing and there is room for it.
fn ensure_reserve(dir: &Path) {
    let path = dir.join(RESERVE_FILE);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() as usize == RESERVE_BYTES) {
        return;
    }
    let result = std::fs::write(&path, vec![0u8; RESERVE_BYTES])
        .and_then(|()| std::fs::File::open(&path)?.sync_all());
    if let Err(e) = result {
        let _ = std::fs::remove_file(&path);
        tracing::warn!(error = %e, "no room for the storage reserve; the disk is nearly full");
    }
}

/// Deletes the ballast file, giving its space to the store.
fn release_reserve(dir: &Path) {
    if std::fs::remove_file(dir.join(RESERVE_FILE)).is_ok() {
        tracing::warn!("storage reserve released: the disk is full; free space on the box");
    }
}

fn poisoned() -> StoreError {
    StoreError::Task("store lock poisoned".into())
}

/// Opens the redb file in `dir` and brings its schema up to date.
fn open_db(dir: &Path, cache_bytes: usize) -> Result<Database, StoreError> {
    {
        let path = dir.join(DB_FILE);
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(&path)
            .map_err(|e| match e {
                DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(dir.to_path_buf()),
                DatabaseError::Storage(s) => match StoreError::from(s) {
                    StoreError::Db(reason) => StoreError::DataDir {
                        path: path.clone(),
                        reason,
                    },
                    other => other,
                },
                other => StoreError::DataDir {
                    path: path.clone(),
                    reason: other.to_string(),
                },
            })?;
        schema::upgrade(&db)?;
        Ok(db)
    }
}

/// Makes sure `dir` exists, is a directory and is writable.
fn prepare_dir(dir: &Path) -> Result<(), StoreError> {
    let bad = |reason: String| StoreError::DataDir {
        path: dir.to_path_buf(),
        reason,
    };
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return Err(bad("exists but is not a directory".into())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .map_err(|e| bad(format!("does not exist and cannot be created: {e}")))?;
        }
        Err(e) => return Err(bad(format!("cannot be read: {e}"))),
    }
    // Probe writability with a real write, so a read-only mount or a full
    // disk is reported here and not as an obscure redb error later.
    let probe = dir.join(".wago-write-probe");
    let result = std::fs::write(&probe, b"probe");
    let _ = std::fs::remove_file(&probe);
    match result {
        Ok(()) => Ok(()),
        Err(e) if StoreError::is_disk_full(&e) => Err(StoreError::Full),
        Err(e) => Err(bad(format!("is not writable: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_of_same_dir_is_locked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("first open");
        let err = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect_err("second open must fail");
        assert!(matches!(err, StoreError::Locked(_)), "{err}");
        assert!(err.to_string().contains("lock"), "{err}");
        drop(first);
        Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open after close");
    }

    #[test]
    fn data_dir_that_is_a_file_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").expect("write");
        let err = Store::open(&file, DEFAULT_CACHE_BYTES).expect_err("must fail");
        assert!(err.to_string().contains("not a directory"), "{err}");
        let err = Store::open(&file.join("sub"), DEFAULT_CACHE_BYTES).expect_err("must fail");
        assert!(err.to_string().contains("cannot be"), "{err}");
    }
}
