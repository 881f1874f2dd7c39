//! Keeps `slack.socket_connections` sockets open.
//!
//! Invariants:
//! - Replacement first: a socket that got `warning`, `refresh_requested` (or another reason) or
//!   went silent stops counting towards the wanted number, so a new one opens at once; the old
//!   one is drained and closed only once enough replacements said hello (a warned socket keeps
//!   serving until its `refresh_requested`, as Slack keeps delivering to it).
//! - One connection attempt at a time; after a failure the next waits an exponential backoff
//!   with jitter, capped, never a fixed spin.
//! - `link_disabled` stops reconnecting for good; the reason lands in [`SocketHealth`], so
//!   `/healthz` answers 503 and says why.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use slack_morphism::prelude::SlackApiToken;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

use super::conn::{self, Order, Report};
use super::frames::DisconnectReason;
use super::{Inbox, SocketHealth, Tuning};
use crate::slack::client::Slack;

/// How long shutdown waits for the sockets to drain and close.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// What the pool is built from.
pub(super) struct Setup {
    pub slack: Slack,
    pub token: SlackApiToken,
    pub wanted: usize,
    pub inbox: Arc<dyn Inbox>,
    pub health: Arc<SocketHealth>,
    pub tuning: Tuning,
}

/// Where a socket is in its life, as the pool sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Connecting; no hello yet.
    Opening,
    /// Said hello; serving.
    Live,
    /// Got `warning`: still serving until Slack's `refresh_requested`; replaced already.
    Warned,
    /// Slack stopped using it (or it went silent): drain once replacements are live.
    Retiring,
    /// Told to drain; waiting for it to end.
    Draining,
}

struct Slot {
    state: State,
    orders: mpsc::UnboundedSender<Order>,
}

/// The pool's state; one task owns it.
pub(super) struct Pool {
    setup: Setup,
    handlers: Arc<Semaphore>,
    slots: BTreeMap<u64, Slot>,
    next_id: u64,
    failures: u32,
    next_attempt: Instant,
    disabled: bool,
    app_id: String,
    reports_tx: mpsc::UnboundedSender<Report>,
    reports: mpsc::UnboundedReceiver<Report>,
}

impl Pool {
    pub(super) fn new(setup: Setup) -> Self {
        let (reports_tx, reports) = mpsc::unbounded_channel();
        Pool {
            handlers: Arc::new(Semaphore::new(setup.tuning.handlers.max(1))),
            setup,
            slots: BTreeMap::new(),
            next_id: 1,
            failures: 0,
            next_attempt: Instant::now(),
            disabled: false,
            app_id: String::new(),
            reports_tx,
            reports,
        }
    }

