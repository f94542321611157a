//! The store layer's error type.

use std::path::PathBuf;

/// Everything that can go wrong below the domain methods of [`super::Store`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the redb file lock.
    #[error(
        "the data directory {0} is in use by another wago process (lock held on its wago.redb); \
         run one process per data directory"
    )]
    Locked(PathBuf),
    /// The data directory is missing and cannot be created, or is not a directory.
    #[error("data directory {path}: {reason}")]
    DataDir { path: PathBuf, reason: String },
    /// The disk under the data directory is full.
    #[error("the disk holding the data directory is full; free some space and start again")]
    Full,
    /// The file was written by a newer wago whose schema this one does not know.
    #[error(
        "the store has schema version {found}, newer than this wago knows ({known}); upgrade wago"
    )]
    TooNew { found: u64, known: u64 },
    /// A unique value (such as a client-chosen token) is already taken.
    #[error("{0} is already in use")]
    Conflict(&'static str),
    /// A stored record could not be decoded.
    #[error("corrupt record in table {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
    /// The storage failed (an I/O error, or redb refusing work after one).
    /// The store reopens the file before its next operation.
    #[error("storage I/O error: {0}")]
    Io(String),
    /// Any other redb failure.
    #[error("database error: {0}")]
    Db(String),
    /// A blocking store task panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Whether the database must be reopened before it accepts writes again.
    pub fn needs_reopen(&self) -> bool {
        matches!(self, StoreError::Full | StoreError::Io(_))
    }

    /// Whether an I/O error means "no space left on device" (or over quota).
    pub fn is_disk_full(err: &std::io::Error) -> bool {
        matches!(err.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
    }
}

impl From<redb::TransactionError> for StoreError {
    fn from(e: redb::TransactionError) -> Self {
        match e {
            redb::TransactionError::Storage(s) => s.into(),
            other => StoreError::Db(other.to_string()),
        }
    }
}

impl From<redb::TableError> for StoreError {
    fn from(e: redb::TableError) -> Self {
        match e {
            redb::TableError::Storage(s) => s.into(),
            other => StoreError::Db(other.to_string()),
        }
    }
}

impl From<redb::StorageError> for StoreError {
    fn from(e: redb::StorageError) -> Self {
        match &e {
            redb::StorageError::Io(io) if Self::is_disk_full(io) => StoreError::Full,
            redb::StorageError::Io(_) | redb::StorageError::PreviousIo => {
                StoreError::Io(e.to_string())
            }
            _ => StoreError::Db(e.to_string()),
        }
    }
}

impl From<redb::CommitError> for StoreError {
    fn from(e: redb::CommitError) -> Self {
        match e {
            redb::CommitError::Storage(s) => s.into(),
            other => StoreError::Db(other.to_string()),
        }
    }
}

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::Io(io) if Self::is_disk_full(&io) => StoreError::Full,
            redb::Error::Io(io) => StoreError::Io(io.to_string()),
            redb::Error::PreviousIo => StoreError::Io("a previous I/O error".into()),
            other => StoreError::Db(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(e: tokio::task::JoinError) -> Self {
        StoreError::Task(e.to_string())
    }
}
