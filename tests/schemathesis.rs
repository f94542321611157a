//! schemathesis (property-based API testing from the OpenAPI document)
//! against the real gateway, talking to the simulated WhatsApp server.
//!
//! Every documented operation (except the endless SSE stream) gets
//! generated valid and invalid requests, with the admin token on admin
//! routes and a session token on session routes. It fails on any 5xx, any
//! response that does not match its documented schema, status code or
//! content type, an invalid request accepted, or an auth requirement that
//! is not enforced.
//!
//! The test reruns itself in a network namespace with only loopback up
//! (`common::in_loopback_netns`): generated webhook and media URLs name
//! arbitrary hosts, and the gateway must never reach them.
//!
//! schemathesis comes from PyPI: tests/run installs it into `.venv`
//! (`TEST_WAGO_SCHEMATHESIS` may point at another `st`). Missing, the test
//! fails: it is not skipped.

#[cfg(not(feature = "test-sim"))]
compile_error!(
    "the schemathesis test runs the gateway against the simulator: use `--features test-sim`"
);

mod common;

use common::{Gateway, Opts, create_session};
use std::path::PathBuf;
use std::process::Command;
use wa_sim::Simulator;

const VERSION: &str = "2.3000.1027934701";
/// Where "valid by the schema" is not enough to succeed, the
/// `positive_data_acceptance` check (a schema-valid request must get a 2xx)
/// is off: these inputs name things that must exist or follow rules a JSON
/// Schema cannot state (a session or subscription id, a reachable-looking
/// webhook URL, a `whsec_` secret's base64, a phone number, a message id,
/// a group JID, a reachable media URL, the session's own `instance_id`;
/// and a valid send may meet the guard's speed and limits). Every other
/// check (schemathesis enables all of them by default), including invalid
/// requests being refused, stays on for them. One worker: schemathesis's
/// generator is not reliable with several on this machine.
const RULES: &str = r#"
[[operations]]
include-path-regex = "^/(webhooks?(/.*)?|admin/events|session/(connect|init)|send(/.*|-text|-otp)|api/send-message|suppressed-recipients(/.*)?|message/.*|messages|chat/presence|user/.*|group/.*)$"
checks.positive_data_acceptance.enabled = false
"#;
/// Test cases per operation and phase.
const MAX_EXAMPLES: &str = "100";

fn schemathesis() -> PathBuf {
    let path = std::env::var_os("TEST_WAGO_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/st"));
    assert!(
        path.exists(),
        "schemathesis not found at {}: run tests/run (it pip-installs schemathesis into .venv), \
         or `python3 -m venv .venv && .venv/bin/pip install schemathesis`",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_mismatch() {
    // Generated webhook and media URLs name arbitrary hosts: run where
    // only loopback exists, so the gateway can never reach them.
    if !common::in_loopback_netns("schemathesis_finds_no_server_error_and_no_schema_mismatch") {
        return;
    }
    let st = schemathesis();
    let sim = Simulator::start().await.expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Opts::default()
        .env("WAGO_WA_SERVER_URL", &sim.ws_url())
        .env("WAGO_WA_VERSION", VERSION)
        .env("WAGO_LOG", "warn,wago::daemon=info");
    let gw = Gateway::start_with(dir.path(), &opts);
    let admin = gw.admin_token();
    let (_id, token) = create_session(&gw, &admin, "schemathesis").await;

    let display = std::fs::read_to_string(dir.path().join("display-token")).expect("display token");
    let display = display.trim();
    // Auth per security scheme (the names in docs/openapi/base.json).
    let work = tempfile::tempdir().expect("tempdir");
    let config = work.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[auth.openapi.token]\napi_key = \"{token}\"\n\n[auth.openapi.admin]\napi_key = \"{admin}\"\n\n[auth.openapi.display]\napi_key = \"{display}\"\n{RULES}"
        ),
    )
    .expect("config");
    let url = gw.url("/openapi.json");
    let cwd = work.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(st)
            .arg("--config-file")
            .arg(&config)
            .args(["run", &url])
            .args(["--max-examples", MAX_EXAMPLES])
            .args(["--exclude-path", "/events/stream"])
            .args(["--request-timeout", "30"])
            .args(["--workers", "1"])
            .args(["--seed", "1"])
            .args(["--no-color", "--suppress-health-check", "all"])
            .current_dir(cwd)
            .env("NO_PROXY", "*")
            .output()
            .expect("run schemathesis")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "schemathesis failed ({:?}); its report is above; gateway log:\n{}",
        out.status,
        gw.log_text()
    );
    assert!(
        stdout.contains("passed") && !stdout.contains("No operations"),
        "schemathesis ran no operation"
    );
    assert!(
        !gw.log_text().contains("panicked"),
        "the gateway panicked:\n{}",
        gw.log_text()
    );
}
