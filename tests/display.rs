//! `wago display` and `wago pair` end to end: the real gateway binary on the
//! simulated WhatsApp server, and the real display process writing to a
//! file-backed framebuffer that the test reads back, decodes and scans.

#[cfg(not(feature = "test-sim"))]
compile_error!(
    "the display tests pair through the simulated WhatsApp server: run them with `--features test-sim`"
);

mod common;
#[path = "support/screen.rs"]
mod screen;
#[path = "support/simgw.rs"]
mod simgw;

use common::{Gateway, Opts, client, create_session};
use screen::{decode_qr, shows_text};
use simgw::user_of;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wa_sim::Simulator;
use wago::display::pixfmt::{self, PixelFormat};

const W: usize = 320;
const H: usize = 240;

/// A child process killed on drop, with its stderr (or stdout) collected.
struct Proc {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(mut cmd: Command, capture_stdout: bool) -> Proc {
        if capture_stdout {
            cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        } else {
            cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("spawn wago");
        let out = Arc::new(Mutex::new(String::new()));
        let pipe: Box<dyn std::io::Read + Send> = if capture_stdout {
            Box::new(child.stdout.take().expect("stdout"))
        } else {
            Box::new(child.stderr.take().expect("stderr"))
        };
        let sink = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().expect("lock");
                s.push_str(&line);
                s.push('\n');
            }
        });
        Proc { child, out }
    }

    fn text(&self) -> String {
        self.out.lock().expect("lock").clone()
    }

    /// Waits for exit without blocking the runtime the simulator runs on.
    async fn exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                // Let the reader thread drain the pipe.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wago(args: &[&str], env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wago"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WAGO_LOG", "info")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// `wago display` on a 320×240 RGB565 framebuffer file, talking to `gateway`.
fn display(data: &Path, fb: &Path, gateway: &str, extra: &[(&str, String)]) -> Proc {
    std::fs::write(fb, b"").expect("create fb file");
    let mut env = vec![
        ("WAGO_DATA_DIR", data.display().to_string()),
        ("WAGO_DISPLAY_DRIVER", "fb".into()),
        ("WAGO_DISPLAY_DEVICE", fb.display().to_string()),
        ("WAGO_DISPLAY_WIDTH", W.to_string()),
        ("WAGO_DISPLAY_HEIGHT", H.to_string()),
        ("WAGO_DISPLAY_FORMAT", "rgb565".into()),
        ("WAGO_DISPLAY_GATEWAY_URL", gateway.to_string()),
        ("WAGO_DISPLAY_POLL_MS", "200".into()),
    ];
    env.extend(extra.iter().cloned());
    Proc::spawn(wago(&["display"], &env), false)
}

/// The framebuffer file as luminance.
fn frame(fb: &Path) -> Vec<u8> {
    let bytes = std::fs::read(fb).expect("read fb");
    if bytes.len() < W * H * 2 {
        return vec![0; W * H];
    }
    pixfmt::to_luma(&bytes, PixelFormat::Rgb565, W, H, 0)
}

/// Polls the framebuffer until `pred` holds; fails with the display's log.
async fn wait_frame<T>(
    fb: &Path,
    d: &Proc,
    limit: Duration,
    what: &str,
    pred: impl Fn(&[u8]) -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = pred(&frame(fb)) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "the screen never showed {what}; display log:\n{}",
            d.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_display_shows_the_qr_the_phone_scans_it_and_the_screen_shows_the_number() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = simgw::start(dir.path(), &sim, &[]);
    let (_, token) = create_session(&gw, &gw.admin_token(), "till").await;
    let fb = dir.path().join("fb0");
    let d = display(dir.path(), &fb, &gw.url(""), &[]);

    // Nobody asked for pairing: the display starts it (auto_pair) and draws the QR.
    let qr = wait_frame(&fb, &d, Duration::from_secs(20), "a QR code", |f| {
        decode_qr(f, W, H).into_iter().next()
    })
    .await;
    let (_, st) = simgw::get(&gw, &token, "/session/qr").await;
    assert_eq!(
        qr.split(',').count(),
        st["data"]["Code"]
            .as_str()
            .expect("code")
            .split(',')
            .count()
    );
    // The gateway serves the same screen as a PNG, QR included (loopback peer).
    let png = client()
        .get(gw.url("/display/screen.png?width=480&height=320"))
        .header("token", &token)
        .send()
        .await
        .expect("png")
        .bytes()
        .await
        .expect("body");
    let png = wago::display::png::decode(&png).expect("a PNG");
    let from_png = decode_qr(&png.luma(), 480, 320);
    assert_eq!(from_png.len(), 1, "one QR in the PNG");
    assert_eq!(from_png[0].split(',').count(), qr.split(',').count());
    sim.phone()
        .scan_qr(&qr)
        .await
        .expect("the phone scans the QR read off the screen");

    let phone = format!("+{}", user_of(&sim.phone().jid()));
    wait_frame(
        &fb,
        &d,
        Duration::from_secs(30),
        &format!("connected with {phone}"),
        |f| {
            (shows_text(f, W, H, &phone, 2) && shows_text(f, W, H, "WhatsApp connected", 2))
                .then_some(())
        },
    )
    .await;
    assert!(
        decode_qr(&frame(&fb), W, H).is_empty(),
        "no QR once connected"
    );
    assert!(
        !d.text().contains(
            &std::fs::read_to_string(dir.path().join("display-token"))
                .expect("token")
                .trim()
                .to_string()
        ),
        "the token is never logged"
    );
}

