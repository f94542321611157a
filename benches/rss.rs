//! Memory benchmark (not a test): resident memory of the gateway after
//! pairing and 1,000 messages each way against the simulated WhatsApp server,
//! next to a bare whatsapp-rust client with the library's in-memory store on
//! the same workload, measured side by side in one run.
//!
//! Run: `cargo bench --features test-sim --bench rss`
//!
//! The bare client runs in a child process (this binary re-executed with
//! `WAGO_RSS_BARE` set) so each side's RSS is its own. Both are built with
//! the same `bench` profile.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wa_sim::Simulator;

const MESSAGES: usize = 1000;
const VERSION: (u32, u32, u32) = (2, 3000, 1027934701);
const CONTACT: &str = "15559870000";

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    if let Ok(url) = std::env::var("WAGO_RSS_BARE") {
        bare_client(url);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let gateway = gateway_side().await;
        let bare = bare_side().await;
        let mib = |k: u64| k as f64 / 1024.0;
        println!();
        println!(
            "| process | RSS after workload (MiB) | peak RSS (MiB) | RSS after {} s idle (MiB) | workload time (s) |",
            SETTLE.as_secs()
        );
        println!("|---|---|---|---|---|");
        for (name, side) in [
            ("wago gateway (redb store, HTTP API)", gateway),
            ("bare whatsapp-rust client (in-memory store)", bare),
        ] {
            println!(
                "| {name} | {:.1} | {:.1} | {:.1} | {:.1} |",
                mib(side.0),
                mib(side.1),
                mib(side.3),
                side.2
            );
        }
        let ratio = |a: u64, b: u64| a as f64 / b.max(1) as f64;
        println!(
            "ratio after workload {:.2}x, peak {:.2}x, idle {:.2}x",
            ratio(gateway.0, bare.0),
            ratio(gateway.1, bare.1),
            ratio(gateway.3, bare.3)
        );
    });
}

/// RSS right after the workload, peak RSS (KiB), workload time (s), and RSS
/// after both sides sat idle for [`SETTLE`].
type Side = (u64, u64, f64, u64);

/// Idle time before the second reading: long enough for the gateway's
/// periodic allocator trim (`wago::malloc::TRIM_EVERY`) to run twice.
const SETTLE: Duration = Duration::from_secs(12);

async fn settle(pid: u32) -> u64 {
    tokio::time::sleep(SETTLE).await;
    rss_kib(pid).0
}

