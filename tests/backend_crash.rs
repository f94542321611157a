//! Crash test: every write the key store acknowledged survives `kill -9`.
//!
//! The test re-executes its own binary as a child (switched by
//! [`CHILD_DIR_ENV`]). The child streams writes (single rows and batches)
//! into a store and prints `ack <n>` after each call returns. The parent
//! SIGKILLs it after a random number of acks, reopens the store, and checks
//! that every row of every acknowledged write is there, that the first
//! unacknowledged batch is all-or-nothing, and that every row of every
//! table still reads. Several rounds share one file, each in its own
//! session, so later rounds also recover a file earlier kills left behind.

mod backend_support;

use backend_support::{SplitMix, open_store};
use bytes::Bytes;
use redb::{ReadableDatabase, ReadableTable};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use wago::engine::backend::RedbBackend;
use wago::store::tables::WA_TABLES;
use whatsapp_rust::wacore::store::error::StoreError;
use whatsapp_rust::wacore::store::traits::*;

/// Set in the child: the data directory it writes into.
const CHILD_DIR_ENV: &str = "WAGO_BACKEND_CRASH_CHILD_DIR";
/// Set in the child: the session id of this round.
const CHILD_SESSION_ENV: &str = "WAGO_BACKEND_CRASH_CHILD_SESSION";
/// This test's name, for `--exact`.
const TEST_NAME: &str = "acknowledged_writes_survive_kill_9";
const ROUNDS: u64 = 4;
/// Longest wait for the child's next line before the test gives up.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Kills and reaps the child however the test ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Write number `n` of the stream. Each write's rows are derived from `n`
/// alone so the parent can recompute what must be there.
async fn write(backend: &RedbBackend, n: u64) -> Result<(), StoreError> {
    match n % 4 {
        0 => {
            backend
                .put_session(&session_addr(n, 0), &payload(n, 0))
                .await
        }
        1 => {
            let batch: Vec<(Arc<str>, Bytes)> = (0..3)
                .map(|k| (Arc::from(session_addr(n, k)), Bytes::from(payload(n, k))))
                .collect();
            backend.put_sessions_batch(&batch).await
        }
        2 => {
            let keys: Vec<(u32, Bytes)> = (0..3)
                .map(|k| (prekey_id(n, k), Bytes::from(payload(n, k))))
                .collect();
            backend.store_prekeys_batch(&keys, true).await
        }
        _ => {
            let entries = (0..3)
                .map(|k| MsgSecretEntry {
                    chat: Arc::from("chat@lid"),
                    sender: Arc::from("sender@lid"),
                    msg_id: Arc::from(format!("m{n}-{k}")),
                    secret: [(n % 251) as u8; 32],
                    expires_at: 0,
                    message_ts: n as i64,
                })
                .collect();
            backend.put_msg_secrets(entries).await.map(|_| ())
        }
    }
}

fn session_addr(n: u64, k: u64) -> String {
    format!("{n}:{k}@lid")
}

fn prekey_id(n: u64, k: u64) -> u32 {
    (n * 3 + k) as u32
}

fn payload(n: u64, k: u64) -> Vec<u8> {
    // Big enough that a write spans pages, so a kill can land mid-commit.
    let mut v = format!("payload-{n}-{k}-").into_bytes();
    v.resize(700 + (n % 5) as usize * 300, (n % 256) as u8);
    v
}

/// How many of write `n`'s rows are present (0..=3; write kind 0 has one).
async fn rows_present(backend: &RedbBackend, n: u64) -> Result<(u64, u64), StoreError> {
    let mut present = 0;
    let expected = if n.is_multiple_of(4) { 1 } else { 3 };
    for k in 0..expected {
        let found = match n % 4 {
            0 | 1 => backend
                .get_session(&session_addr(n, k))
                .await?
                .map(|b| b.to_vec()),
            2 => backend
                .load_prekey(prekey_id(n, k))
                .await?
                .map(|b| b.to_vec()),
            _ => backend
                .get_msg_secret("chat@lid", "sender@lid", &format!("m{n}-{k}"))
                .await?
                .map(|_| payload(n, k)),
        };
        if let Some(value) = found {
            assert_eq!(
                value,
                payload(n, k),
                "write {n} row {k} has the wrong bytes"
            );
            present += 1;
        }
    }
    Ok((present, expected))
}

