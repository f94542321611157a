//! Message purposes: what a send is for, and which purposes the box carries.
//!
//! The box is for messages a customer expects (a receipt, a reminder, an
//! answer, a code), never for marketing: a shop number that sends like a
//! spammer is banned by WhatsApp, and then the box is worthless.

/// Purposes a send may have. Anything else (marketing, promotion,
/// cold outreach, bulk campaigns, political messages, unknown values) is refused.
pub const ALLOWED: &[&str] = &[
    "transactional",
    "operational",
    "support",
    "internal_team",
    "authentication",
];

/// Purposes named as refused in the documentation (any value not in
/// [`ALLOWED`] is refused the same way).
pub const BLOCKED: &[&str] = &[
    "marketing",
    "promotion",
    "cold_outreach",
    "bulk_campaign",
    "political",
    "unknown",
];

/// Whether `purpose` is one the box carries.
pub fn is_allowed(purpose: &str) -> bool {
    ALLOWED.contains(&purpose)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_and_blocked_do_not_overlap() {
        for p in ALLOWED {
            assert!(is_allowed(p));
        }
        for p in BLOCKED {
            assert!(!is_allowed(p), "{p}");
        }
        assert!(!is_allowed("Transactional"), "values are exact");
        assert!(!is_allowed(""));
    }
}
