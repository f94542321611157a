//! The screens, drawn by one renderer into a [`Canvas`] of any size.
//!
//! [`render`] is a pure function of the status, the panel and the clock, so
//! golden images and QR round trips test exactly what a panel shows. Which
//! screen a status gets is [`pick`]; the words for problems are [`problems`].

use super::canvas::{Canvas, Rgb};
use super::font;
use super::model::{DisplayState, DisplayStatus};
use super::text::{Pen, ago};

/// Quiet zone around the QR code, modules (the decoder needs ≥ 2; white
/// margins around it add more).
pub const QR_QUIET: u32 = 2;
/// Smallest module size drawn; below it the QR is left out (an OLED shows the pair code).
pub const MIN_QR_MODULE_PX: u32 = 2;

/// A screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The gateway is not answering (yet).
    Starting,
    /// QR code and/or pair code.
    Pairing,
    /// All is well: number, name, LAN URL, queue, last message.
    Connected,
    /// Something needs a person: logged out, no internet, webhooks, storage, no session.
    Problems,
}

/// Colours of one panel type.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    /// Background.
    pub bg: Rgb,
    /// Body text.
    pub fg: Rgb,
    /// Secondary text (hints).
    pub dim: Rgb,
    /// Problem titles.
    pub alert: Rgb,
    /// Header text.
    pub header_fg: Rgb,
    /// Whether the header bar takes the screen's own colour (else `header_bg`).
    pub coloured_headers: bool,
    /// Header bar when not coloured.
    pub header_bg: Rgb,
}

/// Black text on white, coloured header bars (TFT, HDMI, PNG).
pub const COLOUR: Theme = Theme {
    bg: [255, 255, 255],
    fg: [0, 0, 0],
    dim: [80, 80, 80],
    alert: [176, 0, 0],
    header_fg: [255, 255, 255],
    coloured_headers: true,
    header_bg: [0, 0, 0],
};

/// White on black with an inverted header (1-bit OLED: lit pixels are text).
pub const MONO: Theme = Theme {
    bg: [0, 0, 0],
    fg: [255, 255, 255],
    dim: [255, 255, 255],
    alert: [255, 255, 255],
    header_fg: [0, 0, 0],
    coloured_headers: false,
    header_bg: [255, 255, 255],
};

impl Screen {
    /// The header's words, long and short (used when the long one does not fit).
    fn titles(self) -> (&'static str, &'static str) {
        match self {
            Screen::Starting => ("Starting...", "Starting..."),
            Screen::Pairing => ("Link WhatsApp", "Link WhatsApp"),
            Screen::Connected => ("WhatsApp connected", "Connected"),
            Screen::Problems => ("Needs attention", "Help needed"),
        }
    }

    fn colour(self) -> Rgb {
        match self {
            Screen::Starting => [70, 70, 70],
            Screen::Pairing => [7, 94, 84],
            Screen::Connected => [0, 120, 50],
            Screen::Problems => [176, 0, 0],
        }
    }
}

/// The screen a status calls for (`None`: the gateway is not answering).
pub fn pick(status: Option<&DisplayStatus>) -> Screen {
    let Some(s) = status else {
        return Screen::Starting;
    };
    match s.state {
        DisplayState::Pairing if s.qr_code.is_some() || s.pair_code.is_some() || s.qr_withheld => {
            Screen::Pairing
        }
        DisplayState::Connected if problems(s).is_empty() => Screen::Connected,
        DisplayState::Connecting if s.phone.is_none() && diagnosis(s).is_none() => Screen::Starting,
        _ => Screen::Problems,
    }
}

/// A webhook job pending longer than this counts as "not answering".
pub const WEBHOOK_STUCK_MS: i64 = 60_000;

/// One thing that needs a person, in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong.
    pub title: String,
    /// What to do about it.
    pub detail: String,
    /// What to do, in at most about 30 characters (a 128×64 OLED).
    pub short: String,
}

