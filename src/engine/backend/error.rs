//! The key store's error type, and its mapping into wacore's store error.
//!
//! Owns: turning store (redb, through `StoreError`, the one funnel), codec
//! and task failures into one [`BackendError`], and
//! that into `wacore::store::error::StoreError` at the trait boundary. The
//! library only sees wacore's type; the gateway (wipes, tests) sees ours.

use whatsapp_rust::wacore::store::error::StoreError as WaStoreError;

/// Everything that can go wrong in the redb key store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The session id cannot key rows (empty, or contains a 0x00 byte, which
    /// separates the session id from the natural key).
    #[error("invalid session id {0:?}: must be non-empty and contain no NUL byte")]
    InvalidSessionId(String),
    /// A key component is longer than the 4-byte length prefix can express.
    #[error("key component of {0} bytes is too long")]
    KeyTooLong(usize),
    /// A stored row could not be decoded.
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// The redb table name.
        table: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A value could not be encoded.
    #[error("cannot encode a value for {table}: {reason}")]
    Encode {
        /// The redb table name.
        table: String,
        /// The encoder's message.
        reason: String,
    },
    /// The disk under the store is full.
    #[error("the disk holding the store is full")]
    Full(#[source] std::io::Error),
    /// The storage failed (I/O error, or redb refusing work after one); the
    /// store reopens the file before its next operation.
    #[error("storage I/O error: {0}")]
    Io(String),
    /// Any other redb failure.
    #[error("database error: {0}")]
    Db(String),
    /// The blocking task running the store work panicked or was cancelled.
    #[error("key store task failed: {0}")]
    Task(String),
}

impl From<crate::store::StoreError> for BackendError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as S;
        match e {
            S::Full => BackendError::Full(std::io::Error::from_raw_os_error(libc::ENOSPC)),
            S::Io(m) => BackendError::Io(m),
            other => BackendError::Db(other.to_string()),
        }
    }
}

impl BackendError {
    /// Whether the store must reopen the file before it works again.
    pub fn needs_reopen(&self) -> bool {
        matches!(self, BackendError::Full(_) | BackendError::Io(_))
    }

    /// A corrupt-row error for `table`.
    pub(crate) fn corrupt(table: &str, reason: impl Into<String>) -> Self {
        BackendError::Corrupt {
            table: table.to_string(),
            reason: reason.into(),
        }
    }
}

impl From<tokio::task::JoinError> for BackendError {
    fn from(e: tokio::task::JoinError) -> Self {
        BackendError::Task(e.to_string())
    }
}

impl From<BackendError> for WaStoreError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::InvalidSessionId(_) | BackendError::KeyTooLong(_) => {
                WaStoreError::Validation(e.to_string())
            }
            BackendError::Corrupt { .. } | BackendError::Encode { .. } => {
                WaStoreError::Serialization(Box::new(e))
            }
            BackendError::Full(io) => WaStoreError::Io(io),
            BackendError::Io(m) => WaStoreError::Io(std::io::Error::other(m)),
            BackendError::Db(_) | BackendError::Task(_) => WaStoreError::Database(Box::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_the_matching_wacore_variant() {
        type Check = fn(&WaStoreError) -> bool;
        let cases: Vec<(BackendError, Check)> = vec![
            (BackendError::InvalidSessionId("a\0b".into()), |e| {
                matches!(e, WaStoreError::Validation(_))
            }),
            (BackendError::corrupt("wa_session", "short"), |e| {
                matches!(e, WaStoreError::Serialization(_))
            }),
            (
                BackendError::Full(std::io::Error::from_raw_os_error(libc::ENOSPC)),
                |e| matches!(e, WaStoreError::Io(_)),
            ),
            (BackendError::Db("boom".into()), |e| {
                matches!(e, WaStoreError::Database(_))
            }),
        ];
        for (err, check) in cases {
            let text = err.to_string();
            let mapped = WaStoreError::from(err);
            assert!(check(&mapped), "{text} mapped to {mapped:?}");
        }
    }

    #[test]
    fn store_failures_keep_their_reopen_class() {
        use crate::store::StoreError;
        let full = BackendError::from(StoreError::Full);
        assert!(
            matches!(full, BackendError::Full(_)) && full.needs_reopen(),
            "{full}"
        );
        let io = BackendError::from(StoreError::Io("a previous I/O error".into()));
        assert!(
            matches!(io, BackendError::Io(_)) && io.needs_reopen(),
            "{io}"
        );
        let other = BackendError::from(StoreError::Db("x".into()));
        assert!(
            matches!(other, BackendError::Db(_)) && !other.needs_reopen(),
            "{other}"
        );
    }
}
