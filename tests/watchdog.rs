//! The real binary speaking the sd_notify protocol, as systemd would see it:
//! a datagram socket in `NOTIFY_SOCKET`, `WATCHDOG_USEC`, and `WATCHDOG_PID`
//! set to the child's own pid (`sh -c 'WATCHDOG_PID=$$ exec wago'`).
//!
//! The stalled-task case (no ping, STATUS= says why) is tested on the
//! supervisor itself with tokio's paused clock (`src/supervisor/tests.rs`)
//! and end to end in `tests/engine.rs` with a test-only fault (only in
//! `test-sim` builds) that hangs a session's event loop.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child on drop so a failing assertion leaves no stray daemon.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(data: &Path, sock: &Path, watchdog_pid: &str) -> Daemon {
    let script = format!("WATCHDOG_PID={watchdog_pid} exec \"$0\"");
    let child = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_wago")])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WAGO_DATA_DIR", data)
        .env("WAGO_LISTEN", "127.0.0.1:0")
        .env("NOTIFY_SOCKET", sock)
        .env("WATCHDOG_USEC", "1000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sh -c wago");
    Daemon(child)
}

/// Every notify line received within `dur`, with its arrival time.
fn collect(sock: &UnixDatagram, dur: Duration) -> Vec<(Instant, String)> {
    let end = Instant::now() + dur;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        if let Ok(n) = sock.recv(&mut buf) {
            let now = Instant::now();
            for line in String::from_utf8_lossy(&buf[..n]).lines() {
                out.push((now, line.to_string()));
            }
        }
    }
    out
}

#[test]
fn ready_status_and_regular_watchdog_pings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    let mut d = start(&dir.path().join("data"), &sock_path, "$$");
    let lines = collect(&sock, Duration::from_secs(4));
    let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();

    assert!(
        text.contains(&"STATUS=Starting: opening the store; 0 tasks checking in"),
        "{text:?}"
    );
    let ready = text
        .iter()
        .position(|l| *l == "READY=1")
        .expect("READY=1 sent");
    // READY comes with the address it serves on; /health answers there.
    let status = text[ready + 1];
    let addr = status
        .strip_prefix("STATUS=Serving on ")
        .and_then(|s| s.split(';').next())
        .unwrap_or_else(|| panic!("status after READY: {status}"));
    let mut tcp = std::net::TcpStream::connect(addr).expect("connect to the READY address");
    use std::io::{Read, Write};
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut resp = String::new();
    tcp.read_to_string(&mut resp).expect("read");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(status.ends_with("; 1 task checking in"), "{status}");

    // WATCHDOG_USEC=1 s: a ping every ~500 ms, never a gap systemd would punish.
    let pings: Vec<Instant> = lines
        .iter()
        .filter(|(_, l)| l == "WATCHDOG=1")
        .map(|(t, _)| *t)
        .collect();
    assert!(pings.len() >= 5, "{} pings in 4 s: {text:?}", pings.len());
    let after_ready: Vec<&Instant> = pings.iter().filter(|t| **t >= lines[ready].0).collect();
    let gaps: Vec<Duration> = after_ready.windows(2).map(|w| *w[1] - *w[0]).collect();
    assert!(
        gaps.iter().all(|g| *g < Duration::from_secs(1)),
        "gaps between pings: {gaps:?}"
    );
    assert!(
        !text.iter().any(|l| l.starts_with("STATUS=STALLED")),
        "{text:?}"
    );

    // SIGTERM: STOPPING=1 and a clean exit.
    Command::new("kill")
        .args(["-TERM", &d.0.id().to_string()])
        .status()
        .expect("kill");
    let lines = collect(&sock, Duration::from_millis(1500));
    assert!(lines.iter().any(|(_, l)| l == "STOPPING=1"), "{lines:?}");
    let status = d.0.wait().expect("wait");
    assert!(status.success(), "{status:?}");
}

#[test]
fn no_pings_when_the_watchdog_is_meant_for_another_pid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    let _d = start(&dir.path().join("data"), &sock_path, "1");
    let lines = collect(&sock, Duration::from_secs(2));
    assert!(lines.iter().any(|(_, l)| l == "READY=1"), "{lines:?}");
    assert!(!lines.iter().any(|(_, l)| l == "WATCHDOG=1"), "{lines:?}");
}
