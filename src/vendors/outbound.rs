//! The outbound scheduler: one per vendor (SPEC §5). Every vendor call goes through it so that
//! Vigil stays under the vendor's rate limit (a keyed `governor` limiter awaited before each
//! attempt) and rides out transient failures (exponential backoff with jitter from `backon`,
//! or exactly the wait the vendor asked for with `Retry-After` / `X-RateLimit-RetryAfter`).
//!
//! Only [`VendorError::is_transient`] errors are retried; a permanent error (a 4xx other than
//! 429, an answer that cannot be decoded) comes back at once, so the pipeline can mark the step
//! failed on the case. Each retry is logged as a `tracing` event and, when the caller wraps its
//! work in [`capture_retries`], also handed back as a [`Retried`] so it can be written on the
//! case timeline ("GitHub create issue: HTTP 502, retried (2/5)").

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::VendorError;

/// How a failed call is retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The first backoff wait; each later one doubles (with jitter, when on).
    pub min_delay: Duration,
    /// The cap on one backoff wait, however many attempts came before.
    pub max_delay: Duration,
    /// The longest vendor-requested wait (`Retry-After`) honoured; longer asks are cut to this.
    pub max_retry_after: Duration,
    /// The most time one call may spend waiting between attempts; when the next wait would go
    /// past it, the last error is returned instead (the pipeline retries the step later).
    pub max_total_wait: Duration,
    /// Whether backoff steps get random jitter (they should, outside tests).
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            max_total_wait: Duration::from_secs(120),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries: for callers that run their own retry loop.
    pub fn no_retry() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The backoff steps between attempts (one fewer than `max_attempts`).
    fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        let retries = usize::try_from(self.max_attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        let builder = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(retries);
        let builder = if self.jitter {
            builder.with_jitter()
        } else {
            builder
        };
        builder.build()
    }
}

/// One retry of a vendor call: what failed and what happens next.
#[derive(Debug, Clone)]
pub struct Retried {
    /// The scheduler's vendor name (`GitHub`).
    pub vendor: &'static str,
    /// The call (`create issue`).
    pub call: &'static str,
    /// The error of the attempt that failed.
    pub error: VendorError,
    /// The attempt about to be made (2 for the first retry).
    pub next_attempt: u32,
    /// Attempts allowed in all, from the policy (the first included).
    pub max_attempts: u32,
    /// How long the scheduler waits before that attempt.
    pub wait: Duration,
}

impl fmt::Display for Retried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}, retried ({}/{})",
            self.vendor,
            self.call,
            self.error.kind(),
            self.next_attempt,
            self.max_attempts
        )
    }
}

tokio::task_local! {
    static RETRIES: RefCell<Vec<Retried>>;
}

/// Runs `fut` and returns, with its output, every retry any scheduler made inside it (in order).
/// This is how the pipeline learns about retries without every client method taking a callback.
pub async fn capture_retries<F: Future>(fut: F) -> (F::Output, Vec<Retried>) {
    RETRIES
        .scope(RefCell::new(Vec::new()), async move {
            let out = fut.await;
            let seen = RETRIES.with(|r| r.take());
            (out, seen)
        })
        .await
}

/// Logs a retry and hands it to the enclosing [`capture_retries`], if any: for retry loops
/// outside the scheduler (Slack's `Retry-After` waits) so their retries reach the case
/// timeline too.
pub fn report(retried: Retried) {
    tracing::warn!(
        vendor = retried.vendor,
        call = retried.call,
        attempt = retried.next_attempt,
        max_attempts = retried.max_attempts,
        wait_ms = u64::try_from(retried.wait.as_millis()).unwrap_or(u64::MAX),
        error = %retried.error,
        "vendor call failed; retrying"
    );
    // Outside `capture_retries` there is no sink: the tracing event is the record.
    let _ = RETRIES.try_with(|r| r.borrow_mut().push(retried));
}

/// A quota of `per_minute` calls with bursts of at most `burst` (both at least 1).
pub fn per_minute(per_minute: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(rate).allow_burst(burst)
}

/// GitHub content creation (issues, comments): 80/min (vendor-apis §4), small bursts because
/// GitHub's secondary limits punish them.
pub fn github_content_quota() -> Quota {
    per_minute(80, 10)
}

/// PagerDuty Events API: ~120 events/min per routing key.
pub fn pagerduty_events_quota() -> Quota {
    per_minute(120, 20)
}

/// CrowdStrike: 6000 requests/min per customer, shared by every API client of the tenant.
pub fn crowdstrike_quota() -> Quota {
    per_minute(6000, 100)
}

