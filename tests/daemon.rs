//! The daemon as a process: restarts, crashes, the one-process lock, graceful
//! shutdown, configuration errors, the admin token and bad data directories.

mod common;

use common::{Gateway, Opts, Tmpfs, client, command, create_session, expect_error};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

async fn status_ok(gw: &Gateway, token: &str) -> bool {
    client()
        .get(gw.url("/session/status"))
        .header("token", token)
        .send()
        .await
        .map(|r| r.status() == 200)
        .unwrap_or(false)
}

#[tokio::test]
async fn sessions_survive_a_clean_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path());
    let admin = gw.admin_token();
    let (_, token) = create_session(&gw, &admin, "till").await;
    assert!(gw.stop().success(), "clean exit");
    let gw = Gateway::start(dir.path());
    assert!(status_ok(&gw, &token).await, "token works after restart");
    // The admin token is the same one, and it was not generated again.
    assert_eq!(gw.admin_token(), admin);
    assert!(!gw.log_text().contains("generated the admin token"));
    let r = client()
        .get(gw.url("/admin/sessions"))
        .header("token", &admin)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn kill_9_keeps_every_acknowledged_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path());
    let admin = gw.admin_token();
    let mut tokens = Vec::new();
    for i in 0..20 {
        tokens.push(create_session(&gw, &admin, &format!("s{i}")).await.1);
    }
    gw.kill9();
    let gw = Gateway::start(dir.path());
    for t in &tokens {
        assert!(status_ok(&gw, t).await, "session lost after kill -9");
    }
}

#[tokio::test]
async fn a_second_instance_on_the_same_data_dir_exits_naming_the_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path());
    let started = std::time::Instant::now();
    let err = Gateway::try_start(dir.path(), &Opts::default())
        .err()
        .expect("second instance must fail");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "must fail at once"
    );
    let (status, log) = err;
    let status = status.expect("it exited");
    assert!(!status.success(), "non-zero exit: {status:?}");
    assert!(log.contains("lock"), "message names the lock: {log}");
    assert!(log.contains("in use by another wago process"), "{log}");
    // The first instance is unharmed.
    let r = client().get(gw.url("/health")).send().await.expect("send");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_and_exits_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gw = Gateway::start(dir.path());
    let admin = gw.admin_token();
    let addr = gw.addr;
    // Start a request and send half its body.
    let body = r#"{"Name": "in-flight"}"#;
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let head = format!(
        "POST /session/init HTTP/1.1\r\nHost: x\r\ntoken: {admin}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write head");
    s.write_all(&body.as_bytes()[..5]).expect("write half");
    std::thread::sleep(Duration::from_millis(200));
    gw.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    // New connections are refused once shutdown began.
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
        "the listener must be closed during shutdown"
    );
    s.write_all(&body.as_bytes()[5..]).expect("write rest");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("read reply");
    assert!(
        reply.starts_with("HTTP/1.1 201"),
        "in-flight request completed: {reply}"
    );
    let status = gw.wait(Duration::from_secs(20)).expect("exited");
    assert!(status.success(), "exit 0 after SIGTERM: {status:?}");
    // What it acknowledged is there after a restart.
    drop(gw);
    let gw = Gateway::start(dir.path());
    let v: serde_json::Value = client()
        .get(gw.url("/admin/sessions"))
        .header("token", &admin)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["data"][0]["Name"], "in-flight");
}

#[test]
fn configuration_errors_name_the_key_and_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("wago.toml");
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        ("lisen = \"127.0.0.1:1\"\n", &[], "lisen"),
        (
            "[http]\nmax_body_bytes = \"lots\"\n",
            &[],
            "http.max_body_bytes",
        ),
        ("", &[("WAGO_LISTEN", "not-an-address")], "listen"),
        ("", &[("WAGO_NO_SUCH_THING", "1")], "WAGO_NO_SUCH_THING"),
        ("listen = [", &[], "wago.toml"),
    ];
    for (text, env, needle) in cases {
        std::fs::write(&cfg, text).expect("write config");
        let mut opts = Opts {
            args: vec!["serve".into(), "--config".into(), cfg.display().to_string()],
            ..Opts::default()
        };
        for (k, v) in *env {
            opts = opts.env(k, v);
        }
        let out = command(&dir.path().join("data"), &opts)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert!(err.contains(needle), "{text:?}: {err} lacks {needle}");
    }
    // A missing explicit config file is an error too.
    let opts = Opts {
        args: vec!["--config".into(), "/nonexistent/wago.toml".into()],
        ..Opts::default()
    };
    let out = command(dir.path(), &opts).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    // A bad argument is a usage error.
    let opts = Opts {
        args: vec!["frobnicate".into()],
        ..Opts::default()
    };
    let out = command(dir.path(), &opts).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

