//! GitHub's primary rate limits as its `x-ratelimit-*` headers report them: a `core` budget of
//! 5000 requests per hour per token (60 per hour without one) and the `search` budget per
//! minute. Search is enforced by the sandbox's shared limiter (`sb.limits`, tunable with
//! `POST /_sandbox/limits`); this book only counts it for the headers.

use std::collections::HashMap;

use parking_lot::Mutex;
use serde_json::{Value, json};

/// Requests per hour an authenticated token gets.
pub const CORE_LIMIT: u64 = 5000;
/// Requests per hour without a token.
pub const ANONYMOUS_CORE_LIMIT: u64 = 60;
/// Length of a core window in seconds.
const CORE_WINDOW_SECS: i64 = 3600;
/// Length of a search window in seconds.
const SEARCH_WINDOW_SECS: i64 = 60;

/// One budget as the headers show it.
#[derive(Debug, Clone, PartialEq)]
pub struct RateInfo {
    /// `x-ratelimit-limit`.
    pub limit: u64,
    /// `x-ratelimit-remaining`.
    pub remaining: u64,
    /// `x-ratelimit-used`.
    pub used: u64,
    /// `x-ratelimit-reset`, epoch seconds.
    pub reset: i64,
    /// `x-ratelimit-resource`: `core` or `search`.
    pub resource: &'static str,
}

impl RateInfo {
    /// The same budget, reported as spent (a refused request).
    pub fn exhausted(mut self) -> Self {
        self.remaining = 0;
        self
    }

    /// The `/rate_limit` JSON of this budget.
    pub fn to_json(&self) -> Value {
        json!({
            "limit": self.limit,
            "remaining": self.remaining,
            "reset": self.reset,
            "used": self.used,
            "resource": self.resource,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    reset: i64,
    used: u64,
}

#[derive(Debug)]
struct Book {
    core_limit: u64,
    windows: HashMap<(&'static str, String), Window>,
}

/// Every caller's budgets per (resource, token): the hourly `core` window it enforces and the
/// `search` count it only reports in the headers (the shared limiter enforces search).
#[derive(Debug)]
pub struct RateBook(Mutex<Book>);

impl Default for RateBook {
    fn default() -> Self {
        RateBook(Mutex::new(Book {
            core_limit: CORE_LIMIT,
            windows: HashMap::new(),
        }))
    }
}

fn epoch_now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Book {
    /// The live window for (resource, key), starting a new one when the old has expired.
    fn window(&mut self, resource: &'static str, key: &str, secs: i64) -> &mut Window {
        let now = epoch_now();
        let w = self
            .windows
            .entry((resource, key.to_string()))
            .or_insert(Window {
                reset: now + secs,
                used: 0,
            });
        if now >= w.reset {
            *w = Window {
                reset: now + secs,
                used: 0,
            };
        }
        w
    }
}

fn info(limit: u64, w: Window, resource: &'static str) -> RateInfo {
    RateInfo {
        limit,
        remaining: limit.saturating_sub(w.used),
        used: w.used,
        reset: w.reset,
        resource,
    }
}

impl RateBook {
    /// Back to full budgets and the default core limit.
    pub fn reset(&self) {
        let mut b = self.0.lock();
        b.core_limit = CORE_LIMIT;
        b.windows.clear();
    }

    fn core_limit(b: &Book, authenticated: bool) -> u64 {
        if authenticated {
            b.core_limit
        } else {
            ANONYMOUS_CORE_LIMIT
        }
    }

    /// Spends one core request of `key`. `Err` carries the spent budget (answer 403).
    pub fn take_core(&self, key: &str, authenticated: bool) -> Result<RateInfo, RateInfo> {
        let mut b = self.0.lock();
        let limit = Self::core_limit(&b, authenticated);
        let w = b.window("core", key, CORE_WINDOW_SECS);
        if w.used >= limit {
            return Err(info(limit, *w, "core").exhausted());
        }
        w.used += 1;
        Ok(info(limit, *w, "core"))
    }

    /// The core budget of `key` without spending any.
    pub fn peek_core(&self, key: &str, authenticated: bool) -> RateInfo {
        let mut b = self.0.lock();
        let limit = Self::core_limit(&b, authenticated);
        let w = *b.window("core", key, CORE_WINDOW_SECS);
        info(limit, w, "core")
    }

    /// Counts one allowed search request of `key` against `limit` per minute.
    pub fn count_search(&self, key: &str, limit: u64) -> RateInfo {
        let mut b = self.0.lock();
        let w = b.window("search", key, SEARCH_WINDOW_SECS);
        w.used += 1;
        info(limit, *w, "search")
    }

    /// The search budget of `key` without spending any.
    pub fn peek_search(&self, key: &str, limit: u64) -> RateInfo {
        let mut b = self.0.lock();
        let w = *b.window("search", key, SEARCH_WINDOW_SECS);
        info(limit, w, "search")
    }

    /// Sets the hourly core limit of tokens and, optionally, what `key` has left now (control
    /// API: lets a test reach the limit without thousands of requests).
    pub fn configure(&self, key: &str, limit: Option<u64>, remaining: Option<u64>) -> RateInfo {
        let mut b = self.0.lock();
        if let Some(l) = limit {
            b.core_limit = l;
        }
        let limit = b.core_limit;
        let w = b.window("core", key, CORE_WINDOW_SECS);
        if let Some(r) = remaining {
            w.used = limit.saturating_sub(r);
        }
        info(limit, *w, "core")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_budget_counts_down_and_refuses_at_zero() {
        let book = RateBook::default();
        book.configure("t", Some(2), None);
        assert_eq!(book.take_core("t", true).map(|i| i.remaining), Ok(1));
        assert_eq!(book.take_core("t", true).map(|i| i.remaining), Ok(0));
        let spent = book.take_core("t", true).unwrap_err();
        assert_eq!((spent.remaining, spent.used), (0, 2));
        assert_eq!(book.peek_core("x", false).limit, ANONYMOUS_CORE_LIMIT);
    }
}
