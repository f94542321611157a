//! References to received media: what the engine needs to download a
//! message's file from WhatsApp later (its kind and the encoded message
//! with the media key and path). Written in the durability-hook
//! transaction with the message itself; the bytes live in files under the
//! data directory (`engine::media`), not in redb.

use super::tables::MEDIA_REF;
use super::{Store, StoreError};
use redb::{ReadableDatabase, WriteTransaction};

fn key(session: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(session.len() + 1 + id.len());
    k.extend_from_slice(session.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

/// Records message `id`'s media reference inside the caller's transaction.
pub(in crate::store) fn put_media_ref(
    tx: &WriteTransaction,
    session: &str,
    id: &str,
    kind: &str,
    message: &[u8],
) -> Result<(), StoreError> {
    let mut v = Vec::with_capacity(kind.len() + 1 + message.len());
    v.extend_from_slice(kind.as_bytes());
    v.push(0);
    v.extend_from_slice(message);
    tx.open_table(MEDIA_REF)?
        .insert(key(session, id).as_slice(), v.as_slice())?;
    Ok(())
}

impl Store {
    /// Message `id`'s media reference: `(kind, encoded message)`.
    pub async fn media_ref(
        &self,
        session: &str,
        id: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let k = key(session, id);
        self.run(move |db| {
            let tx = db.begin_read()?;
            let t = tx.open_table(MEDIA_REF)?;
            let Some(v) = t.get(k.as_slice())? else {
                return Ok(None);
            };
            let v = v.value();
            let split = v.iter().position(|b| *b == 0).ok_or(StoreError::Corrupt {
                table: "media_ref",
                reason: "no kind separator".into(),
            })?;
            let kind = String::from_utf8_lossy(&v[..split]).to_string();
            Ok(Some((kind, v[split + 1..].to_vec())))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DEFAULT_CACHE_BYTES;

    #[tokio::test]
    async fn a_reference_survives_reopening_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
            store
                .run(|db| {
                    let tx = db.begin_write()?;
                    put_media_ref(&tx, "s1", "M1", "image", &[1, 0, 2])?;
                    tx.commit()?;
                    Ok(())
                })
                .await
                .expect("put");
        }
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("reopen");
        assert_eq!(
            store.media_ref("s1", "M1").await.expect("get"),
            Some(("image".to_string(), vec![1, 0, 2]))
        );
        assert_eq!(store.media_ref("s2", "M1").await.expect("get"), None);
    }
}
