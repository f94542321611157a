//! Reading a panel back in tests: find rendered text or a QR code in a frame.
#![allow(dead_code)]

use wago::display::canvas::Canvas;

/// Whether `text` drawn with the display's font at `scale` appears anywhere
/// in `frame` (8-bit luminance, `w`×`h`), dark on light or light on dark.
pub fn shows_text(frame: &[u8], w: usize, h: usize, text: &str, scale: u32) -> bool {
    let mut t = Canvas::new(wago::display::font::width(text, scale), 8 * scale, [0; 3]);
    t.text(0, 0, text, scale, [255; 3]);
    let (tw, th) = (t.width as usize, t.height as usize);
    let tl = t.luma();
    let lit = |v: u8| v >= 128;
    for invert in [false, true] {
        for y in 0..=h.saturating_sub(th) {
            'x: for x in 0..=w.saturating_sub(tw) {
                for ty in 0..th {
                    for tx in 0..tw {
                        if lit(frame[(y + ty) * w + x + tx]) != (lit(tl[ty * tw + tx]) ^ invert) {
                            continue 'x;
                        }
                    }
                }
                return true;
            }
        }
    }
    false
}

/// Every QR code `rqrr` finds in the frame.
pub fn decode_qr(luma: &[u8], w: usize, h: usize) -> Vec<String> {
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| luma[y * w + x]);
    img.detect_grids()
        .iter()
        .filter_map(|g| g.decode().ok().map(|(_, s)| s))
        .collect()
}