fn problem(title: &str, detail: impl Into<String>, short: &str) -> Problem {
    Problem {
        title: title.into(),
        detail: detail.into(),
        short: short.into(),
    }
}

/// The headline and the short advice for a connection diagnosis code (the
/// engine's `LastErrorCode` names; an unknown code gets a generic line).
pub fn diagnosis_words(code: &str) -> (&'static str, &'static str) {
    match code {
        "no_route" => ("No internet connection", "Check cable or Wi-Fi"),
        "dns_failure" => ("Internet names do not resolve", "Check the router's DNS"),
        "connection_refused" | "connection_reset" | "handshake_failed" => {
            ("WhatsApp is blocked", "Check the firewall or proxy")
        }
        "timeout" => ("WhatsApp does not answer", "Check cable or firewall"),
        "tls_failure" => ("Secure connection fails", "Proxy or captive portal?"),
        "version_fetch_failed" => ("web.whatsapp.com unreachable", "Check the firewall"),
        "login_refused" => (
            "WhatsApp refused the login",
            "Press the button to link again",
        ),
        "rate_limited" => ("WhatsApp paused this number", "Wait, then connect again"),
        "client_outdated" => ("Box software too old", "Update the box"),
        _ => ("Cannot reach WhatsApp", "Check cable or Wi-Fi"),
    }
}

/// The status' diagnosis of why WhatsApp cannot be reached while the
/// session tries to connect, when it has one worth a screen (a dropped
/// connection that is being retried is not).
fn diagnosis(s: &DisplayStatus) -> Option<&str> {
    let code = s.last_error_code.as_deref()?;
    (code != "connection_lost" && s.state == DisplayState::Connecting).then_some(code)
}

/// The problems a status shows, most important first.
pub fn problems(s: &DisplayStatus) -> Vec<Problem> {
    let mut out = Vec::new();
    let paired = s.phone.is_some();
    if let Some(code) = diagnosis(s) {
        let (title, short) = diagnosis_words(code);
        let said = s.last_error.as_deref().unwrap_or(title);
        let detail = if paired {
            format!("{said}. Messages wait and go out later.")
        } else {
            format!("{said}.")
        };
        out.push(problem(title, detail, short));
    }
    match s.state {
        _ if !out.is_empty() => {}
        DisplayState::NoSession => out.push(problem(
            "No WhatsApp account set up",
            "The installer creates one with the admin token: POST /session/init (see the README).",
            "Installer: see the README",
        )),
        DisplayState::LoggedOut => out.push(problem(
            "WhatsApp was unlinked",
            "Press the button (or run wago pair) and scan the new code with the shop's phone.",
            "Press the button to link again",
        )),
        DisplayState::Failed => out.push(problem(
            "WhatsApp refused to connect",
            match &s.last_error {
                Some(e) => format!("{e}. Press the button to link again."),
                None => "Press the button to link again.".into(),
            },
            "Press the button to link again",
        )),
        DisplayState::Disconnected | DisplayState::Connecting if paired => out.push(problem(
            "No internet connection",
            "Check the network cable or Wi-Fi. Messages wait and go out later.",
            "Check cable or Wi-Fi",
        )),
        DisplayState::Disconnected | DisplayState::Pairing => out.push(problem(
            "Not linked to WhatsApp yet",
            "Press the button (or run wago pair) to show a code to scan.",
            "Press the button",
        )),
        _ => {}
    }
    let w = &s.webhooks;
    let stuck = w
        .oldest_pending_age_ms
        .is_some_and(|a| a > WEBHOOK_STUCK_MS);
    if w.dead > 0 || stuck {
        let waiting = match (w.pending, w.dead) {
            (p, 0) => format!("{p} messages waiting"),
            (0, d) => format!("{d} messages given up"),
            (p, d) => format!("{p} waiting, {d} given up"),
        };
        let short = format!("{} waiting", w.pending + w.dead);
        out.push(problem(
            "Shop software not answering",
            format!("{waiting}. Check that the shop computer is on."),
            &short,
        ));
    }
    if s.store_full {
        out.push(problem(
            "Storage full",
            "New messages cannot be saved. Call your installer.",
            "Call your installer",
        ));
    }
    out
}

