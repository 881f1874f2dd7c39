//! Rate limits with each vendor's real numbers (SPEC §7.5), on by default. A handler asks
//! `check(service, name, key)`; a `Err(wait)` means answer with the vendor's 429 signal.
//!
//! Default rules: Slack `chat.postMessage` 1/s per channel (burst 4); GitHub `content`
//! (issues and comments) 80/min and `search` 30/min; PagerDuty `enqueue` 120/min per routing
//! key; CrowdStrike `api` 6000/min per client; Okta `api` 600 per one-minute window (counted
//! by the Okta simulator itself, which needs the exact remaining count for its headers); Slack
//! `conversations.history` and `conversations.replies` at Tier 3, 50/min each for the app (what
//! internal, customer-built apps like Vigil get; vendor-apis §1.2). Any other Slack method (by
//! its name, e.g.
//! `apps.connections.open`) is limited only once `POST /_sandbox/limits` turns it on.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// A limit as posted to `POST /_sandbox/limits`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitSpec {
    /// Service prefix: the vendor's first path segment (`slack`, `github`, `pagerduty`, …).
    pub service: String,
    /// Slack method name, or the limit's name for other vendors (`content`, `search`,
    /// `enqueue`, `api`).
    pub method: String,
    /// Sustained rate; 0 turns the limit off.
    pub per_minute: u32,
    /// Requests allowed at once; defaults to `per_minute`.
    #[serde(default)]
    pub burst: Option<u32>,
}

struct Rule {
    spec: LimitSpec,
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
}

/// Every limit of one sandbox, keyed by (service, method); a refused check tells the handler
/// to answer with that vendor's own 429 signal.
pub struct Limits {
    rules: Mutex<HashMap<(String, String), Rule>>,
}

/// Slack's Tier 3 (requests per minute, per method, per app), where history reads stay for
/// internal apps; commercially distributed non-Marketplace apps get Tier 1 instead.
pub const TIER_3: u32 = 50;

/// The limits a fresh sandbox enforces.
pub fn defaults() -> Vec<LimitSpec> {
    let spec = |service: &str, method: &str, per_minute, burst| LimitSpec {
        service: service.into(),
        method: method.into(),
        per_minute,
        burst: Some(burst),
    };
    vec![
        spec("slack", "chat.postMessage", 60, 4),
        spec("slack", "conversations.history", TIER_3, TIER_3),
        spec("slack", "conversations.replies", TIER_3, TIER_3),
        spec("github", "content", 80, 80),
        spec("github", "search", 30, 30),
        spec("pagerduty", "enqueue", 120, 120),
        spec("crowdstrike", "api", 6000, 6000),
        spec("okta", "api", 600, 600),
    ]
}

impl Limits {
    /// Limits as the real vendors set them (the numbers above), on from the start.
    pub fn with_defaults() -> Self {
        let limits = Limits {
            rules: Mutex::new(HashMap::new()),
        };
        limits.reset();
        limits
    }

    /// Back to the default rules with empty buckets.
    pub fn reset(&self) {
        let mut rules = self.rules.lock();
        rules.clear();
        for spec in defaults() {
            if let Some(rule) = Rule::build(spec) {
                rules.insert((rule.spec.service.clone(), rule.spec.method.clone()), rule);
            }
        }
    }

    /// Adds, replaces or (with `per_minute: 0`) removes a rule; its buckets start empty.
    pub fn set(&self, spec: LimitSpec) {
        let key = (spec.service.clone(), spec.method.clone());
        let mut rules = self.rules.lock();
        match Rule::build(spec) {
            Some(rule) => {
                rules.insert(key, rule);
            }
            None => {
                rules.remove(&key);
            }
        }
    }

    /// Every active rule, sorted by service and method (what `GET /_sandbox/limits` lists).
    pub fn list(&self) -> Vec<LimitSpec> {
        let mut all: Vec<LimitSpec> = self.rules.lock().values().map(|r| r.spec.clone()).collect();
        all.sort_by(|a, b| (&a.service, &a.method).cmp(&(&b.service, &b.method)));
        all
    }

    /// Takes one request from `key`'s bucket under rule (`service`, `name`). `Err` holds how
    /// long until a request would be allowed. No rule means no limit.
    pub fn check(&self, service: &str, name: &str, key: &str) -> Result<(), Duration> {
        let limiter = {
            let rules = self.rules.lock();
            match rules.get(&(service.to_string(), name.to_string())) {
                Some(rule) => rule.limiter.clone(),
                None => return Ok(()),
            }
        };
        limiter
            .check_key(&key.to_string())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

impl Rule {
    fn build(spec: LimitSpec) -> Option<Rule> {
        let per_minute = NonZeroU32::new(spec.per_minute)?;
        let burst = spec.burst.and_then(NonZeroU32::new).unwrap_or(per_minute);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Some(Rule {
            spec,
            limiter: Arc::new(RateLimiter::keyed(quota)),
        })
    }
}

/// Rounds a wait up to whole seconds, at least 1, for `Retry-After` headers.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_nanos().div_ceil(1_000_000_000).max(1);
    u64::try_from(secs).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_message_allows_a_burst_of_four_per_channel() {
        let l = Limits::with_defaults();
        for _ in 0..4 {
            assert!(l.check("slack", "chat.postMessage", "C1").is_ok());
        }
        let wait = l.check("slack", "chat.postMessage", "C1").unwrap_err();
        assert!(wait <= Duration::from_secs(1));
        assert!(
            l.check("slack", "chat.postMessage", "C2").is_ok(),
            "per channel"
        );
        assert!(
            l.check("slack", "views.open", "").is_ok(),
            "off unless turned on"
        );
    }

    #[test]
    fn zero_turns_a_limit_off_and_reset_restores_it() {
        let l = Limits::with_defaults();
        l.set(LimitSpec {
            service: "slack".into(),
            method: "chat.postMessage".into(),
            per_minute: 0,
            burst: None,
        });
        for _ in 0..50 {
            assert!(l.check("slack", "chat.postMessage", "C1").is_ok());
        }
        l.reset();
        assert_eq!(l.list().len(), defaults().len());
    }

    #[test]
    fn history_and_replies_are_tier_3_by_default_each_in_its_own_bucket() {
        let l = Limits::with_defaults();
        for method in ["conversations.history", "conversations.replies"] {
            for i in 0..TIER_3 {
                assert!(l.check("slack", method, "").is_ok(), "{method} #{i}");
            }
            let wait = l.check("slack", method, "").unwrap_err();
            assert!(wait <= Duration::from_millis(1300), "{method}: {wait:?}");
        }
        l.set(LimitSpec {
            service: "slack".into(),
            method: "conversations.history".into(),
            per_minute: 0,
            burst: None,
        });
        assert!(l.check("slack", "conversations.history", "").is_ok());
        l.reset();
        let listed = l.list();
        for method in ["conversations.history", "conversations.replies"] {
            assert!(
                listed
                    .iter()
                    .any(|r| r.method == method && r.per_minute == TIER_3),
                "reset restores {method}: {listed:?}"
            );
        }
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
