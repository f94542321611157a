//! Chaos: 10,000 events flow to a receiver while the gateway is `kill -9`ed
//! at random moments and restarted on the same data directory. Afterwards
//! every event the gateway acknowledged reached the receiver at least once;
//! the duplicate count (at-least-once after a crash) is reported.

mod common;
#[path = "support/receiver.rs"]
mod receiver;

use common::{Gateway, Opts, client, create_session};
use rand::RngExt;
use receiver::Receiver;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const EVENTS: usize = 10_000;
const BATCH: usize = 250;
const KILLS: usize = 5;

fn opts() -> Opts {
    Opts::default()
        .env("WAGO_WEBHOOK_RETRY_FIRST_MS", "100")
        .env("WAGO_WEBHOOK_RETRY_MAX_DELAY_MS", "500")
        .env("WAGO_WEBHOOK_CONCURRENCY", "16")
        .env("WAGO_LOG", "warn,wago=info")
}

async fn inject_batch(
    gw_url: String,
    admin: String,
    sid: String,
    round: usize,
) -> Option<Vec<u64>> {
    let batch: Vec<Value> = (0..BATCH)
        .map(|i| json!({ "Session": sid, "Event": "message.received", "Chat": format!("{}@s.whatsapp.net", (round * BATCH + i) % 50), "Payload": { "n": i } }))
        .collect();
    let r = client()
        .post(gw_url)
        .header("Authorization", format!("Bearer {admin}"))
        .json(&Value::Array(batch))
        .send()
        .await
        .ok()?;
    if r.status() != 201 {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    Some(
        v["data"]["Seqs"]
            .as_array()?
            .iter()
            .filter_map(Value::as_u64)
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_nothing() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start().await;
    let mut gw = Gateway::start_with(dir.path(), &opts());
    let admin = gw.admin_token();
    let (sid, token) = create_session(&gw, &admin, "till").await;
    let r = client()
        .post(gw.url("/webhook"))
        .header("token", &token)
        .json(&json!({ "WebhookURL": rx.url("/in") }))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(r.status(), 201);

    let mut accepted: HashSet<u64> = HashSet::new();
    let mut kills = 0;
    let mut round = 0;
    let mut rng = rand::rng();
    while accepted.len() < EVENTS {
        let kill_at = if kills < KILLS && accepted.len() >= (kills + 1) * EVENTS / (KILLS + 2) {
            Some(Duration::from_millis(rng.random_range(20..400)))
        } else {
            None
        };
        let fut = inject_batch(gw.url("/admin/events"), admin.clone(), sid.clone(), round);
        round += 1;
        match kill_at {
            None => {
                if let Some(seqs) = fut.await {
                    accepted.extend(seqs);
                }
            }
            Some(after) => {
                tokio::pin!(fut);
                tokio::select! {
                    r = &mut fut => if let Some(seqs) = r { accepted.extend(seqs); },
                    _ = tokio::time::sleep(after) => {}
                }
                // Let deliveries be mid-flight, then pull the plug.
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..150))).await;
                gw.kill9();
                kills += 1;
                gw = Gateway::start_with(dir.path(), &opts());
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    let (missing, dups, distinct) = loop {
        let hits = rx.hits();
        let mut seen = HashSet::new();
        let mut ids = HashSet::new();
        let mut dups = 0;
        for h in &hits {
            let b = h.json();
            let id = b["id"].as_str().expect("id").to_string();
            if !ids.insert(id) {
                dups += 1;
            }
            seen.insert(b["metadata"]["seq"].as_u64().expect("seq"));
        }
        let missing = accepted.iter().filter(|s| !seen.contains(s)).count();
        if missing == 0 || Instant::now() > deadline {
            break (missing, dups, ids.len());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Straight to stderr: libtest captures println!, and this line belongs in
    // the output of tests/run even when the test passes.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "chaos: {} events acknowledged, {distinct} distinct ids received, {dups} duplicates, {kills} kill -9s, {:.1}s",
        accepted.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(kills, KILLS, "the gateway was killed {KILLS} times");
    assert_eq!(
        missing, 0,
        "{missing} acknowledged events never reached the receiver"
    );
    drop(gw);
}
