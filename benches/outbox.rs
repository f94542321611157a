//! Benchmark: events through log → outbox → delivery to a local receiver,
//! next to the raw rate of durable redb commits on the same disk (the
//! ceiling for anything that commits once per event).
//!
//! Run: `cargo bench --bench outbox`. Prints three lines:
//! 1. durable single-row redb commits per second (the disk's ceiling);
//! 2. throughput: events/s end to end when appended in batches (group commits), p50/p99;
//! 3. latency at a steady 100 events/s, one commit per event, p50/p99.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wago::event::Event;
use wago::store::{Format, SigningSecret, Store, Subscription};
use wago::webhook::DeliveryConfig;

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Latencies (µs) of every delivery received, from append to arrival.
type Lat = Arc<Mutex<Vec<u64>>>;

async fn receiver(lat: Lat) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let lat = lat.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let lat = lat.clone();
                    async move {
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let v: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        if let Some(t0) = v["payload"]["t0"].as_u64() {
                            lat.lock().expect("lat").push(now_us().saturating_sub(t0));
                        }
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from_static(b"ok"),
                        )))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

fn event(i: u64) -> Event {
    Event {
        session: "bench".into(),
        event: "message.received".into(),
        chat: Some(format!("{}@s.whatsapp.net", i % 64)),
        timestamp: 0,
        payload: serde_json::json!({ "t0": now_us(), "text": "a typical short message body" }),
        me: None,
    }
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    v.sort_unstable();
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

async fn wait_for(lat: &Lat, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while lat.lock().expect("lat").len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn raw_commits(dir: &std::path::Path) -> f64 {
    let db = redb::Database::create(dir.join("raw.redb")).expect("create");
    const T: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("t");
    let n = 300u64;
    let start = Instant::now();
    for i in 0..n {
        let tx = db.begin_write().expect("tx");
        tx.open_table(T)
            .expect("table")
            .insert(i, [0u8; 200].as_slice())
            .expect("insert");
        tx.commit().expect("commit");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let base = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(&base).expect("tempdir");
    let ceiling = raw_commits(dir.path());
    println!(
        "disk ceiling: {ceiling:.0} durable redb commits/s (one 200-byte row each) in {}",
        base.display()
    );

    let store = Store::open(dir.path(), 16 * 1024 * 1024).expect("open");
    let lat: Lat = Arc::default();
    let addr = receiver(lat.clone()).await;
    store
        .create_subscription(Subscription {
            id: 0,
            session: None,
            main: false,
            url: format!("http://{addr}/hook"),
            events: vec![],
            format: Format::Json,
            secrets: vec![SigningSecret {
                value: wago::webhook::sign::generate_secret(),
                expires_at: None,
            }],
            headers: vec![],
            form_token: None,
            created_at: 0,
        })
        .await
        .expect("subscription");
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let cfg = DeliveryConfig {
        concurrency: 64,
        ..DeliveryConfig::default()
    };
    wago::webhook::spawn(store.clone(), stop.clone(), cfg, &tracker).expect("spawn");

    // Throughput: batches of 250 events per commit, as fast as they go.
    let total = 20_000u64;
    let start = Instant::now();
    for b in 0..(total / 250) {
        let evs: Vec<Event> = (0..250).map(|i| event(b * 250 + i)).collect();
        // The store rings the delivery workers itself after the commit.
        store.append_events(evs).await.expect("append");
    }
    wait_for(&lat, total as usize).await;
    let secs = start.elapsed().as_secs_f64();
    let mut l = std::mem::take(&mut *lat.lock().expect("lat"));
    println!(
        "throughput: {} events in {secs:.2}s = {:.0} events/s delivered (batches of 250, 64 chats, concurrency 64); latency p50 {:.1} ms, p99 {:.1} ms",
        l.len(),
        l.len() as f64 / secs,
        pct(&mut l, 0.5),
        pct(&mut l, 0.99)
    );

    // Steady 100 events/s, one durable commit per event.
    let n = 1000u64;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for i in 0..n {
        tick.tick().await;
        store.append_events(vec![event(i)]).await.expect("append");
    }
    wait_for(&lat, n as usize).await;
    let mut l = std::mem::take(&mut *lat.lock().expect("lat"));
    println!(
        "latency at 100 events/s (one commit each): {} events, p50 {:.1} ms, p99 {:.1} ms",
        l.len(),
        pct(&mut l, 0.5),
        pct(&mut l, 0.99)
    );
    stop.cancel();
    tracker.close();
    tracker.wait().await;
}
