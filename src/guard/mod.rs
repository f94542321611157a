//! The guard: one decision on every message that leaves the box, before it
//! is accepted into the durable send queue.
//!
//! ```text
//!  api (every dialect, every send route) ─▶ engine::send ─▶ store::enqueue_guarded
//!                                                             │ one write transaction:
//!                                                             │ facts ─▶ Guard::decide ─▶ message,
//!                                                             │ queue entry, counters, decision
//! ```
//!
//! It refuses purposes the box does not carry (marketing and the like),
//! sends past the session's daily or monthly fair-use limit, sends faster
//! than the session's or the recipient's speed, and sends to recipients who
//! opted out (except essential purposes such as login codes), and sends
//! whose risk score ([`policy`]) reaches the threshold. The decision
//! runs inside the store's accepting transaction, so counters can neither
//! be lost nor counted twice. Opt-out keywords in inbound messages are
//! recognised here ([`keywords`]) and committed by the engine's inbound hook.
//!
//! Owns no storage and knows no HTTP: the store keeps the rows, the API
//! renders a [`Refusal`] in its dialect.

pub mod keywords;
pub mod period;
pub mod policy;
pub mod purpose;
pub mod settings;
pub mod throttle;

use crate::store::{Allowed, SendFacts, Usage};
use keywords::Keywords;
use serde_json::{Value, json};
use settings::GuardConfig;
use std::sync::{Arc, Mutex};
use throttle::{Rate, Scope, Throttle};

/// The guard's clock: Unix ms. Injected so tests can move midnight.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// One send, as the guard sees it.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// The session id.
    pub session: String,
    /// The recipient key: the number (digits) of a person, or a group's id.
    pub recipient: String,
    /// The message kind (`text`, `image`, …, `revoke`).
    pub kind: String,
    /// The purpose the client named, if any.
    pub purpose: Option<String>,
    /// The route requires one (no default applies).
    pub purpose_required: bool,
    /// The text, caption or name it shows (for the risk score).
    pub text: Option<String>,
}

/// Why a send was refused. Each one has a stable code (the seed's).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No purpose named where one is required.
    PurposeRequired,
    /// A purpose the box does not carry.
    PurposeNotAllowed {
        /// The purpose as given.
        purpose: String,
    },
    /// The recipient opted out or was blocked.
    Suppressed {
        /// The recipient's number.
        phone: String,
    },
    /// The session's daily limit is used up.
    DailyLimit {
        /// The limit.
        limit: u64,
        /// Sends counted today.
        used: u64,
        /// When the count resets (next local midnight), Unix ms.
        resets_at: i64,
    },
    /// The session's monthly limit is used up.
    MonthlyLimit {
        /// The limit.
        limit: u64,
        /// Sends counted this month.
        used: u64,
    },
    /// The risk score reached `guard.policy_threshold`.
    PolicyViolation {
        /// The score.
        risk_score: u32,
        /// The signals that raised it.
        signals: Vec<&'static str>,
    },
    /// Faster than the session's or the recipient's speed.
    Throttled {
        /// Which speed.
        scope: Scope,
        /// Seconds until the same send is accepted.
        retry_after: u64,
    },
}