#[tokio::test]
async fn admin_token_from_config_is_used_and_never_logged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = "configured-admin-token-0123456789";
    let gw = Gateway::start_with(
        dir.path(),
        &Opts::default()
            .env("WAGO_ADMIN_TOKEN", secret)
            .env("WAGO_LOG", "debug"),
    );
    assert!(
        !dir.path().join("admin-token").exists(),
        "no file when configured"
    );
    let (_, token) = create_session(&gw, secret, "x").await;
    assert!(status_ok(&gw, &token).await);
    let log = gw.log_text();
    assert!(
        !log.contains(secret),
        "admin token leaked into the debug log"
    );
    assert!(
        log.contains("Secret(***)"),
        "the config is logged at debug with the secret masked"
    );
}

#[tokio::test]
async fn generated_admin_token_file_is_private_and_shown_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = Gateway::start(dir.path());
    let token = gw.admin_token();
    let mode = std::fs::metadata(dir.path().join("admin-token"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        gw.log_text().matches(&token).count(),
        1,
        "printed exactly once"
    );
    let r = client()
        .get(gw.url("/admin/sessions"))
        .header("token", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}

#[test]
fn bad_data_directories_are_clear_startup_errors() {
    // A path below a regular file.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let (status, log) = Gateway::try_start(&file.join("data"), &Opts::default())
        .err()
        .expect("must fail");
    assert!(!status.expect("exited").success());
    assert!(log.contains("data directory"), "{log}");
    // A read-only filesystem.
    let ro = Tmpfs::mount("size=1m,ro");
    let (status, log) = Gateway::try_start(&ro.path, &Opts::default())
        .err()
        .expect("must fail");
    assert!(!status.expect("exited").success());
    assert!(log.contains("not writable"), "{log}");
    // A full disk.
    let full = Tmpfs::mount("size=64k");
    let _ = std::fs::write(full.path.join("filler"), vec![0u8; 64 * 1024]);
    let (status, log) = Gateway::try_start(&full.path.join("data"), &Opts::default())
        .err()
        .expect("must fail");
    assert!(!status.expect("exited").success());
    assert!(log.contains("full"), "{log}");
}

#[tokio::test]
async fn a_disk_that_fills_up_while_running_is_a_507_not_a_crash() {
    let fs = Tmpfs::mount("size=4m");
    let data = fs.path.join("data");
    let gw = Gateway::start(&data);
    let admin = gw.admin_token();
    let (_, before) = create_session(&gw, &admin, "before").await;
    // Fill the disk.
    let filler = fs.path.join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    drop(f);
    let mut saw_507 = false;
    for i in 0..50 {
        let r = client()
            .post(gw.url("/session/init"))
            .header("token", &admin)
            .json(&serde_json::json!({ "Name": format!("n{i}") }))
            .send()
            .await
            .expect("send");
        if r.status() == 507 {
            expect_error(r, 507, "storage_full").await;
            saw_507 = true;
            break;
        }
        assert_eq!(r.status(), 201, "only success or 507 while the disk fills");
    }
    assert!(saw_507, "writes on a full disk must answer 507");
    // Reads still work, and the process is alive.
    assert!(status_ok(&gw, &before).await);
    // Once space is freed, writes work again without a restart.
    std::fs::remove_file(&filler).expect("free space");
    let r = client()
        .post(gw.url("/session/init"))
        .header("token", &admin)
        .json(&serde_json::json!({ "Name": "after" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201, "writes recover after space is freed");
    drop(gw);
}
