//! The engine: owns the store and the clients, admits alerts, and drives each case through its
//! outbox, one case at a time per case and many cases at once.
//!
//! Only a case's own runner changes a case (after creation): alerts that join a case, Slack
//! events and timers all reach it as inbound items or kicks, so no two writers race.

use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::config::TriageConfig;
use super::failpoint;
use super::inbound;
use super::runner::Runner;
use super::steps;
use crate::case::{Alert, Case, CaseId, Step, StepRecord};
use crate::slack::api::SlackApi;
use crate::store::{Admission, Store, StoreError};
use crate::vendors::VendorError;
use crate::vendors::crowdstrike::client::CrowdStrikeClient;
use crate::vendors::github::client::GitHubClient;
use crate::vendors::oomnitza::client::OomnitzaClient;
use crate::vendors::pagerduty::client::PagerDutyClient;

/// Failed attempts before a step is given up and the failure shown on the case.
pub const MAX_ATTEMPTS: u32 = 8;
/// Steps one run may do before yielding to other work.
const MAX_STEPS_PER_RUN: usize = 64;

/// The vendor clients that are configured.
#[derive(Default)]
pub struct Vendors {
    /// CrowdStrike Falcon.
    pub crowdstrike: Option<CrowdStrikeClient>,
    /// Oomnitza.
    pub oomnitza: Option<OomnitzaClient>,
    /// GitHub.
    pub github: Option<GitHubClient>,
    /// PagerDuty.
    pub pagerduty: Option<PagerDutyClient>,
}

/// Who may do what in Slack.
#[derive(Debug, Default)]
pub struct Analysts {
    users: parking_lot::RwLock<Vec<String>>,
}

impl Analysts {
    /// Replaces the list.
    pub fn set(&self, users: Vec<String>) {
        *self.users.write() = users;
    }

    /// Whether `user` is an analyst.
    pub fn contains(&self, user: &str) -> bool {
        self.users.read().iter().any(|u| u == user)
    }
}

/// Everything the pipeline needs.
pub struct Engine {
    /// Cases.
    pub store: Arc<dyn Store>,
    /// Slack calls.
    pub slack: SlackApi,
    /// Vendor clients.
    pub vendors: Vendors,
    /// Triage settings.
    pub triage: TriageConfig,
    /// Channel id for cards.
    pub alerts_channel: String,
    /// Labels put on every issue.
    pub issue_labels: Vec<String>,
    /// Analysts.
    pub analysts: Analysts,
    /// Storm folding and the digest messages (SPEC §5 "Storms").
    pub digests: super::digest::Digests,
    runner: Runner<CaseId>,
    /// When each case next needs attention (a pending step, a retry, an owner timer). Only the
    /// engine writes cases, so keeping this on every save makes the timer tick a map scan
    /// instead of decoding every case from the store.
    wake: parking_lot::Mutex<HashMap<CaseId, DateTime<Utc>>>,
}

/// How a step went.
pub enum StepError {
    /// A vendor call failed.
    Vendor(VendorError),
    /// The store failed; the step is retried from the record.
    Store(StoreError),
}

impl From<VendorError> for StepError {
    fn from(e: VendorError) -> Self {
        StepError::Vendor(e)
    }
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        StepError::Store(e)
    }
}

impl Engine {
    /// Builds an engine.
    pub fn new(
        store: Arc<dyn Store>,
        slack: SlackApi,
        vendors: Vendors,
        triage: TriageConfig,
        alerts_channel: String,
        issue_labels: Vec<String>,
    ) -> Arc<Engine> {
        let concurrency = triage.concurrency;
        Arc::new_cyclic(|engine| Engine {
            digests: super::digest::Digests::new(engine.clone()),
            store,
            slack,
            vendors,
            triage,
            alerts_channel,
            issue_labels,
            analysts: Analysts::default(),
            runner: Runner::new(concurrency),
            wake: parking_lot::Mutex::new(HashMap::new()),
        })
    }

