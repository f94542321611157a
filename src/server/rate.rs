//! Token buckets: a sustained rate with a burst, one bucket per key (a peer
//! address, a token's hash), in a map of bounded size.
//!
//! Time is passed in, so the tests drive it. A key whose bucket has filled
//! up again is the same as an absent one; those are dropped first when the
//! map is full, and if every bucket is still draining the map starts over
//! (a flood of made-up tokens then forgets the token limits, never the
//! per-peer ones, which are checked first).

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Most keys remembered per map.
pub const MAX_KEYS: usize = 4096;

/// One bucket.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn full(burst: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, rate: f64, burst: f64, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(burst);
        self.last = now;
    }

    /// Takes one token, or says how long until one is there.
    pub fn take(&mut self, rate: f64, burst: f64, now: Instant) -> Result<(), Duration> {
        self.refill(rate, burst, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

/// Buckets by key, all with the same rate and burst.
#[derive(Debug)]
pub struct Buckets<K> {
    map: HashMap<K, Bucket>,
    rate: f64,
    burst: f64,
}

impl<K: Hash + Eq> Buckets<K> {
    /// Buckets refilling at `rate` per second up to `burst`.
    pub fn new(rate: u32, burst: u32) -> Self {
        Buckets {
            map: HashMap::new(),
            rate: f64::from(rate.max(1)),
            burst: f64::from(burst.max(1)),
        }
    }

    /// Takes one token from `key`'s bucket, or says how long until one is there.
    pub fn take(&mut self, key: K, now: Instant) -> Result<(), Duration> {
        let (rate, burst) = (self.rate, self.burst);
        if !self.map.contains_key(&key) && self.map.len() >= MAX_KEYS {
            let full_after = Duration::from_secs_f64(burst / rate);
            self.map
                .retain(|_, b| now.saturating_duration_since(b.last) < full_after);
            if self.map.len() >= MAX_KEYS {
                self.map.clear();
            }
        }
        self.map
            .entry(key)
            .or_insert_with(|| Bucket::full(burst, now))
            .take(rate, burst, now)
    }

    /// Keys remembered now.
    #[cfg(test)]
    pub fn keys(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate_then_retry_after() {
        let t0 = Instant::now();
        let mut b = Buckets::new(2, 3);
        for _ in 0..3 {
            b.take("a", t0).expect("burst");
        }
        let wait = b.take("a", t0).expect_err("empty");
        assert_eq!(wait, Duration::from_millis(500), "one token at 2/s");
        // Another key has its own bucket.
        b.take("b", t0).expect("other key");
        // Half a second later one token is back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        b.take("a", t1).expect("refilled");
        assert!(b.take("a", t1).is_err());
        // A long pause refills to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            b.take("a", t2).expect("burst again");
        }
        assert!(b.take("a", t2).is_err());
    }

    #[test]
    fn the_map_stays_bounded() {
        let t0 = Instant::now();
        let mut b = Buckets::new(1, 1);
        for k in 0..(MAX_KEYS + 10) {
            let _ = b.take(k, t0);
        }
        assert!(b.keys() <= MAX_KEYS, "{}", b.keys());
        // Buckets that refilled are dropped first; draining ones are kept.
        let t1 = t0 + Duration::from_secs(5);
        b.take(usize::MAX, t1).expect("fresh key");
        let _ = b.take(usize::MAX, t1);
        for k in 0..MAX_KEYS {
            let _ = b.take(k + 1_000_000, t1);
        }
        assert!(b.keys() <= MAX_KEYS);
    }
}
