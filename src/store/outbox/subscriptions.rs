//! Webhook subscriptions: where a session's events go, which ones, in what
//! format, signed with which secrets.
//!
//! A session has at most one *main* subscription (the WaGo `/webhook` route
//! and `WebhookURL` of `/session/init`) and any number of others. A *global*
//! subscription (no session) comes from the config and receives every
//! session's events. Deleting a subscription drops its pending and dead jobs:
//! that is the client's explicit choice, and the count is returned.

use crate::store::tables::*;
use crate::store::{Store, StoreError};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// How an event is put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `POST` of the JSON envelope.
    #[default]
    Json,
    /// `multipart/form-data` with `token`, `jsonData` and maybe `file` (WaGo receivers).
    Form,
    /// WAGO-Go's flat message body, signed `X-Wago-Signature` with the
    /// secret as written; only `message.received` (see `api::dialect::wago_go`).
    #[serde(rename = "wago-go")]
    WagoGo,
}

impl Format {
    /// The format named `s` (`json`, `form`, `wago-go`), case-insensitive.
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "json" => Some(Format::Json),
            "form" => Some(Format::Form),
            "wago-go" => Some(Format::WagoGo),
            _ => None,
        }
    }

    /// Whether a subscription of this format carries `event` at all: the
    /// WAGO-Go body describes an inbound message and nothing else.
    pub fn carries(self, event: &str) -> bool {
        self != Format::WagoGo || event == "message.received"
    }
}

/// A signing secret; the newest comes first. Older ones are kept until
/// `expires_at` so receivers can switch over (two signatures meanwhile).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecret {
    /// `whsec_<base64>` or a raw string (its UTF-8 bytes are then the key).
    pub value: String,
    /// Unix ms after which it is no longer used; `None` for the current one.
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningSecret")
            .field("value", &"***")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// One webhook subscription as stored.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// Stable id, given by the store.
    pub id: u64,
    /// Owning session; `None` for the global subscription from the config.
    pub session: Option<String>,
    /// Whether this is the session's main (WaGo `/webhook`) subscription.
    pub main: bool,
    /// Absolute `http(s)://` URL.
    pub url: String,
    /// Event filter (WaGo and normalized names); empty means everything.
    pub events: Vec<String>,
    /// Wire format.
    pub format: Format,
    /// Signing secrets, newest first. Empty only when signing was turned off explicitly.
    pub secrets: Vec<SigningSecret>,
    /// Extra request headers the receiver wants (e.g. its own API key).
    pub headers: Vec<(String, String)>,
    /// The `token` field of `form` deliveries when the client chose one;
    /// `None`: the session's own token (kept sealed, see `store::seal`).
    pub form_token: Option<String>,
    /// Creation time, Unix ms.
    pub created_at: i64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("session", &self.session)
            .field("main", &self.main)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("format", &self.format)
            .field("secrets", &self.secrets)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("form_token", &self.form_token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Subscription {
    /// Whether this subscription wants `event` of `session` in `chat`.
    pub fn wants(&self, session: &str, event: &str, chat: Option<&str>) -> bool {
        self.session.as_deref().is_none_or(|s| s == session)
            && self.format.carries(event)
            && crate::event::filter_selects(&self.events, event, chat)
    }

    /// The secrets still valid at `now_ms`, newest first.
    pub fn live_secrets(&self, now_ms: i64) -> impl Iterator<Item = &SigningSecret> {
        self.secrets
            .iter()
            .filter(move |s| s.expires_at.is_none_or(|t| t > now_ms))
    }
}

/// Delivery counters of one subscription, kept in the same transactions as the jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubStats {
    /// Jobs waiting (first try or retry).
    pub pending: u64,
    /// Jobs delivered (2xx).
    pub delivered: u64,
    /// Failed attempts that were scheduled again.
    pub retried: u64,
    /// Jobs that gave up and went to the dead letters.
    pub dead: u64,
}

const NEXT_SUB_KEY: &str = "sub_id_next";

pub(crate) fn decode_sub(bytes: &[u8]) -> Result<Subscription, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table: "sub_record",
        reason: e.to_string(),
    })
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Db(e.to_string()))
}

/// Every subscription, inside an open write transaction.
pub(crate) fn all_subs(tx: &WriteTransaction) -> Result<Vec<Subscription>, StoreError> {
    let t = tx.open_table(SUB_RECORD)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        out.push(decode_sub(row?.1.value())?);
    }
    Ok(out)
}

/// Reads a subscription's counters inside a write transaction.
pub(crate) fn read_stats(tx: &WriteTransaction, id: u64) -> Result<SubStats, StoreError> {
    let t = tx.open_table(SUB_STATS)?;
    let v = t.get(id)?;
    match v {
        Some(v) => serde_json::from_slice(v.value()).map_err(|e| StoreError::Corrupt {
            table: "sub_stats",
            reason: e.to_string(),
        }),
        None => Ok(SubStats::default()),
    }
}

/// Writes a subscription's counters inside a write transaction.
pub(crate) fn write_stats(tx: &WriteTransaction, id: u64, s: &SubStats) -> Result<(), StoreError> {
    tx.open_table(SUB_STATS)?
        .insert(id, to_json(s)?.as_slice())?;
    Ok(())
}

/// Removes every job of `table` for `sub`, releasing the events they held.
fn drop_jobs(
    tx: &WriteTransaction,
    table: redb::TableDefinition<(u64, u64), &[u8]>,
    sub: u64,
) -> Result<u64, StoreError> {
    let seqs: Vec<u64> = {
        let t = tx.open_table(table)?;
        let mut v = Vec::new();
        for row in t.range((sub, 0)..=(sub, u64::MAX))? {
            v.push(row?.0.value().1);
        }
        v
    };
    let mut t = tx.open_table(table)?;
    for seq in &seqs {
        t.remove((sub, *seq))?;
        super::jobs::release_event(tx, *seq)?;
    }
    Ok(seqs.len() as u64)
}