    /// Admits an alert: a new case (and its first steps), nothing for a duplicate, or an
    /// inbound item for the open case it joins. The case is then processed in the background.
    pub fn admit(self: &Arc<Self>, alert: Alert) -> Result<Admission, StoreError> {
        let now = Utc::now();
        let key = super::admit::group_key(&alert, &self.triage.group_by);
        let window = chrono::Duration::from_std(self.triage.group_window)
            .unwrap_or(chrono::Duration::hours(1));
        let open = |id: CaseId| super::admit::open_case(id, &alert, &key, now);
        let group = |id: &CaseId| inbound::grouped_item(id, &alert, now);
        let admission = self.store.admit(&alert, &key, window, now, &open, &group)?;
        match &admission {
            Admission::Opened(case) => {
                if let Some(t) = next_wake(case) {
                    self.wake.lock().insert(case.id.clone(), t);
                }
                crate::telemetry::events::case_opened(&alert.source);
                tracing::info!(case = %case.id, alert = %alert.id, "case opened");
                self.kick(case.id.clone());
            }
            Admission::Grouped(id) => {
                crate::telemetry::events::alert_grouped();
                tracing::info!(case = %id, alert = %alert.id, "alert grouped into open case");
                self.kick(id.clone());
            }
            Admission::Duplicate(id) => {
                crate::telemetry::events::alert_duplicate();
                tracing::debug!(case = %id, alert = %alert.id, "duplicate alert ignored");
            }
        }
        Ok(admission)
    }

    /// Asks for a case to be processed.
    pub fn kick(self: &Arc<Self>, id: CaseId) {
        let engine = self.clone();
        self.runner.kick(id, move |id| {
            let engine = engine.clone();
            async move { engine.process(&id).await }
        });
    }

    /// Cases being processed right now.
    pub fn busy(&self) -> usize {
        self.runner.busy()
    }

    /// Reads every case once (at start-up, after a crash) to learn when each needs attention,
    /// then kicks whatever is due.
    pub fn recover(self: &Arc<Self>) -> Result<(), StoreError> {
        let cases = self.store.cases()?;
        {
            let mut wake = self.wake.lock();
            wake.clear();
            for case in &cases {
                if let Some(t) = next_wake(case) {
                    wake.insert(case.id.clone(), t);
                }
            }
        }
        tracing::info!(
            cases = cases.len(),
            pending = self.wake.lock().len(),
            "recovered the store"
        );
        self.kick_due();
        self.digests.recover();
        Ok(())
    }

