//! Test harness: runs the real `wago` binary on `127.0.0.1:0` with its own
//! data directory, learns the bound address from its log, and kills it when
//! dropped so a failing test never leaves a stray process behind.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running gateway process.
pub struct Gateway {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data directory.
    pub data: PathBuf,
    /// Everything it wrote to stderr so far.
    pub log: Arc<Mutex<String>>,
}

/// How to start a gateway.
#[derive(Clone, Default)]
pub struct Opts {
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Extra arguments.
    pub args: Vec<String>,
    /// Run under a fake systemd: `NOTIFY_SOCKET` set to this path,
    /// `WATCHDOG_USEC=1000000` and `WATCHDOG_PID` the gateway's own pid.
    pub notify_socket: Option<PathBuf>,
}

impl Opts {
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
}

/// The command line of the gateway binary with a clean environment.
pub fn command(data: &Path, opts: &Opts) -> Command {
    let mut cmd = match &opts.notify_socket {
        // `exec` keeps the shell's pid, so `$$` is the gateway's pid.
        Some(_) => {
            let mut c = Command::new("sh");
            c.args([
                "-c",
                "WATCHDOG_PID=$$ exec \"$0\" \"$@\"",
                env!("CARGO_BIN_EXE_wago"),
            ]);
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_wago")),
    };
    cmd.args(&opts.args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WAGO_DATA_DIR", data)
        .env("WAGO_LISTEN", "127.0.0.1:0")
        .env("WAGO_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(sock) = &opts.notify_socket {
        cmd.env("NOTIFY_SOCKET", sock)
            .env("WATCHDOG_USEC", "1000000");
    }
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    cmd
}

impl Gateway {
    /// Starts the gateway on `data` and waits until it listens.
    pub fn start(data: &Path) -> Gateway {
        Self::start_with(data, &Opts::default())
    }

    /// Starts with extra options; panics (failing the test) if it does not listen within 30 s.
    pub fn start_with(data: &Path, opts: &Opts) -> Gateway {
        match Self::try_start(data, opts) {
            Ok(g) => g,
            Err((status, log)) => panic!("gateway did not start ({status:?}):\n{log}"),
        }
    }

    /// Starts; on failure returns the exit status and the log.
    pub fn try_start(data: &Path, opts: &Opts) -> Result<Gateway, (Option<ExitStatus>, String)> {
        let mut child = command(data, opts).spawn().expect("spawn wago");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(addr) = line.split("listening addr=").nth(1)
                        && let Ok(a) = addr.trim().parse::<SocketAddr>()
                        && let Some(tx) = tx.take()
                    {
                        let _ = tx.send(a);
                    }
                    let mut l = log.lock().expect("log lock");
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(addr) = rx.recv_timeout(Duration::from_millis(50)) {
                return Ok(Gateway {
                    child: Some(child),
                    addr,
                    data: data.to_path_buf(),
                    log,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                let text = log.lock().expect("log lock").clone();
                return Err((Some(status), text));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let text = log.lock().expect("log lock").clone();
                return Err((None, text));
            }
        }
    }

    /// `http://addr`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The generated admin token.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data.join("admin-token"))
            .expect("admin-token file")
            .trim()
            .to_string()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Sends a signal.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Waits for the process to exit, up to `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) -> ExitStatus {
        self.signal("TERM");
        let status = self
            .wait(Duration::from_secs(30))
            .expect("exit after SIGTERM");
        self.child = None;
        status
    }

    /// `kill -9`, no chance to clean up.
    pub fn kill9(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An HTTP client that never uses a proxy, and opens a fresh connection per
/// request: after an early error answer (413 before the body was read) the
/// server closes the connection, and a pooled client could race to reuse it.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `GET path` with a `token` header: the status and the JSON body.
pub async fn get(gw: &Gateway, token: &str, path: &str) -> (u16, serde_json::Value) {
    let r = client()
        .get(gw.url(path))
        .header("token", token)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

/// `POST path` with a `token` header and a JSON body: the status and the
/// JSON answer.
pub async fn post(
    gw: &Gateway,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = client()
        .post(gw.url(path))
        .header("token", token)
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

/// Creates a session and returns `(id, token)`.
pub async fn create_session(gw: &Gateway, admin: &str, name: &str) -> (String, String) {
    let resp = client()
        .post(gw.url("/session/init"))
        .header("Authorization", format!("Bearer {admin}"))
        .json(&serde_json::json!({ "Name": name }))
        .send()
        .await
        .expect("init");
    assert_eq!(resp.status(), 201);
    let v: serde_json::Value = resp.json().await.expect("json");
    (
        v["data"]["Id"].as_str().expect("id").to_string(),
        v["data"]["Token"].as_str().expect("token").to_string(),
    )
}

/// Asserts the body is the JSON error envelope with `code`, returning it.
pub async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let v: serde_json::Value = resp.json().await.expect("error body is JSON");
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(v["error"], code, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    v
}

/// A temporary tmpfs mount (needs root, as in CI); unmounted on drop.
pub struct Tmpfs {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(opts: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).expect("mkdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed: these tests need root (as CI has) to make read-only and full filesystems"
        );
        Tmpfs { path, _dir: dir }
    }

    pub fn remount(&self, opts: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.path)
            .status()
            .expect("run mount");
        assert!(status.success(), "remount {opts}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Reruns the calling test (`name`, as `cargo test` lists it) in a new
/// network namespace where only loopback is up, and fails if it fails there.
/// Returns `true` when already inside (then the caller runs its body).
///
/// For tests whose generated input could name any host (webhook URLs, media
/// URLs): nothing they make the gateway do can leave the machine. Needs root
/// (`unshare -n`, as tests/run runs) or unprivileged user namespaces
/// (`unshare -rn`).
pub fn in_loopback_netns(name: &str) -> bool {
    const INSIDE: &str = "TEST_WAGO_IN_LOOPBACK_NETNS";
    if std::env::var_os(INSIDE).is_some() {
        let routed = Command::new("ip")
            .args(["route", "get", "192.0.2.1"])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(!routed, "the test namespace can reach beyond loopback");
        return true;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let exe = std::env::current_exe().expect("test binary path");
    let status = Command::new("unshare")
        .arg(if root { "-n" } else { "-rn" })
        .args(["sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .status()
        .expect("run unshare (util-linux) and ip (iproute2)");
    assert!(
        status.success(),
        "{name} failed inside its network namespace"
    );
    false
}