#[tokio::test]
async fn the_display_token_reads_display_routes_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path());
    let token =
        std::fs::read_to_string(dir.path().join("display-token")).expect("display token file");
    let token = token.trim();
    let get = |path: &str| {
        client()
            .get(gw.url(path))
            .header("Authorization", format!("Bearer {token}"))
            .send()
    };
    let r = get("/display/status").await.expect("status");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["data"]["State"], "no_session");
    assert_eq!(v["data"]["LanUrl"], gw.url(""));
    assert_eq!(v["data"]["StoreFull"], false);
    assert_eq!(v["data"]["Webhooks"]["Pending"], 0);
    // With a session, the display shows it (the only one), unlinked.
    let (id, _) = create_session(&gw, &gw.admin_token(), "front desk").await;
    let v: serde_json::Value = get("/display/status")
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(v["data"]["State"], "disconnected");
    assert_eq!(v["data"]["SessionId"], id.as_str());
    assert_eq!(v["data"]["SessionName"], "front desk");
    assert_eq!(v["data"]["Phone"], serde_json::Value::Null);
    let r = get("/display/status?session=nope").await.expect("send");
    common::expect_error(r, 404, "not_found").await;
    let r = get("/display/screen.png?width=240&height=240")
        .await
        .expect("png");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let png = wago::display::png::decode(&r.bytes().await.expect("body")).expect("a PNG");
    assert_eq!((png.width, png.height), (240, 240));
    for path in [
        "/session/status",
        "/admin/sessions",
        "/webhook",
        "/messages",
    ] {
        common::expect_error(get(path).await.expect("send"), 403, "forbidden").await;
    }
    common::expect_error(
        get("/display/screen.png?width=5").await.expect("send"),
        422,
        "validation_error",
    )
    .await;
    common::expect_error(
        client()
            .get(gw.url("/display/status"))
            .send()
            .await
            .expect("send"),
        401,
        "unauthorized",
    )
    .await;
}

/// Waits up to 15 s until the screen shows `title` as a large line.
async fn wait_title(fb: &Path, d: &Proc, what: &str, title: &str) {
    wait_frame(fb, d, Duration::from_secs(15), what, |f| {
        shows_text(f, W, H, title, 2).then_some(())
    })
    .await
}

/// A free loopback port for a gateway that must come back on the same address.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[tokio::test]
async fn the_display_shows_starting_while_the_gateway_is_down_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let o = Opts::default().env("WAGO_LISTEN", &addr);
    let gw = Gateway::start_with(dir.path(), &o);
    let fb = dir.path().join("fb0");
    let mut d = display(dir.path(), &fb, &format!("http://{addr}"), &[]);
    // No session yet: the screen says so.
    wait_title(&fb, &d, "the no-session screen", "Needs attention").await;
    assert!(shows_text(
        &frame(&fb),
        W,
        H,
        "No WhatsApp account set up",
        1
    ));

    gw.stop();
    wait_title(&fb, &d, "starting", "Starting...").await;
    assert!(
        d.child.try_wait().expect("try_wait").is_none(),
        "the display keeps running"
    );

    let _gw = Gateway::start_with(dir.path(), &o);
    wait_title(&fb, &d, "the no-session screen again", "Needs attention").await;
    assert!(
        d.exit(Duration::ZERO).await.is_none(),
        "the display is still running"
    );
}

