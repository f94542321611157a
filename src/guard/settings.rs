//! The guard's settings: the `[guard]` section of the configuration as the
//! guard reads it (message purposes, fair-use plans and limits, speeds,
//! opt-out keywords, per-session overrides). Parsed and validated by
//! `config` (`config/guard.rs`), which imports this; the guard imports no
//! `config`.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Default plan: 500 messages a day, 10,000 a month.
pub const DEFAULT_PLAN: &str = "growth";
/// Default purpose of a send that names none (WaGo routes).
pub const DEFAULT_PURPOSE: &str = "transactional";
/// Default sends per minute of one session, sustained: one every two
/// seconds keeps a shop's number well inside what WhatsApp tolerates from
/// a phone, and a reminder round of 30 still leaves at once.
pub const DEFAULT_SESSION_PER_MINUTE: u32 = 30;
/// Default burst of one session.
pub const DEFAULT_SESSION_BURST: u32 = 30;
/// Default sends per minute to one recipient, sustained: a person gets a
/// receipt, its PDF and a follow-up at once, never a stream.
pub const DEFAULT_RECIPIENT_PER_MINUTE: u32 = 20;
/// Default burst to one recipient.
pub const DEFAULT_RECIPIENT_BURST: u32 = 20;
/// The plans: `(name, daily, monthly)`.
pub const PLANS: &[(&str, u64, u64)] = &[
    ("starter", 100, 2_000),
    ("growth", 500, 10_000),
    ("scale", 1_500, 30_000),
];
/// Default risk score at which a send is refused (`policy_violation`):
/// two signals (see `guard::policy`), never one alone.
pub const DEFAULT_POLICY_THRESHOLD: u32 = 80;
/// Most keywords in one list.
pub const MAX_KEYWORDS: usize = 100;

/// Responsible messaging.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Whether sends pass the guard at all (off: no purpose, limit, speed
    /// or suppression check; opt-out keywords are still recorded).
    pub enabled: bool,
    /// Purpose of a send that names none (not `/api/send-message`, which requires one).
    pub default_purpose: String,
    /// Refuse sends that name no purpose on every route.
    pub require_purpose: bool,
    /// Purposes that still reach a suppressed recipient (a login code).
    pub essential_purposes: Vec<String>,
    /// `starter` (100/day, 2,000/month), `growth` (500, 10,000), `scale`
    /// (1,500, 30,000) or `custom` (both limits set).
    pub plan: String,
    /// Messages per local day; overrides the plan's.
    pub daily_limit: Option<u64>,
    /// Messages per local month; overrides the plan's.
    pub monthly_limit: Option<u64>,
    /// The box's time zone as a UTC offset (`+07:00`): days and months are counted in it.
    pub utc_offset: String,
    /// Sends per minute of one session, sustained (0: unlimited).
    pub session_per_minute: u32,
    /// Sends one session may make at once.
    pub session_burst: u32,
    /// Sends per minute to one recipient, sustained (0: unlimited).
    pub recipient_per_minute: u32,
    /// Sends to one recipient at once.
    pub recipient_burst: u32,
    /// Risk score at which a send is refused (0: no policy check).
    pub policy_threshold: u32,
    /// Whole-message keywords that put the sender on the suppression list.
    pub opt_out_keywords: Vec<String>,
    /// Whole-message keywords that take the sender off it.
    pub opt_in_keywords: Vec<String>,
    /// Per-session overrides, keyed by session name or id.
    pub sessions: BTreeMap<String, SessionGuardConfig>,
}

/// What one session may set differently.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SessionGuardConfig {
    /// Its default purpose.
    pub default_purpose: Option<String>,
    /// Its plan.
    pub plan: Option<String>,
    /// Its daily limit.
    pub daily_limit: Option<u64>,
    /// Its monthly limit.
    pub monthly_limit: Option<u64>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        GuardConfig {
            enabled: true,
            default_purpose: DEFAULT_PURPOSE.into(),
            require_purpose: false,
            essential_purposes: vec!["authentication".into()],
            plan: DEFAULT_PLAN.into(),
            daily_limit: None,
            monthly_limit: None,
            utc_offset: "+00:00".into(),
            session_per_minute: DEFAULT_SESSION_PER_MINUTE,
            session_burst: DEFAULT_SESSION_BURST,
            recipient_per_minute: DEFAULT_RECIPIENT_PER_MINUTE,
            recipient_burst: DEFAULT_RECIPIENT_BURST,
            policy_threshold: DEFAULT_POLICY_THRESHOLD,
            opt_out_keywords: own(super::keywords::DEFAULT_OPT_OUT),
            opt_in_keywords: own(super::keywords::DEFAULT_OPT_IN),
            sessions: BTreeMap::new(),
        }
    }
}

/// `(daily, monthly)` of a plan name with overrides; `None` for an unknown
/// plan or `custom` without both numbers.
pub fn limits_of(plan: &str, daily: Option<u64>, monthly: Option<u64>) -> Option<(u64, u64)> {
    let base = PLANS.iter().find(|(n, _, _)| *n == plan);
    match (base, plan) {
        (Some((_, d, m)), _) => Some((daily.unwrap_or(*d), monthly.unwrap_or(*m))),
        (None, "custom") => Some((daily?, monthly?)),
        _ => None,
    }
}