    /// Runs until `stop` turns true, then drains and closes every socket. `first` is a URL
    /// already obtained from `apps.connections.open` at start-up.
    pub(super) async fn run(mut self, mut first: Option<String>, mut stop: watch::Receiver<bool>) {
        loop {
            if self.disabled && self.slots.is_empty() {
                tracing::info!("slack socket mode stopped: the app's link is disabled");
                break;
            }
            if self.should_open() && Instant::now() >= self.next_attempt {
                self.open(first.take());
                continue;
            }
            let wait_open = self.should_open();
            let next_attempt = self.next_attempt;
            tokio::select! {
                report = self.reports.recv() => match report {
                    Some(r) => self.on_report(r),
                    None => return,
                },
                _ = tokio::time::sleep_until(next_attempt), if wait_open => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        self.shutdown().await;
    }

    /// Sockets that count towards the wanted number.
    fn active(&self) -> usize {
        self.slots
            .values()
            .filter(|s| matches!(s.state, State::Opening | State::Live))
            .count()
    }

    fn live(&self) -> usize {
        self.slots
            .values()
            .filter(|s| s.state == State::Live)
            .count()
    }

    fn opening(&self) -> bool {
        self.slots.values().any(|s| s.state == State::Opening)
    }

    fn should_open(&self) -> bool {
        !self.disabled && !self.opening() && self.active() < self.setup.wanted
    }

    /// Starts one connection attempt.
    fn open(&mut self, url: Option<String>) {
        let id = self.next_id;
        self.next_id += 1;
        let (orders_tx, orders) = mpsc::unbounded_channel();
        self.slots.insert(
            id,
            Slot {
                state: State::Opening,
                orders: orders_tx,
            },
        );
        tokio::spawn(conn::run(conn::Setup {
            id,
            slack: self.setup.slack.clone(),
            token: self.setup.token.clone(),
            url,
            tuning: self.setup.tuning,
            inbox: self.setup.inbox.clone(),
            health: self.setup.health.clone(),
            handlers: self.handlers.clone(),
            reports: self.reports_tx.clone(),
            orders,
        }));
    }

    fn set_state(&mut self, id: u64, state: State) -> Option<State> {
        let slot = self.slots.get_mut(&id)?;
        let before = slot.state;
        slot.state = state;
        Some(before)
    }

    fn drain(&mut self, id: u64) {
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.state = State::Draining;
            let _ = slot.orders.send(Order::Drain);
        }
    }

    /// Drains retiring sockets once enough replacements are live (or nothing will replace
    /// them because the link is disabled).
    fn drain_retired(&mut self) {
        if !self.disabled && self.live() < self.setup.wanted {
            return;
        }
        let retired: Vec<u64> = self
            .slots
            .iter()
            .filter(|(_, s)| s.state == State::Retiring)
            .map(|(id, _)| *id)
            .collect();
        for id in retired {
            self.drain(id);
        }
    }

    /// A failed attempt or an unexpected end: wait longer before the next attempt.
    fn back_off(&mut self, why: &str) {
        self.failures = self.failures.saturating_add(1);
        let delay = backoff(
            self.setup.tuning.backoff_first,
            self.setup.tuning.backoff_cap,
            self.failures,
            &mut rand::rng(),
        );
        self.next_attempt = Instant::now() + delay;
        tracing::warn!(
            failures = self.failures,
            retry_in_ms = delay.as_millis() as u64,
            error = why,
            "slack socket mode connection failed; retrying with backoff"
        );
    }

    /// An attempt failed before Slack said hello. Slack's `Retry-After` on a rate-limited
    /// `apps.connections.open` is a floor under the backoff: an earlier attempt would only be
    /// refused again and burn the method's Tier 1 budget.
    pub(super) fn open_failed(&mut self, why: &str, retry_after: Option<Duration>) {
        self.back_off(why);
        if let Some(wait) = retry_after {
            let floor = Instant::now() + wait;
            if floor > self.next_attempt {
                tracing::warn!(
                    retry_after_ms = wait.as_millis() as u64,
                    "apps.connections.open was rate limited; waiting as Slack asked"
                );
                self.next_attempt = floor;
            }
        }
    }

    fn on_report(&mut self, report: Report) {
        match report {
            Report::Hello { id, hello } => {
                if !hello.app_id.is_empty() {
                    self.app_id = hello.app_id;
                }
                if self.set_state(id, State::Live) == Some(State::Opening) {
                    self.failures = 0;
                }
                self.drain_retired();
            }
            Report::Disconnect { id, reason } => self.on_disconnect(id, reason),
            Report::Silent { id } => match self.slots.get(&id).map(|s| s.state) {
                Some(State::Opening) => {
                    self.drain(id);
                    self.back_off("no hello in time");
                }
                Some(State::Live | State::Warned) => {
                    self.set_state(id, State::Retiring);
                    self.drain_retired();
                }
                _ => {}
            },
            Report::Ended {
                id,
                error,
                retry_after,
            } => {
                let was = self.slots.remove(&id).map(|s| s.state);
                match was {
                    Some(State::Opening) => {
                        self.open_failed(
                            error.as_deref().unwrap_or("closed before hello"),
                            retry_after,
                        );
                    }
                    Some(State::Live) => {
                        tracing::warn!(
                            conn = id,
                            error = error.as_deref().unwrap_or("closed"),
                            "slack socket mode connection ended without a disconnect"
                        );
                        self.back_off(error.as_deref().unwrap_or("closed without a disconnect"));
                    }
                    _ => {}
                }
                self.drain_retired();
            }
        }
        self.setup.health.set_live(self.live());
    }

    fn on_disconnect(&mut self, id: u64, reason: DisconnectReason) {
        let Some(state) = self.slots.get(&id).map(|s| s.state) else {
            return;
        };
        match reason {
            DisconnectReason::LinkDisabled => {
                self.disabled = true;
                let app = if self.app_id.is_empty() {
                    "this app".to_string()
                } else {
                    format!("app {}", self.app_id)
                };
                let why = format!(
                    "Slack sent link_disabled: Socket Mode is turned off for {app}; Vigil stopped reconnecting"
                );
                tracing::error!(app_id = %self.app_id, "{why}. Turn Socket Mode back on for the app (or reinstall it), check slack.app_token, then restart vigil");
                self.setup.health.disable(why);
                let ids: Vec<u64> = self.slots.keys().copied().collect();
                for id in ids {
                    self.drain(id);
                }
            }
            DisconnectReason::Warning => {
                if matches!(state, State::Live | State::Opening) {
                    self.set_state(id, State::Warned);
                }
            }
            DisconnectReason::TooManyWebsockets if state == State::Opening => {
                self.drain(id);
                self.back_off("too_many_websockets");
            }
            _ => {
                if state == State::Opening {
                    self.drain(id);
                    self.back_off(reason.as_str());
                } else if state != State::Draining {
                    self.set_state(id, State::Retiring);
                    self.drain_retired();
                }
            }
        }
    }

    /// Drains every socket and waits (bounded) for them to end.
    async fn shutdown(mut self) {
        let ids: Vec<u64> = self.slots.keys().copied().collect();
        for id in ids {
            self.drain(id);
        }
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        while !self.slots.is_empty() {
            match tokio::time::timeout_at(deadline, self.reports.recv()).await {
                Ok(Some(Report::Ended { id, .. })) => {
                    self.slots.remove(&id);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        self.setup.health.set_live(0);
        self.setup
            .health
            .stopped
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The wait after the `failures`-th failure in a row: `first × 2^(failures-1)`, capped, with
/// "equal jitter" (between half and all of it), so waits grow yet sockets do not reconnect
/// in lockstep.
pub(super) fn backoff(
    first: Duration,
    cap: Duration,
    failures: u32,
    rng: &mut impl Rng,
) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let full = first.saturating_mul(1u32 << exp).min(cap);
    let half = full / 2;
    let jitter_ms = rng.random_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let first = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        let mut rng = rand::rng();
        let mut previous_max = Duration::ZERO;
        for failures in 1..=10 {
            let full = (first * 2u32.pow(failures - 1)).min(cap);
            for _ in 0..50 {
                let d = backoff(first, cap, failures, &mut rng);
                assert!(d >= full / 2 && d <= full, "{failures}: {d:?}");
                assert!(d >= previous_max / 2);
            }
            previous_max = full;
        }
        assert!(backoff(first, cap, u32::MAX, &mut rng) <= cap);
        let spread: std::collections::HashSet<Duration> =
            (0..50).map(|_| backoff(first, cap, 5, &mut rng)).collect();
        assert!(spread.len() > 1, "jittered");
    }
}
