//! The button's GPIO line through the Linux GPIO character device (uAPI v2):
//! one input line, active low with pull-up, both edges, read as events by
//! a blocking thread and forwarded to the run loop.
//!
//! Not exercised by the test suite (no GPIO chip here); the press logic it
//! feeds is [`super::button`], which is.
// `unsafe` only for GPIO_V2_GET_LINE_IOCTL (libc has no wrapper): it passes
// a repr(C) request the kernel reads and fills in, then we own the returned fd.
#![allow(unsafe_code)]

use super::DisplayError;
use super::button::Edge;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

const GPIO_V2_LINES_MAX: usize = 64;
const GPIO_V2_LINE_NUM_ATTRS_MAX: usize = 10;
const GPIO_V2_LINE_FLAG_ACTIVE_LOW: u64 = 1 << 1;
const GPIO_V2_LINE_FLAG_INPUT: u64 = 1 << 2;
const GPIO_V2_LINE_FLAG_EDGE_RISING: u64 = 1 << 4;
const GPIO_V2_LINE_FLAG_EDGE_FALLING: u64 = 1 << 5;
const GPIO_V2_LINE_FLAG_BIAS_PULL_UP: u64 = 1 << 8;
const GPIO_V2_LINE_EVENT_RISING_EDGE: u32 = 1;
/// Size of `struct gpio_v2_line_event`.
const EVENT_BYTES: usize = 48;

#[repr(C)]
#[derive(Clone, Copy)]
struct LineAttribute {
    id: u32,
    padding: u32,
    value: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct ConfigAttribute {
    attr: LineAttribute,
    mask: u64,
}

#[repr(C)]
struct LineConfig {
    flags: u64,
    num_attrs: u32,
    padding: [u32; 5],
    attrs: [ConfigAttribute; GPIO_V2_LINE_NUM_ATTRS_MAX],
}

#[repr(C)]
struct LineRequest {
    offsets: [u32; GPIO_V2_LINES_MAX],
    consumer: [u8; 32],
    config: LineConfig,
    num_lines: u32,
    event_buffer_size: u32,
    padding: [u32; 5],
    fd: i32,
}

/// `_IOWR(0xB4, 0x07, struct gpio_v2_line_request)`.
const GPIO_V2_GET_LINE_IOCTL: libc::c_ulong =
    (3 << 30) | ((std::mem::size_of::<LineRequest>() as libc::c_ulong) << 16) | (0xB4 << 8) | 0x07;

/// Requests `line` on `chip` and starts a thread sending its edges to `tx`.
pub fn watch(
    chip: &Path,
    line: u32,
    tx: tokio::sync::mpsc::Sender<Edge>,
) -> Result<(), DisplayError> {
    use std::os::fd::AsRawFd;
    let err = |reason: String| DisplayError::Device {
        path: chip.display().to_string(),
        reason,
    };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(chip)
        .map_err(|e| err(format!("cannot open the GPIO chip: {e}")))?;
    let zero_attr = ConfigAttribute {
        attr: LineAttribute {
            id: 0,
            padding: 0,
            value: 0,
        },
        mask: 0,
    };
    let mut req = LineRequest {
        offsets: [0; GPIO_V2_LINES_MAX],
        consumer: [0; 32],
        config: LineConfig {
            flags: GPIO_V2_LINE_FLAG_INPUT
                | GPIO_V2_LINE_FLAG_ACTIVE_LOW
                | GPIO_V2_LINE_FLAG_BIAS_PULL_UP
                | GPIO_V2_LINE_FLAG_EDGE_RISING
                | GPIO_V2_LINE_FLAG_EDGE_FALLING,
            num_attrs: 0,
            padding: [0; 5],
            attrs: [zero_attr; GPIO_V2_LINE_NUM_ATTRS_MAX],
        },
        num_lines: 1,
        event_buffer_size: 0,
        padding: [0; 5],
        fd: -1,
    };
    req.offsets[0] = line;
    req.consumer[..12].copy_from_slice(b"wago-display");
    // SAFETY: `f` is an open gpiochip; `req` is a repr(C) gpio_v2_line_request
    // that outlives the call. On success the kernel stores a new fd in `req.fd`.
    let r = unsafe {
        libc::ioctl(
            f.as_raw_fd(),
            GPIO_V2_GET_LINE_IOCTL as _,
            &mut req as *mut LineRequest,
        )
    };
    if r < 0 || req.fd < 0 {
        return Err(err(format!(
            "cannot request line {line}: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: the kernel just gave us this fd; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(req.fd) };
    let mut events = std::fs::File::from(fd);
    std::thread::Builder::new()
        .name("gpio-button".into())
        .spawn(move || {
            let mut buf = [0u8; EVENT_BYTES];
            while events.read_exact(&mut buf).is_ok() {
                if let Some(e) = parse_event(&buf)
                    && tx.blocking_send(e).is_err()
                {
                    break;
                }
            }
        })
        .map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// Decodes one `struct gpio_v2_line_event` (active low: rising = pressed).
pub fn parse_event(buf: &[u8; EVENT_BYTES]) -> Option<Edge> {
    let ts = u64::from_ne_bytes(buf[0..8].try_into().ok()?);
    let id = u32::from_ne_bytes(buf[8..12].try_into().ok()?);
    Some(if id == GPIO_V2_LINE_EVENT_RISING_EDGE {
        Edge::Press(ts)
    } else {
        Edge::Release(ts)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_has_the_kernel_layout() {
        // struct gpio_v2_line_request is 592 bytes on every architecture.
        assert_eq!(std::mem::size_of::<LineRequest>(), 592);
        assert_eq!(GPIO_V2_GET_LINE_IOCTL, 0xC250_B407);
    }

    #[test]
    fn events_decode_to_edges() {
        let mut b = [0u8; EVENT_BYTES];
        b[0..8].copy_from_slice(&42u64.to_ne_bytes());
        b[8..12].copy_from_slice(&1u32.to_ne_bytes());
        assert_eq!(parse_event(&b), Some(Edge::Press(42)));
        b[8..12].copy_from_slice(&2u32.to_ne_bytes());
        assert_eq!(parse_event(&b), Some(Edge::Release(42)));
    }
}
