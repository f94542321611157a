//! The `[guard]` section: responsible messaging (see `crate::guard`).
//!
//! Message purposes, fair-use limits per session (the plans or custom
//! numbers), sending speed per session and per recipient, opt-out keywords,
//! and per-session overrides under `[guard.sessions.<session name or id>]`.

use super::ConfigError;
use super::env::Kind;
pub use crate::guard::settings::*;

/// `WAGO_*` variables of this section (chained onto the main table).
pub(super) const ENV_KEYS: &[(&str, &str, Kind)] = &[
    ("WAGO_GUARD_ENABLED", "guard.enabled", Kind::Bool),
    (
        "WAGO_GUARD_DEFAULT_PURPOSE",
        "guard.default_purpose",
        Kind::Str,
    ),
    (
        "WAGO_GUARD_REQUIRE_PURPOSE",
        "guard.require_purpose",
        Kind::Bool,
    ),
    ("WAGO_GUARD_PLAN", "guard.plan", Kind::Str),
    ("WAGO_GUARD_DAILY_LIMIT", "guard.daily_limit", Kind::Int),
    ("WAGO_GUARD_MONTHLY_LIMIT", "guard.monthly_limit", Kind::Int),
    ("WAGO_GUARD_UTC_OFFSET", "guard.utc_offset", Kind::Str),
    (
        "WAGO_GUARD_POLICY_THRESHOLD",
        "guard.policy_threshold",
        Kind::Int,
    ),
    (
        "WAGO_GUARD_SESSION_PER_MINUTE",
        "guard.session_per_minute",
        Kind::Int,
    ),
    ("WAGO_GUARD_SESSION_BURST", "guard.session_burst", Kind::Int),
    (
        "WAGO_GUARD_RECIPIENT_PER_MINUTE",
        "guard.recipient_per_minute",
        Kind::Int,
    ),
    (
        "WAGO_GUARD_RECIPIENT_BURST",
        "guard.recipient_burst",
        Kind::Int,
    ),
];

impl GuardConfig {
    /// Checks every key; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |k: &str, r: &str| ConfigError::Key {
            key: format!("guard.{k}"),
            reason: r.into(),
        };
        let purpose_ok = |p: &str| crate::guard::purpose::is_allowed(p);
        let allowed = crate::guard::purpose::ALLOWED.join(", ");
        if !purpose_ok(&self.default_purpose) {
            return Err(err("default_purpose", &format!("must be one of {allowed}")));
        }
        if let Some(p) = self.essential_purposes.iter().find(|p| !purpose_ok(p)) {
            return Err(err(
                "essential_purposes",
                &format!("`{p}` is not one of {allowed}"),
            ));
        }
        self.check_limits("", &self.plan, self.daily_limit, self.monthly_limit)?;
        if crate::guard::period::parse_offset(&self.utc_offset).is_none() {
            return Err(err(
                "utc_offset",
                "must be a UTC offset like +07:00 or -03:00",
            ));
        }
        for (k, v) in [
            ("session_per_minute", self.session_per_minute),
            ("recipient_per_minute", self.recipient_per_minute),
        ] {
            if v > 6000 {
                return Err(err(k, "must be between 0 (unlimited) and 6000"));
            }
        }
        if self.policy_threshold > 1000 {
            return Err(err("policy_threshold", "must be between 0 (off) and 1000"));
        }
        for (k, v) in [
            ("session_burst", self.session_burst),
            ("recipient_burst", self.recipient_burst),
        ] {
            if !(1..=10_000).contains(&v) {
                return Err(err(k, "must be between 1 and 10000"));
            }
        }
        for (k, list) in [
            ("opt_out_keywords", &self.opt_out_keywords),
            ("opt_in_keywords", &self.opt_in_keywords),
        ] {
            if list.len() > MAX_KEYWORDS {
                return Err(err(k, "must have at most 100 keywords"));
            }
            if list
                .iter()
                .any(|w| w.trim().is_empty() || w.chars().count() > 64)
            {
                return Err(err(k, "keywords must be 1 to 64 characters"));
            }
        }
        for (name, s) in &self.sessions {
            let prefix = format!("sessions.{name}.");
            if let Some(p) = &s.default_purpose
                && !purpose_ok(p)
            {
                return Err(err(
                    &format!("{prefix}default_purpose"),
                    &format!("must be one of {allowed}"),
                ));
            }
            let plan = s.plan.as_deref().unwrap_or(&self.plan);
            let daily = s.daily_limit.or(self.daily_limit);
            let monthly = s.monthly_limit.or(self.monthly_limit);
            self.check_limits(&prefix, plan, daily, monthly)?;
        }
        Ok(())
    }

    fn check_limits(
        &self,
        prefix: &str,
        plan: &str,
        daily: Option<u64>,
        monthly: Option<u64>,
    ) -> Result<(), ConfigError> {
        let err = |k: &str, r: &str| ConfigError::Key {
            key: format!("guard.{prefix}{k}"),
            reason: r.into(),
        };
        let Some((d, m)) = limits_of(plan, daily, monthly) else {
            return Err(if plan == "custom" {
                err("plan", "custom needs daily_limit and monthly_limit")
            } else {
                err("plan", "must be starter, growth, scale or custom")
            });
        };
        if !(1..=1_000_000).contains(&d) {
            return Err(err("daily_limit", "must be between 1 and 1000000"));
        }
        if !(1..=31_000_000).contains(&m) || m < d {
            return Err(err(
                "monthly_limit",
                "must be between the daily limit and 31000000",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_and_overrides() {
        assert_eq!(limits_of("starter", None, None), Some((100, 2_000)));
        assert_eq!(limits_of("scale", Some(3), None), Some((3, 30_000)));
        assert_eq!(limits_of("custom", Some(3), Some(90)), Some((3, 90)));
        assert_eq!(limits_of("custom", Some(3), None), None);
        assert_eq!(limits_of("gold", None, None), None);
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad = |f: &dyn Fn(&mut GuardConfig)| {
            let mut c = GuardConfig::default();
            f(&mut c);
            c.validate().expect_err("must fail").to_string()
        };
        assert!(GuardConfig::default().validate().is_ok());
        assert!(bad(&|c| c.default_purpose = "marketing".into()).contains("guard.default_purpose"));
        assert!(bad(&|c| c.plan = "gold".into()).contains("guard.plan"));
        assert!(bad(&|c| c.plan = "custom".into()).contains("guard.plan"));
        assert!(bad(&|c| c.daily_limit = Some(0)).contains("guard.daily_limit"));
        assert!(bad(&|c| c.monthly_limit = Some(10)).contains("guard.monthly_limit"));
        assert!(bad(&|c| c.utc_offset = "Asia/Jakarta".into()).contains("guard.utc_offset"));
        assert!(bad(&|c| c.recipient_burst = 0).contains("guard.recipient_burst"));
        assert!(bad(&|c| c.opt_out_keywords = vec![" ".into()]).contains("opt_out_keywords"));
        let e = bad(&|c| {
            c.sessions.insert(
                "till".into(),
                SessionGuardConfig {
                    plan: Some("custom".into()),
                    ..Default::default()
                },
            );
        });
        assert!(e.contains("guard.sessions.till.plan"), "{e}");
    }
}
