//! The pixel buffer every screen is drawn into: 24-bit RGB, row-major.
//!
//! Drivers convert it to their own format (see [`super::pixfmt`]). Drawing
//! clips to the buffer: nothing here can index out of bounds.

use super::font;

/// An RGB colour.
pub type Rgb = [u8; 3];

/// Black.
pub const BLACK: Rgb = [0, 0, 0];
/// White.
pub const WHITE: Rgb = [255, 255, 255];

/// A drawable RGB image.
#[derive(Clone, PartialEq, Eq)]
pub struct Canvas {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` pixels, row by row.
    pub pixels: Vec<Rgb>,
}

impl std::fmt::Debug for Canvas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Canvas({}x{})", self.width, self.height)
    }
}

impl Canvas {
    /// A canvas filled with `bg`.
    pub fn new(width: u32, height: u32, bg: Rgb) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![bg; (width as usize) * (height as usize)],
        }
    }

    /// The pixel at (x, y); black outside.
    pub fn get(&self, x: u32, y: u32) -> Rgb {
        if x < self.width && y < self.height {
            self.pixels[(y * self.width + x) as usize]
        } else {
            BLACK
        }
    }

    /// Sets one pixel; ignored outside.
    pub fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as u32) < self.width && (y as u32) < self.height {
            let i = (y as u32 * self.width + x as u32) as usize;
            self.pixels[i] = c;
        }
    }

    /// Fills a rectangle, clipped.
    pub fn fill(&mut self, x: i64, y: i64, w: u32, h: u32, c: Rgb) {
        let x0 = x.max(0);
        let y0 = y.max(0);
        let x1 = (x + w as i64).min(self.width as i64);
        let y1 = (y + h as i64).min(self.height as i64);
        for yy in y0..y1 {
            let row = (yy as u32 * self.width) as usize;
            for xx in x0..x1 {
                self.pixels[row + xx as usize] = c;
            }
        }
    }

    /// Draws `text` with its top-left at (x, y), each font pixel `scale`
    /// pixels wide. Returns the width drawn.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, c: Rgb) -> u32 {
        let mut cx = x;
        for ch in text.chars() {
            let g = font::glyph(ch);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        self.fill(
                            cx + (col * scale) as i64,
                            y + (row as u32 * scale) as i64,
                            scale,
                            scale,
                            c,
                        );
                    }
                }
            }
            cx += (font::ADVANCE * scale) as i64;
        }
        (cx - x) as u32
    }

    /// Draws QR modules (`true` = dark) with a light quiet zone of `quiet`
    /// modules, each module `module` pixels, top-left at (x, y).
    pub fn qr(&mut self, x: i64, y: i64, rows: &[Vec<bool>], module: u32, quiet: u32) {
        let n = rows.len() as u32;
        let side = (n + 2 * quiet) * module;
        self.fill(x, y, side, side, WHITE);
        for (my, row) in rows.iter().enumerate() {
            for (mx, dark) in row.iter().enumerate() {
                if *dark {
                    self.fill(
                        x + ((mx as u32 + quiet) * module) as i64,
                        y + ((my as u32 + quiet) * module) as i64,
                        module,
                        module,
                        BLACK,
                    );
                }
            }
        }
    }

    /// The canvas turned clockwise by `degrees` (0, 90, 180 or 270; others are 0),
    /// for panels mounted sideways or upside down.
    pub fn rotated(&self, degrees: u16) -> Canvas {
        let (w, h) = (self.width, self.height);
        let (nw, nh) = match degrees {
            90 | 270 => (h, w),
            _ => (w, h),
        };
        let mut out = Canvas::new(nw, nh, BLACK);
        for y in 0..h {
            for x in 0..w {
                let (nx, ny) = match degrees {
                    90 => (h - 1 - y, x),
                    180 => (w - 1 - x, h - 1 - y),
                    270 => (y, w - 1 - x),
                    _ => (x, y),
                };
                out.pixels[(ny * nw + nx) as usize] = self.pixels[(y * w + x) as usize];
            }
        }
        out
    }

    /// The pixels as 8-bit luminance (for decoders and mono panels).
    pub fn luma(&self) -> Vec<u8> {
        self.pixels
            .iter()
            .map(|[r, g, b]| ((*r as u32 * 299 + *g as u32 * 587 + *b as u32 * 114) / 1000) as u8)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawing_clips_at_every_edge() {
        let mut c = Canvas::new(10, 5, WHITE);
        c.fill(-5, -5, 100, 100, BLACK);
        c.text(8, 3, "WW", 3, WHITE);
        c.set(-1, 0, WHITE);
        c.set(10, 0, WHITE);
        assert_eq!(c.pixels.len(), 50);
        assert_eq!(c.get(0, 0), BLACK);
        assert_eq!(c.get(99, 99), BLACK);
    }

    #[test]
    fn rotation_moves_the_corners_clockwise() {
        let mut c = Canvas::new(3, 2, BLACK);
        c.set(0, 0, WHITE);
        let r = c.rotated(90);
        assert_eq!((r.width, r.height), (2, 3));
        assert_eq!(r.get(1, 0), WHITE);
        assert_eq!(c.rotated(180).get(2, 1), WHITE);
        let r = c.rotated(270);
        assert_eq!(r.get(0, 2), WHITE);
        assert_eq!(c.rotated(90).rotated(270), c);
        assert_eq!(c.rotated(0), c);
    }

    #[test]
    fn text_draws_the_glyph_pixels() {
        let mut c = Canvas::new(16, 8, WHITE);
        let w = c.text(0, 0, "I", 1, BLACK);
        assert_eq!(w, font::ADVANCE);
        let dark = c.pixels.iter().filter(|p| **p == BLACK).count();
        let want: u32 = font::glyph('I').iter().map(|b| b.count_ones()).sum();
        assert_eq!(dark as u32, want);
    }
}
