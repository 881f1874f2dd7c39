//! The engine: owns the store and the clients, admits alerts, and drives each case through its
//! outbox, one case at a time per case and many cases at once.
//!
//! Only a case's own runner changes a case (after creation): alerts that join a case, Slack
//! events and timers all reach it as inbound items or kicks, so no two writers race.
//!
//! Nothing a case's work does can freeze it: a step, an inbound item or a timer that panics is
//! caught, written on the case's timeline ("… failed unexpectedly") and set aside (the step
//! given up, the item finished, the timers stopped), so it never replays after a restart.

use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;

use super::config::TriageConfig;
use super::failpoint;
use super::inbound::{self, InboundItem};
use super::runner::{Lane, Runner, panic_message};
use super::steps;
use crate::case::note::ThreadNote;
use crate::case::{Alert, Case, CaseId, Step, StepRecord};
use crate::slack::api::SlackApi;
use crate::store::{Admission, Queued, Store, StoreError};
use crate::telemetry::events;
use crate::vendors::VendorError;
use crate::vendors::abuseipdb::client::AbuseIpDbClient;
use crate::vendors::confluence::client::ConfluenceClient;
use crate::vendors::crowdstrike::client::CrowdStrikeClient;
use crate::vendors::emailrep::client::EmailRepClient;
use crate::vendors::github::client::GitHubClient;
use crate::vendors::llm::client::LlmClient;
use crate::vendors::okta::client::OktaClient;
use crate::vendors::oomnitza::client::OomnitzaClient;
use crate::vendors::pagerduty::client::PagerDutyClient;
use crate::vendors::tavily::client::TavilyClient;
use crate::vendors::urlscan::client::UrlscanClient;
use crate::vendors::virustotal::client::VirusTotalClient;

/// Failed attempts before a step is given up and the failure shown on the case.
pub const MAX_ATTEMPTS: u32 = 8;
/// Steps one run may do before yielding to other work.
const MAX_STEPS_PER_RUN: usize = 64;

/// The vendor clients that are configured.
#[derive(Default)]
pub struct Vendors {
    /// CrowdStrike Falcon.
    pub crowdstrike: Option<CrowdStrikeClient>,
    /// Oomnitza: the device's owner; without it nobody can be asked.
    pub oomnitza: Option<OomnitzaClient>,
    /// GitHub: one issue per case; without it cases have no ticket.
    pub github: Option<GitHubClient>,
    /// PagerDuty: pages on-call for high-priority and escalated cases.
    pub pagerduty: Option<PagerDutyClient>,
    /// Confluence: flow 2's SOP pages; without it flow 1 runs alone.
    pub confluence: Option<ConfluenceClient>,
    /// Okta: the identity tools.
    pub okta: Option<OktaClient>,
    /// The OpenAI-compatible model: classifier and agent; without it the rules classify and
    /// runbooks run as written.
    pub llm: Option<LlmClient>,
    /// VirusTotal verdicts.
    pub virustotal: Option<VirusTotalClient>,
    /// AbuseIPDB reports.
    pub abuseipdb: Option<AbuseIpDbClient>,
    /// EmailRep reputation.
    pub emailrep: Option<EmailRepClient>,
    /// urlscan.io scans.
    pub urlscan: Option<UrlscanClient>,
    /// Tavily web search.
    pub tavily: Option<TavilyClient>,
}

/// Flow 2's settings as the engine uses them: guardrail caps, approval rules and the prompt
/// texts, read once at start so a step never touches the file system.
#[derive(Debug, Clone)]
pub struct Remediation {
    /// `[remediation]`: the guard's caps and the allowlist of pages without a runbook.
    pub config: super::config::RemediationConfig,
    /// `[approvals]`: `forbid_self` and the expiry of undecided approvals.
    pub approvals: super::config::ApprovalsConfig,
    /// The classifier's system prompt.
    pub classify_prompt: String,
    /// The agent's system prompt (`[remediation] agent_prompt`, else the shipped one).
    pub agent_prompt: String,
}