/// The gateway binary: pair, 1,000 sends through the API, 1,000 inbound.
async fn gateway_side() -> Side {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wago"))
        .env_clear()
        .env("WAGO_DATA_DIR", dir.path())
        .env("WAGO_LISTEN", "127.0.0.1:0")
        .env("WAGO_LOG", "warn,wago::daemon=info")
        // The guard's default limits (500 a day, 30 a minute) would refuse
        // most of the 1,000 sends; this bench measures memory.
        .env("WAGO_GUARD_ENABLED", "false")
        .env("WAGO_WA_SERVER_URL", sim.ws_url())
        .env(
            "WAGO_WA_VERSION",
            format!("{}.{}.{}", VERSION.0, VERSION.1, VERSION.2),
        )
        // The same allocator tuning as the bare client (which inherits this
        // process's environment), when the run sets one.
        .envs(std::env::var("MALLOC_ARENA_MAX").map(|v| ("MALLOC_ARENA_MAX", v)))
        // The redb cache size under test, when the run sets one.
        .envs(std::env::var("WAGO_CACHE_MIB").map(|v| ("WAGO_CACHE_MIB", v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wago");
    let pid = child.id();
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(a) = line.split("listening addr=").nth(1)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(a.trim().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("gateway listens");
    let admin = std::fs::read_to_string(dir.path().join("admin-token")).expect("admin token");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = |p: &str| format!("http://{addr}{p}");
    let v: serde_json::Value = http
        .post(url("/session/init"))
        .header("token", admin.trim())
        .json(&serde_json::json!({ "Name": "bench" }))
        .send()
        .await
        .expect("init")
        .json()
        .await
        .expect("json");
    let token = v["data"]["Token"].as_str().expect("token").to_string();
    let get = |p: &'static str| {
        let (http, token, url) = (http.clone(), token.clone(), url(p));
        async move {
            http.get(url)
                .header("token", token)
                .send()
                .await
                .expect("get")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    http.post(url("/session/connect"))
        .header("token", &token)
        .send()
        .await
        .expect("connect");
    let started = Instant::now();
    let code = loop {
        let v = get("/session/qr").await;
        if let Some(c) = v["data"]["Code"].as_str() {
            break c.to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    sim.phone().scan_qr(&code).await.expect("scan");
    while get("/session/status").await["data"]["State"] != "connected" {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let contact = sim.contact(CONTACT);
    for i in 0..MESSAGES {
        http.post(url("/send/text"))
            .header("token", &token)
            .json(&serde_json::json!({ "Phone": CONTACT, "Body": format!("outbound message {i}") }))
            .send()
            .await
            .expect("send");
    }
    for i in 0..MESSAGES {
        contact
            .send_text(&sim.phone().jid(), &format!("inbound message {i}"))
            .await
            .expect("inbound");
    }
    while contact.received().await.len() < MESSAGES {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    loop {
        let v = http
            .get(url(&format!("/messages?limit=1000&after={MESSAGES}")))
            .header("token", &token)
            .send()
            .await
            .expect("list")
            .json::<serde_json::Value>()
            .await
            .expect("json");
        let inbound = v["data"]["Messages"]
            .as_array()
            .map(|m| m.iter().filter(|m| m["FromMe"] == false).count())
            .unwrap_or(0);
        if inbound >= MESSAGES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (rss, hwm) = rss_kib(pid);
    let settled = settle(pid).await;
    let _ = child.kill();
    let _ = child.wait();
    (rss, hwm, elapsed, settled)
}

/// The bare client in a child process, driven over its stdin/stdout.
async fn bare_side() -> Side {
    let sim = Simulator::start().await.expect("sim");
    let exe = std::env::current_exe().expect("exe");
    let mut child = Command::new(exe)
        .env("WAGO_RSS_BARE", sim.ws_url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn bare client");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_line = |prefix: &str| loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("bare client answers");
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.trim().to_string();
        }
    };
    let started = Instant::now();
    let code = wait_line("QR ");
    sim.phone().scan_qr(&code).await.expect("scan");
    wait_line("CONNECTED");
    let contact = sim.contact(CONTACT);
    writeln!(stdin, "send {MESSAGES} {}@s.whatsapp.net", CONTACT).expect("command");
    for i in 0..MESSAGES {
        contact
            .send_text(&sim.phone().jid(), &format!("inbound message {i}"))
            .await
            .expect("inbound");
    }
    wait_line("SENT");
    while contact.received().await.len() < MESSAGES {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    writeln!(stdin, "wait {MESSAGES}").expect("command");
    wait_line("RECEIVED");
    let elapsed = started.elapsed().as_secs_f64();
    let (rss, hwm) = rss_kib(pid);
    let settled = settle(pid).await;
    let _ = child.kill();
    let _ = child.wait();
    (rss, hwm, elapsed, settled)
}

/// The child: a bare client with the in-memory store, commanded over stdin.
fn bare_client(url: String) {
    use whatsapp_rust::TokioRuntime;
    use whatsapp_rust::bot::Bot;
    use whatsapp_rust::transport::TokioWebSocketTransportFactory;
    use whatsapp_rust::wacore::store::InMemoryBackend;
    use whatsapp_rust::wacore::types::events::Event;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = received.clone();
        let bot = Bot::builder()
            .with_backend(InMemoryBackend::new())
            .with_transport_factory(TokioWebSocketTransportFactory::new().with_url(url))
            .with_http_client(wago::engine::http::HyperHttp::new())
            .with_runtime(TokioRuntime)
            .with_version(VERSION)
            .skip_history_sync()
            .on_event(move |ev, client| {
                let count = count.clone();
                async move {
                    match &*ev {
                        Event::PairingQrCode(qr) => println!("QR {}", qr.code),
                        Event::Connected(_) => {
                            let _ = client.presence().set_available().await;
                            println!("CONNECTED");
                        }
                        Event::Messages(batch) => {
                            count.fetch_add(batch.len(), std::sync::atomic::Ordering::SeqCst);
                        }
                        _ => {}
                    }
                }
            })
            .build()
            .await
            .expect("build");
        let handle = bot.spawn();
        let client = handle.client();
        let mut lines = BufReader::new(std::io::stdin()).lines();
        while let Some(Ok(line)) = lines.next() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["send", n, to] => {
                    let n: usize = n.parse().unwrap_or(0);
                    let to: whatsapp_rust::Jid = to.parse().expect("jid");
                    for i in 0..n {
                        client
                            .send_text(to.clone(), format!("outbound message {i}"))
                            .await
                            .expect("send");
                    }
                    println!("SENT");
                }
                ["wait", n] => {
                    let n: usize = n.parse().unwrap_or(0);
                    while received.load(std::sync::atomic::Ordering::SeqCst) < n {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    println!("RECEIVED");
                }
                _ => {}
            }
        }
    });
}
