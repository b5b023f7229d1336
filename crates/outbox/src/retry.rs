//! When to try a failed delivery again.

use crate::ids::Millis;

/// How failed deliveries are retried: exponential backoff from `base`, capped at `max_delay`,
/// with up to `jitter` of each delay taken off at random so that deliveries failing together
/// (a partner's server down) do not all return at the same moment.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// The delay after the first failed attempt; it doubles with each further one.
    pub base: Millis,
    /// The longest delay.
    pub max_delay: Millis,
    /// The delivery is dead once this many attempts have failed.
    pub max_attempts: u32,
    /// The delivery is dead when it fails this long after it was enqueued (or manually retried).
    pub max_age: Millis,
    /// The share of each delay, 0.0 to 1.0, that may be taken off at random; 0 makes retry times
    /// exact.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// 30 s doubling to at most an hour, 20 attempts, three days, a quarter of jitter.
    fn default() -> Self {
        RetryPolicy {
            base: 30_000,
            max_delay: 3_600_000,
            max_attempts: 20,
            max_age: 3 * 24 * 3_600_000,
            jitter: 0.25,
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt once `attempts` attempts have failed, before jitter.
    pub fn backoff(&self, attempts: u32) -> Millis {
        let doublings = attempts.saturating_sub(1);
        let factor = if doublings >= 63 {
            u64::MAX
        } else {
            1u64 << doublings
        };
        self.base.saturating_mul(factor).min(self.max_delay)
    }

    /// The delay with jitter applied: somewhere in `[backoff * (1 - jitter), backoff]`.
    pub fn jittered(&self, attempts: u32) -> Millis {
        self.delay(attempts, fastrand::f64())
    }

    /// The delay with the jitter that the random draw `r` (0.0 to 1.0) picks: transactions draw
    /// before they start, so that a re-run closure reaches the same decision.
    pub(crate) fn delay(&self, attempts: u32, r: f64) -> Millis {
        let delay = self.backoff(attempts);
        let share = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let r = if r.is_finite() {
            r.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let cut = (delay as f64 * share * r) as u64;
        delay - cut.min(delay)
    }
}

/// What [`crate::Outbox::fail`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOutcome {
    /// Pending again, due at this time.
    RetryAt(Millis),
    /// Out of attempts or time: dead until an operator retries or drops it.
    Dead,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            base: 100,
            max_delay: 1_000,
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let delays: Vec<_> = (1..=6).map(|a| p.backoff(a)).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(p.backoff(0), 100);
        assert_eq!(p.backoff(u32::MAX), 1_000);
        assert_eq!(p.jittered(3), 400);
    }

    #[test]
    fn jitter_stays_within_its_share() {
        let p = RetryPolicy {
            base: 1_000,
            max_delay: 1_000_000,
            jitter: 0.5,
            ..RetryPolicy::default()
        };
        let delays: Vec<_> = (0..200).map(|_| p.jittered(2)).collect();
        assert!(
            delays.iter().all(|d| (1_000..=2_000).contains(d)),
            "{delays:?}"
        );
        assert!(delays.iter().any(|d| *d != delays[0]), "no jitter at all");
        let wild = RetryPolicy {
            jitter: f64::NAN,
            ..p.clone()
        };
        assert_eq!(wild.jittered(1), 1_000);
        let over = RetryPolicy { jitter: 7.0, ..p };
        assert!(over.jittered(1) <= 1_000);
    }
}
