//! Every shipped config (each `board/*/wago.toml` and the `.deb`'s
//! `packaging/wago.toml`) is accepted by the real binary, which refuses
//! unknown keys; a copy with an unknown key is refused, naming the key.

mod common;

use common::{Gateway, Opts, client};
use std::path::PathBuf;

fn shipped_configs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<PathBuf> = std::fs::read_dir(root.join("board"))
        .expect("board/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("wago.toml"))
        .filter(|p| p.exists())
        .collect();
    v.sort();
    assert!(v.len() >= 4, "one wago.toml per board: {v:?}");
    v.push(root.join("packaging/wago.toml"));
    v
}

fn with_config(path: &std::path::Path) -> Opts {
    // WAGO_LISTEN (set by the harness) overrides `listen`; the file is still parsed whole.
    Opts {
        args: vec![
            "serve".into(),
            "--config".into(),
            path.display().to_string(),
        ],
        ..Opts::default()
    }
}

#[tokio::test]
async fn every_shipped_config_starts_the_gateway() {
    for cfg in shipped_configs() {
        let text = std::fs::read_to_string(&cfg).expect("read config");
        assert!(
            text.contains("listen = \"0.0.0.0:1337\""),
            "{} serves the LAN",
            cfg.display()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let gw = Gateway::start_with(dir.path(), &with_config(&cfg));
        let r = client().get(gw.url("/health")).send().await.expect("send");
        assert_eq!(r.status(), 200, "{}", cfg.display());
        assert!(gw.stop().success(), "{}", cfg.display());
    }
}

#[test]
fn a_board_config_with_an_unknown_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = shipped_configs().remove(0);
    let mut text = std::fs::read_to_string(&src).expect("read");
    // A key from another product's display section.
    text = text.replace("[display]", "[display]\nkind = \"st7789\"");
    let bad = dir.path().join("wago.toml");
    std::fs::write(&bad, text).expect("write");
    let err = Gateway::try_start(&dir.path().join("data"), &with_config(&bad));
    let (status, log) = err.err().expect("must refuse");
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{log}");
    assert!(log.contains("display.kind"), "names the key: {log}");
}
