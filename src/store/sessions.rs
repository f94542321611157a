//! Sessions (one WhatsApp account each) and their tokens.
//!
//! Tokens are never stored: only their SHA-256, which indexes the session.
//! Lookups hash the presented token, find the candidate by hash and then
//! compare the hashes in constant time.

use super::tables::*;
use super::{Store, StoreError};
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A session as stored.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionRecord {
    /// Stable id, used in admin routes and as the key prefix of everything the session owns.
    pub id: String,
    /// Human name given at creation ("till", "reception").
    pub name: String,
    /// SHA-256 of the session token, hex.
    pub token_sha256: String,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Webhook URL given at creation, if any.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Event filter: given at creation, replaced by `Subscribe`; equal to
    /// the main subscription's whenever there is one.
    #[serde(default)]
    pub events: Vec<String>,
    /// The session token sealed with the box's key (see `store::seal`), for
    /// the `token` field of `form` webhooks. `None` for sessions made before
    /// tokens were sealed, or when the box has no key. Never used to
    /// authenticate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sealed: Option<String>,
    /// The dialect the session's clients speak on paths several dialects
    /// share (`/messages`): `None` is WaGo, else a dialect's name
    /// (`wago-go`). Set at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("token_sha256", &"***")
            .field("created_at", &self.created_at)
            .field("webhook_url", &self.webhook_url)
            .field("events", &self.events)
            .field("token_sealed", &self.token_sealed.as_ref().map(|_| "***"))
            .field("dialect", &self.dialect)
            .finish()
    }
}

/// SHA-256 of a token.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

const ADMIN_HASH_KEY: &str = "admin_token_sha256";
const DISPLAY_HASH_KEY: &str = "display_token_sha256";

pub(in crate::store) fn decode(bytes: &[u8]) -> Result<SessionRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table: "session_record",
        reason: e.to_string(),
    })
}

fn encode(rec: &SessionRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(rec).map_err(|e| StoreError::Db(e.to_string()))
}

impl Store {
    /// Whether `token` belonged to a session that was deleted.
    pub async fn token_revoked(&self, token: &str) -> Result<bool, StoreError> {
        let hash = hash_token(token);
        self.run(move |db| {
            let tx = db.begin_read()?;
            let t = tx.open_table(REVOKED_TOKENHASH)?;
            Ok(t.get(hash.as_slice())?.is_some())
        })
        .await
    }

    /// The stored admin token hash, if one was generated before.
    pub async fn admin_token_hash(&self) -> Result<Option<[u8; 32]>, StoreError> {
        self.run(|db| {
            let tx = db.begin_read()?;
            let t = tx.open_table(SETTINGS)?;
            Ok(t.get(ADMIN_HASH_KEY)?
                .and_then(|v| <[u8; 32]>::try_from(v.value()).ok()))
        })
        .await
    }