/// The text sizes of a panel.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// Body text scale.
    body: u32,
    /// Title and key facts scale.
    big: u32,
    /// Margin, pixels.
    pad: u32,
    /// A tiny panel (OLED): no QR, terse words.
    small: bool,
}

fn sizes(w: u32, h: u32) -> Sizes {
    let (body, big, pad, small) = if h < 100 || w < 160 {
        (1, 1, 1, true)
    } else if w >= 640 && h >= 400 {
        (3, 5, 8, false)
    } else if w >= 480 && h >= 300 {
        (2, 3, 6, false)
    } else {
        (1, 2, 4, false)
    };
    Sizes {
        body,
        big,
        pad,
        small,
    }
}

/// Renders `screen` for `status` on a `w`×`h` panel at time `now` (Unix ms).
pub fn render(
    screen: Screen,
    status: Option<&DisplayStatus>,
    w: u32,
    h: u32,
    theme: &Theme,
    now: i64,
) -> Canvas {
    let sz = sizes(w, h);
    let mut c = Canvas::new(w, h, theme.bg);
    // Header bar.
    let scale = if sz.small { 1 } else { sz.big };
    let bar = font::CELL * scale + 2 * sz.pad + if sz.small { 1 } else { 0 };
    let bar_bg = if theme.coloured_headers {
        screen.colour()
    } else {
        theme.header_bg
    };
    c.fill(0, 0, w, bar, bar_bg);
    let room = font::fits(w - 2 * sz.pad, scale);
    let (long, short) = match (screen, status) {
        (Screen::Starting, Some(_)) => ("Connecting...", "Connecting..."),
        _ => screen.titles(),
    };
    let title = if long.len() <= room { long } else { short };
    let title = font::truncate(title, room);
    let tx = (w.saturating_sub(font::width(&title, scale)) / 2) as i64;
    c.text(tx, (sz.pad + 1) as i64, &title, scale, theme.header_fg);
    let top = bar + sz.pad.max(2);
    match (screen, status) {
        (Screen::Pairing, Some(s)) => pairing(&mut c, s, sz, theme, top, now),
        (Screen::Connected, Some(s)) => connected(&mut c, s, sz, theme, top, now),
        (Screen::Problems, Some(s)) => problem_list(&mut c, s, sz, theme, top),
        _ => {
            // The gateway is not answering, or it is connecting to WhatsApp.
            let (what, hint) = match status {
                None => (
                    "Waiting for the WhatsApp gateway to answer.",
                    "If this stays for minutes, unplug the box and plug it in again.",
                ),
                Some(_) => (
                    "Connecting to WhatsApp...",
                    "If this stays for minutes, check the box's internet connection.",
                ),
            };
            let mut pen = Pen::new(sz.pad, top, w - 2 * sz.pad, h - sz.pad);
            pen.para(&mut c, what, sz.body, theme.fg);
            pen.gap(sz.pad);
            if sz.small {
                return c;
            }
            pen.para(&mut c, hint, sz.body, theme.dim);
        }
    }
    c
}

fn countdown(s: &DisplayStatus, now: i64) -> Option<String> {
    let left = (s.qr_expires_at? - now).max(0) / 1000;
    Some(format!("New code in {left} s"))
}

