//! The WhatsApp key store's rows: the `wa_*` tables of [`super::tables`],
//! byte keys to byte values, each session one key range (`session id ‖
//! 0x00 ‖ natural key`, laid out by `engine::backend`).
//!
//! Owns the transactions of the key store: [`Store::keys_read`] and
//! [`Store::keys_write`] open one, hand the caller a [`KeyRead`] or
//! [`KeyWrite`] (row operations only: get, prefix scans, insert, remove),
//! and commit. The whatsapp-rust `Backend` impl (`engine::backend`) is built
//! on these and never sees a redb type; this module never sees a WhatsApp
//! type. Must not touch tables outside `wa_*`, and produces no events (so
//! it never rings the outbox's bell).

use super::{Store, StoreError};
use redb::{
    Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, Table,
    TableDefinition, TableHandle, WriteTransaction,
};
use std::ops::Bound;
use std::sync::Arc;

/// One table of the key store (the `WA_*` constants of `store::tables`).
pub type KeyTable = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// One owned `(key, value)` row.
pub type Row = (Vec<u8>, Vec<u8>);

/// Owned rows, in key order.
pub type Rows = Vec<Row>;

/// A key-store table's name (for error messages).
pub trait TableName {
    /// The table's name, such as `wa_session`.
    fn name(&self) -> &str;
}

impl TableName for KeyTable {
    fn name(&self) -> &str {
        TableHandle::name(self)
    }
}

/// A read transaction on the key store.
pub struct KeyRead<'a>(&'a ReadTransaction);

/// A write transaction on the key store; nothing is kept unless the
/// [`Store::keys_write`] closure returns `Ok`.
pub struct KeyWrite<'a>(&'a WriteTransaction);

impl<'a> From<&'a WriteTransaction> for KeyWrite<'a> {
    /// Key-store rows inside a caller's own write transaction (tests, or a
    /// delete that must take the key store along atomically).
    fn from(tx: &'a WriteTransaction) -> Self {
        KeyWrite(tx)
    }
}

/// A database handle the key store's blocking helpers accept.
pub struct KeyDb<'a>(&'a Database);

impl<'a> From<&'a Database> for KeyDb<'a> {
    fn from(db: &'a Database) -> Self {
        KeyDb(db)
    }
}

impl<'a> From<&'a Arc<Database>> for KeyDb<'a> {
    fn from(db: &'a Arc<Database>) -> Self {
        KeyDb(db)
    }
}

impl KeyDb<'_> {
    /// Runs `f` in one write transaction and commits it. Blocking.
    pub fn write<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&KeyWrite<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let tx = self.0.begin_write().map_err(StoreError::from)?;
        let out = f(&KeyWrite(&tx))?;
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }
}

/// One opened table of a key-store transaction: [`ReadRows`] in a read
/// transaction, [`WriteRows`] in a write one. Both read through [`ReadKeys`].
pub struct Opened<T>(T);

/// One opened table of a read transaction.
pub type ReadRows = Opened<ReadOnlyTable<&'static [u8], &'static [u8]>>;

/// One opened table of a write transaction.
pub type WriteRows<'t> = Opened<Table<'t, &'static [u8], &'static [u8]>>;

impl KeyRead<'_> {
    /// Opens `table` for reading.
    pub fn open_table(&self, table: KeyTable) -> Result<ReadRows, StoreError> {
        Ok(Opened(self.0.open_table(table)?))
    }
}

impl KeyWrite<'_> {
    /// Opens `table` for reading and writing.
    pub fn open_table(&self, table: KeyTable) -> Result<WriteRows<'_>, StoreError> {
        Ok(Opened(self.0.open_table(table)?))
    }
}

