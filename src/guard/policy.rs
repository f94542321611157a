//! The risk score of a send, from simple signals, each documented with its
//! weight. A send whose score reaches `guard.policy_threshold` is refused
//! (`policy_violation`): one signal alone never reaches the default (80).
//!
//! - marketing language in the text (`discount`, `promo`, `% off`, `diskon`,
//!   `oferta`, `desconto`, `خصم`, …): 40;
//! - a shortened link (bit.ly, tinyurl.com, s.id, …): 40;
//! - the same text sent to [`SAME_TEXT_RECIPIENTS`] or more recipients within
//!   [`SAME_TEXT_WINDOW_MS`]: 50.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

/// Weight of marketing language.
pub const MARKETING_WEIGHT: u32 = 40;
/// Weight of a shortened link.
pub const SHORT_LINK_WEIGHT: u32 = 40;
/// Weight of the same text to many recipients.
pub const SAME_TEXT_WEIGHT: u32 = 50;
/// Distinct recipients of one text that count as many.
pub const SAME_TEXT_RECIPIENTS: usize = 20;
/// The window the same text is counted in.
pub const SAME_TEXT_WINDOW_MS: i64 = 10 * 60_000;
/// Texts remembered at most (older windows are dropped first).
const MAX_TEXTS: usize = 2048;

/// Phrases of marketing language (lower case), in the seeds' languages.
const MARKETING: &[&str] = &[
    "discount",
    "promo",
    "% off",
    "sale now",
    "buy now",
    "limited time",
    "special offer",
    "free gift",
    "diskon",
    "potongan harga",
    "beli sekarang",
    "oferta",
    "descuento",
    "compra ya",
    "desconto",
    "promoção",
    "compre já",
    "خصم",
    "عرض خاص",
    "تخفيض",
];

/// Link shorteners.
const SHORTENERS: &[&str] = &[
    "bit.ly/",
    "tinyurl.com/",
    "t.co/",
    "goo.gl/",
    "s.id/",
    "cutt.ly/",
    "ow.ly/",
    "is.gd/",
    "rb.gy/",
    "shorturl.at/",
    "tiny.cc/",
    "t.ly/",
];

/// What raised a score.
pub fn signals(text: &str) -> (u32, Vec<&'static str>) {
    let t = text.to_lowercase();
    let mut score = 0;
    let mut why = Vec::new();
    if MARKETING.iter().any(|m| t.contains(m)) {
        score += MARKETING_WEIGHT;
        why.push("marketing_language");
    }
    if SHORTENERS.iter().any(|s| t.contains(s)) {
        score += SHORT_LINK_WEIGHT;
        why.push("shortened_link");
    }
    (score, why)
}

/// Recent texts per session and the recipients they went to.
#[derive(Debug, Default)]
pub struct Recent {
    texts: HashMap<(String, u64), (i64, HashSet<String>)>,
}

fn text_hash(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.trim().to_lowercase().hash(&mut h);
    h.finish()
}

impl Recent {
    /// Whether `text` already went to many other recipients in the window.
    pub fn is_repeated(&mut self, session: &str, text: &str, recipient: &str, now: i64) -> bool {
        let key = (session.to_string(), text_hash(text));
        match self.texts.get(&key) {
            Some((start, to)) if now - start < SAME_TEXT_WINDOW_MS => {
                !to.contains(recipient) && to.len() >= SAME_TEXT_RECIPIENTS
            }
            _ => false,
        }
    }

    /// Counts an accepted send of `text` to `recipient`.
    pub fn record(&mut self, session: &str, text: &str, recipient: &str, now: i64) {
        if self.texts.len() >= MAX_TEXTS {
            self.texts
                .retain(|_, (start, _)| now - *start < SAME_TEXT_WINDOW_MS);
        }
        let e = self
            .texts
            .entry((session.to_string(), text_hash(text)))
            .or_insert((now, HashSet::new()));
        if now - e.0 >= SAME_TEXT_WINDOW_MS {
            *e = (now, HashSet::new());
        }
        e.1.insert(recipient.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_and_their_weights() {
        assert_eq!(signals("Your invoice INV-2041 is ready").0, 0);
        assert_eq!(signals("50% OFF today only").0, MARKETING_WEIGHT);
        assert_eq!(signals("track it at https://bit.ly/x").0, SHORT_LINK_WEIGHT);
        let (score, why) = signals("Diskon besar! https://s.id/promo");
        assert_eq!(score, 80);
        assert_eq!(why, ["marketing_language", "shortened_link"]);
    }

    #[test]
    fn the_same_text_to_many_recipients_in_the_window() {
        let mut r = Recent::default();
        for i in 0..SAME_TEXT_RECIPIENTS {
            assert!(!r.is_repeated("s", "Hi", &i.to_string(), 0));
            r.record("s", "Hi", &i.to_string(), 0);
        }
        assert!(r.is_repeated("s", " hi ", "new", 1));
        assert!(
            !r.is_repeated("s", "Hi", "3", 1),
            "a recipient it already went to"
        );
        assert!(!r.is_repeated("t", "Hi", "new", 1), "another session");
        assert!(!r.is_repeated("s", "Hi", "new", SAME_TEXT_WINDOW_MS));
    }
}