fn pairing(c: &mut Canvas, s: &DisplayStatus, sz: Sizes, t: &Theme, top: u32, now: i64) {
    let (w, h) = (c.width, c.height);
    let n = |rows: &Vec<Vec<bool>>| rows.len() as u32 + 2 * QR_QUIET;
    let line = font::CELL * sz.body + 2;
    let landscape = w * 10 > h * 13;
    let avail_h = h - top - sz.pad;
    // Landscape: QR on the left, words on the right. Portrait or square: the
    // QR fills the width, one line under it.
    let side = if landscape {
        avail_h.min(w * 6 / 10)
    } else {
        (avail_h - line).min(w - 2 * sz.pad)
    };
    let modules = s
        .qr_code
        .as_deref()
        .filter(|_| !sz.small)
        .and_then(|q| crate::qr::modules(q).ok())
        .filter(|rows| side / n(rows) >= MIN_QR_MODULE_PX);
    let Some(rows) = modules else {
        // No QR here: the pair code, or how to get one.
        let mut pen = Pen::new(sz.pad, top, w - 2 * sz.pad, h - sz.pad);
        if let Some(code) = &s.pair_code {
            if sz.small {
                // Two halves at double size: readable across a counter.
                let (a, b) = code.split_at(code.len() / 2);
                for half in [a, b] {
                    let x = (w.saturating_sub(font::width(half, 2)) / 2) as i64;
                    c.text(x, pen.y() as i64, half, 2, t.fg);
                    pen.gap(font::CELL * 2 + 2);
                }
                pen.line(c, "Enter on phone", 1, t.fg);
                return;
            }
            pen.line(c, "Type this code in WhatsApp:", sz.body, t.fg);
            pen.gap(sz.pad);
            pen.line(c, &pretty_code(code), sz.big + sz.body, t.fg);
            pen.gap(sz.pad);
            pen.para(c, "On the shop's phone: WhatsApp > Settings > Linked devices > Link a device > Link with phone number instead.", sz.body, t.dim);
        } else if s.qr_withheld {
            pen.para(
                c,
                "For safety the QR code is shown only on the box's own screen.",
                sz.body,
                t.fg,
            );
        } else if sz.small {
            pen.para(c, "Run wago pair on a laptop to see the QR code.", 1, t.fg);
        } else {
            pen.para(
                c,
                "The screen is too small for the QR code: run wago pair on a laptop.",
                sz.body,
                t.fg,
            );
            if let Some(cd) = countdown(s, now) {
                pen.line(c, &cd, sz.body, t.dim);
            }
        }
        return;
    };
    let n = n(&rows);
    let module = side / n;
    let side_px = module * n;
    let (qx, qy) = if landscape {
        (sz.pad as i64, top as i64 + ((avail_h - side_px) / 2) as i64)
    } else {
        (((w - side_px) / 2) as i64, top as i64)
    };
    c.qr(qx, qy, &rows, module, QR_QUIET);
    if landscape {
        let x = qx as u32 + side_px + sz.pad;
        let col = w - x - sz.pad;
        // The countdown sits at the bottom of the column, always visible;
        // the instructions fill the space above it.
        let cd = countdown(s, now)
            .map(|t| font::wrap(&t, font::fits(col, sz.body)))
            .unwrap_or_default();
        let step = (font::CELL + 2) * sz.body;
        let cd_top = h - sz.pad - cd.len() as u32 * step;
        let mut pen = Pen::new(x, top, col, cd_top.saturating_sub(step / 2));
        pen.para(
            c,
            "On the shop's phone open WhatsApp > Settings > Linked devices > Link a device, and scan this code.",
            sz.body,
            t.fg,
        );
        let mut cd_pen = Pen::new(x, cd_top, col, h);
        for l in &cd {
            cd_pen.line(c, l, sz.body, t.dim);
        }
        if let Some(code) = &s.pair_code {
            pen.gap(line);
            pen.line(c, "Or type the code:", sz.body, t.fg);
            pen.line(c, &pretty_code(code), sz.big, t.fg);
        }
    } else {
        let y = qy as u32 + side_px + 1;
        let mut msg = countdown(s, now).unwrap_or_default();
        if let Some(code) = &s.pair_code {
            msg = format!("Code {}  {msg}", pretty_code(code));
        }
        let msg = font::truncate(&msg, font::fits(w - 2 * sz.pad, sz.body));
        let x = (w.saturating_sub(font::width(&msg, sz.body)) / 2) as i64;
        c.text(x, y as i64, &msg, sz.body, t.fg);
    }
}

