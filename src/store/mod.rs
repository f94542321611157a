//! The gateway's single redb file: sessions, tokens, messages, queues and the
//! WhatsApp key store all live in `<data>/wago.redb`.
//!
//! Owns: opening the file (one process per data directory, enforced by redb's
//! file lock), schema upgrades, and the domain methods. Every redb call is
//! blocking, so async callers go through [`Store::run`], which moves the work
//! onto tokio's blocking pool. Must not know about HTTP or WhatsApp types.

mod error;
mod schema;
mod sessions;
pub mod tables;

pub use error::StoreError;
pub use sessions::{SessionRecord, hash_token};

use redb::{Database, DatabaseError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "wago.redb";

/// Default page cache: small, because the box may have 512 MB of RAM in all.
pub const DEFAULT_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// A cheap, clonable handle on the open database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    dir: PathBuf,
}

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
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                dir: dir.to_path_buf(),
            }),
        })
    }

    /// The data directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The raw database, for blocking code that owns its own tables (the
    /// WhatsApp key store). Async code uses [`Store::run`].
    pub fn database(&self) -> &Database {
        &self.inner.db
    }

    /// Runs blocking store work on tokio's blocking pool.
    pub async fn run<F, R>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Database) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner.db)).await?
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