/// The child: write forever, acknowledging each write on stdout.
fn run_child(dir: &Path, session: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let backend = RedbBackend::new(open_store(dir), session);
        let mut out = std::io::stdout().lock();
        for n in 0.. {
            write(&backend, n).await.expect("child write");
            writeln!(out, "ack {n}").expect("stdout");
            out.flush().expect("flush");
        }
    });
}

/// Starts a child writing session `session` into `dir`.
fn spawn_child(dir: &Path, session: &str) -> ChildGuard {
    let exe = std::env::current_exe().expect("own test binary");
    let child = Command::new(exe)
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_SESSION_ENV, session)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    ChildGuard(child)
}

/// Kills the child after `kill_after` acks; returns the highest write number
/// it acknowledged (including acks still in the pipe when it died).
fn run_round(dir: &Path, session: &str, kill_after: u64) -> Option<u64> {
    let mut guard = spawn_child(dir, session);
    let stdout = guard.0.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line
                .strip_prefix("ack ")
                .and_then(|n| n.parse::<u64>().ok())
                && tx.send(n).is_err()
            {
                break;
            }
        }
    });
    let mut last = None;
    while last.is_none_or(|n| n + 1 < kill_after) {
        match rx.recv_timeout(ACK_TIMEOUT) {
            Ok(n) => last = Some(n),
            Err(e) => panic!("child stopped acknowledging after {last:?}: {e}"),
        }
    }
    guard.0.kill().expect("kill -9");
    guard.0.wait().expect("reap");
    // Acks written before the kill may still sit in the pipe.
    last = rx.iter().last().or(last);
    reader.join().expect("reader thread");
    last
}

/// Every row of every key-store table still reads after recovery.
fn assert_all_rows_read(dir: &Path) {
    let store = open_store(dir);
    let tx = store
        .database()
        .expect("database")
        .begin_read()
        .expect("read tx");
    for def in WA_TABLES {
        let table = tx.open_table(*def).expect("table opens");
        for row in table.iter().expect("iter") {
            let (k, v) = row.expect("row reads");
            assert!(!k.value().is_empty());
            let _ = v.value().len();
        }
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    if let (Ok(dir), Ok(session)) = (
        std::env::var(CHILD_DIR_ENV),
        std::env::var(CHILD_SESSION_ENV),
    ) {
        run_child(Path::new(&dir), &session);
        return;
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut rng = SplitMix(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut acked = Vec::new();
    for round in 0..ROUNDS {
        let session = format!("crash{round}");
        let kill_after = 5 + rng.below(120);
        let last = run_round(dir.path(), &session, kill_after)
            .unwrap_or_else(|| panic!("seed {seed:#x} round {round}: no ack"));
        acked.push((session, last));
        assert_all_rows_read(dir.path());

        let store = open_store(dir.path());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            for (session, last) in &acked {
                let backend = RedbBackend::new(store.clone(), session.as_str());
                for n in 0..=*last {
                    let (present, expected) = rows_present(&backend, n).await.expect("read back");
                    assert_eq!(
                        present, expected,
                        "seed {seed:#x}: {session} acknowledged write {n} lost rows"
                    );
                }
                // The write in flight at the kill: all of it or none of it.
                let (present, expected) = rows_present(&backend, last + 1).await.expect("read");
                assert!(
                    present == 0 || present == expected,
                    "seed {seed:#x}: {session} write {} is torn ({present}/{expected})",
                    last + 1
                );
            }
        });
    }
}