/// Oomnitza documents no limit; a modest default that never floods a tenant.
pub fn oomnitza_quota() -> Quota {
    per_minute(300, 20)
}

/// A virtual clock of a vendor's pace, for work that should wait off the runner instead of
/// inside the limiter: each reservation takes the next slot (`every` apart, the first `burst`
/// at once after a quiet spell) and answers how far ahead that slot is. It only spreads
/// callers out; the [`Outbound`] limiter still enforces the vendor's limit on every call.
pub struct Pacer {
    every: Duration,
    burst: u32,
    next: parking_lot::Mutex<Option<std::time::Instant>>,
}

impl Pacer {
    /// `per_minute` slots a minute with bursts of `burst` (both at least 1).
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        Pacer {
            every: Duration::from_secs_f64(60.0 / f64::from(per_minute.max(1))),
            burst: burst.max(1),
            next: parking_lot::Mutex::new(None),
        }
    }

    /// Takes the next slot; how long until it comes.
    pub fn reserve(&self) -> Duration {
        let now = std::time::Instant::now();
        let floor = now
            .checked_sub(self.every * (self.burst - 1))
            .unwrap_or(now);
        let mut next = self.next.lock();
        let slot = next.map_or(floor, |t| t.max(floor));
        *next = Some(slot + self.every);
        slot.saturating_duration_since(now)
    }
}

/// The scheduler for one vendor: a keyed rate limiter (one budget per key, e.g. GitHub's
/// `content` and `search`) and the retry policy every call through it shares.
pub struct Outbound {
    name: &'static str,
    limiter: DefaultKeyedRateLimiter<String>,
    policy: RetryPolicy,
    ahead: Ahead,
}

/// Callers of [`Outbound::call_ahead`] waiting on the limiter. While any waits, other callers
/// of the same scheduler take no cell, so at GitHub's content limit a storm's issues are
/// created before anyone's comments (a comment can wait; a case without its issue cannot be
/// worked). Issue slots are paced for issues alone (`Pacer`), and this keeps them true.
#[derive(Default)]
struct Ahead {
    waiting: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// One waiting priority caller; leaving lets the others go once none is left.
struct AheadTurn<'a>(&'a Ahead);

impl Ahead {
    fn enter(&self) -> AheadTurn<'_> {
        self.waiting
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        AheadTurn(self)
    }

    /// Waits until no priority caller waits.
    async fn clear(&self) {
        loop {
            let idle = self.idle.notified();
            if self.waiting.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for AheadTurn<'_> {
    fn drop(&mut self) {
        if self
            .0
            .waiting
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.0.idle.notify_waiters();
        }
    }
}