impl Default for Remediation {
    fn default() -> Self {
        Remediation {
            config: Default::default(),
            approvals: Default::default(),
            classify_prompt: crate::triage::llm_classify::DEFAULT_PROMPT.to_string(),
            agent_prompt: crate::triage::agent::DEFAULT_PROMPT.to_string(),
        }
    }
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
    /// Where cases, the inbox and dedupe keys persist; only this engine writes cases.
    pub store: Arc<dyn Store>,
    /// Slack calls.
    pub slack: SlackApi,
    /// Vendor clients.
    pub vendors: Vendors,
    /// Triage settings.
    pub triage: TriageConfig,
    /// Flow 2's caps, approval rules and prompts.
    pub remediation: Remediation,
    /// Channel id for cards.
    pub alerts_channel: String,
    /// Labels put on every issue.
    pub issue_labels: Vec<String>,
    /// Who may act on cases (configured users plus the analyst user group, refreshed).
    pub analysts: Analysts,
    /// Storm folding and the digest messages (SPEC §5 "Storms").
    pub digests: super::digest::Digests,
    runner: Runner<CaseId>,
    /// When each case next needs attention (a pending step, a retry, an owner timer). Only the
    /// engine writes cases, so keeping this on every save makes the timer tick a map scan
    /// instead of decoding every case from the store.
    wake: parking_lot::Mutex<HashMap<CaseId, (DateTime<Utc>, Lane)>>,
    /// Every case's summary for `/triage list` and `stats`, kept on every save like `wake`.
    pub board: super::board::Board,
    /// Which case an owner's DM text is for, kept on every save like `board`.
    dms: super::dm_index::DmIndex,
    /// One pass over stray items (no case) at a time, in inbox order; `strays_due` says a
    /// pass is wanted, so ticks never pile up passes while Slack is slow.
    strays: tokio::sync::Mutex<()>,
    strays_due: std::sync::atomic::AtomicBool,
    /// The case of each queued owner DM, by inbox sequence, once found. Finding it decodes
    /// that DM channel's cases, and every case run and timer tick walks the whole inbox, so
    /// without this a burst of replies costs replies × passes case decodes (it was a third of
    /// the CPU under `vigil bench`). Only found cases are kept (a stray is looked up again, in
    /// case its case's save lands late); entries go with their items.
    targets: parking_lot::Mutex<HashMap<u64, CaseId>>,
}