/// `ABCD1234` as `ABCD-1234`, the way WhatsApp shows it.
pub fn pretty_code(code: &str) -> String {
    if code.len() == 8 && code.is_ascii() {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_string()
    }
}

/// The account's number as people write it.
pub fn pretty_phone(s: &DisplayStatus) -> String {
    match &s.phone {
        Some(p) => format!("+{p}"),
        None => "(no number)".into(),
    }
}

fn connected(c: &mut Canvas, s: &DisplayStatus, sz: Sizes, t: &Theme, top: u32, now: i64) {
    let (w, h) = (c.width, c.height);
    let mut pen = Pen::new(sz.pad, top, w - 2 * sz.pad, h - sz.pad);
    if sz.small {
        // 5 lines of 16 characters: number, name, where to send, queue.
        pen.line(c, &pretty_phone(s), 1, t.fg);
        let name = s
            .push_name
            .clone()
            .or_else(|| s.session_name.clone())
            .unwrap_or_default();
        pen.line(c, &name, 1, t.fg);
        let hostport = s
            .lan_url
            .trim_start_matches("http://")
            .trim_start_matches("https://");
        match hostport.rsplit_once(':') {
            Some((host, port)) if hostport.len() > font::fits(w - 2 * sz.pad, 1) => {
                pen.line(c, host, 1, t.fg);
                pen.line(c, &format!("port {port}"), 1, t.fg);
            }
            _ => {
                pen.line(c, hostport, 1, t.fg);
            }
        }
        let q = match s.webhooks.pending {
            0 => "All delivered".to_string(),
            p => format!("{p} waiting"),
        };
        pen.line(c, &q, 1, t.fg);
        return;
    }
    pen.line(c, &pretty_phone(s), sz.big, t.fg);
    let name = s
        .push_name
        .clone()
        .or_else(|| s.session_name.clone())
        .unwrap_or_default();
    if !name.is_empty() {
        pen.line(c, &name, sz.body, t.fg);
    }
    let group = font::CELL * sz.body;
    pen.gap(group);
    pen.line(c, "Shop software sends to:", sz.body, t.dim);
    pen.line(c, &s.lan_url, sz.body, t.fg);
    pen.gap(group);
    let wh = &s.webhooks;
    let queue = match (wh.pending, wh.oldest_pending_age_ms) {
        (0, _) => "Webhooks: all delivered".to_string(),
        (p, Some(age)) => format!("Webhooks: {p} waiting, oldest {}", ago(age)),
        (p, None) => format!("Webhooks: {p} waiting"),
    };
    pen.para(c, &queue, sz.body, t.fg);
    let last = match s.last_message_at {
        Some(at) => format!("Last message {} ago", ago((now - at).max(0))),
        None => "No messages yet".into(),
    };
    pen.line(c, &last, sz.body, t.fg);
}

fn problem_list(c: &mut Canvas, s: &DisplayStatus, sz: Sizes, t: &Theme, top: u32) {
    let (w, h) = (c.width, c.height);
    let mut pen = Pen::new(sz.pad, top, w - 2 * sz.pad, h - sz.pad);
    let list = problems(s);
    for (i, p) in list.iter().enumerate() {
        if i > 0 {
            pen.gap(sz.pad * 2);
        }
        if sz.small {
            // Title and the short hint; the next problem only if it fits whole.
            let lines = font::wrap(&p.title, 15).len() + font::wrap(&p.short, 15).len();
            if i > 0 && pen.y() + lines as u32 * 10 > c.height {
                break;
            }
            pen.para(c, &p.title, 1, t.alert);
            pen.para(c, &p.short, 1, t.fg);
            continue;
        }
        pen.para(c, &p.title, sz.body, t.alert);
        pen.para(c, &p.detail, sz.body, t.fg);
    }
    if s.phone.is_some() && !sz.small {
        pen.gap(sz.pad * 2);
        pen.line(c, &format!("Account {}", pretty_phone(s)), sz.body, t.dim);
    }
}
