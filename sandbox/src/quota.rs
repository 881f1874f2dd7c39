//! Fixed-window request quotas for vendors whose rate-limit headers report what is left
//! (AbuseIPDB's daily `X-RateLimit-Remaining`, urlscan.io's per-action `X-Rate-Limit-*`).
//!
//! Invariant: a window starts at a multiple of its length since the Unix epoch (a UTC day, a
//! UTC minute), so `reset` is the same instant for every caller, as the vendors report it; a
//! request counts against the window it arrived in, and a refused request does not count (both
//! vendors count only successful requests).

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use parking_lot::Mutex;

/// What a quota check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Requests allowed per window (what `X-RateLimit-Limit` reports).
    pub limit: u64,
    /// Requests left in this window after this one (0 when refused).
    pub remaining: u64,
    /// When the window ends and the count starts over (the vendor's reset time).
    pub reset: DateTime<Utc>,
    /// Whether this request is within the limit.
    pub allowed: bool,
}

impl Window {
    /// Whole seconds from `now` until the window ends, at least 1.
    pub fn reset_after_secs(&self, now: DateTime<Utc>) -> u64 {
        let secs = (self.reset - now).num_seconds().max(1);
        u64::try_from(secs).unwrap_or(1)
    }
}

/// Counters per key for one window length.
#[derive(Debug)]
pub struct Quota {
    length_secs: i64,
    counts: Mutex<HashMap<String, (i64, u64)>>,
}

impl Quota {
    /// A quota whose windows last `length_secs` (60 for a minute, 86 400 for a day).
    pub fn new(length_secs: i64) -> Self {
        Quota {
            length_secs: length_secs.max(1),
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request for `key` at `now` against `limit`.
    pub fn take(&self, key: &str, limit: u64, now: DateTime<Utc>) -> Window {
        let start = now.timestamp().div_euclid(self.length_secs) * self.length_secs;
        let reset = Utc
            .timestamp_opt(start.saturating_add(self.length_secs), 0)
            .single()
            .unwrap_or(now);
        let mut counts = self.counts.lock();
        let entry = counts.entry(key.to_string()).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        let allowed = entry.1 < limit;
        if allowed {
            entry.1 += 1;
        }
        Window {
            limit,
            remaining: limit.saturating_sub(entry.1),
            reset,
            allowed,
        }
    }

    /// Forgets every count (`POST /_sandbox/reset`).
    pub fn clear(&self) {
        self.counts.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_window_and_refusals_do_not_count() {
        let q = Quota::new(60);
        let t = Utc
            .timestamp_opt(1_800_000_010, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(q.take("k", 2, t).remaining, 1);
        assert_eq!(q.take("k", 2, t).remaining, 0);
        let refused = q.take("k", 2, t);
        assert!(!refused.allowed);
        assert_eq!(refused.reset.timestamp(), 1_800_000_060);
        assert_eq!(refused.reset_after_secs(t), 50);
        assert!(q.take("other", 2, t).allowed, "per key");
        let next = t + chrono::Duration::seconds(50);
        assert!(q.take("k", 2, next).allowed, "a new window starts empty");
    }
}