impl Refusal {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::PurposeRequired => "message_purpose_required",
            Refusal::PurposeNotAllowed { .. } => "message_purpose_not_allowed",
            Refusal::Suppressed { .. } => "recipient_suppressed",
            Refusal::DailyLimit { .. } => "daily_message_limit_exceeded",
            Refusal::MonthlyLimit { .. } => "monthly_message_limit_exceeded",
            Refusal::PolicyViolation { .. } => "policy_violation",
            Refusal::Throttled { .. } => "sending_throttled",
        }
    }

    /// The human message.
    pub fn message(&self) -> &'static str {
        match self {
            Refusal::PurposeRequired => {
                "message_purpose is required. Allowed values are transactional, operational, support, internal_team, and authentication."
            }
            Refusal::PurposeNotAllowed { .. } => {
                "This gateway does not support marketing, cold outreach, political, or bulk campaign messaging."
            }
            Refusal::Suppressed { .. } => {
                "This recipient has opted out or has been blocked from non-essential messages."
            }
            Refusal::DailyLimit { .. } => {
                "Your daily transactional message limit has been reached. Please try again tomorrow or request a higher reviewed limit."
            }
            Refusal::MonthlyLimit { .. } => {
                "Your monthly fair-use message limit has been reached. Please contact support for a reviewed higher limit."
            }
            Refusal::PolicyViolation { .. } => {
                "This message appears to violate responsible messaging rules. Bulk marketing, spam, and cold outreach are not allowed."
            }
            Refusal::Throttled { .. } => {
                "Sending speed has been temporarily limited to protect gateway reliability and prevent bulk messaging."
            }
        }
    }

    /// The facts clients get in `details`: always `"action": "block"`, then
    /// what applies (`limit`, `used`, `retry_after`, …).
    pub fn details(&self) -> Value {
        let mut d = json!({ "action": "block" });
        let extra = match self {
            Refusal::PurposeRequired => json!({ "allowed": purpose::ALLOWED }),
            Refusal::PurposeNotAllowed { purpose: p } => {
                json!({ "purpose": p, "allowed": purpose::ALLOWED })
            }
            Refusal::Suppressed { phone } => json!({ "phone": phone }),
            Refusal::DailyLimit {
                limit,
                used,
                resets_at,
            } => json!({ "limit": limit, "used": used, "period": "day", "resets_at": resets_at }),
            Refusal::MonthlyLimit { limit, used } => {
                json!({ "limit": limit, "used": used, "period": "month" })
            }
            Refusal::PolicyViolation {
                risk_score,
                signals,
            } => json!({ "risk_score": risk_score, "signals": signals }),
            Refusal::Throttled { scope, retry_after } => json!({
                "scope": match scope { Scope::Session => "session", Scope::Recipient => "recipient" },
                "retry_after": retry_after,
            }),
        };
        if let (Some(d), Value::Object(extra)) = (d.as_object_mut(), extra) {
            d.extend(extra);
        }
        d
    }

    /// Seconds to wait before retrying, for a throttled send.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Refusal::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// A session's fair-use standing, for `GET /usage`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UsageView {
    /// The plan's name (`custom` when both limits are set).
    pub plan: String,
    /// Messages a local day.
    pub daily_limit: u64,
    /// Sent today (local).
    pub daily_used: u64,
    /// Messages a local month.
    pub monthly_limit: u64,
    /// Sent this month.
    pub monthly_used: u64,
    /// Next local midnight, Unix ms.
    pub resets_at: i64,
    /// The default purpose of sends that name none.
    pub default_purpose: String,
}

/// The guard: a cheap, clonable handle.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: GuardConfig,
    offset_minutes: i32,
    keywords: Keywords,
    clock: Clock,
    throttle: Mutex<Throttle>,
    recent: Mutex<policy::Recent>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("cfg", &self.inner.cfg)
            .finish()
    }
}

impl Default for Guard {
    fn default() -> Self {
        Guard::new(&GuardConfig::default())
    }
}

impl Guard {
    /// A guard over a validated config, on the system clock.
    pub fn new(cfg: &GuardConfig) -> Guard {
        Guard::with_clock(cfg, Arc::new(crate::event::now_ms))
    }

    /// A guard on `clock`.
    pub fn with_clock(cfg: &GuardConfig, clock: Clock) -> Guard {
        Guard {
            inner: Arc::new(Inner {
                offset_minutes: period::parse_offset(&cfg.utc_offset).unwrap_or(0),
                keywords: Keywords::new(&cfg.opt_out_keywords, &cfg.opt_in_keywords),
                cfg: cfg.clone(),
                clock,
                throttle: Mutex::new(Throttle::default()),
                recent: Mutex::new(policy::Recent::default()),
            }),
        }
    }

    /// Whether sends are checked at all.
    pub fn enabled(&self) -> bool {
        self.inner.cfg.enabled
    }

    /// Now, on the guard's clock.
    pub fn now_ms(&self) -> i64 {
        (self.inner.clock)()
    }

    /// The opt-out / opt-in keywords.
    pub fn keywords(&self) -> &Keywords {
        &self.inner.keywords
    }

    /// `(plan, daily, monthly, default purpose)` of a session.
    fn policy(&self, session: &str, name: &str) -> (String, u64, u64, String) {
        let c = &self.inner.cfg;
        let s = c.sessions.get(session).or_else(|| c.sessions.get(name));
        let plan = s.and_then(|s| s.plan.clone()).unwrap_or(c.plan.clone());
        let daily = s.and_then(|s| s.daily_limit).or(c.daily_limit);
        let monthly = s.and_then(|s| s.monthly_limit).or(c.monthly_limit);
        // Validated at start: a plan always resolves.
        let (d, m) = settings::limits_of(&plan, daily, monthly).unwrap_or((0, 0));
        let shown = if daily.is_some() && monthly.is_some() {
            "custom".to_string()
        } else {
            plan
        };
        let purpose = s
            .and_then(|s| s.default_purpose.clone())
            .unwrap_or(c.default_purpose.clone());
        (shown, d, m, purpose)
    }