    /// Kicks every case with inbound items, or whose pending step, retry or owner timer is due
    /// (on every timer tick).
    pub fn kick_due(self: &Arc<Self>) {
        match self.store.inbound() {
            Ok(items) => {
                for (_, item) in items {
                    if let Some(id) = inbound::target(&self.store, &item) {
                        self.kick(id);
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read inbound items"),
        }
        let now = Utc::now();
        let due: Vec<CaseId> = self
            .wake
            .lock()
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.kick(id);
        }
    }

    /// Saves a case and notes when it next needs attention.
    fn save(&self, case: &Case) -> Result<(), StoreError> {
        self.store.save(case)?;
        let mut wake = self.wake.lock();
        match next_wake(case) {
            Some(t) => wake.insert(case.id.clone(), t),
            None => wake.remove(&case.id),
        };
        Ok(())
    }

    /// Persists an inbound item (built by [`inbound::item`]) and kicks its case; `false` if
    /// any of its dedupe keys (payload key, `envelope:<id>`) was seen before. Durable on
    /// return, so the Socket Mode ack may follow.
    pub fn enqueue_item(
        self: &Arc<Self>,
        dedupe_keys: &[String],
        item: &Value,
    ) -> Result<bool, StoreError> {
        let added = self.store.enqueue(dedupe_keys, item)?;
        crate::telemetry::events::slack_inbound(if added { "new" } else { "duplicate" });
        if !added {
            return Ok(false);
        }
        match item.get("case").and_then(Value::as_str) {
            Some(id) => self.kick(CaseId(id.to_string())),
            None => {
                // Finding the case of an owner's free text reads every case: after the ack.
                let engine = self.clone();
                let item = item.clone();
                tokio::spawn(async move {
                    if let Some(id) = inbound::target(&engine.store, &item) {
                        engine.kick(id);
                    }
                });
            }
        }
        Ok(true)
    }

    /// Processes one case: inbound items, timers, then outbox steps in order.
    async fn process(self: &Arc<Self>, id: &CaseId) {
        if let Err(e) = self.apply_inbound(id).await {
            tracing::error!(case = %id, error = %e, "applying inbound items failed");
            return;
        }
        if let Err(e) = self.apply_timers(id) {
            tracing::error!(case = %id, error = %e, "applying timers failed");
            return;
        }
        for _ in 0..MAX_STEPS_PER_RUN {
            let case = match self.store.get(id) {
                Ok(Some(c)) => c,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(case = %id, error = %e, "cannot read case");
                    return;
                }
            };
            let Some(rec) = case.steps.first().cloned() else {
                return;
            };
            if rec.not_before.is_some_and(|t| t > Utc::now()) {
                return;
            }
            if let Err(e) = self.run_step(case, rec).await {
                tracing::error!(case = %id, error = %e, "store failed while running a step; it will be retried");
                return;
            }
        }
        self.kick(id.clone());
    }

    async fn apply_inbound(self: &Arc<Self>, id: &CaseId) -> Result<(), StoreError> {
        for (seq, item) in self.store.inbound()? {
            if inbound::target(&self.store, &item).as_ref() != Some(id) {
                continue;
            }
            let Some(mut case) = self.store.get(id)? else {
                self.store.finish(seq)?;
                continue;
            };
            if case.mark_applied(seq) {
                inbound::apply(self, &mut case, &item).await;
                self.save(&case)?;
            }
            self.store.finish(seq)?;
        }
        Ok(())
    }

    fn apply_timers(&self, id: &CaseId) -> Result<(), StoreError> {
        let Some(mut case) = self.store.get(id)? else {
            return Ok(());
        };
        if super::timers::apply(&mut case, Utc::now(), &self.triage) {
            self.save(&case)?;
        }
        Ok(())
    }

    /// Runs the first step: intent, effect, record; or the failure, visibly.
    async fn run_step(&self, mut case: Case, rec: StepRecord) -> Result<(), StoreError> {
        let kind = rec.step.kind();
        if let Some(slot) = steps::defer_until(self, &case, &rec) {
            if let Some(first) = case.steps.first_mut() {
                first.not_before = Some(slot);
            }
            return self.save(&case);
        }
        if rec.step.needs_intent() {
            if let Some(at) = rec.intent_at {
                match steps::find_existing(self, &mut case, &rec, at).await {
                    Ok(true) => {
                        crate::telemetry::events::step_recovered(kind);
                        tracing::info!(case = %case.id, step = kind, "found the effect of an interrupted step; not repeating it");
                        remove_step(&mut case, rec.seq);
                        return self.save(&case);
                    }
                    Ok(false) => {}
                    Err(e) => return self.failed(case, &rec, StepError::Vendor(e)),
                }
            }
            if let Some(first) = case.steps.first_mut() {
                first.intent_at = Some(Utc::now());
            }
            self.save(&case)?;
        }
        failpoint::hit(&format!("{kind}.intent"));
        let (outcome, retries) =
            crate::vendors::outbound::capture_retries(steps::perform(self, &mut case, &rec)).await;
        for r in retries {
            case.note(Utc::now(), None, r.to_string());
        }
        match outcome {
            Ok(()) => {
                failpoint::hit(&format!("{kind}.done"));
                if let Some(alias) = failpoint::alias(kind) {
                    failpoint::hit(alias);
                }
                remove_step(&mut case, rec.seq);
                case.updated_at = Utc::now();
                crate::telemetry::events::step(kind, "done");
                self.save(&case)
            }
            Err(e) => self.failed(case, &rec, e),
        }
    }

    /// Records a failed attempt: retry later for transient errors, give up visibly otherwise.
    fn failed(&self, mut case: Case, rec: &StepRecord, err: StepError) -> Result<(), StoreError> {
        let kind = rec.step.kind();
        let (transient, wait, message) = match &err {
            StepError::Vendor(e) => (e.is_transient(), e.retry_after(), e.to_string()),
            StepError::Store(e) => (true, None, e.to_string()),
        };
        let attempts = rec.attempts + 1;
        let now = Utc::now();
        if transient && attempts < MAX_ATTEMPTS {
            let backoff = wait.unwrap_or_else(|| backoff(attempts));
            if let Some(first) = case.steps.first_mut() {
                first.attempts = attempts;
                first.last_error = Some(message.clone());
                first.not_before =
                    Some(now + chrono::Duration::from_std(backoff).unwrap_or_default());
            }
            case.note(
                now,
                None,
                format!(
                    "{message}; retrying {kind} in {}s (attempt {attempts} of {MAX_ATTEMPTS})",
                    backoff.as_secs().max(1)
                ),
            );
            crate::telemetry::events::step(kind, "retry");
            tracing::warn!(case = %case.id, step = kind, error = %message, attempts, "step failed; will retry");
        } else {
            case.note(
                now,
                None,
                format!("{message}; gave up on {kind} after {attempts} attempt(s); the case goes on without it"),
            );
            crate::telemetry::events::step(kind, "failed");
            tracing::error!(case = %case.id, step = kind, error = %message, "step failed permanently");
            remove_step(&mut case, rec.seq);
            if case.card.is_some()
                && !matches!(rec.step, Step::CardThread { .. } | Step::UpdateCard)
            {
                case.push_step(Step::CardThread {
                    text: format!(
                        ":warning: {} failed: {}. Vigil went on without it.",
                        kind,
                        crate::render::escape::mrkdwn(&message)
                    ),
                });
            }
        }
        self.save(&case)
    }
}

/// When a case next needs attention: now for a pending step (or its retry time), and the
/// owner's reminder or escalation while the case waits on them.
pub fn next_wake(case: &Case) -> Option<DateTime<Utc>> {
    let step = case
        .steps
        .first()
        .map(|s| s.not_before.unwrap_or(case.updated_at));
    let timers = if case.state == crate::case::CaseState::AwaitingOwner {
        [case.remind_at, case.escalate_at]
            .into_iter()
            .flatten()
            .min()
    } else {
        None
    };
    [step, timers].into_iter().flatten().min()
}

fn remove_step(case: &mut Case, seq: u64) {
    case.steps.retain(|s| s.seq != seq);
}

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … capped at 5 minutes.
pub fn backoff(attempt: u32) -> Duration {
    let base = 1u64 << attempt.min(8).saturating_sub(1);
    let jitter = rand::random::<u64>() % 1000;
    Duration::from_millis((base * 1000 + jitter).min(300_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Alert, CaseState};

    #[test]
    fn next_wake_is_the_earliest_of_step_retry_and_owner_timers() {
        let now = Utc::now();
        let mut c = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        assert_eq!(next_wake(&c), None, "nothing pending");
        c.push_step(Step::UpdateCard);
        assert_eq!(
            next_wake(&c),
            Some(c.updated_at),
            "a pending step is due now"
        );
        c.steps[0].not_before = Some(now + chrono::Duration::seconds(30));
        assert_eq!(
            next_wake(&c),
            Some(now + chrono::Duration::seconds(30)),
            "a retry waits"
        );
        c.steps.clear();
        c.state = CaseState::AwaitingOwner;
        c.remind_at = Some(now + chrono::Duration::minutes(30));
        c.escalate_at = Some(now + chrono::Duration::hours(2));
        assert_eq!(next_wake(&c), c.remind_at);
        c.state = CaseState::Acknowledged;
        assert_eq!(
            next_wake(&c),
            None,
            "timers only run while waiting on the owner"
        );
    }
}
