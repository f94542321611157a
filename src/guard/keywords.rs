//! Opt-out and opt-in keywords: a message whose whole text is one of them
//! (ignoring case, surrounding spaces and punctuation) puts its sender on
//! the session's suppression list, or takes them off.
//!
//! Defaults cover the languages of the shops the box is sold to: English,
//! Indonesian, Arabic, Spanish and Portuguese. `guard.opt_out_keywords` and
//! `guard.opt_in_keywords` replace them. Words that also answer a
//! reminder ("cancel", "batal", "cancelar": cancel my appointment) are not
//! defaults: a patient cancelling a booking must not be silenced for good.

/// Default opt-out keywords.
pub const DEFAULT_OPT_OUT: &[&str] = &[
    // English
    "stop",
    "unsubscribe",
    "stop all",
    "stopall",
    "opt out",
    "optout",
    // Indonesian
    "berhenti",
    "stop langganan",
    "henti",
    "berhenti langganan",
    // Arabic
    "توقف",
    "إيقاف",
    "ايقاف",
    "إلغاء الاشتراك",
    // Spanish
    "baja",
    "darse de baja",
    // Spanish and Portuguese
    "parar",
    // Portuguese
    "sair",
    "cancelar inscrição",
    "descadastrar",
];

/// Default opt-in keywords.
pub const DEFAULT_OPT_IN: &[&str] = &[
    "start",
    "unstop",
    "subscribe",
    "mulai",
    "ابدأ",
    "اشتراك",
    "alta",
    "iniciar",
    "começar",
    "voltar",
];

/// What a keyword message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opt {
    /// Stop sending to me.
    Out,
    /// Send to me again.
    In,
}

/// A keyword matcher.
#[derive(Debug, Clone)]
pub struct Keywords {
    out: Vec<String>,
    inn: Vec<String>,
}

impl Keywords {
    /// Matches `out` and `inn` (normalized like messages are).
    pub fn new(out: &[String], inn: &[String]) -> Self {
        Keywords {
            out: out.iter().map(|k| normalize(k)).collect(),
            inn: inn.iter().map(|k| normalize(k)).collect(),
        }
    }

    /// The defaults.
    pub fn defaults() -> Self {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Keywords::new(&own(DEFAULT_OPT_OUT), &own(DEFAULT_OPT_IN))
    }

    /// Whether `text` is an opt-out or opt-in keyword.
    pub fn classify(&self, text: &str) -> Option<Opt> {
        if text.chars().count() > 64 {
            return None;
        }
        let t = normalize(text);
        if t.is_empty() {
            None
        } else if self.out.contains(&t) {
            Some(Opt::Out)
        } else if self.inn.contains(&t) {
            Some(Opt::In)
        } else {
            None
        }
    }
}

/// Lower case, punctuation and emoji dropped, runs of spaces as one.
fn normalize(s: &str) -> String {
    let kept: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                ' '
            }
        })
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_whole_messages_in_each_language() {
        let k = Keywords::defaults();
        for (text, want) in [
            ("STOP", Some(Opt::Out)),
            ("  Stop! ", Some(Opt::Out)),
            ("unsubscribe", Some(Opt::Out)),
            ("Berhenti", Some(Opt::Out)),
            ("توقف", Some(Opt::Out)),
            ("BAJA", Some(Opt::Out)),
            ("Parar.", Some(Opt::Out)),
            ("START", Some(Opt::In)),
            ("Mulai", Some(Opt::In)),
            ("please stop sending the invoice twice", None),
            ("stopwatch", None),
            ("", None),
            ("🙂", None),
        ] {
            assert_eq!(k.classify(text), want, "{text:?}");
        }
    }

    #[test]
    fn configured_keywords_replace_the_defaults() {
        let k = Keywords::new(&["halt".into()], &["resume".into()]);
        assert_eq!(k.classify("HALT"), Some(Opt::Out));
        assert_eq!(k.classify("stop"), None);
        assert_eq!(k.classify("Resume"), Some(Opt::In));
    }
}
