//! The bitmap font: font8x8's basic Latin (MIT), 8×8 cells, scaled by
//! integer factors so strokes stay crisp on every panel.
//!
//! Characters outside printable ASCII are drawn as `?`, after mapping the
//! few non-ASCII ones screens use (ellipsis, dashes, arrows) to ASCII.

/// Glyph cell width and height, font pixels.
pub const CELL: u32 = 8;
/// Horizontal advance per character, font pixels.
pub const ADVANCE: u32 = 8;

/// The 8 rows of a glyph; bit 0 is the leftmost pixel.
pub fn glyph(c: char) -> [u8; 8] {
    let c = match c {
        '…' => '.',
        '–' | '—' => '-',
        '→' | '›' => '>',
        c => c,
    };
    let i = c as u32;
    if (0x20..0x7f).contains(&i) {
        font8x8::legacy::BASIC_LEGACY[i as usize]
    } else {
        font8x8::legacy::BASIC_LEGACY['?' as usize]
    }
}

/// Width of `text` at `scale`, pixels.
pub fn width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * ADVANCE * scale
}

/// How many characters fit in `px` pixels at `scale`.
pub fn fits(px: u32, scale: u32) -> usize {
    (px / (ADVANCE * scale.max(1))) as usize
}

/// Cuts `text` to `max` characters, ending in `..` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    if max <= 2 {
        return text.chars().take(max).collect();
    }
    let mut s: String = text.chars().take(max - 2).collect();
    s.push_str("..");
    s
}

/// Breaks `text` into lines of at most `max` characters at spaces; a word
/// longer than a line is cut hard.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: String = word.to_string();
        loop {
            let len = line.chars().count();
            let wlen = word.chars().count();
            let need = if len == 0 { wlen } else { len + 1 + wlen };
            if need <= max {
                if len > 0 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if len > 0 {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than a line.
            let head: String = word.chars().take(max).collect();
            word = word.chars().skip(max).collect();
            lines.push(head);
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_and_truncating() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert!(wrap("   ", 5).is_empty());
        assert_eq!(truncate("http://192.168.1.20", 10), "http://1..");
        assert_eq!(truncate("short", 10), "short");
    }

    #[test]
    fn unknown_characters_draw_a_question_mark() {
        assert_eq!(glyph('é'), glyph('?'));
        assert_ne!(glyph('A'), glyph('?'));
        assert_eq!(glyph('…'), glyph('.'));
    }
}
