//! Schema versions and their numbered upgrade steps.
//!
//! `meta["schema_version"]` holds the number of the last step applied. On
//! open, every later step runs in one write transaction, so an upgrade either
//! happens entirely or not at all. Steps are append-only: never edit a
//! released step, add a new one.

use super::StoreError;
use super::tables::*;
use redb::{Database, ReadableTable, WriteTransaction};

type Step = fn(&WriteTransaction) -> Result<(), StoreError>;

/// The upgrade steps, in order. Step `i` (1-based) brings the schema to version `i`.
const STEPS: &[Step] = &[
    step_1_core,
    step_2_wa_keystore,
    step_3_messages,
    step_4_webhooks,
    step_5_outbound_media,
    step_6_received_media,
    step_7_guard,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u64 = STEPS.len() as u64;

const VERSION_KEY: &str = "schema_version";

/// Step 1: sessions and tokens.
fn step_1_core(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(SETTINGS)?;
    tx.open_table(SESSION_RECORD)?;
    tx.open_table(TOKENHASH_SESSION)?;
    Ok(())
}

/// Step 2: the WhatsApp key store (`engine::backend`), keyed per session.
fn step_2_wa_keystore(tx: &WriteTransaction) -> Result<(), StoreError> {
    for table in WA_TABLES {
        tx.open_table(*table)?;
    }
    Ok(())
}

/// Step 3: messages, their indexes and the send queue.
fn step_3_messages(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(MSG_RECORD)?;
    tx.open_table(MSG_LOG)?;
    tx.open_table(MSG_CHAT_LOG)?;
    tx.open_table(MSG_CLIENT_ID)?;
    tx.open_table(SEND_QUEUE)?;
    Ok(())
}

/// Step 4: the event log, the webhook outbox and subscriptions.
fn step_4_webhooks(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(EVENT_LOG)?;
    tx.open_table(EVENT_REFS)?;
    tx.open_table(SUB_RECORD)?;
    tx.open_table(SUB_STATS)?;
    tx.open_table(PENDING_JOB)?;
    tx.open_table(DEAD_JOB)?;
    Ok(())
}

/// Step 5: media bytes of queued sends.
fn step_5_outbound_media(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(OUTBOUND_MEDIA)?;
    Ok(())
}

/// Step 6: references to received media (to download it on demand).
fn step_6_received_media(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(MEDIA_REF)?;
    Ok(())
}

/// Step 7: responsible messaging: send decisions, the suppression list,
/// revoked token hashes, the policy log (the fair-use counters are `meta` rows).
fn step_7_guard(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.open_table(SEND_DECISION)?;
    tx.open_table(SUPPRESSED)?;
    tx.open_table(REVOKED_TOKENHASH)?;
    tx.open_table(POLICY_LOG)?;
    Ok(())
}

/// Brings `db` to [`SCHEMA_VERSION`], or refuses a file from a newer build.
pub fn upgrade(db: &Database) -> Result<u64, StoreError> {
    let tx = db.begin_write()?;
    let found = {
        let meta = tx.open_table(META)?;
        meta.get(VERSION_KEY)?.map(|v| v.value()).unwrap_or(0)
    };
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (i, step) in STEPS.iter().enumerate().skip(found as usize) {
        step(&tx)?;
        tracing::info!(step = i + 1, "store schema upgraded");
    }
    tx.open_table(META)?.insert(VERSION_KEY, SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(SCHEMA_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_is_idempotent_and_refuses_newer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::create(dir.path().join("t.redb")).expect("create");
        assert_eq!(upgrade(&db).expect("first"), SCHEMA_VERSION);
        assert_eq!(upgrade(&db).expect("second"), SCHEMA_VERSION);
        let tx = db.begin_write().expect("tx");
        tx.open_table(META)
            .expect("meta")
            .insert(VERSION_KEY, SCHEMA_VERSION + 1)
            .expect("insert");
        tx.commit().expect("commit");
        let err = upgrade(&db).expect_err("newer schema must be refused");
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    }
}