#[tokio::test]
async fn a_broken_device_is_a_clear_error_and_a_distinct_exit_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("plain-file");
    std::fs::write(&plain, b"").expect("file");
    let cases = [
        ("/nonexistent/fb7", "cannot open"),
        (plain.to_str().expect("utf-8"), "display.format"),
        ("/dev/null", "not a framebuffer"),
    ];
    for (device, want) in cases {
        let env = vec![
            ("WAGO_DATA_DIR", dir.path().display().to_string()),
            ("WAGO_DISPLAY_DEVICE", device.to_string()),
        ];
        let mut p = Proc::spawn(wago(&["display"], &env), false);
        let status = p
            .exit(Duration::from_secs(10))
            .await
            .expect("exits at once");
        assert_eq!(
            status.code(),
            Some(i32::from(wago::display::EXIT_DEVICE)),
            "{device}: {}",
            p.text()
        );
        let text = p.text();
        assert!(
            text.contains(device) && text.contains(want),
            "{device}: {text}"
        );
    }
    // A bad config value is a config error naming the key (exit 2).
    let mut p = Proc::spawn(
        wago(
            &["display"],
            &[
                ("WAGO_DISPLAY_WIDTH", "10".into()),
                ("WAGO_DISPLAY_HEIGHT", "64".into()),
            ],
        ),
        false,
    );
    let status = p.exit(Duration::from_secs(10)).await.expect("exits");
    assert_eq!(status.code(), Some(2));
    assert!(p.text().contains("display.width"), "{}", p.text());
}

#[tokio::test]
async fn wago_pair_prints_a_qr_that_links_the_phone_and_exits_0() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = simgw::start(dir.path(), &sim, &[]);
    let (_, token) = create_session(&gw, &gw.admin_token(), "till").await;
    // From a "laptop": only the URL and the session's token.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let mut p = Proc::spawn(
        wago(
            &[
                "pair",
                "--url",
                &gw.url(""),
                "--token",
                &token,
                "--timeout",
                "60",
            ],
            &[("WAGO_DATA_DIR", elsewhere.path().display().to_string())],
        ),
        true,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let qr = loop {
        let text = p.text();
        let lines: Vec<String> = text
            .lines()
            .skip_while(|l| !l.starts_with('█'))
            .take_while(|l| l.starts_with('█'))
            .map(str::to_string)
            .collect();
        if lines.len() > 20 && text.contains("a new code follows") {
            let (w, h, luma) = wago::display::term::lines_to_luma(&lines, 4);
            if let Some(q) = decode_qr(&luma, w, h).into_iter().next() {
                break q;
            }
        }
        assert!(Instant::now() < deadline, "no QR printed:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    sim.phone()
        .scan_qr(&qr)
        .await
        .expect("the phone scans the terminal QR");
    let status = p
        .exit(Duration::from_secs(30))
        .await
        .expect("wago pair exits once linked");
    assert!(status.success(), "{}", p.text());
    let phone = user_of(&sim.phone().jid()).to_string();
    assert!(
        p.text().contains(&format!("Linked: +{phone}")),
        "{}",
        p.text()
    );
    drop(gw);
}

#[tokio::test]
async fn wago_pair_without_whatsapp_says_why_instead_of_timing_out_on_a_scan() {
    // WhatsApp's address refuses connections: no code can ever be shown.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start_with(
        dir.path(),
        &Opts::default()
            .env(
                "WAGO_WA_SERVER_URL",
                &format!("ws://127.0.0.1:{port}/ws/chat"),
            )
            .env("WAGO_WA_VERSION", simgw::VERSION),
    );
    let (_, token) = create_session(&gw, &gw.admin_token(), "till").await;
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let mut p = Proc::spawn(
        wago(
            &[
                "pair",
                "--url",
                &gw.url(""),
                "--token",
                &token,
                "--timeout",
                "3",
            ],
            &[("WAGO_DATA_DIR", elsewhere.path().display().to_string())],
        ),
        false,
    );
    let status = p
        .exit(Duration::from_secs(20))
        .await
        .expect("wago pair exits");
    assert!(!status.success(), "{}", p.text());
    let text = p.text();
    assert!(text.contains("no code to scan"), "{text}");
    assert!(text.contains("connection_refused"), "{text}");
    assert!(!text.contains("waiting for the phone to scan"), "{text}");
}

