//! The API explorer (`GET /api`) in a real browser with no network: headless
//! Chromium (Debian's `chromium` package) and the gateway run together in a
//! new network namespace that has only loopback, so any resource the page
//! tried to fetch from elsewhere would fail. The page must list every
//! documented route and, from the URL fragment `#run=GET%20/server/ok`,
//! execute `GET /server/ok` and show its response.
//!
//! Needs root (`unshare -n`, as tests/run runs) or unprivileged user
//! namespaces (`unshare -rn`). tests/run installs chromium; missing, the
//! test fails rather than skipping.

mod common;

use std::process::Command;

/// Inside the namespace: loopback up, prove nothing else is routable, start
/// the gateway on a fixed port (the namespace is private), wait for it, then
/// dump the DOM after the page's scripts ran.
const SCRIPT: &str = r#"
set -eu
ip link set lo up
if ip route get 192.0.2.1 >/dev/null 2>&1; then echo "NETWORK-REACHABLE" >&2; exit 3; fi
"$GATEWAY_BIN" 2>"$WORK/gateway.log" &
gw=$!
trap 'kill $gw 2>/dev/null || true' EXIT
up=no
for _ in $(seq 300); do
  if (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null; then up=yes; break; fi
  kill -0 $gw 2>/dev/null || break
  sleep 0.1
done
if [ $up != yes ]; then echo "the gateway did not listen" >&2; exit 4; fi
timeout 90 chromium --headless --no-sandbox --disable-gpu --no-first-run \
  --disable-extensions --disable-background-networking --disable-component-update \
  --user-data-dir="$WORK/profile" --virtual-time-budget=15000 \
  --dump-dom 'http://127.0.0.1:18080/api#run=GET%20/server/ok' 2>"$WORK/chromium.log"
"#;

#[test]
fn explorer_lists_routes_and_runs_server_ok_offline() {
    let chromium = Command::new("chromium").arg("--version").output();
    assert!(
        chromium.as_ref().is_ok_and(|o| o.status.success()),
        "chromium is not installed: apt-get install chromium (tests/run does)"
    );
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let out = Command::new("unshare")
        .arg(if root { "-n" } else { "-rn" })
        .args(["bash", "-c", SCRIPT])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", work.path())
        .env("WORK", work.path())
        .env("GATEWAY_BIN", env!("CARGO_BIN_EXE_wago"))
        .env("WAGO_DATA_DIR", &data)
        .env("WAGO_LISTEN", "127.0.0.1:18080")
        .env("WAGO_LOG", "warn")
        .output()
        .expect("run unshare");
    let read = |f: &str| std::fs::read_to_string(work.path().join(f)).unwrap_or_default();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser run failed ({:?}): {}\ngateway log:\n{}\nchromium log (tail):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        read("gateway.log"),
        tail(&read("chromium.log"), 20),
    );

    // Every documented operation is listed, grouped under its tag.
    let doc: serde_json::Value =
        serde_json::from_slice(wago::api::openapi::document().expect("document")).expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/session/status"), "sanity");
    for path in paths.keys() {
        assert!(
            dom.contains(&format!("<span class=\"path\">{path}</span>")),
            "the explorer does not list {path}:\n{}",
            tail(&dom, 40)
        );
    }
    for tag in ["session", "webhook", "server"] {
        assert!(dom.contains(&format!("<h2>{tag}</h2>")), "tag {tag} listed");
    }

    // The fragment selected GET /server/ok and ran it: status and body shown.
    assert!(
        dom.contains(r#"<h2 id="op-title">GET /server/ok</h2>"#),
        "route selected from the fragment"
    );
    assert!(
        dom.contains(r#"<span id="result-status" class="s-ok">200</span>"#),
        "response status shown:\n{}",
        tail(&dom, 60)
    );
    let body_at = dom.find(r#"<pre id="result-body">"#).expect("result body");
    let body = &dom[body_at
        ..dom[body_at..]
            .find("</pre>")
            .map_or(dom.len(), |e| body_at + e)];
    assert!(
        body.contains("\"success\": true") && body.contains("\"ok\": true"),
        "response body shown: {body}"
    );
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
