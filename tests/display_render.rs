//! The pairing display's renderer and drivers, without a gateway:
//!
//! - every screen at every supported panel size matches its golden image in
//!   `tests/golden/display/<screen>-<WxH>.png` (regenerate with
//!   `TEST_WAGO_BLESS=1 cargo test --test display_render`, then LOOK at them);
//! - the pairing screen, written in each driver's exact pixel format (RGB565,
//!   XRGB8888 through the framebuffer driver on a file, PNG, terminal half
//!   blocks), decodes back with `rqrr` to the exact pairing string;
//! - the 128×64 OLED shows the pair code (found in its 1-bit pages) and no QR.

#[path = "support/screen.rs"]
mod screen;

use screen::{decode_qr, shows_text};
use std::path::PathBuf;
use wago::config::{DisplayConfig, Driver};
use wago::display::canvas::Canvas;
use wago::display::driver::Panel;
use wago::display::fb::Framebuffer;
use wago::display::model::{DisplayState, DisplayStatus, WebhookHealth};
use wago::display::pixfmt::{self, PixelFormat};
use wago::display::screens::{COLOUR, MONO, Screen, Theme, pick, render};

/// Fixed clock: 2026-01-02 10:00:00 UTC.
const NOW: i64 = 1_767_348_000_000;
/// A pairing string shaped like WhatsApp's (ref, three base64 keys, client type).
const QR: &str = "2@Yz8Lq3V0nBfXh6m1cS4uEwPj9aKtRd2GvN7oZyHsIb5lUe0QxWgMrCkFpTi3JnA+OzDq/8hYuLv1sE6wRjKa9mB2tN4cX7dP0fG5yQ==,8kS1eV4mR9tQ2xW7zA0bC3dF6gH5jK8lN1pU4yT7wE0=,Lm3Nq6Pr9St2Uv5Wx8Yz1Ab4Cd7Ef0Gh3Ij6Kl9Mn2O=,Qr5St8Uv1Wx4Yz7Ab0Cd3Ef6Gh9Ij2Kl5Mn8Op1Qr4=,1";

/// Every panel size supported: SSD1306, ST7789, ILI9341, 3.5" TFT, HDMI/7".
const SIZES: &[(u32, u32)] = &[(128, 64), (240, 240), (320, 240), (480, 320), (800, 480)];

fn base(state: DisplayState) -> DisplayStatus {
    let mut s = DisplayStatus::empty(state, NOW);
    s.session_id = Some("till".into());
    s.session_name = Some("Till 1".into());
    s.lan_url = "http://192.168.1.20:1337".into();
    s
}

/// The statuses behind each golden screen.
fn cases() -> Vec<(&'static str, Option<DisplayStatus>)> {
    let mut pairing = base(DisplayState::Pairing);
    pairing.qr_code = Some(QR.into());
    pairing.qr_expires_at = Some(NOW + 17_400);
    let mut code = base(DisplayState::Pairing);
    code.pair_code = Some("ABCD1234".into());
    let mut connected = base(DisplayState::Connected);
    connected.phone = Some("15551234567".into());
    connected.push_name = Some("Corner Bakery".into());
    connected.last_message_at = Some(NOW - 5 * 60_000);
    connected.webhooks = WebhookHealth {
        pending: 2,
        oldest_pending_age_ms: Some(4_000),
        dead: 0,
        subscriptions: 1,
    };
    let mut problems = base(DisplayState::Connecting);
    problems.phone = Some("15551234567".into());
    problems.webhooks = WebhookHealth {
        pending: 12,
        oldest_pending_age_ms: Some(15 * 60_000),
        dead: 0,
        subscriptions: 1,
    };
    problems.store_full = true;
    let logged_out = base(DisplayState::LoggedOut);
    let mut none = DisplayStatus::empty(DisplayState::NoSession, NOW);
    none.lan_url = "http://192.168.1.20:1337".into();
    let connecting = base(DisplayState::Connecting);
    vec![
        ("starting", None),
        ("pairing", Some(pairing)),
        ("paircode", Some(code)),
        ("connected", Some(connected)),
        ("problems", Some(problems)),
        ("loggedout", Some(logged_out)),
        ("nosession", Some(none)),
        ("connecting", Some(connecting)),
    ]
}

fn theme_for(w: u32) -> &'static Theme {
    if w == 128 { &MONO } else { &COLOUR }
}

fn draw(s: Option<&DisplayStatus>, w: u32, h: u32) -> Canvas {
    render(pick(s), s, w, h, theme_for(w), NOW)
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/display")
}

