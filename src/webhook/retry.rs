//! The retry schedule: when a failed delivery is tried again, and when it gives up.
//!
//! Default (the contract): 10 s, 30 s, 90 s, then ×3 each time, capped at an
//! hour, with ±20 % jitter after the first three, for up to 3 days from the
//! job's creation; then the job is dead-lettered. A `Retry-After` from the
//! receiver replaces the computed delay (capped the same way).

use crate::store::{JobRecord, Outcome};
use std::time::Duration;

/// First retry delay.
pub const DEFAULT_FIRST_DELAY: Duration = Duration::from_secs(10);
/// Longest delay between two attempts.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(3600);
/// How long a job keeps being retried before it is dead-lettered.
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);
/// Growth factor between delays.
pub const FACTOR: u32 = 3;
/// Delays that follow the schedule exactly (10 s, 30 s, 90 s); later ones get jitter.
pub const EXACT_STEPS: u32 = 3;

/// When to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failure.
    pub first: Duration,
    /// Cap on any delay.
    pub max_delay: Duration,
    /// Dead-letter a job failing this long after its creation.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first: DEFAULT_FIRST_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            give_up_after: DEFAULT_GIVE_UP_AFTER,
        }
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// Human-readable reason (never contains secrets).
    pub error: String,
    /// The receiver's `Retry-After`, if any.
    pub retry_after: Option<Duration>,
}

impl RetryPolicy {
    /// The delay after the `failures`-th failed attempt (1-based). `jitter`
    /// is a random number in `[0, 1)`.
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_delay);
        }
        let n = failures.max(1) - 1;
        let mult = FACTOR.checked_pow(n).unwrap_or(u32::MAX);
        let base = self.first.saturating_mul(mult).min(self.max_delay);
        if failures <= EXACT_STEPS {
            return base;
        }
        base.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
            .min(self.max_delay)
    }

    /// The outcome of a failed attempt of `job` at `now_ms`.
    pub fn decide(
        &self,
        seq: u64,
        job: &JobRecord,
        now_ms: i64,
        f: Failure,
        jitter: f64,
    ) -> Outcome {
        let age = now_ms.saturating_sub(job.created_at).max(0) as u128;
        if age >= self.give_up_after.as_millis() {
            return Outcome::Dead {
                seq,
                status: f.status,
                error: f.error,
            };
        }
        let delay = self.delay(job.attempts + 1, f.retry_after, jitter);
        Outcome::Retry {
            seq,
            next_at: now_ms.saturating_add(delay.as_millis() as i64),
            status: f.status,
            error: f.error,
        }
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(v: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_matches_the_contract() {
        let p = RetryPolicy::default();
        let s = |n| p.delay(n, None, 0.5).as_secs();
        assert_eq!([s(1), s(2), s(3)], [10, 30, 90]);
        assert_eq!(s(4), 270, "then x3 (jitter 0.5 is the midpoint)");
        assert_eq!(s(5), 810);
        assert_eq!(s(7), 3600, "capped");
        assert_eq!(s(100), 3600, "no overflow");
        // Jitter spreads later delays by +-20 %, never the first three.
        assert_eq!(p.delay(2, None, 0.0), p.delay(2, None, 0.99));
        assert_eq!(p.delay(4, None, 0.0).as_secs(), 216);
        assert_eq!(p.delay(4, None, 1.0).as_secs(), 324);
        assert!(p.delay(9, None, 1.0) <= p.max_delay);
        // Retry-After wins, capped.
        assert_eq!(p.delay(1, Some(Duration::from_secs(2)), 0.5).as_secs(), 2);
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(99_999)), 0.5),
            p.max_delay
        );
    }

    #[test]
    fn gives_up_after_the_window() {
        let p = RetryPolicy::default();
        let job = JobRecord {
            chat: None,
            created_at: 1_000,
            attempts: 2,
            next_at: 0,
            last_status: None,
            last_error: None,
            dead_at: None,
        };
        let f = || Failure {
            status: Some(500),
            error: "HTTP 500".into(),
            retry_after: None,
        };
        match p.decide(7, &job, 2_000, f(), 0.5) {
            Outcome::Retry { seq, next_at, .. } => {
                assert_eq!(seq, 7);
                assert_eq!(next_at, 2_000 + 90_000, "third failure waits 90 s");
            }
            o => panic!("expected a retry, got {o:?}"),
        }
        let late = 1_000 + p.give_up_after.as_millis() as i64;
        assert!(matches!(
            p.decide(7, &job, late, f(), 0.5),
            Outcome::Dead {
                status: Some(500),
                ..
            }
        ));
    }

    #[test]
    fn retry_after_forms() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