impl fmt::Debug for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbound")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Outbound {
    /// A scheduler named `name` (as people read it: `GitHub`) allowing `quota` calls per key.
    pub fn new(name: &'static str, quota: Quota, policy: RetryPolicy) -> Self {
        Outbound {
            name,
            limiter: RateLimiter::keyed(quota),
            policy,
            ahead: Ahead::default(),
        }
    }

    /// The vendor name retries are reported under.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The retry policy in force; a client reads its `max_retry_after` to tell a wait it will
    /// ride out from one it should report (AbuseIPDB's daily quota).
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Runs `f` (one attempt per invocation) under the limiter for `key` and the retry policy.
    /// `call` names the call in retry reports.
    pub async fn call<T, F, Fut>(
        &self,
        key: &str,
        call: &'static str,
        f: F,
    ) -> Result<T, VendorError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, VendorError>>,
    {
        self.run(Some((key, false)), call, f).await
    }

    /// Like [`Outbound::call`], but ahead of every `call` waiting on the same scheduler: they
    /// take no limiter cell while this waits (issue creation before comments at GitHub's
    /// content limit).
    pub async fn call_ahead<T, F, Fut>(
        &self,
        key: &str,
        call: &'static str,
        f: F,
    ) -> Result<T, VendorError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, VendorError>>,
    {
        self.run(Some((key, true)), call, f).await
    }

    /// Waits for a limiter cell for `key`: at once in turn for a priority caller, and for the
    /// others only while no priority caller waits (re-checked after every wait).
    async fn turn(&self, key: &str, ahead: bool) {
        let key = key.to_string();
        if ahead {
            let _turn = self.ahead.enter();
            self.limiter.until_key_ready(&key).await;
            return;
        }
        loop {
            self.ahead.clear().await;
            match self.limiter.check_key(&key) {
                Ok(()) => return,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
            }
        }
    }

    /// Like [`Outbound::call`] but without waiting on the limiter: for calls the vendor does
    /// not count against the scheduler's quota (GitHub reads next to content creation).
    pub async fn call_unmetered<T, F, Fut>(
        &self,
        call: &'static str,
        f: F,
    ) -> Result<T, VendorError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, VendorError>>,
    {
        self.run(None, call, f).await
    }

    async fn run<T, F, Fut>(
        &self,
        key: Option<(&str, bool)>,
        call: &'static str,
        mut f: F,
    ) -> Result<T, VendorError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, VendorError>>,
    {
        let max_attempts = self.policy.max_attempts.max(1);
        let mut steps = self.policy.backoff();
        let mut waited = Duration::ZERO;
        let mut attempt = 1;
        loop {
            if let Some((key, ahead)) = key {
                self.turn(key, ahead).await;
            }
            let err = match f().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !err.is_transient() || attempt >= max_attempts {
                return Err(err);
            }
            let step = steps.next().unwrap_or(self.policy.max_delay);
            let wait = self.wait_for(&err, step);
            if waited + wait > self.policy.max_total_wait {
                return Err(err);
            }
            waited += wait;
            attempt += 1;
            report(Retried {
                vendor: self.name,
                call,
                error: err,
                next_attempt: attempt,
                max_attempts,
                wait,
            });
            tokio::time::sleep(wait).await;
        }
    }

    /// The vendor's requested wait (capped) when it gave one, else the backoff step.
    fn wait_for(&self, err: &VendorError, step: Duration) -> Duration {
        match err.retry_after() {
            Some(asked) => asked.min(self.policy.max_retry_after),
            None => step,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn status(code: u16, retry_after: Option<Duration>) -> VendorError {
        VendorError::Status {
            vendor: "github",
            call: "create issue",
            status: code,
            message: "scripted".into(),
            retry_after,
        }
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        }
    }

    fn scheduler(policy: RetryPolicy) -> Outbound {
        Outbound::new("GitHub", per_minute(6000, 100), policy)
    }

    /// Answers `script[n]` on the n-th attempt (the last entry once the script runs out).
    async fn scripted(
        out: &Outbound,
        script: &[Result<u16, VendorError>],
        calls: &AtomicU32,
    ) -> Result<u16, VendorError> {
        out.call("content", "create issue", || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) as usize;
            script[n.min(script.len() - 1)].clone()
        })
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn two_502s_then_success_is_retried_and_reported() {
        let out = scheduler(quick());
        let calls = AtomicU32::new(0);
        let script = [Err(status(502, None)), Err(status(502, None)), Ok(201)];
        let (result, retries) = capture_retries(scripted(&out, &script, &calls)).await;
        assert_eq!(result.ok(), Some(201));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let lines: Vec<String> = retries.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "GitHub create issue: HTTP 502, retried (2/5)",
                "GitHub create issue: HTTP 502, retried (3/5)"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_instead_of_the_backoff_step() {
        let out = scheduler(quick());
        let calls = AtomicU32::new(0);
        let script = [Err(status(429, Some(Duration::from_secs(1)))), Ok(200)];
        let started = tokio::time::Instant::now();
        let (result, retries) = capture_retries(scripted(&out, &script, &calls)).await;
        let took = started.elapsed();
        assert_eq!(result.ok(), Some(200));
        assert!(took >= Duration::from_secs(1), "waited {took:?}");
        assert!(took < Duration::from_millis(1100), "waited {took:?}");
        assert_eq!(retries.len(), 1);
        assert_eq!(retries[0].wait, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_retry_after_is_capped() {
        let policy = RetryPolicy {
            max_retry_after: Duration::from_secs(5),
            ..quick()
        };
        let out = scheduler(policy);
        let calls = AtomicU32::new(0);
        let script = [Err(status(429, Some(Duration::from_secs(3600)))), Ok(200)];
        let (result, retries) = capture_retries(scripted(&out, &script, &calls)).await;
        assert_eq!(result.ok(), Some(200));
        assert_eq!(retries[0].wait, Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_error_returns_at_once() {
        let out = scheduler(quick());
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let (result, retries) =
            capture_retries(scripted(&out, &[Err(status(422, None))], &calls)).await;
        assert_eq!(result.err().and_then(|e| e.status()), Some(422));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(retries.is_empty());
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts_with_the_last_error() {
        let out = scheduler(quick());
        let calls = AtomicU32::new(0);
        let (result, retries) =
            capture_retries(scripted(&out, &[Err(status(503, None))], &calls)).await;
        assert_eq!(result.err().and_then(|e| e.status()), Some(503));
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        assert_eq!(retries.len(), 4);
        assert_eq!(retries[3].next_attempt, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_when_the_total_wait_budget_would_be_exceeded() {
        let policy = RetryPolicy {
            max_total_wait: Duration::from_secs(2),
            ..quick()
        };
        let out = scheduler(policy);
        let calls = AtomicU32::new(0);
        let script = [Err(status(429, Some(Duration::from_secs(3)))), Ok(200)];
        let (result, _) = capture_retries(scripted(&out, &script, &calls)).await;
        assert_eq!(result.err().and_then(|e| e.status()), Some(429));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn transport_errors_and_rate_limited_403s_are_retried() {
        let out = scheduler(quick());
        let calls = AtomicU32::new(0);
        let script = [
            Err(VendorError::Transport {
                vendor: "github",
                call: "create issue",
                message: "connection reset".into(),
            }),
            Err(VendorError::RateLimited {
                vendor: "github",
                call: "create issue",
                status: 403,
                message: "secondary rate limit".into(),
                retry_after: Some(Duration::from_secs(2)),
            }),
            Ok(201),
        ];
        let (result, retries) = capture_retries(scripted(&out, &script, &calls)).await;
        assert_eq!(result.ok(), Some(201));
        assert_eq!(
            retries[0].to_string(),
            "GitHub create issue: unreachable, retried (2/5)"
        );
        assert_eq!(
            retries[1].to_string(),
            "GitHub create issue: HTTP 403, retried (3/5)"
        );
        assert_eq!(retries[1].wait, Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_grows_and_stays_within_the_policy() {
        let policy = RetryPolicy {
            jitter: false,
            ..quick()
        };
        let steps: Vec<Duration> = policy.backoff().collect();
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[0], Duration::from_millis(100));
        assert!(steps.windows(2).all(|w| w[0] <= w[1]));
        assert!(steps.iter().all(|s| *s <= Duration::from_secs(1)));
    }

    #[test]
    fn a_pacer_hands_out_its_burst_then_one_slot_per_period() {
        let p = Pacer::per_minute(60, 2);
        let waits: Vec<u64> = (0..4).map(|_| p.reserve().as_millis() as u64).collect();
        assert_eq!(waits[..2], [0, 0], "{waits:?}");
        assert!((900..=1000).contains(&waits[2]), "{waits:?}");
        assert!((1900..=2000).contains(&waits[3]), "{waits:?}");
    }

    #[tokio::test]
    async fn calls_ahead_take_the_limit_before_the_calls_already_waiting() {
        // One call every 50 ms, no burst: eight comments queue, then two issues arrive.
        let quota = Quota::per_second(NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::MIN);
        let out = Outbound::new("GitHub", quota, RetryPolicy::no_retry());
        let order = parking_lot::Mutex::new(Vec::new());
        let (out, order) = (&out, &order);
        let comments = (0..8).map(|i| {
            futures_util::FutureExt::boxed(async move {
                out.call("content", "comment", || async { Ok::<_, VendorError>(()) })
                    .await
                    .ok();
                order.lock().push(format!("comment {i}"));
            })
        });
        let issues = (0..2).map(|i| {
            futures_util::FutureExt::boxed(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                out.call_ahead("content", "create issue", || async {
                    Ok::<_, VendorError>(())
                })
                .await
                .ok();
                order.lock().push(format!("issue {i}"));
            })
        });
        futures_util::future::join_all(comments.chain(issues)).await;
        let order = order.lock().clone();
        assert_eq!(order.len(), 10);
        let first_two: Vec<&String> = order[1..3].iter().collect();
        assert!(
            first_two.iter().all(|c| c.starts_with("issue")),
            "the issues came right after the comment that had the cell: {order:?}"
        );
    }

    #[tokio::test]
    async fn the_limiter_delays_the_call_after_the_burst() {
        // 10/s with a burst of 4: four calls pass at once, the fifth waits ~100 ms.
        let quota = Quota::per_second(NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(4).unwrap_or(NonZeroU32::MIN));
        let out = Outbound::new("PagerDuty", quota, RetryPolicy::no_retry());
        let started = std::time::Instant::now();
        let mut at = Vec::new();
        for _ in 0..5 {
            out.call("routing-key", "trigger", || async {
                Ok::<_, VendorError>(())
            })
            .await
            .ok();
            at.push(started.elapsed());
        }
        assert!(
            at[3] < Duration::from_millis(50),
            "burst passed at once: {at:?}"
        );
        assert!(at[4] >= Duration::from_millis(80), "fifth delayed: {at:?}");
        // Another key has its own bucket.
        let other = std::time::Instant::now();
        out.call("other-key", "trigger", || async {
            Ok::<_, VendorError>(())
        })
        .await
        .ok();
        assert!(other.elapsed() < Duration::from_millis(50));
    }
}
