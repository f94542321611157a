//! Laying out words: a pen that writes lines and wrapped paragraphs down a
//! column and stops at its bottom instead of clipping half a line.

use super::canvas::{Canvas, Rgb};
use super::font;

/// Writes lines top to bottom inside a column.
#[derive(Debug)]
pub struct Pen {
    x: u32,
    y: u32,
    width: u32,
    bottom: u32,
}

/// Space between lines, font pixels.
const LEADING: u32 = 2;

impl Pen {
    /// A pen at (x, y) writing into a column `width` wide, down to `bottom`.
    pub fn new(x: u32, y: u32, width: u32, bottom: u32) -> Pen {
        Pen {
            x,
            y,
            width,
            bottom,
        }
    }

    /// Whether a line at `scale` still fits.
    fn room(&self, scale: u32) -> bool {
        self.y + font::CELL * scale <= self.bottom
    }

    /// One line, cut with `..` if too long. Returns false when out of room.
    pub fn line(&mut self, c: &mut Canvas, text: &str, scale: u32, col: Rgb) -> bool {
        if !self.room(scale) {
            return false;
        }
        let t = font::truncate(text, font::fits(self.width, scale));
        c.text(self.x as i64, self.y as i64, &t, scale, col);
        self.y += (font::CELL + LEADING) * scale;
        true
    }

    /// A paragraph wrapped at word boundaries; lines that do not fit are dropped.
    pub fn para(&mut self, c: &mut Canvas, text: &str, scale: u32, col: Rgb) {
        for l in font::wrap(text, font::fits(self.width, scale)) {
            if !self.line(c, &l, scale, col) {
                break;
            }
        }
    }

    /// Where the next line goes.
    pub fn y(&self) -> u32 {
        self.y
    }

    /// Vertical space.
    pub fn gap(&mut self, px: u32) {
        self.y += px;
    }
}

/// A duration in ms as people say it: "12 s", "5 min", "3 h", "2 days".
pub fn ago(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        for (ms, want) in [
            (0, "0 s"),
            (59_999, "59 s"),
            (60_000, "1 min"),
            (3_600_000, "1 h"),
            (200_000_000, "2 days"),
            (-5, "0 s"),
        ] {
            assert_eq!(ago(ms), want);
        }
    }

    #[test]
    fn the_pen_stops_at_the_bottom() {
        let mut c = Canvas::new(64, 20, [0; 3]);
        let mut pen = Pen::new(0, 0, 64, 20);
        assert!(pen.line(&mut c, "one", 1, [255; 3]));
        assert!(pen.line(&mut c, "two", 1, [255; 3]));
        assert!(!pen.line(&mut c, "three", 1, [255; 3]));
    }
}