    /// Stores the admin token hash (first start, generated token).
    pub async fn set_admin_token_hash(&self, hash: [u8; 32]) -> Result<(), StoreError> {
        self.run(move |db| {
            let tx = db.begin_write()?;
            tx.open_table(SETTINGS)?
                .insert(ADMIN_HASH_KEY, hash.as_slice())?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The stored display token hash, if one was set.
    pub async fn display_token_hash(&self) -> Result<Option<[u8; 32]>, StoreError> {
        self.run(|db| {
            let tx = db.begin_read()?;
            let t = tx.open_table(SETTINGS)?;
            Ok(t.get(DISPLAY_HASH_KEY)?
                .and_then(|v| <[u8; 32]>::try_from(v.value()).ok()))
        })
        .await
    }

    /// Stores the display token hash (the token itself lives in the token file only).
    pub async fn set_display_token_hash(&self, hash: [u8; 32]) -> Result<(), StoreError> {
        self.run(move |db| {
            let tx = db.begin_write()?;
            tx.open_table(SETTINGS)?
                .insert(DISPLAY_HASH_KEY, hash.as_slice())?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Creates a session with `token` (already chosen by the caller), keeping
    /// its hash and, when the box has a seal key, the token sealed.
    /// Fails with [`StoreError::Conflict`] if the token is taken.
    pub async fn create_session(
        &self,
        mut rec: SessionRecord,
        token: &str,
    ) -> Result<SessionRecord, StoreError> {
        let hash = hash_token(token);
        rec.token_sealed = self.sealer().and_then(|s| s.seal(&rec.id, token));
        self.run(move |db| {
            let tx = db.begin_write()?;
            {
                let mut idx = tx.open_table(TOKENHASH_SESSION)?;
                if idx.get(hash.as_slice())?.is_some() {
                    return Err(StoreError::Conflict("Token"));
                }
                let mut recs = tx.open_table(SESSION_RECORD)?;
                if recs.get(rec.id.as_str())?.is_some() {
                    return Err(StoreError::Conflict("session id"));
                }
                recs.insert(rec.id.as_str(), encode(&rec)?.as_slice())?;
                idx.insert(hash.as_slice(), rec.id.as_str())?;
            }
            tx.commit()?;
            Ok(rec)
        })
        .await
    }

    /// The session a token belongs to, if any.
    pub async fn session_by_token(&self, token: &str) -> Result<Option<SessionRecord>, StoreError> {
        let hash = hash_token(token);
        self.run(move |db| {
            let tx = db.begin_read()?;
            let idx = tx.open_table(TOKENHASH_SESSION)?;
            let Some(id) = idx.get(hash.as_slice())?.map(|v| v.value().to_string()) else {
                return Ok(None);
            };
            let recs = tx.open_table(SESSION_RECORD)?;
            let Some(rec) = recs
                .get(id.as_str())?
                .map(|v| decode(v.value()))
                .transpose()?
            else {
                return Ok(None);
            };
            let stored = hex::decode(&rec.token_sha256).unwrap_or_default();
            if bool::from(stored.as_slice().ct_eq(hash.as_slice())) {
                Ok(Some(rec))
            } else {
                Ok(None)
            }
        })
        .await
    }

    /// The token of session `id`, unsealed: for the `token` field of `form`
    /// webhooks only. `None` when the session is gone, its token was never
    /// sealed, or the key cannot open it (a database moved to another box).
    pub async fn session_token(&self, id: &str) -> Result<Option<String>, StoreError> {
        let Some(rec) = self.session(id).await? else {
            return Ok(None);
        };
        let (Some(sealed), Some(sealer)) = (rec.token_sealed.as_deref(), self.sealer()) else {
            return Ok(None);
        };
        let token = sealer.open(&rec.id, sealed);
        if token.is_none() {
            tracing::warn!(session = %rec.id, "the sealed session token does not open with this box's key");
        }
        Ok(token)
    }

    /// One session by id.
    pub async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let id = id.to_string();
        self.run(move |db| {
            let tx = db.begin_read()?;
            let recs = tx.open_table(SESSION_RECORD)?;
            recs.get(id.as_str())?
                .map(|v| decode(v.value()))
                .transpose()
        })
        .await
    }

    /// All sessions, ordered by id.
    pub async fn list_sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        self.run(|db| {
            let tx = db.begin_read()?;
            let recs = tx.open_table(SESSION_RECORD)?;
            let mut out = Vec::new();
            for row in recs.iter()? {
                let (_, v) = row?;
                out.push(decode(v.value())?);
            }
            Ok(out)
        })
        .await
    }

    /// Replaces a session's event filter (WaGo's `Subscribe`): the session's
    /// own filter and its main subscription's, in one transaction, so
    /// `/session/status`, `GET /webhook` and delivery always agree. Returns
    /// whether the session existed. Rings the bell when a main subscription
    /// changed, so its worker restarts with the new filter.
    pub async fn set_session_events(
        &self,
        id: &str,
        events: Vec<String>,
    ) -> Result<bool, StoreError> {
        let id = id.to_string();
        let (found, sub_changed) = self
            .run(move |db| {
                let tx = db.begin_write()?;
                let found = {
                    let mut recs = tx.open_table(SESSION_RECORD)?;
                    let rec = recs
                        .get(id.as_str())?
                        .map(|v| decode(v.value()))
                        .transpose()?;
                    match rec {
                        Some(mut rec) => {
                            rec.events = events.clone();
                            recs.insert(id.as_str(), encode(&rec)?.as_slice())?;
                            true
                        }
                        None => false,
                    }
                };
                let sub_changed = found && super::outbox::set_main_events_in(&tx, &id, &events)?;
                tx.commit()?;
                Ok((found, sub_changed))
            })
            .await?;
        if sub_changed {
            self.bell().subscriptions_changed();
        }
        Ok(found)
    }

    /// Deletes a session: its record, its token (remembered as revoked), its
    /// webhook subscriptions (with their pending and dead jobs), its
    /// fair-use counters and suppression list, in one transaction.
    /// Returns whether the session existed. Rings the bell when
    /// subscriptions went, so their workers stop. The WhatsApp key store is
    /// the engine's to wipe first (`Engine::logout`).
    pub async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        let (existed, subs) = self
            .run(move |db| {
                let tx = db.begin_write()?;
                let subs = super::outbox::delete_session_subscriptions_in(&tx, &id)?;
                let existed = {
                    let mut recs = tx.open_table(SESSION_RECORD)?;
                    let removed = recs
                        .remove(id.as_str())?
                        .map(|v| decode(v.value()))
                        .transpose()?;
                    if let Some(rec) = &removed
                        && let Ok(hash) = hex::decode(&rec.token_sha256)
                    {
                        tx.open_table(TOKENHASH_SESSION)?.remove(hash.as_slice())?;
                        tx.open_table(REVOKED_TOKENHASH)?
                            .insert(hash.as_slice(), super::now_ms())?;
                    }
                    removed.is_some()
                };
                super::guard::delete_session_rows_in(&tx, &id)?;
                tx.commit()?;
                Ok((existed, subs))
            })
            .await?;
        if subs > 0 {
            self.bell().subscriptions_changed();
        }
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DEFAULT_CACHE_BYTES;

    fn rec(id: &str, token: &str) -> SessionRecord {
        SessionRecord {
            id: id.into(),
            name: format!("name-{id}"),
            token_sha256: hex::encode(hash_token(token)),
            created_at: 1,
            webhook_url: None,
            events: vec![],
            token_sealed: None,
            dialect: None,
        }
    }

    #[tokio::test]
    async fn the_token_is_kept_sealed_and_opens_only_with_the_boxs_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = "customer-token-plaintext-42";
        {
            let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
            let made = store
                .create_session(rec("a", token), token)
                .await
                .expect("create");
            assert!(
                made.token_sealed
                    .as_deref()
                    .is_some_and(|s| !s.contains(token))
            );
            assert_eq!(
                store.session_token("a").await.expect("get").as_deref(),
                Some(token)
            );
        }
        // Nothing in the database file holds the token in the clear.
        let db = std::fs::read(dir.path().join(crate::store::DB_FILE)).expect("read db");
        assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));
        // Through a restart it still opens; with another key it does not.
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("reopen");
        assert_eq!(
            store.session_token("a").await.expect("get").as_deref(),
            Some(token)
        );
        drop(store);
        let key = dir.path().join(crate::store::seal::KEY_FILE);
        std::fs::write(&key, [9u8; 32]).expect("other key");
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("reopen");
        assert_eq!(store.session_token("a").await.expect("get"), None);
        // Authentication is by hash only, whatever the key.
        assert!(store.session_by_token(token).await.expect("auth").is_some());
    }

    #[tokio::test]
    async fn create_lookup_delete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), DEFAULT_CACHE_BYTES).expect("open");
        store
            .create_session(rec("a", "tok-a"), "tok-a")
            .await
            .expect("create a");
        let err = store
            .create_session(rec("b", "tok-a"), "tok-a")
            .await
            .expect_err("duplicate token");
        assert!(matches!(err, StoreError::Conflict("Token")));
        assert_eq!(
            store
                .session_by_token("tok-a")
                .await
                .expect("get")
                .map(|r| r.id),
            Some("a".into())
        );
        assert!(
            store
                .session_by_token("tok-b")
                .await
                .expect("get")
                .is_none()
        );
        assert_eq!(store.list_sessions().await.expect("list").len(), 1);
        assert!(store.delete_session("a").await.expect("delete"));
        assert!(!store.delete_session("a").await.expect("delete again"));
        assert!(
            store
                .session_by_token("tok-a")
                .await
                .expect("get")
                .is_none()
        );
    }

    #[test]
    fn debug_masks_the_token_hash() {
        let r = rec("a", "secret");
        assert!(!format!("{r:?}").contains(&r.token_sha256));
    }
}
