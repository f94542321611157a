//! Pixel formats the drivers write, and the way back to luminance (tests
//! decode exactly the bytes a panel gets).
//!
//! - `Rgb565`: 2 bytes per pixel, little endian (SPI TFTs: ST7789, ILI9341).
//! - `Xrgb8888`: 4 bytes per pixel, B G R X in memory (HDMI, virtio-gpu).
//! - `Mono`: SSD1306 pages: 8 rows per page, one byte per column, bit 0 on top.

use super::canvas::Canvas;
/// The format type is the config's (`[display] format`); re-exported here
/// where the drivers use it, so `config` needs nothing from `display`.
pub use crate::config::PixelFormat;

/// A lit pixel on a 1-bit panel: luminance at least half.
const MONO_THRESHOLD: u8 = 128;

/// Encodes `c` in `fmt`; rows are `stride` bytes apart (≥ the packed row; ignored for `Mono`).
pub fn encode(c: &Canvas, fmt: PixelFormat, stride: usize) -> Vec<u8> {
    let (w, h) = (c.width as usize, c.height as usize);
    match fmt {
        PixelFormat::Rgb565 | PixelFormat::Xrgb8888 => {
            let bpp = fmt.bits() as usize / 8;
            let stride = stride.max(w * bpp);
            let mut out = vec![0u8; stride * h];
            for y in 0..h {
                for x in 0..w {
                    let [r, g, b] = c.pixels[y * w + x];
                    let o = y * stride + x * bpp;
                    if fmt == PixelFormat::Rgb565 {
                        let v = ((r as u16 >> 3) << 11) | ((g as u16 >> 2) << 5) | (b as u16 >> 3);
                        out[o..o + 2].copy_from_slice(&v.to_le_bytes());
                    } else {
                        out[o..o + 4].copy_from_slice(&[b, g, r, 0]);
                    }
                }
            }
            out
        }
        PixelFormat::Mono => {
            let luma = c.luma();
            let pages = h.div_ceil(8);
            let mut out = vec![0u8; pages * w];
            for y in 0..h {
                for x in 0..w {
                    if luma[y * w + x] >= MONO_THRESHOLD {
                        out[(y / 8) * w + x] |= 1 << (y % 8);
                    }
                }
            }
            out
        }
    }
}

/// Decodes bytes in `fmt` back to 8-bit luminance (`w * h`), for tests and checks.
pub fn to_luma(bytes: &[u8], fmt: PixelFormat, w: usize, h: usize, stride: usize) -> Vec<u8> {
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let (r, g, b) = match fmt {
                PixelFormat::Rgb565 => {
                    let o = y * stride.max(w * 2) + x * 2;
                    let v = u16::from_le_bytes([bytes[o], bytes[o + 1]]);
                    (
                        ((v >> 11) as u32 * 255 / 31),
                        (((v >> 5) & 63) as u32 * 255 / 63),
                        ((v & 31) as u32 * 255 / 31),
                    )
                }
                PixelFormat::Xrgb8888 => {
                    let o = y * stride.max(w * 4) + x * 4;
                    (bytes[o + 2] as u32, bytes[o + 1] as u32, bytes[o] as u32)
                }
                PixelFormat::Mono => {
                    let lit = bytes[(y / 8) * w + x] & (1 << (y % 8)) != 0;
                    let v = if lit { 255 } else { 0 };
                    (v, v, v)
                }
            };
            out[y * w + x] = ((r * 299 + g * 587 + b * 114) / 1000) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_pages_pack_columns_of_eight_rows_lsb_on_top() {
        let mut c = Canvas::new(3, 16, [0; 3]);
        c.set(0, 0, [255; 3]);
        c.set(1, 7, [255; 3]);
        c.set(2, 9, [255; 3]);
        let b = encode(&c, PixelFormat::Mono, 0);
        assert_eq!(b, vec![0x01, 0x80, 0x00, 0x00, 0x00, 0x02]);
        let l = to_luma(&b, PixelFormat::Mono, 3, 16, 0);
        assert_eq!(l[0], 255);
        assert_eq!(l[7 * 3 + 1], 255);
        assert_eq!(l[9 * 3 + 2], 255);
        assert_eq!(l.iter().filter(|v| **v == 255).count(), 3);
    }

    #[test]
    fn colour_formats_round_trip_and_respect_the_stride() {
        let mut c = Canvas::new(2, 2, [255; 3]);
        c.set(1, 1, [255, 0, 0]);
        let b = encode(&c, PixelFormat::Rgb565, 8);
        assert_eq!(b.len(), 16);
        assert_eq!(&b[8 + 2..8 + 4], &0xF800u16.to_le_bytes());
        let x = encode(&c, PixelFormat::Xrgb8888, 0);
        assert_eq!(&x[12..16], &[0, 0, 255, 0]);
        assert_eq!(
            to_luma(&x, PixelFormat::Xrgb8888, 2, 2, 0),
            vec![255, 255, 255, 76]
        );
        assert_eq!(to_luma(&b, PixelFormat::Rgb565, 2, 2, 8)[0], 255);
    }
}