#[tokio::test]
async fn with_the_qr_kept_off_the_lan_events_carry_no_qr_but_the_box_itself_still_pairs() {
    let sim = Simulator::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = simgw::start(dir.path(), &sim, &[("WAGO_DISPLAY_QR_ON_LAN", "false")]);
    let (_, token) = create_session(&gw, &gw.admin_token(), "till").await;
    let display_token = std::fs::read_to_string(dir.path().join("display-token")).expect("token");
    let r = client()
        .post(gw.url("/display/pair"))
        .header("Authorization", format!("Bearer {}", display_token.trim()))
        .send()
        .await
        .expect("pair");
    assert_eq!(r.status(), 200);
    // Loopback (the display on the box) still gets the QR payload.
    let deadline = Instant::now() + Duration::from_secs(15);
    let qr = loop {
        let (_, v) = simgw::get(&gw, &token, "/display/status").await;
        if let Some(q) = v["data"]["QRCode"].as_str() {
            assert_eq!(v["data"]["QRWithheld"], false);
            break q.to_string();
        }
        assert!(Instant::now() < deadline, "no QR: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The event log (what webhooks and SSE carry to the LAN) has the rotation, not the code.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = client()
            .get(gw.url("/events"))
            .header("token", &token)
            .send()
            .await
            .expect("events")
            .text()
            .await
            .expect("text");
        if text.contains("session.qr_updated") {
            assert!(text.contains("expiresAt"), "{text}");
            assert!(
                !text.contains(&qr),
                "the QR payload leaked into an event: {text}"
            );
            assert!(!text.contains(qr.split(',').next().expect("ref")), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "no qr_updated event: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sim.phone().scan_qr(&qr).await.expect("scan");
}

#[tokio::test]
async fn the_status_counts_the_webhook_queue_of_the_shown_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path());
    let admin = gw.admin_token();
    let (sid, token) = create_session(&gw, &admin, "till").await;
    // A receiver that is not there: every job stays pending.
    let dead = format!("http://127.0.0.1:{}/hook", free_port());
    let r = client()
        .post(gw.url("/webhook"))
        .header("token", &token)
        .json(&serde_json::json!({ "WebhookURL": dead }))
        .send()
        .await
        .expect("webhook");
    assert!(
        r.status().is_success(),
        "{}",
        r.text().await.unwrap_or_default()
    );
    let r = client()
        .post(gw.url("/admin/events"))
        .header("Authorization", format!("Bearer {admin}"))
        .json(&serde_json::json!({ "Session": sid, "Event": "message.received", "Payload": {}, "Count": 3 }))
        .send()
        .await
        .expect("inject");
    assert_eq!(r.status(), 201);
    let display_token = std::fs::read_to_string(dir.path().join("display-token")).expect("token");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: serde_json::Value = client()
            .get(gw.url("/display/status"))
            .header("Authorization", format!("Bearer {}", display_token.trim()))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        let w = &v["data"]["Webhooks"];
        if w["Pending"] == 3 && w["OldestPendingAgeMs"].as_i64().is_some_and(|a| a >= 0) {
            assert_eq!(w["Subscriptions"], 1, "{v}");
            break;
        }
        assert!(Instant::now() < deadline, "queue not shown: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_png_and_terminal_drivers_draw_the_starting_screen_without_a_gateway() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let png = dir.path().join("screen.png");
    let env = vec![
        ("WAGO_DATA_DIR", dir.path().display().to_string()),
        ("WAGO_DISPLAY_DRIVER", "png".to_string()),
        ("WAGO_DISPLAY_DEVICE", png.display().to_string()),
        ("WAGO_DISPLAY_WIDTH", "320".into()),
        ("WAGO_DISPLAY_HEIGHT", "240".into()),
        ("WAGO_DISPLAY_GATEWAY_URL", nowhere.clone()),
    ];
    let p = Proc::spawn(wago(&["display"], &env), false);
    let golden = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/display/starting-320x240.png"),
    )
    .expect("golden");
    let golden = wago::display::png::decode(&golden).expect("golden png");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(bytes) = std::fs::read(&png)
            && let Ok(c) = wago::display::png::decode(&bytes)
        {
            assert_eq!(c, golden, "the PNG driver draws the golden starting screen");
            break;
        }
        assert!(Instant::now() < deadline, "no PNG written: {}", p.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let env = vec![
        ("WAGO_DATA_DIR", dir.path().display().to_string()),
        ("WAGO_DISPLAY_DRIVER", "term".to_string()),
        ("WAGO_DISPLAY_GATEWAY_URL", nowhere),
    ];
    let t = Proc::spawn(wago(&["display"], &env), true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !t.text().contains("waiting for the WhatsApp gateway") {
        assert!(
            Instant::now() < deadline,
            "no terminal output: {}",
            t.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