impl Store {
    /// Creates a subscription (its `id` is assigned here). A new main
    /// subscription replaces the session's previous one, dropping its jobs.
    /// Rings the bell, so delivery starts a worker for it.
    pub async fn create_subscription(
        &self,
        mut sub: Subscription,
    ) -> Result<Subscription, StoreError> {
        let sub = self
            .run(move |db| {
                let tx = db.begin_write()?;
                if sub.main
                    && let Some(old) = all_subs(&tx)?
                        .into_iter()
                        .find(|s| s.main && s.session == sub.session)
                {
                    delete_in(&tx, old.id)?;
                }
                let id = {
                    let mut meta = tx.open_table(META)?;
                    let id = meta.get(NEXT_SUB_KEY)?.map(|v| v.value()).unwrap_or(1);
                    meta.insert(NEXT_SUB_KEY, id + 1)?;
                    id
                };
                sub.id = id;
                tx.open_table(SUB_RECORD)?
                    .insert(id, to_json(&sub)?.as_slice())?;
                write_stats(&tx, id, &SubStats::default())?;
                tx.commit()?;
                Ok(sub)
            })
            .await?;
        self.bell().subscriptions_changed();
        Ok(sub)
    }

    /// Replaces a stored subscription (same id). Returns whether it existed;
    /// when it did, rings the bell so its worker restarts with the change.
    pub async fn update_subscription(&self, sub: Subscription) -> Result<bool, StoreError> {
        let existed = self
            .run(move |db| {
                let tx = db.begin_write()?;
                let existed = {
                    let mut t = tx.open_table(SUB_RECORD)?;
                    let existed = t.get(sub.id)?.is_some();
                    if existed {
                        t.insert(sub.id, to_json(&sub)?.as_slice())?;
                    }
                    existed
                };
                tx.commit()?;
                Ok(existed)
            })
            .await?;
        if existed {
            self.bell().subscriptions_changed();
        }
        Ok(existed)
    }

    /// Deletes a subscription with its jobs; `None` if it did not exist, else
    /// the number of undelivered (pending + dead) jobs dropped. Rings the
    /// bell when it existed, so its worker stops.
    pub async fn delete_subscription(&self, id: u64) -> Result<Option<u64>, StoreError> {
        let dropped = self
            .run(move |db| {
                let tx = db.begin_write()?;
                let dropped = delete_in(&tx, id)?;
                tx.commit()?;
                Ok(dropped)
            })
            .await?;
        if dropped.is_some() {
            self.bell().subscriptions_changed();
        }
        Ok(dropped)
    }

    /// One subscription by id.
    pub async fn subscription(&self, id: u64) -> Result<Option<Subscription>, StoreError> {
        self.run(move |db| {
            let tx = db.begin_read()?;
            let t = tx.open_table(SUB_RECORD)?;
            t.get(id)?.map(|v| decode_sub(v.value())).transpose()
        })
        .await
    }

    /// Every subscription (global first, then by id).
    pub async fn list_subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        self.run(|db| {
            let tx = db.begin_read()?;
            let t = tx.open_table(SUB_RECORD)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                out.push(decode_sub(row?.1.value())?);
            }
            Ok(out)
        })
        .await
    }

    /// Counters of every subscription, by id.
    pub async fn subscription_stats(&self) -> Result<Vec<(u64, SubStats)>, StoreError> {
        self.run(|db| {
            let tx = db.begin_read()?;
            let t = tx.open_table(SUB_STATS)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                let s = serde_json::from_slice(v.value()).map_err(|e| StoreError::Corrupt {
                    table: "sub_stats",
                    reason: e.to_string(),
                })?;
                out.push((k.value(), s));
            }
            Ok(out)
        })
        .await
    }
}

/// Deletes every subscription of `session` with its jobs, inside the
/// caller's transaction (a session delete). Returns how many there were; the
/// caller rings the bell after its commit when any were.
pub(in crate::store) fn delete_session_subscriptions_in(
    tx: &WriteTransaction,
    session: &str,
) -> Result<u64, StoreError> {
    let mut n = 0;
    for s in all_subs(tx)? {
        if s.session.as_deref() == Some(session) {
            delete_in(tx, s.id)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Sets the filter of `session`'s main subscription, if it has one, inside
/// the caller's transaction. Returns whether it changed (the caller rings
/// the bell after its commit).
pub(in crate::store) fn set_main_events_in(
    tx: &WriteTransaction,
    session: &str,
    events: &[String],
) -> Result<bool, StoreError> {
    let Some(mut main) = all_subs(tx)?
        .into_iter()
        .find(|s| s.main && s.session.as_deref() == Some(session))
    else {
        return Ok(false);
    };
    if main.events == events {
        return Ok(false);
    }
    main.events = events.to_vec();
    tx.open_table(SUB_RECORD)?
        .insert(main.id, to_json(&main)?.as_slice())?;
    Ok(true)
}

fn delete_in(tx: &WriteTransaction, id: u64) -> Result<Option<u64>, StoreError> {
    if tx.open_table(SUB_RECORD)?.remove(id)?.is_none() {
        return Ok(None);
    }
    let dropped = drop_jobs(tx, PENDING_JOB, id)? + drop_jobs(tx, DEAD_JOB, id)?;
    tx.open_table(SUB_STATS)?.remove(id)?;
    Ok(Some(dropped))
}