/// Reading rows, in a read or a write transaction.
pub trait ReadKeys {
    /// One row's value, copied out.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every `(key, value)` whose key starts with `prefix`, in key order.
    fn scan(&self, prefix: Vec<u8>) -> Result<Rows, StoreError>;
    /// Whether any key starts with `prefix`.
    fn any_with_prefix(&self, prefix: Vec<u8>) -> Result<bool, StoreError>;
    /// The last `(key, value)` whose key starts with `prefix`.
    fn last_with_prefix(&self, prefix: Vec<u8>) -> Result<Option<Row>, StoreError>;
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> ReadKeys for Opened<T> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(key)?.map(|v| v.value().to_vec()))
    }

    fn scan(&self, prefix: Vec<u8>) -> Result<Rows, StoreError> {
        let range = PrefixRange::new(prefix);
        let mut out = Vec::new();
        for row in self.0.range::<&[u8]>(range.bounds())? {
            let (k, v) = row?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn any_with_prefix(&self, prefix: Vec<u8>) -> Result<bool, StoreError> {
        let range = PrefixRange::new(prefix);
        Ok(self
            .0
            .range::<&[u8]>(range.bounds())?
            .next()
            .transpose()?
            .is_some())
    }

    fn last_with_prefix(&self, prefix: Vec<u8>) -> Result<Option<Row>, StoreError> {
        let range = PrefixRange::new(prefix);
        let last = self
            .0
            .range::<&[u8]>(range.bounds())?
            .next_back()
            .transpose()?;
        Ok(last.map(|(k, v)| (k.value().to_vec(), v.value().to_vec())))
    }
}

impl WriteRows<'_> {
    /// Writes one row.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.0.insert(key, value)?;
        Ok(())
    }

    /// Removes one row, returning its old value.
    pub fn remove(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.remove(key)?.map(|v| v.value().to_vec()))
    }

    /// Removes the rows under `prefix` for which `doomed(key, value)` holds.
    /// Returns how many were removed.
    pub fn remove_where(
        &mut self,
        prefix: Vec<u8>,
        mut doomed: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<u64, StoreError> {
        let range = PrefixRange::new(prefix);
        let mut keys = Vec::new();
        for row in self.0.range::<&[u8]>(range.bounds())? {
            let (k, v) = row?;
            if doomed(k.value(), v.value()) {
                keys.push(k.value().to_vec());
            }
        }
        for key in &keys {
            self.0.remove(key.as_slice())?;
        }
        Ok(keys.len() as u64)
    }

    /// Removes every row under `prefix`.
    pub fn remove_prefix(&mut self, prefix: Vec<u8>) -> Result<u64, StoreError> {
        self.remove_where(prefix, |_, _| true)
    }
}

impl Store {
    /// Runs `f` in one key-store read transaction. Blocking: call it from
    /// the blocking pool, per operation.
    pub fn keys_read<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&KeyRead<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let db = self.database()?;
        let tx = db.begin_read().map_err(StoreError::from)?;
        f(&KeyRead(&tx))
    }

    /// Runs `f` in one key-store write transaction and commits it
    /// (immediate durability: on disk when this returns). An error from `f`
    /// aborts the transaction, so a call writes all or nothing. Blocking.
    pub fn keys_write<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&KeyWrite<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let db = self.database()?;
        KeyDb(&db).write(f)
    }
}

/// A prefix scan's bounds: from `prefix` up to, not including, the first key
/// that no longer starts with it.
struct PrefixRange {
    lower: Vec<u8>,
    upper: Option<Vec<u8>>,
}

impl PrefixRange {
    /// Every key starting with `prefix`.
    fn new(prefix: Vec<u8>) -> Self {
        let upper = successor(&prefix);
        PrefixRange {
            lower: prefix,
            upper,
        }
    }

    /// Borrowed bounds in the shape redb's `range` takes.
    fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (
            Bound::Included(self.lower.as_slice()),
            match &self.upper {
                Some(upper) => Bound::Excluded(upper.as_slice()),
                None => Bound::Unbounded,
            },
        )
    }
}

/// The smallest byte string greater than every string starting with
/// `prefix`, or `None` when there is none (all bytes 0xFF).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut next = prefix.to_vec();
    while let Some(last) = next.pop() {
        if last < u8::MAX {
            next.push(last + 1);
            return Some(next);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_bounds_exactly_the_prefix() {
        assert_eq!(successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(successor(&[0xFF, 0xFF]), None);
        let range = PrefixRange::new(b"s\0".to_vec());
        let (lo, hi) = range.bounds();
        assert_eq!(lo, Bound::Included(&b"s\0"[..]));
        assert_eq!(hi, Bound::Excluded(&b"s\x01"[..]));
    }
}
