//! The terminal renderer: the QR code in Unicode half blocks plus the
//! screen's words, for a serial console and `wago pair`.
//!
//! Light modules are drawn as blocks (a terminal's background is usually
//! dark), two module rows per text line, with a 2-module quiet zone.

use super::model::DisplayStatus;
use super::screens::{Screen, pick, pretty_code, pretty_phone, problems};

/// Quiet zone in the terminal, modules.
pub const TERM_QUIET: usize = 2;

/// The QR code for `data` as lines of half blocks.
pub fn qr_lines(data: &str) -> Result<Vec<String>, String> {
    let rows = crate::qr::modules(data).map_err(|e| e.to_string())?;
    let n = rows.len() + 2 * TERM_QUIET;
    // Light when outside the code or a light module.
    let light = |x: usize, y: usize| -> bool {
        if x < TERM_QUIET || y < TERM_QUIET || x >= n - TERM_QUIET || y >= n - TERM_QUIET {
            return true;
        }
        !rows[y - TERM_QUIET][x - TERM_QUIET]
    };
    let mut out = Vec::new();
    for y in (0..n).step_by(2) {
        let mut line = String::new();
        for x in 0..n {
            let top = light(x, y);
            let bottom = y + 1 >= n || light(x, y + 1);
            line.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push(line);
    }
    Ok(out)
}

/// Turns half-block lines back into luminance rows (light = 255), `scale`
/// pixels per module: the inverse of [`qr_lines`], for tests.
pub fn lines_to_luma(lines: &[String], scale: usize) -> (usize, usize, Vec<u8>) {
    let w = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let h = lines.len() * 2;
    let mut px = vec![0u8; w * h * scale * scale];
    for (ly, line) in lines.iter().enumerate() {
        for (x, ch) in line.chars().enumerate() {
            let (top, bottom) = match ch {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                _ => (false, false),
            };
            for (dy, lit) in [(0, top), (1, bottom)] {
                if !lit {
                    continue;
                }
                let y = ly * 2 + dy;
                for sy in 0..scale {
                    for sx in 0..scale {
                        px[(y * scale + sy) * w * scale + x * scale + sx] = 255;
                    }
                }
            }
        }
    }
    (w * scale, h * scale, px)
}

/// The whole screen as text: title, QR (when pairing), the facts or problems.
/// `now: None` leaves out the countdown, so a console gets a new screen only
/// when something changed, not every second.
pub fn render(status: Option<&DisplayStatus>, now: Option<i64>) -> String {
    let screen = pick(status);
    let mut out = String::new();
    let Some(s) = status else {
        return "Starting... waiting for the WhatsApp gateway to answer.\n".into();
    };
    match screen {
        Screen::Pairing => {
            out.push_str("Link WhatsApp: on the shop's phone open WhatsApp > Settings > Linked devices > Link a device, and scan:\n\n");
            if let Some(q) = &s.qr_code
                && let Ok(lines) = qr_lines(q)
            {
                for l in lines {
                    out.push_str(&l);
                    out.push('\n');
                }
            }
            if let (Some(at), Some(now)) = (s.qr_expires_at, now) {
                out.push_str(&format!("\nNew code in {} s\n", ((at - now).max(0)) / 1000));
            }
            if let Some(code) = &s.pair_code {
                out.push_str(&format!("Pair code: {}\n", pretty_code(code)));
            }
        }
        Screen::Connected => {
            out.push_str(&format!(
                "WhatsApp connected: {} {}\nShop software sends to: {}\n",
                pretty_phone(s),
                s.push_name.as_deref().unwrap_or(""),
                s.lan_url
            ));
        }
        Screen::Problems | Screen::Starting => {
            for p in problems(s) {
                out.push_str(&format!("{}: {}\n", p.title, p.detail));
            }
            if out.is_empty() {
                out.push_str("Connecting to WhatsApp...\n");
            }
        }
    }
    out
}