#[test]
fn every_screen_at_every_size_matches_its_golden_image() {
    let bless = std::env::var_os("TEST_WAGO_BLESS").is_some();
    let dir = golden_dir();
    if bless {
        std::fs::create_dir_all(&dir).expect("golden dir");
    }
    let mut failures = Vec::new();
    for (name, status) in cases() {
        for &(w, h) in SIZES {
            let c = draw(status.as_ref(), w, h);
            let path = dir.join(format!("{name}-{w}x{h}.png"));
            if bless {
                let png = wago::display::png::encode(&c).expect("encode");
                std::fs::write(&path, png).expect("write golden");
                continue;
            }
            let want = std::fs::read(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (bless with TEST_WAGO_BLESS=1)", path.display())
            });
            let want = wago::display::png::decode(&want).expect("decode golden");
            if want != c {
                failures.push(path.display().to_string());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "screens differ from their golden images: {failures:#?}"
    );
}

#[test]
fn the_pairing_screen_decodes_in_every_framebuffer_format_and_size() {
    let status = cases().remove(1).1.expect("pairing");
    assert_eq!(pick(Some(&status)), Screen::Pairing);
    let dir = tempfile::tempdir().expect("tempdir");
    for &(w, h) in SIZES.iter().filter(|(w, _)| *w > 128) {
        for fmt in [PixelFormat::Rgb565, PixelFormat::Xrgb8888] {
            // Through the real driver, on a file standing in for /dev/fbN.
            let path = dir.path().join(format!("fb-{w}x{h}-{}", fmt.name()));
            std::fs::write(&path, b"").expect("create");
            let cfg = DisplayConfig {
                driver: Driver::Fb,
                device: path.clone(),
                width: w,
                height: h,
                format: Some(fmt),
                ..DisplayConfig::default()
            };
            let mut fb = Framebuffer::open(&cfg).expect("open fb file");
            assert_eq!(fb.size(), (w, h));
            fb.draw(&draw(Some(&status), w, h)).expect("draw");
            let bytes = std::fs::read(&path).expect("read fb");
            assert_eq!(bytes.len(), (w * h * fmt.bits() / 8) as usize);
            let luma = pixfmt::to_luma(&bytes, fmt, w as usize, h as usize, 0);
            assert_eq!(
                decode_qr(&luma, w as usize, h as usize),
                vec![QR.to_string()],
                "{w}x{h} {}",
                fmt.name()
            );
        }
    }
}

#[test]
fn every_screen_png_round_trips_and_the_pairing_png_decodes() {
    for (name, status) in cases() {
        for &(w, h) in SIZES {
            let c = draw(status.as_ref(), w, h);
            let png = wago::display::png::encode(&c).expect("encode");
            let back = wago::display::png::decode(&png).expect("decode");
            assert_eq!(back, c, "{name} {w}x{h}");
            let found = decode_qr(&back.luma(), w as usize, h as usize);
            if name == "pairing" && w > 128 {
                assert_eq!(found, vec![QR.to_string()], "{name} {w}x{h}");
            } else {
                assert!(found.is_empty(), "{name} {w}x{h} shows a QR code");
            }
        }
    }
}

#[test]
fn the_terminal_qr_decodes() {
    let lines = wago::display::term::qr_lines(QR).expect("qr");
    let (w, h, luma) = wago::display::term::lines_to_luma(&lines, 4);
    assert_eq!(decode_qr(&luma, w, h), vec![QR.to_string()]);
    let status = cases().remove(1).1.expect("pairing");
    let text = wago::display::term::render(Some(&status), Some(NOW));
    assert!(!wago::display::term::render(Some(&status), None).contains("New code"));
    assert!(text.contains(&lines[3]), "the screen text carries the QR");
    assert!(text.contains("New code in 17 s"));
}

#[test]
fn the_oled_shows_the_pair_code_and_status_in_its_pages_not_the_qr() {
    let (w, h) = (128usize, 64usize);
    let all = cases();
    let code = all[2].1.clone().expect("paircode");
    let pages = pixfmt::encode(&draw(Some(&code), 128, 64), PixelFormat::Mono, 0);
    assert_eq!(pages.len(), 128 * 8);
    let luma = pixfmt::to_luma(&pages, PixelFormat::Mono, w, h, 0);
    assert!(
        shows_text(&luma, w, h, "ABCD", 2) && shows_text(&luma, w, h, "1234", 2),
        "pair code on the OLED"
    );
    let qr = all[1].1.clone().expect("pairing");
    let luma = pixfmt::to_luma(
        &pixfmt::encode(&draw(Some(&qr), 128, 64), PixelFormat::Mono, 0),
        PixelFormat::Mono,
        w,
        h,
        0,
    );
    assert!(decode_qr(&luma, w, h).is_empty());
    assert!(shows_text(&luma, w, h, "Run wago pair", 1));
    let connected = all[3].1.clone().expect("connected");
    let luma = pixfmt::to_luma(
        &pixfmt::encode(&draw(Some(&connected), 128, 64), PixelFormat::Mono, 0),
        PixelFormat::Mono,
        w,
        h,
        0,
    );
    assert!(shows_text(&luma, w, h, "+15551234567", 1));
    assert!(shows_text(&luma, w, h, "192.168.1.20", 1));
    assert!(shows_text(&luma, w, h, "port 1337", 1));
}

#[test]
fn a_rotated_panel_still_shows_a_decodable_qr() {
    let status = cases().remove(1).1.expect("pairing");
    // A 240×320 portrait panel mounted sideways: drawn 320×240, turned 90°.
    let frame = draw(Some(&status), 320, 240).rotated(90);
    assert_eq!((frame.width, frame.height), (240, 320));
    let bytes = pixfmt::encode(&frame, PixelFormat::Rgb565, 0);
    let luma = pixfmt::to_luma(&bytes, PixelFormat::Rgb565, 240, 320, 0);
    assert_eq!(decode_qr(&luma, 240, 320), vec![QR.to_string()]);
}

#[test]
fn no_screen_panics_at_any_size_the_png_route_accepts() {
    let sides = [
        64u32, 65, 99, 100, 127, 159, 160, 161, 239, 300, 399, 400, 479, 640, 1023, 1920,
    ];
    for (name, status) in cases() {
        for &w in &sides {
            for &h in &sides {
                for theme in [&COLOUR, &MONO] {
                    let c = render(pick(status.as_ref()), status.as_ref(), w, h, theme, NOW);
                    assert_eq!((c.width, c.height), (w, h), "{name} {w}x{h}");
                }
            }
        }
    }
}
