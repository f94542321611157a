//! The button as a Linux input device (`/dev/input/eventN`): what the
//! Raspberry Pi `gpio-key` overlay in `board/*/config.txt` makes of a GPIO
//! button. Plain reads of `struct input_event`, no ioctl.
//!
//! Not exercised on hardware here; the parsing is unit-tested and the press
//! logic it feeds is [`super::button`].

use super::DisplayError;
use super::button::Edge;
use std::io::Read;
use std::path::Path;

/// `EV_KEY`.
const EV_KEY: u16 = 1;
/// Bytes of `struct input_event`: a `timeval` (two longs), type, code, value.
const EVENT_BYTES: usize = 2 * std::mem::size_of::<libc::c_long>() + 8;

/// Opens `path` and starts a thread sending presses of `key` to `tx`.
pub fn watch(
    path: &Path,
    key: u16,
    tx: tokio::sync::mpsc::Sender<Edge>,
) -> Result<(), DisplayError> {
    let mut f = std::fs::File::open(path).map_err(|e| DisplayError::Device {
        path: path.display().to_string(),
        reason: format!("cannot open the button's input device: {e}"),
    })?;
    std::thread::Builder::new()
        .name("input-button".into())
        .spawn(move || {
            let mut buf = [0u8; EVENT_BYTES];
            while f.read_exact(&mut buf).is_ok() {
                if let Some(e) = parse_event(&buf, key)
                    && tx.blocking_send(e).is_err()
                {
                    break;
                }
            }
        })
        .map_err(|e| DisplayError::Device {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    Ok(())
}

/// Decodes one event: `key` down is a press, up a release, anything else (repeat, sync) nothing.
pub fn parse_event(buf: &[u8; EVENT_BYTES], key: u16) -> Option<Edge> {
    let long = std::mem::size_of::<libc::c_long>();
    let secs = i64::from_ne_bytes(widen(&buf[0..long]));
    let usecs = i64::from_ne_bytes(widen(&buf[long..2 * long]));
    let at = (secs.max(0) as u64) * 1_000_000_000 + (usecs.max(0) as u64) * 1000;
    let o = 2 * long;
    let ty = u16::from_ne_bytes([buf[o], buf[o + 1]]);
    let code = u16::from_ne_bytes([buf[o + 2], buf[o + 3]]);
    let value = i32::from_ne_bytes([buf[o + 4], buf[o + 5], buf[o + 6], buf[o + 7]]);
    if ty != EV_KEY || code != key {
        return None;
    }
    match value {
        1 => Some(Edge::Press(at)),
        0 => Some(Edge::Release(at)),
        _ => None,
    }
}

/// A native-endian long of 4 or 8 bytes as 8 bytes (sign-extended).
fn widen(b: &[u8]) -> [u8; 8] {
    if b.len() == 8 {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        return a;
    }
    let v = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as i64;
    v.to_ne_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(secs: i64, usecs: i64, ty: u16, code: u16, value: i32) -> [u8; EVENT_BYTES] {
        let long = std::mem::size_of::<libc::c_long>();
        let mut b = [0u8; EVENT_BYTES];
        b[..long].copy_from_slice(&(secs as libc::c_long).to_ne_bytes());
        b[long..2 * long].copy_from_slice(&(usecs as libc::c_long).to_ne_bytes());
        b[2 * long..2 * long + 2].copy_from_slice(&ty.to_ne_bytes());
        b[2 * long + 2..2 * long + 4].copy_from_slice(&code.to_ne_bytes());
        b[2 * long + 4..].copy_from_slice(&value.to_ne_bytes());
        b
    }

    #[test]
    fn key_events_become_edges_and_the_rest_is_ignored() {
        assert_eq!(
            parse_event(&event(2, 5, EV_KEY, 28, 1), 28),
            Some(Edge::Press(2_000_005_000))
        );
        assert_eq!(
            parse_event(&event(2, 9, EV_KEY, 28, 0), 28),
            Some(Edge::Release(2_000_009_000))
        );
        assert_eq!(
            parse_event(&event(2, 9, EV_KEY, 28, 2), 28),
            None,
            "auto-repeat"
        );
        assert_eq!(
            parse_event(&event(2, 9, EV_KEY, 30, 1), 28),
            None,
            "another key"
        );
        assert_eq!(parse_event(&event(2, 9, 0, 0, 0), 28), None, "EV_SYN");
    }
}