/// How a step went.
pub enum StepError {
    /// A vendor call failed.
    Vendor(VendorError),
    /// The store failed; the step is retried from the record.
    Store(StoreError),
    /// The step's own code failed in a way no error covers (it panicked); retrying the same
    /// input would fail the same way, so the step is given up.
    Unexpected(String),
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
        remediation: Remediation,
    ) -> Arc<Engine> {
        let concurrency = triage.concurrency;
        Arc::new_cyclic(|engine| Engine {
            digests: super::digest::Digests::new(engine.clone()),
            store,
            slack,
            vendors,
            triage,
            remediation,
            alerts_channel,
            issue_labels,
            analysts: Analysts::default(),
            runner: Runner::new(concurrency),
            wake: parking_lot::Mutex::new(HashMap::new()),
            board: super::board::Board::default(),
            dms: super::dm_index::DmIndex::default(),
            strays: tokio::sync::Mutex::new(()),
            strays_due: std::sync::atomic::AtomicBool::new(false),
            targets: parking_lot::Mutex::new(HashMap::new()),
        })
    }

    /// Admits an alert: a new case (and its first steps), nothing for a duplicate, or an
    /// inbound item for the open case it joins. The case is then processed in the background.
    pub fn admit(self: &Arc<Self>, alert: Alert) -> Result<Admission, StoreError> {
        let now = Utc::now();
        let key = super::admit::group_key(&alert, &self.triage.group_by);
        let window = chrono::Duration::from_std(self.triage.group_window)
            .unwrap_or(chrono::Duration::hours(1));
        let open = |id: CaseId| Case::open(id, &alert, &key, now);
        let group = |id: &CaseId| InboundItem::grouped(id, &alert, now);
        let admission = self.store.admit(&alert, &key, window, now, &open, &group)?;
        match &admission {
            Admission::Opened(case) => {
                self.remember(case);
                events::CaseOpened {
                    case: &case.id,
                    alert: &alert.id,
                    source: &alert.source,
                }
                .emit();
                self.kick(case.id.clone());
            }
            Admission::Grouped(id) => {
                events::AlertGrouped {
                    case: id,
                    alert: &alert.id,
                }
                .emit();
                self.kick(id.clone());
            }
            Admission::Duplicate(id) => {
                events::AlertDuplicate {
                    case: id,
                    alert: &alert.id,
                }
                .emit();
            }
        }
        Ok(admission)
    }

    /// Asks for a case to be processed.
    pub fn kick(self: &Arc<Self>, id: CaseId) {
        self.kick_in(id, Lane::Normal);
    }

    /// Asks for a case to be processed in `lane` (see [`Lane`]; [`lane_of`] says which).
    fn kick_in(self: &Arc<Self>, id: CaseId, lane: Lane) {
        let engine = self.clone();
        self.runner.kick_in(id, lane, move |id, lane| {
            let engine = engine.clone();
            async move {
                let run = std::panic::AssertUnwindSafe(engine.process(&id, lane));
                if let Err(panic) = run.catch_unwind().await {
                    engine.unexpected(&id, &panic_message(panic.as_ref()));
                }
            }
        });
    }

    /// Writes a panic that escaped the finer-grained catches on the case's timeline.
    fn unexpected(&self, id: &CaseId, panic: &str) {
        events::UnexpectedFailure {
            case: id,
            panic,
            during: events::During::Process,
        }
        .emit();
        let noted = self.store.get(id).and_then(|c| match c {
            Some(mut case) => {
                case.note(
                    Utc::now(),
                    None,
                    format!("Processing failed unexpectedly: {panic}; Vigil tries again on the next kick"),
                );
                self.save(&case)
            }
            None => Ok(()),
        });
        if let Err(e) = noted {
            tracing::error!(case = %id, error = %e, "could not record the failure on the case");
        }
    }

    /// Cases being processed right now.
    pub fn busy(&self) -> usize {
        self.runner.busy()
    }

    /// Reads every case once (at start-up, after a crash) to learn when each needs attention,
    /// then kicks whatever is due.
    pub fn recover(self: &Arc<Self>) -> Result<(), StoreError> {
        let cases = self.store.cases()?;
        self.board.rebuild(&cases);
        self.dms.rebuild(&cases);
        {
            let mut wake = self.wake.lock();
            wake.clear();
            for case in &cases {
                if let Some(t) = next_wake(case) {
                    wake.insert(case.id.clone(), (t, lane_of(case)));
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
        match self.queued() {
            Ok(items) => {
                for (seq, item) in items {
                    match self.target_of(seq, &item) {
                        Ok(Some(id)) => self.kick(id),
                        Ok(None) => self.finish_strays(),
                        Err(e) => {
                            tracing::error!(seq, error = %e, "cannot find the case of an inbound item")
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read inbound items"),
        }
        let now = Utc::now();
        let due: Vec<(CaseId, Lane)> = self
            .wake
            .lock()
            .iter()
            .filter(|(_, (t, _))| *t <= now)
            .map(|(id, (_, lane))| (id.clone(), *lane))
            .collect();
        for (id, lane) in due {
            self.kick_in(id, lane);
        }
    }

    /// Saves a case and notes when it next needs attention.
    fn save(&self, case: &Case) -> Result<(), StoreError> {
        self.store.save(case)?;
        self.remember(case);
        Ok(())
    }

    /// Like [`Engine::save`], handing the case back: a run keeps the case it saved instead of
    /// reading it again before every step (the runner is the only writer, so the kept case is
    /// the stored case; a failed save ends the run, and the next run reads the store).
    fn saved(&self, case: Case) -> Result<Case, StoreError> {
        self.save(&case)?;
        Ok(case)
    }

    /// Updates what the engine keeps in memory about a stored case: its board line, its DM
    /// index entry and when it next needs attention.
    fn remember(&self, case: &Case) {
        self.board.update(case);
        self.dms.update(case);
        let mut wake = self.wake.lock();
        match next_wake(case) {
            Some(t) => wake.insert(case.id.clone(), (t, lane_of(case))),
            None => wake.remove(&case.id),
        };
    }

    /// The inbox's items that decode, oldest first. An item that does not decode is refused
    /// here, logged and counted, and finished: it could never apply, and left in place it
    /// would be re-read on every tick forever.
    fn queued(&self) -> Result<Vec<(u64, InboundItem)>, StoreError> {
        let mut items = Vec::new();
        for (seq, queued) in self.store.inbound()? {
            match queued {
                Queued::Item(item) => items.push((seq, item)),
                Queued::Undecodable(reason) => {
                    events::UndecodableInbound {
                        seq,
                        reason: &reason,
                    }
                    .emit();
                    self.store.finish(seq)?;
                }
            }
        }
        let mut targets = self.targets.lock();
        if !targets.is_empty() {
            let queued: std::collections::HashSet<u64> = items.iter().map(|(s, _)| *s).collect();
            targets.retain(|seq, _| queued.contains(seq));
        }
        Ok(items)
    }

    /// Which case the queued item `seq` is for ([`inbound::target`]), remembered once found.
    fn target_of(&self, seq: u64, item: &InboundItem) -> Result<Option<CaseId>, StoreError> {
        if let Some(id) = &item.case {
            return Ok(Some(id.clone()));
        }
        if let Some(id) = self.targets.lock().get(&seq) {
            return Ok(Some(id.clone()));
        }
        let found = self.dms.target(item);
        if let Some(id) = &found {
            self.targets.lock().insert(seq, id.clone());
        }
        Ok(found)
    }

    /// Persists an inbound item and kicks its case; `false` if any of its dedupe keys
    /// (payload key, `envelope:<id>`) was seen before. Durable on return, so the Socket Mode
    /// ack may follow.
    pub fn enqueue_item(
        self: &Arc<Self>,
        dedupe_keys: &[String],
        item: &InboundItem,
    ) -> Result<bool, StoreError> {
        let added = self.store.enqueue(dedupe_keys, item)?;
        events::SlackInbound { added }.emit();
        if !added {
            return Ok(false);
        }
        match &item.case {
            Some(id) => self.kick(id.clone()),
            None => match self.dms.target(item) {
                Some(id) => self.kick(id),
                None => self.finish_strays(),
            },
        }
        Ok(true)
    }

    /// Asks for a pass over inbound items that have no case, unless one is already wanted.
    fn finish_strays(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.strays_due.swap(true, Ordering::SeqCst) {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move {
            let _one_pass = engine.strays.lock().await;
            engine.strays_due.store(false, Ordering::SeqCst);
            if let Err(e) = engine.stray_pass().await {
                tracing::error!(error = %e, "finishing inbound items with no case failed; the timer retries");
            }
        });
    }

    /// Finishes every inbound item with no case, oldest first.
    async fn stray_pass(&self) -> Result<(), StoreError> {
        for (seq, item) in self.queued()? {
            if self.target_of(seq, &item)?.is_none() {
                inbound::stray(self, seq, &item).await?;
            }
        }
        Ok(())
    }

    /// Processes one case: inbound items, timers, then outbox steps in order. The case is read
    /// once and kept across the run (see [`Engine::saved`]). An express run does only the
    /// paced step that earned it, then goes back to the normal lane.
    async fn process(self: &Arc<Self>, id: &CaseId, lane: Lane) {
        let case = match self.store.get(id) {
            Ok(case) => case,
            Err(e) => {
                tracing::error!(case = %id, error = %e, "cannot read case");
                return;
            }
        };
        let mut case = match self.apply_inbound(id, case).await {
            Ok(Some(case)) => case,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(case = %id, error = %e, "applying inbound items failed");
                return;
            }
        };
        if let Err(e) = self.apply_timers(&mut case) {
            tracing::error!(case = %id, error = %e, "applying timers failed");
            return;
        }
        for _ in 0..MAX_STEPS_PER_RUN {
            let Some(rec) = case.steps.first().cloned() else {
                return;
            };
            if rec.not_before.is_some_and(|t| t > Utc::now()) {
                return;
            }
            if lane == Lane::Express && lane_of(&case) != Lane::Express {
                self.kick(id.clone());
                return;
            }
            case = match self.run_step(case, rec).await {
                Ok(case) => case,
                Err(e) => {
                    tracing::error!(case = %id, error = %e, "store failed while running a step; it will be retried");
                    return;
                }
            };
        }
        self.kick(id.clone());
    }

    /// Applies the case's queued items in inbox order; hands back the case as saved (`None`:
    /// no such case, and its items are finished).
    async fn apply_inbound(
        self: &Arc<Self>,
        id: &CaseId,
        mut case: Option<Case>,
    ) -> Result<Option<Case>, StoreError> {
        for (seq, item) in self.queued()? {
            if self.target_of(seq, &item)?.as_ref() != Some(id) {
                continue;
            }
            let Some(current) = case.as_mut() else {
                self.store.finish(seq)?;
                continue;
            };
            if current.mark_applied(seq) {
                let mut work = current.clone();
                let what = item.event.kind();
                let run = std::panic::AssertUnwindSafe(async {
                    test_panic("inbound", &work.alert.id);
                    inbound::apply(self, &mut work, item).await
                });
                match run.catch_unwind().await {
                    Ok(()) => *current = work,
                    Err(panic) => {
                        let panic = panic_message(panic.as_ref());
                        events::UnexpectedFailure {
                            case: id,
                            panic: &panic,
                            during: events::During::Inbound { seq, kind: what },
                        }
                        .emit();
                        current.note(
                            Utc::now(),
                            None,
                            format!("An inbound `{what}` item (#{seq}) failed unexpectedly and was set aside: {panic}"),
                        );
                    }
                }
                self.save(current)?;
            }
            self.store.finish(seq)?;
        }
        Ok(case)
    }

    fn apply_timers(&self, case: &mut Case) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut work = case.clone();
        let run = std::panic::AssertUnwindSafe(|| {
            test_panic("timers", &work.alert.id);
            work.apply_timers(now, &self.triage.owner_policy())
        });
        match std::panic::catch_unwind(run) {
            Ok(true) => {
                self.save(&work)?;
                *case = work;
            }
            Ok(false) => {}
            Err(panic) => {
                let panic = panic_message(panic.as_ref());
                events::UnexpectedFailure {
                    case: &case.id,
                    panic: &panic,
                    during: events::During::Timers,
                }
                .emit();
                case.timers_failed(&panic, now);
                self.save(case)?;
            }
        }
        Ok(())
    }

    /// Runs the first step: intent, effect, record; or the failure, visibly.
    async fn run_step(&self, mut case: Case, rec: StepRecord) -> Result<Case, StoreError> {
        let kind = rec.step.kind();
        if let Some(slot) = steps::defer_until(self, &case, &rec) {
            if let Some(first) = case.steps.first_mut() {
                first.not_before = Some(slot);
            }
            return self.saved(case);
        }
        if rec.step.needs_intent() {
            if let Some(at) = rec.intent_at {
                let mut work = case.clone();
                let found =
                    std::panic::AssertUnwindSafe(steps::find_existing(self, &mut work, &rec, at))
                        .catch_unwind()
                        .await;
                let found = match found {
                    Ok(found) => {
                        case = work;
                        found
                    }
                    Err(panic) => {
                        let panic = panic_message(panic.as_ref());
                        return self.failed(case, &rec, StepError::Unexpected(panic));
                    }
                };
                match found {
                    Ok(true) => {
                        events::StepRecovered {
                            case: &case.id,
                            step: kind,
                        }
                        .emit();
                        remove_step(&mut case, rec.seq);
                        return self.saved(case);
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
        let mut work = case.clone();
        let perform = std::panic::AssertUnwindSafe(async {
            test_panic(kind, &work.alert.id);
            steps::perform(self, &mut work, &rec).await
        })
        .catch_unwind();
        let (outcome, retries) = crate::vendors::outbound::capture_retries(perform).await;
        let outcome = match outcome {
            Ok(outcome) => {
                case = work;
                outcome
            }
            Err(panic) => Err(StepError::Unexpected(panic_message(panic.as_ref()))),
        };
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
                events::StepFinished {
                    case: &case.id,
                    step: kind,
                    outcome: events::StepOutcome::Done,
                }
                .emit();
                self.saved(case)
            }
            Err(e) => self.failed(case, &rec, e),
        }
    }

    /// Records a failed attempt: retry later for transient errors, give up visibly otherwise.
    fn failed(&self, mut case: Case, rec: &StepRecord, err: StepError) -> Result<Case, StoreError> {
        let kind = rec.step.kind();
        let (transient, wait, message) = match &err {
            StepError::Vendor(e) => (e.is_transient(), e.retry_after(), e.to_string()),
            StepError::Store(e) => (true, None, e.to_string()),
            StepError::Unexpected(panic) => {
                events::UnexpectedFailure {
                    case: &case.id,
                    panic,
                    during: events::During::Step { step: kind },
                }
                .emit();
                (false, None, format!("{kind} failed unexpectedly ({panic})"))
            }
        };
        let attempts = rec.attempts + 1;
        let now = Utc::now();
        if transient && attempts < MAX_ATTEMPTS {
            let backoff = wait.unwrap_or_else(|| backoff(attempts));
            if let Some(first) = case.steps.first_mut() {
                first.attempts = attempts;
                first.last_error = Some(message.clone());
                first.not_before = Some(crate::case::flow::later(now, backoff));
            }
            case.note(
                now,
                None,
                format!(
                    "{message}; retrying {kind} in {}s (attempt {attempts} of {MAX_ATTEMPTS})",
                    backoff.as_secs().max(1)
                ),
            );
            events::StepFinished {
                case: &case.id,
                step: kind,
                outcome: events::StepOutcome::Retry {
                    error: &message,
                    attempts,
                },
            }
            .emit();
        } else {
            case.note(
                now,
                None,
                format!("{message}; gave up on {kind} after {attempts} attempt(s); the case goes on without it"),
            );
            events::StepFinished {
                case: &case.id,
                step: kind,
                outcome: events::StepOutcome::Failed { error: &message },
            }
            .emit();
            remove_step(&mut case, rec.seq);
            if case.card.is_some()
                && !matches!(rec.step, Step::CardThread { .. } | Step::UpdateCard)
            {
                case.push_step(Step::CardThread {
                    note: ThreadNote::StepFailed {
                        kind: kind.to_string(),
                        error: message.clone(),
                    }
                    .into(),
                });
            }
        }
        self.saved(case)
    }
}

/// Panics at the named point for the named alert once, when a unit test armed it: the one way
/// to prove a panic in a step, an inbound item or a timer is caught. Nothing in other builds.
#[cfg(test)]
fn test_panic(point: &str, alert: &str) {
    let armed = format!("{point}:{alert}");
    let mut points = tests::PANIC_AT.lock();
    if let Some(i) = points.iter().position(|p| *p == armed) {
        points.remove(i);
        drop(points);
        panic!("test panic at {armed}");
    }
}

#[cfg(not(test))]
fn test_panic(_point: &str, _alert: &str) {}

/// When a case next needs attention: now for a pending step (or its retry time), the
/// owner's reminder or escalation while the case waits on them, and the earliest expiry of
/// an undecided approval.
pub fn next_wake(case: &Case) -> Option<DateTime<Utc>> {
    let step = case
        .steps
        .first()
        .map(|s| s.not_before.unwrap_or(case.updated_at));
    let timers = if case.state() == crate::case::CaseState::AwaitingOwner {
        [case.remind_at, case.escalate_at]
            .into_iter()
            .flatten()
            .min()
    } else {
        None
    };
    [step, timers, case.next_approval_expiry()]
        .into_iter()
        .flatten()
        .min()
}

/// The lane a case's next run goes in: express when its next step is a GitHub issue deferred
/// to its slot at the content-creation pace (see `steps::github::defer_issue`), so the slot is
/// not lost behind runs waiting on Slack's channel limit.
pub fn lane_of(case: &Case) -> Lane {
    match case.steps.first() {
        Some(rec) if matches!(rec.step, Step::CreateIssue) && rec.not_before.is_some() => {
            Lane::Express
        }
        _ => Lane::Normal,
    }
}

fn remove_step(case: &mut Case, seq: u64) {
    case.steps.retain(|s| s.seq != seq);
}

/// The longest wait between two attempts of a step.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … capped at [`MAX_BACKOFF`].
pub fn backoff(attempt: u32) -> Duration {
    let base = 1u64 << attempt.min(8).saturating_sub(1);
    let jitter = rand::random::<u64>() % 1000;
    Duration::from_millis((base * 1000 + jitter).min(300_000)).min(MAX_BACKOFF)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::case::{Alert, CaseState};
    use crate::store::MemoryStore;

    /// Points armed for [`test_panic`] (`<point>:<alert id>`), each firing once.
    pub(crate) static PANIC_AT: parking_lot::Mutex<Vec<String>> =
        parking_lot::Mutex::new(Vec::new());

    /// An engine over `store` with no vendors and a Slack that cannot be reached: enough for
    /// work that does not call out.
    pub(crate) fn engine(store: Arc<dyn Store>) -> Arc<Engine> {
        let config: crate::slack::config::SlackConfig = toml::from_str(
            "alerts_channel = \"C0ALERTS01\"\nbase_url = \"http://127.0.0.1:9/api/\"",
        )
        .expect("slack config");
        let slack = crate::slack::client::build(&config).expect("slack client");
        let api = SlackApi::new(slack, crate::slack::client::bot_token(&config));
        Engine::new(
            store,
            api,
            Vendors::default(),
            TriageConfig::default(),
            "C0ALERTS01".into(),
            vec![],
            Remediation::default(),
        )
    }

    fn alert(id: &str) -> Alert {
        Alert {
            id: id.into(),
            name: format!("alert {id}"),
            ..Default::default()
        }
    }

    /// Opens a case for `a` (grouping key `key`) whose outbox is `steps`, or queues a grouped
    /// item for the open case with that key.
    fn admit(engine: &Engine, a: &Alert, key: &str, steps: &[Step]) -> Admission {
        let now = Utc::now();
        let open = |id| {
            let mut c = Case::new(id, a.clone(), key.to_string(), now);
            for s in steps {
                c.push_step(s.clone());
            }
            c
        };
        let group = |id: &CaseId| InboundItem::grouped(id, a, now);
        engine
            .store
            .admit(a, key, chrono::Duration::hours(1), now, &open, &group)
            .expect("admit")
    }

    async fn until(what: &str, mut f: impl FnMut() -> bool) {
        let started = std::time::Instant::now();
        while !f() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn notes(case: &Case, needle: &str) -> usize {
        case.timeline
            .iter()
            .filter(|t| t.text.contains(needle))
            .count()
    }

    #[tokio::test]
    async fn a_step_that_panics_is_given_up_on_the_timeline_and_the_case_goes_on() {
        let engine = engine(Arc::new(MemoryStore::new()));
        let a = alert("panic-step");
        let Admission::Opened(case) =
            admit(&engine, &a, "k-step", &[Step::Prioritise, Step::Prioritise])
        else {
            panic!("opens")
        };
        PANIC_AT.lock().push(format!("prioritise:{}", a.id));
        engine.kick(case.id.clone());
        // The second step running is the later effect: the panicking run let the case go on.
        let get = || engine.store.get(&case.id).ok().flatten();
        until("the second step", || {
            get().is_some_and(|c| c.decision.is_some() && c.steps.is_empty())
        })
        .await;
        let c = get().expect("case");
        assert_eq!(
            notes(&c, "prioritise failed unexpectedly"),
            1,
            "{:?}",
            c.timeline
        );
        assert_eq!(notes(&c, "gave up on prioritise"), 1);
        until("the runner to let go", || engine.busy() == 0).await;
    }

    #[tokio::test]
    async fn a_run_reads_its_case_once_and_keeps_the_case_it_stored() {
        let memory = Arc::new(MemoryStore::new());
        let engine = engine(memory.clone());
        let a = alert("kept-case");
        let steps = [
            Step::Prioritise,
            Step::IssueLabels { labels: vec![] },
            Step::Prioritise,
        ];
        let Admission::Opened(case) = admit(&engine, &a, "k-kept", &steps) else {
            panic!("opens")
        };
        // A grouped alert queued before the run: applied first, then the three steps.
        assert_eq!(
            admit(&engine, &alert("kept-case-2"), "k-kept", &[]),
            Admission::Grouped(case.id.clone())
        );
        let before = memory.gets();
        engine.kick(case.id.clone());
        until("the runner to let go", || engine.busy() == 0).await;
        assert_eq!(memory.gets() - before, 1, "one read for the whole run");
        let stored = memory.get(&case.id).expect("get").expect("case");
        // Every step built on the previous one's save: the grouped alert applied, the
        // decision made, and every step (the three and the grouped alert's, all no-ops
        // without vendors) gone.
        assert!(stored.decision.is_some());
        assert!(stored.grouped.iter().any(|g| g.id == "kept-case-2"));
        assert!(stored.steps.is_empty(), "{:?}", stored.steps);
        assert_eq!(
            next_wake(&stored),
            None,
            "the wake map was kept from the stored case"
        );
        assert!(engine.wake.lock().get(&case.id).is_none());
    }

    #[tokio::test]
    async fn a_poison_inbound_item_is_finished_with_the_failure_on_the_case() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let engine = engine(store.clone());
        let first = alert("poison-first");
        let Admission::Opened(case) = admit(&engine, &first, "k-poison", &[]) else {
            panic!("opens")
        };
        assert_eq!(
            admit(&engine, &alert("poison-b"), "k-poison", &[]),
            Admission::Grouped(case.id.clone())
        );
        assert_eq!(
            admit(&engine, &alert("poison-c"), "k-poison", &[]),
            Admission::Grouped(case.id.clone())
        );
        PANIC_AT.lock().push(format!("inbound:{}", first.id));
        engine.kick(case.id.clone());
        // Items of a case apply in order: once C's shows, B's was handled before it.
        let get = || store.get(&case.id).ok().flatten();
        until("the item after the poison one", || {
            get().is_some_and(|c| c.grouped.iter().any(|g| g.id == "poison-c"))
        })
        .await;
        let c = get().expect("case");
        assert!(
            !c.grouped.iter().any(|g| g.id == "poison-b"),
            "the poison item's effect was dropped with it"
        );
        assert_eq!(notes(&c, "failed unexpectedly and was set aside"), 1);
        assert!(
            store.inbound().expect("inbound").is_empty(),
            "finished: nothing replays after a restart"
        );
        // A restart (a new engine on the same store) has nothing left to replay.
        let again = super::tests::engine(store.clone());
        again.recover().expect("recover");
        until("the restarted engine to settle", || again.busy() == 0).await;
        let c = get().expect("case");
        assert_eq!(notes(&c, "failed unexpectedly"), 1);
    }

    #[tokio::test]
    async fn an_undecodable_inbound_item_is_a_counted_refusal_and_is_finished() {
        let metrics = crate::telemetry::prometheus().expect("the test recorder");
        let memory = Arc::new(MemoryStore::new());
        let store: Arc<dyn Store> = memory.clone();
        let engine = engine(store.clone());
        let Admission::Opened(case) = admit(&engine, &alert("undecodable-first"), "k-undec", &[])
        else {
            panic!("opens")
        };
        // A record of a kind this binary does not know, then one that is not even JSON, then
        // a good one behind them.
        let bad = format!(
            r#"{{"case":"{}","event":{{"type":"warp_drive"}}}}"#,
            case.id
        );
        memory.enqueue_raw(bad.as_bytes());
        memory.enqueue_raw(b"{\"case\": ");
        assert_eq!(
            admit(&engine, &alert("undecodable-next"), "k-undec", &[]),
            Admission::Grouped(case.id.clone())
        );
        engine.kick_due();
        let get = || store.get(&case.id).ok().flatten();
        until("the good item behind the bad ones", || {
            get().is_some_and(|c| c.grouped.iter().any(|g| g.id == "undecodable-next"))
        })
        .await;
        until("the inbox to empty", || {
            store.inbound().is_ok_and(|items| items.is_empty())
        })
        .await;
        let rendered = metrics.render();
        let line = rendered
            .lines()
            .find(|l| l.starts_with(r#"vigil_refusals_total{what="undecodable inbound item"}"#))
            .unwrap_or_default();
        let count: u64 = line
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(count >= 2, "both bad records counted: {rendered}");
        until("the runner to let go", || engine.busy() == 0).await;
    }

    #[tokio::test]
    async fn timers_that_panic_are_stopped_on_the_timeline() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let engine = engine(store.clone());
        let a = alert("panic-timers");
        let Admission::Opened(case) = admit(&engine, &a, "k-timers", &[]) else {
            panic!("opens")
        };
        let mut c = store.get(&case.id).expect("get").expect("case");
        c.force_state(CaseState::AwaitingOwner);
        c.remind_at = Some(Utc::now() - chrono::Duration::seconds(1));
        store.save(&c).expect("save");
        PANIC_AT.lock().push(format!("timers:{}", a.id));
        engine.kick(case.id.clone());
        let get = || store.get(&case.id).ok().flatten();
        until("the failure on the timeline", || {
            get().is_some_and(|c| notes(&c, "Owner timers failed unexpectedly") == 1)
        })
        .await;
        assert_eq!(
            get().and_then(|c| c.remind_at),
            None,
            "stopped, not retried every tick"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) < Duration::from_secs(2));
        assert!(backoff(3) >= Duration::from_secs(4));
        for attempt in [9, 64, u32::MAX] {
            assert!(backoff(attempt) <= MAX_BACKOFF, "attempt {attempt}");
        }
    }

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
        c.force_state(CaseState::AwaitingOwner);
        c.remind_at = Some(now + chrono::Duration::minutes(30));
        c.escalate_at = Some(now + chrono::Duration::hours(2));
        assert_eq!(next_wake(&c), c.remind_at);
        c.force_state(CaseState::Acknowledged);
        assert_eq!(
            next_wake(&c),
            None,
            "timers only run while waiting on the owner"
        );
    }
}
