//! SSD1306 128×64 (or 128×32) OLED over I²C (`/dev/i2c-N`).
//!
//! Shows status and the pair code, never the QR (too small to scan there).
//! The bus is any `Write`: each `write` is one I²C transaction, so tests
//! record the exact bytes a panel would get.
// `unsafe` only for the I2C_SLAVE ioctl that binds the bus fd to the panel's
// address: libc has no safe wrapper; it passes an integer, no memory.
#![allow(unsafe_code)]

use super::DisplayError;
use super::canvas::Canvas;
use super::driver::Panel;
use super::pixfmt::{self, PixelFormat};
use crate::config::DisplayConfig;
use std::io::Write;

const I2C_SLAVE: libc::c_ulong = 0x0703;
/// Control byte before commands.
const CMD: u8 = 0x00;
/// Control byte before display data.
const DATA: u8 = 0x40;
/// Data bytes per transaction (small buses choke on long ones).
const CHUNK: usize = 16;

/// The power-up sequence for a `height`-row panel with the charge pump on,
/// horizontal addressing, and the usual segment/COM remap.
pub fn init_sequence(height: u32) -> Vec<u8> {
    let (mux, com) = if height == 32 {
        (0x1f, 0x02)
    } else {
        (0x3f, 0x12)
    };
    vec![
        0xae, // display off
        0xd5, 0x80, // clock
        0xa8, mux, // multiplex
        0xd3, 0x00, // offset
        0x40, // start line 0
        0x8d, 0x14, // charge pump on
        0x20, 0x00, // horizontal addressing
        0xa1, // segment remap
        0xc8, // COM scan descending
        0xda, com, // COM pins
        0x81, 0xcf, // contrast
        0xd9, 0xf1, // pre-charge
        0xdb, 0x40, // VCOMH
        0xa4, // follow RAM
        0xa6, // not inverted
        0xaf, // display on
    ]
}

/// An SSD1306 on a bus.
pub struct Ssd1306<W: Write + Send = std::fs::File> {
    bus: W,
    width: u32,
    height: u32,
}

impl<W: Write + Send> std::fmt::Debug for Ssd1306<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ssd1306({}x{})", self.width, self.height)
    }
}

impl Ssd1306<std::fs::File> {
    /// Opens `display.device`, binds it to `display.i2c_address` and initialises the panel.
    pub fn open(cfg: &DisplayConfig) -> Result<Self, DisplayError> {
        use std::os::fd::AsRawFd;
        let path = cfg.device.display().to_string();
        let err = |reason: String| DisplayError::Device {
            path: path.clone(),
            reason,
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&cfg.device)
            .map_err(|e| err(format!("cannot open the I2C bus: {e}")))?;
        // SAFETY: `file` is open; I2C_SLAVE takes the address as an integer argument.
        let r = unsafe {
            libc::ioctl(
                file.as_raw_fd(),
                I2C_SLAVE as _,
                cfg.i2c_address as libc::c_ulong,
            )
        };
        if r < 0 {
            return Err(err(format!(
                "not an I2C bus, or address {:#04x} is busy: {}",
                cfg.i2c_address,
                std::io::Error::last_os_error()
            )));
        }
        let (w, h) = if cfg.width == 0 {
            (128, 64)
        } else {
            (cfg.width, cfg.height)
        };
        Self::new(file, w, h).map_err(|e| err(format!("the panel does not answer: {e}")))
    }
}

impl<W: Write + Send> Ssd1306<W> {
    /// Initialises a panel on `bus`.
    pub fn new(mut bus: W, width: u32, height: u32) -> std::io::Result<Self> {
        let mut cmd = vec![CMD];
        cmd.extend(init_sequence(height));
        bus.write_all(&cmd)?;
        Ok(Ssd1306 { bus, width, height })
    }

    /// The bus (tests read back what was sent).
    pub fn bus(&self) -> &W {
        &self.bus
    }
}

impl<W: Write + Send> Panel for Ssd1306<W> {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn mono(&self) -> bool {
        true
    }

    fn draw(&mut self, frame: &Canvas) -> Result<(), DisplayError> {
        let pages = pixfmt::encode(frame, PixelFormat::Mono, 0);
        let last_page = (self.height / 8).saturating_sub(1) as u8;
        let last_col = (self.width - 1) as u8;
        let io = |e: std::io::Error| DisplayError::Draw(format!("I2C write: {e}"));
        self.bus
            .write_all(&[CMD, 0x21, 0, last_col, 0x22, 0, last_page])
            .map_err(io)?;
        for chunk in pages.chunks(CHUNK) {
            let mut t = Vec::with_capacity(CHUNK + 1);
            t.push(DATA);
            t.extend_from_slice(chunk);
            self.bus.write_all(&t).map_err(io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each write as one transaction.
    #[derive(Default)]
    struct Bus(Vec<Vec<u8>>);
    impl Write for Bus {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_frame_is_the_init_sequence_then_addressing_then_pages() {
        let mut p = Ssd1306::new(Bus::default(), 128, 64).expect("init");
        let mut c = Canvas::new(128, 64, [0; 3]);
        c.set(5, 9, [255; 3]);
        p.draw(&c).expect("draw");
        let t = &p.bus().0;
        assert_eq!(t[0][0], CMD);
        assert_eq!(&t[0][1..], init_sequence(64).as_slice());
        assert_eq!(t[1], vec![CMD, 0x21, 0, 127, 0x22, 0, 7]);
        let data: Vec<u8> = t[2..]
            .iter()
            .flat_map(|tr| {
                assert_eq!(tr[0], DATA);
                assert!(tr.len() <= CHUNK + 1);
                tr[1..].to_vec()
            })
            .collect();
        assert_eq!(data.len(), 128 * 8);
        // Pixel (5, 9) is page 1, column 5, bit 1.
        assert_eq!(data[128 + 5], 0b10);
        assert_eq!(data.iter().filter(|b| **b != 0).count(), 1);
    }
}
