//! Config parsing and validation: every error names its key.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load_str(toml_text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("wago.toml");
    std::fs::write(&path, toml_text).expect("write config");
    Config::load(Some(&path), env(vars))
}

#[test]
fn defaults_need_no_file() {
    let cfg = load_str("", &[]).expect("defaults");
    assert_eq!(cfg.listen, DEFAULT_LISTEN);
    assert_eq!(cfg.http.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    assert!(cfg.admin_token.is_none());
}

#[test]
fn file_then_env_override() {
    let cfg = load_str(
        "listen = \"127.0.0.1:9000\"\n[http]\nmax_body_bytes = 2048\n",
        &[("WAGO_LISTEN", "127.0.0.1:9001"), ("WAGO_CACHE_MIB", "8")],
    )
    .expect("load");
    assert_eq!(cfg.listen, "127.0.0.1:9001");
    assert_eq!(cfg.http.max_body_bytes, 2048);
    assert_eq!(cfg.store.cache_mib, 8);
}

#[test]
fn errors_name_the_key() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        ("lisen = \"x\"", &[], "lisen"),
        ("[http]\nmax_body_bytez = 1", &[], "max_body_bytez"),
        (
            "[http]\nmax_body_bytes = \"big\"",
            &[],
            "http.max_body_bytes",
        ),
        ("listen = \"nope\"", &[], "listen"),
        ("[http]\nmax_body_bytes = 10", &[], "http.max_body_bytes"),
        (
            "[http]\nshutdown_grace_secs = 0",
            &[],
            "http.shutdown_grace_secs",
        ),
        ("admin_token = \"short\"", &[], "admin_token"),
        ("log = \"wago=lots[\"", &[], "log"),
        ("", &[("WAGO_LISTN", "1")], "WAGO_LISTN"),
        (
            "",
            &[("WAGO_MAX_BODY_BYTES", "lots")],
            "WAGO_MAX_BODY_BYTES",
        ),
        ("listen = ", &[], "wago.toml"),
        ("[whatsapp]\nversion = \"2.x\"", &[], "whatsapp.version"),
        (
            "",
            &[("WAGO_WA_SERVER_URL", "http://x")],
            "whatsapp.server_url",
        ),
        (
            "[webhook]\nglobal_url = \"ftp://x\"",
            &[],
            "webhook.global_url",
        ),
        (
            "[webhook]\nglobal_events = [\"Nope\"]",
            &[],
            "webhook.global_events",
        ),
        (
            "",
            &[("WAGO_WEBHOOK_CONCURRENCY", "0")],
            "webhook.concurrency",
        ),
        (
            "[webhook]\nglobal_format = \"xml\"",
            &[],
            "webhook.global_format",
        ),
    ];
    for (text, vars, needle) in cases {
        let err = load_str(text, vars).expect_err(text);
        assert!(
            err.to_string().contains(needle),
            "{text:?}: {err} lacks {needle}"
        );
    }
}

#[test]
fn missing_explicit_file_is_an_error() {
    let err = Config::load(Some(Path::new("/nonexistent/wago.toml")), env(&[]))
        .expect_err("missing file");
    assert!(err.to_string().contains("/nonexistent/wago.toml"), "{err}");
}

#[test]
fn secrets_are_masked_in_debug() {
    let cfg = load_str("admin_token = \"super-secret-admin-token\"", &[]).expect("load");
    let dbg = format!("{cfg:?}");
    assert!(!dbg.contains("super-secret-admin-token"), "{dbg}");
    assert!(dbg.contains("***"));
}

#[test]
fn webhook_keys_and_masked_secret() {
    let cfg = load_str(
        "[webhook]\nglobal_url = \"http://127.0.0.1:9/h\"\nglobal_secret = \"whsec_c2VjcmV0c2VjcmV0c2VjcmV0\"\n",
        &[("WAGO_WEBHOOK_RETRY_FIRST_MS", "50")],
    )
    .expect("load");
    assert_eq!(cfg.webhook.retry_first_ms, 50);
    assert_eq!(cfg.webhook.max_log_mib, DEFAULT_MAX_LOG_MIB);
    assert!(!format!("{cfg:?}").contains("c2VjcmV0"));
}