    /// Counters of the current local day and month (older counts are zero).
    fn current(&self, usage: &Usage, now: i64) -> Usage {
        let day = period::day_of(now, self.inner.offset_minutes);
        let month = period::month_of_day(day);
        Usage {
            day,
            day_used: if usage.day == day { usage.day_used } else { 0 },
            month,
            month_used: if usage.month == month {
                usage.month_used
            } else {
                0
            },
        }
    }

    /// A session's standing.
    pub fn usage_view(&self, session: &str, name: &str, usage: &Usage) -> UsageView {
        let now = self.now_ms();
        let (plan, daily, monthly, default_purpose) = self.policy(session, name);
        let u = self.current(usage, now);
        UsageView {
            plan,
            daily_limit: daily,
            daily_used: u.day_used,
            monthly_limit: monthly,
            monthly_used: u.month_used,
            resets_at: period::next_midnight_ms(now, self.inner.offset_minutes),
            default_purpose,
        }
    }

    /// The decision on one send: purpose, suppression, daily and monthly
    /// limits, then speed (last, so a refused send uses no speed). Runs in
    /// the store's accepting transaction with the facts read there.
    pub fn decide(&self, req: &SendRequest, facts: &SendFacts) -> Result<Allowed, Refusal> {
        let now = self.now_ms();
        let c = &self.inner.cfg;
        let (_, daily, monthly, default_purpose) = self.policy(&req.session, &facts.session_name);
        let (purpose, source) = match req.purpose.as_deref().map(str::trim) {
            Some(p) if !p.is_empty() => (p.to_string(), "request"),
            _ if c.require_purpose || req.purpose_required => {
                return Err(Refusal::PurposeRequired);
            }
            _ => (default_purpose, "default"),
        };
        if !purpose::is_allowed(&purpose) {
            return Err(Refusal::PurposeNotAllowed { purpose });
        }
        let mut usage = self.current(&facts.usage, now);
        // Deleting a message one sent is never spam: only its purpose is checked.
        let revoke = req.kind == "revoke";
        if !revoke {
            if let Some(s) = &facts.suppressed
                && !c.essential_purposes.contains(&purpose)
            {
                return Err(Refusal::Suppressed {
                    phone: s.phone.clone(),
                });
            }
            if usage.day_used >= daily {
                return Err(Refusal::DailyLimit {
                    limit: daily,
                    used: usage.day_used,
                    resets_at: period::next_midnight_ms(now, self.inner.offset_minutes),
                });
            }
            if usage.month_used >= monthly {
                return Err(Refusal::MonthlyLimit {
                    limit: monthly,
                    used: usage.month_used,
                });
            }
            let text = req.text.as_deref().filter(|t| !t.trim().is_empty());
            let mut recent = match self.inner.recent.lock() {
                Ok(r) => r,
                Err(p) => p.into_inner(),
            };
            if let Some(text) = text
                && c.policy_threshold > 0
            {
                let (mut risk_score, mut signals) = policy::signals(text);
                if recent.is_repeated(&req.session, text, &req.recipient, now) {
                    risk_score += policy::SAME_TEXT_WEIGHT;
                    signals.push("same_text_to_many");
                }
                if risk_score >= c.policy_threshold {
                    return Err(Refusal::PolicyViolation {
                        risk_score,
                        signals,
                    });
                }
            }
            let per_session = Rate {
                per_minute: c.session_per_minute,
                burst: c.session_burst,
            };
            let per_recipient = Rate {
                per_minute: c.recipient_per_minute,
                burst: c.recipient_burst,
            };
            let mut throttle = match self.inner.throttle.lock() {
                Ok(t) => t,
                Err(p) => p.into_inner(),
            };
            throttle
                .take(
                    &req.session,
                    &req.recipient,
                    per_session,
                    per_recipient,
                    now,
                )
                .map_err(|(scope, retry_after)| Refusal::Throttled { scope, retry_after })?;
            if let Some(text) = text {
                recent.record(&req.session, text, &req.recipient, now);
            }
            usage.day_used += 1;
            usage.month_used += 1;
        }
        Ok(Allowed {
            usage,
            decision: json!({
                "action": "allow",
                "purpose": purpose,
                "purpose_source": source,
                "daily_used": usage.day_used,
                "daily_limit": daily,
                "monthly_used": usage.month_used,
                "monthly_limit": monthly,
                "at": now,
            }),
        })
    }
}

/// The recipient key of a chat JID: the user part (a person's number, a
/// group's id) without device or server.
pub fn recipient_key(chat: &str) -> String {
    let user = chat.split('@').next().unwrap_or(chat);
    user.split(':').next().unwrap_or(user).to_string()
}

#[cfg(test)]
mod tests;
