//! Sending speed: token buckets per session and per recipient.
//!
//! A bucket holds up to `burst` sends and refills at `per_minute`; a send
//! takes one token from its session's bucket and one from its recipient's.
//! An empty bucket refuses with the seconds until a token is back, so a burst
//! of 300 is smoothed to the configured speed instead of leaving in 2 s.
//! Buckets live in memory: a restart refills them, which costs at most one
//! burst.

use std::collections::HashMap;

/// Most buckets kept before full ones are forgotten (a full bucket is the
/// same as no bucket).
const MAX_BUCKETS: usize = 4096;

/// A speed: `per_minute` sustained, `burst` at once. `per_minute == 0` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sends per minute, sustained.
    pub per_minute: u32,
    /// Sends at once above the sustained speed (the bucket's size).
    pub burst: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

impl Bucket {
    fn refill(&mut self, rate: Rate, now_ms: i64) {
        let per_ms = rate.per_minute as f64 / 60_000.0;
        let elapsed = (now_ms - self.at_ms).max(0) as f64;
        self.tokens = (self.tokens + elapsed * per_ms).min(rate.burst.max(1) as f64);
        self.at_ms = now_ms.max(self.at_ms);
    }

    /// Seconds until one token is back (at least 1).
    fn wait_secs(&self, rate: Rate) -> u64 {
        let per_ms = rate.per_minute as f64 / 60_000.0;
        (((1.0 - self.tokens) / per_ms) / 1000.0).ceil().max(1.0) as u64
    }

    fn full(&self, rate: Rate) -> bool {
        self.tokens >= rate.burst.max(1) as f64
    }
}

/// Which bucket ran dry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The session's own speed.
    Session,
    /// The speed towards one recipient.
    Recipient,
}

/// The buckets of every session and recipient.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: HashMap<(String, String), Bucket>,
}

impl Throttle {
    /// Takes one token from `session`'s bucket and from its `recipient`'s,
    /// or neither: `Err((scope, retry_after_secs))` when either is empty.
    pub fn take(
        &mut self,
        session: &str,
        recipient: &str,
        per_session: Rate,
        per_recipient: Rate,
        now_ms: i64,
    ) -> Result<(), (Scope, u64)> {
        let keys = [
            (
                (session.to_string(), String::new()),
                per_session,
                Scope::Session,
            ),
            (
                (session.to_string(), recipient.to_string()),
                per_recipient,
                Scope::Recipient,
            ),
        ];
        let mut worst: Option<(Scope, u64)> = None;
        for (key, rate, scope) in &keys {
            if rate.per_minute == 0 {
                continue;
            }
            let b = self.bucket(key, *rate, now_ms);
            if b.tokens < 1.0 {
                let wait = b.wait_secs(*rate);
                if worst.is_none_or(|(_, w)| wait > w) {
                    worst = Some((*scope, wait));
                }
            }
        }
        if let Some(w) = worst {
            return Err(w);
        }
        for (key, rate, _) in &keys {
            if rate.per_minute == 0 {
                continue;
            }
            if let Some(b) = self.buckets.get_mut(key) {
                b.tokens -= 1.0;
            }
        }
        if self.buckets.len() > MAX_BUCKETS {
            self.forget_full(per_session, per_recipient, now_ms);
        }
        Ok(())
    }

    fn bucket(&mut self, key: &(String, String), rate: Rate, now_ms: i64) -> Bucket {
        let b = self.buckets.entry(key.clone()).or_insert(Bucket {
            tokens: rate.burst.max(1) as f64,
            at_ms: now_ms,
        });
        b.refill(rate, now_ms);
        *b
    }

    fn forget_full(&mut self, per_session: Rate, per_recipient: Rate, now_ms: i64) {
        self.buckets.retain(|(_, recipient), b| {
            let rate = if recipient.is_empty() {
                per_session
            } else {
                per_recipient
            };
            b.refill(rate, now_ms);
            !b.full(rate)
        });
    }

    /// How many buckets are kept (for tests).
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no bucket is kept.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Rate = Rate {
        per_minute: 60,
        burst: 10,
    };
    const R: Rate = Rate {
        per_minute: 6,
        burst: 3,
    };

    #[test]
    fn a_burst_gets_the_bucket_then_waits_for_the_refill() {
        let mut t = Throttle::default();
        for _ in 0..3 {
            assert_eq!(t.take("s", "a", S, R, 0), Ok(()));
        }
        // The recipient's bucket is empty: 6/min is one every 10 s.
        assert_eq!(t.take("s", "a", S, R, 0), Err((Scope::Recipient, 10)));
        assert_eq!(t.take("s", "a", S, R, 9_000), Err((Scope::Recipient, 1)));
        assert_eq!(t.take("s", "a", S, R, 10_000), Ok(()));
        // Other recipients share the session's bucket (full again after
        // 10 s at 1/s, less the send just made).
        for i in 0..9 {
            assert_eq!(t.take("s", &format!("r{i}"), S, R, 10_000), Ok(()), "{i}");
        }
        assert_eq!(t.take("s", "x", S, R, 10_000), Err((Scope::Session, 1)));
        // A refused send takes no token from the other bucket.
        assert_eq!(t.take("other", "a", S, R, 10_000), Ok(()));
    }

    #[test]
    fn zero_is_unlimited_and_full_buckets_are_forgotten() {
        let mut t = Throttle::default();
        let off = Rate {
            per_minute: 0,
            burst: 0,
        };
        for _ in 0..100 {
            assert_eq!(t.take("s", "a", off, off, 0), Ok(()));
        }
        assert!(t.is_empty());
        for i in 0..=MAX_BUCKETS {
            t.take("s", &i.to_string(), off, R, 0).expect("first send");
        }
        // A minute later every bucket is full again and forgotten on the next overflow.
        t.take("s", "late", off, R, 600_000).expect("send");
        assert!(t.len() < 10, "{}", t.len());
    }
}