#[test]
fn outbound_send_keys_have_defaults_env_overrides_and_ranges() {
    let cfg = load_str("", &[]).expect("defaults");
    assert_eq!(cfg.whatsapp.send_max_age_secs, DEFAULT_SEND_MAX_AGE_SECS);
    assert_eq!(cfg.whatsapp.media_max_bytes, DEFAULT_MEDIA_MAX_BYTES);
    let cfg = load_str(
        "[whatsapp]\nsend_max_age_secs = 60\n",
        &[
            ("WAGO_WA_MEDIA_MAX_BYTES", "2048"),
            ("WAGO_WA_MEDIA_FETCH_TIMEOUT_SECS", "5"),
        ],
    )
    .expect("load");
    assert_eq!(cfg.whatsapp.send_max_age_secs, 60);
    assert_eq!(cfg.whatsapp.media_max_bytes, 2048);
    assert_eq!(cfg.whatsapp.media_fetch_timeout_secs, 5);
    for (text, key) in [
        (
            "[whatsapp]\nsend_max_age_secs = 0\n",
            "whatsapp.send_max_age_secs",
        ),
        (
            "[whatsapp]\nmedia_max_bytes = 10\n",
            "whatsapp.media_max_bytes",
        ),
        (
            "[whatsapp]\nmedia_fetch_timeout_secs = 0\n",
            "whatsapp.media_fetch_timeout_secs",
        ),
    ] {
        let err = load_str(text, &[]).expect_err(text).to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
}

#[test]
fn call_rejection_keys() {
    let cfg = load_str(
        "",
        &[
            ("WAGO_REJECT_CALLS", "true"),
            ("WAGO_REJECT_CALL_MESSAGE", "Please send a text"),
        ],
    )
    .expect("load");
    assert!(cfg.whatsapp.reject_calls);
    assert_eq!(cfg.whatsapp.reject_call_message, "Please send a text");
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let long = format!(
        "[whatsapp]\nreject_calls = true\nreject_call_message = \"{}\"",
        "x".repeat(MAX_REJECT_CALL_MESSAGE + 1)
    );
    let cases: &[Case] = &[
        ("", &[("WAGO_REJECT_CALLS", "maybe")], "WAGO_REJECT_CALLS"),
        (
            "[whatsapp]\nreject_calls = \"yes\"",
            &[],
            "whatsapp.reject_calls",
        ),
        (
            "[whatsapp]\nreject_call_message = \"hi\"",
            &[],
            "whatsapp.reject_call_message",
        ),
        (&long, &[], "whatsapp.reject_call_message"),
    ];
    for (text, vars, want) in cases {
        let err = load_str(text, vars).expect_err(want).to_string();
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn received_media_keys() {
    let cfg = load_str(
        "[received_media]\nretention_hours = 2\n",
        &[("WAGO_RECEIVED_MEDIA_MAX_MIB", "64")],
    )
    .expect("load");
    assert_eq!(cfg.received_media.max_total_mib, 64);
    assert_eq!(cfg.received_media.retention_hours, 2);
    for (text, want) in [
        (
            "[received_media]\nmax_total_mib = 0",
            "received_media.max_total_mib",
        ),
        (
            "[received_media]\nretention_hours = 0",
            "received_media.retention_hours",
        ),
        (
            "[received_media]\nretention_hours = \"long\"",
            "received_media.retention_hours",
        ),
        ("[received_media]\nkeep = 1", "keep"),
    ] {
        let err = load_str(text, &[]).expect_err(want).to_string();
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn display_section_and_env_overrides() {
    let cfg = load_str(
        "[display]\ndriver = \"ssd1306\"\ndevice = \"/dev/i2c-1\"\nqr_on_lan = false\n",
        &[
            ("WAGO_DISPLAY_AUTO_PAIR", "false"),
            ("WAGO_DISPLAY_POLL_MS", "500"),
        ],
    )
    .expect("display config");
    assert_eq!(cfg.display.driver, Driver::Ssd1306);
    assert!(!cfg.display.qr_on_lan);
    assert!(!cfg.display.auto_pair);
    assert_eq!(cfg.display.poll_ms, 500);
    assert_eq!(
        cfg.display_token_file(),
        cfg.data_dir.join(DISPLAY_TOKEN_FILE)
    );
    let cfg = load_str(
        "",
        &[
            ("WAGO_DISPLAY_FORMAT", "xrgb8888"),
            ("WAGO_DISPLAY_QR_ON_LAN", "1"),
        ],
    )
    .expect("format");
    assert_eq!(cfg.display.format, Some(super::PixelFormat::Xrgb8888));
}

/// A config text, environment variables, and the key the error must name.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn display_errors_name_the_key() {
    let cases: &[Case] = &[
        ("[display]\nwidth = 320\n", &[], "display.width"),
        ("[display]\nwidth = 10\nheight = 10\n", &[], "display.width"),
        ("[display]\ndriver = \"vga\"\n", &[], "display.driver"),
        ("[display]\nformat = \"mono\"\n", &[], "display.format"),
        ("[display]\nformat = \"bgr233\"\n", &[], "display.format"),
        (
            "[display]\ngateway_url = \"ftp://x\"\n",
            &[],
            "display.gateway_url",
        ),
        ("[display]\npoll_ms = 5\n", &[], "display.poll_ms"),
        ("[display]\nrotation = 45\n", &[], "display.rotation"),
        ("[display]\ni2c_address = 300\n", &[], "display.i2c_address"),
        ("[display]\ncolour = 1\n", &[], "display"),
        (
            "",
            &[("WAGO_DISPLAY_QR_ON_LAN", "maybe")],
            "WAGO_DISPLAY_QR_ON_LAN",
        ),
        (
            "[display]\ndriver = \"png\"\ndevice = \"/tmp/x.png\"\n",
            &[],
            "display.width",
        ),
    ];
    for (text, vars, key) in cases {
        let e = load_str(text, vars).expect_err(text).to_string();
        assert!(e.contains(key), "{text:?}: {e}");
    }
}
