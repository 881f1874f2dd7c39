//! The domain: a case is a persisted state machine with a timeline and an outbox of steps.
//!
//! It knows no Slack, no vendor and no storage. The pipeline reads a case, performs its next
//! step, and writes it back; everything a step needs to be done exactly once (its intent time
//! and result) is recorded here, so a crash at any point resumes from the record.
//!
//! A case's state changes only here: in the transitions ([`flow`]), the owner timers
//! ([`timers`]) and the step results ([`results`]); everyone else reads it with
//! [`Case::state`].

pub mod alert;
pub mod approvals;
pub mod flow;
pub mod flow2;
pub mod note;
pub mod remediation;
mod results;
pub mod rules;
pub mod step;
mod timers;
mod tool_results;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use alert::{Alert, AlertDevice};
pub use rules::{Decision, Priority};
pub use step::{Step, StepKind, StepRecord};

/// A case id, `VIG-<n>` with `n` from the store's never-reused sequence: short enough to type
/// in `/triage show`, and part of every idempotency marker (GitHub, PagerDuty `dedup_key`,
/// Slack message metadata).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CaseId(pub String);

impl CaseId {
    /// The id for sequence number `n`; the store hands out each `n` once.
    pub fn from_seq(n: u64) -> Self {
        CaseId(format!("VIG-{n}"))
    }

    /// Parses what a person typed (`VIG-12`, `vig-12`, `12`).
    pub fn parse(text: &str) -> Option<CaseId> {
        let t = text.trim();
        let digits = t
            .strip_prefix("VIG-")
            .or_else(|| t.strip_prefix("vig-"))
            .unwrap_or(t);
        let n: u64 = digits.parse().ok()?;
        Some(CaseId::from_seq(n))
    }

    /// The text form, as shown to people and written into markers.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a case is in its life; only the transitions in `case/` move it, and the card, App
/// Home and `/triage list` show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Just created from an alert.
    New,
    /// Device, asset and owner looked up (or their absence recorded).
    Enriched,
    /// The GitHub issue exists.
    Ticketed,
    /// The card is in the alerts channel.
    Announced,
    /// The owner was asked and has not answered.
    AwaitingOwner,
    /// On-call was paged.
    Escalated,
    /// An analyst took it.
    Acknowledged,
    /// Closed with a reason.
    Resolved,
}

impl CaseState {
    /// Lower-case name for people and labels (`/triage list`, the card's state line).
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::New => "new",
            CaseState::Enriched => "enriched",
            CaseState::Ticketed => "ticketed",
            CaseState::Announced => "announced",
            CaseState::AwaitingOwner => "awaiting owner",
            CaseState::Escalated => "escalated",
            CaseState::Acknowledged => "acknowledged",
            CaseState::Resolved => "resolved",
        }
    }

    /// Whether the case is still open: resolved cases take no new alerts, buttons or timers.
    pub fn is_open(self) -> bool {
        self != CaseState::Resolved
    }
}

/// The person a device (or account) belongs to: the one flow 1 asks "was this you?".
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Owner {
    /// Inventory username (Oomnitza `username`).
    pub username: String,
    /// Email, the key to the person's Slack user (`users.lookupByEmail`).
    pub email: String,
    /// Display name, for the card and the issue.
    pub name: String,
    /// Slack user id, when the email matched a Slack user; without it nobody can be asked.
    pub slack_user: Option<String>,
}

/// What enrichment found; every miss or failure is a note, never a stop.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Enrichment {
    /// Falcon host tags (e.g. `SensorGroupingTags/production`); priority rules match them.
    pub host_tags: Vec<String>,
    /// Serial number from Falcon: how the inventory asset is found.
    pub serial_number: String,
    /// OS version from Falcon, shown on the card and the issue.
    pub os_version: String,
    /// Oomnitza asset id, so an analyst can open the device's record.
    pub asset_id: String,
    /// The owner, if the asset names one that the inventory knows.
    pub owner: Option<Owner>,
    /// What could not be found or reached, in words, so the card says why nobody was asked.
    pub notes: Vec<String>,
    /// Whether the owner's Slack user was looked up (it runs beside the GitHub issue, after
    /// the rest of enrichment). Cases stored before this field read as looked up.
    #[serde(default = "looked_up_before")]
    pub slack_looked_up: bool,
}

fn looked_up_before() -> bool {
    true
}

/// How the owner answered the DM's question; each answer has its own label and next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerReply {
    /// "Yes, this was me".
    Me,
    /// "No, this wasn't me": escalates.
    NotMe,
    /// "Not my device": back to the analysts.
    NotMine,
}

impl OwnerReply {
    /// The button text people saw, repeated in the thread and the issue.
    pub fn label(self) -> &'static str {
        match self {
            OwnerReply::Me => "Yes, this was me",
            OwnerReply::NotMe => "No, this wasn't me",
            OwnerReply::NotMine => "Not my device",
        }
    }

    /// The GitHub label it adds, so answers can be searched across issues.
    pub fn github_label(self) -> &'static str {
        match self {
            OwnerReply::Me => "owner-confirmed",
            OwnerReply::NotMe => "owner-denied",
            OwnerReply::NotMine => "not-owner",
        }
    }
}

/// The owner's answer and who gave it: only the owner's own click from their DM counts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OwnerAnswer {
    /// Which answer.
    pub reply: OwnerReply,
    /// Slack user id of who pressed it (always the owner: others are refused).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A Slack message Vigil posted: stored so updates and thread replies find it, and so a
/// repeated step never posts a second one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SlackRef {
    /// Channel id (`C…` or the DM's `D…`).
    pub channel: String,
    /// Message `ts`, Slack's id of the message within the channel.
    pub ts: String,
}

/// The GitHub issue of a case, found again after a crash by its hidden marker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IssueRef {
    /// Issue number, for comments, labels and closing.
    pub number: u64,
    /// The issue's `html_url`, linked from the card.
    pub url: String,
}

/// How a case was closed: the reason goes to the card, the issue, the Falcon alert's comment
/// and decides the issue's `state_reason`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Resolution {
    /// Who resolved it: the Slack user id of the analyst (only analysts resolve cases).
    pub by: String,
    /// Why, in the resolver's words.
    pub reason: String,
    /// When it was resolved.
    pub at: DateTime<Utc>,
}

/// One timeline entry: something that happened to the case, in words; `/triage show` and the
/// audit trail read these.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TimelineEntry {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it (Slack user id), if a person did.
    pub actor: Option<String>,
    /// What happened, as plain text (escaped wherever it is shown).
    pub text: String,
}

/// Another alert that was grouped into this case (same grouping key within the window), so a
/// burst on one host is one case, not many.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupedAlert {
    /// Its source id (Falcon composite id), the dedupe key.
    pub id: String,
    /// Its detection name, listed on the card.
    pub name: String,
    /// When it arrived; the grouping window runs from the latest one.
    pub at: DateTime<Utc>,
}

/// The first time each measured milestone was reached: set once by the transitions and never
/// moved, so a re-acknowledged or re-escalated case keeps its first figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct Milestones {
    /// The first acknowledgement by an analyst (MTTA runs from `created_at` to here).
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When the owner was first asked "was this you?" (owner response time runs from here).
    pub owner_asked_at: Option<DateTime<Utc>>,
    /// The first escalation to on-call.
    pub escalated_at: Option<DateTime<Utc>>,
    /// Whether that escalation came from owner silence (the timer), not a person or a rule.
    pub auto_escalated: bool,
}

/// A case: one alert (and those grouped into it) from arrival to resolution, with everything
/// needed to resume after a crash: the outbox of steps, their intents, and what each created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Case {
    /// The case's id, also its key in the store.
    pub id: CaseId,
    /// Life-cycle state: private, so only the transitions in `case/` move it.
    state: CaseState,
    /// When the case was opened; MTTA and MTTR run from here.
    pub created_at: DateTime<Utc>,
    /// When anything last changed, for `/triage list` ordering.
    pub updated_at: DateTime<Utc>,
    /// The alert that opened it (attacker-controlled text throughout).
    pub alert: Alert,
    /// The grouping key (`[triage] group_by` fields) later alerts join it under.
    pub group_key: String,
    /// Alerts grouped into it after the first, in arrival order.
    pub grouped: Vec<GroupedAlert>,
    /// What enrichment found (device, asset, owner), once it ran.
    pub enrichment: Option<Enrichment>,
    /// The priority and the rule that decided it, once prioritised.
    pub decision: Option<Decision>,
    /// The GitHub issue, once opened (or found after a crash).
    pub issue: Option<IssueRef>,
    /// The card in the alerts channel, updated in place as the case changes.
    pub card: Option<SlackRef>,
    /// The storm digest the case was folded into instead of getting its own card (SPEC §5
    /// "Storms"); its thread replies go under that digest.
    #[serde(default)]
    pub digest: Option<u64>,
    /// The owner's DM with the question, once sent; replies in its thread belong to the case.
    pub dm: Option<SlackRef>,
    /// Whether on-call was paged (dedup key = case id); set only by [`Case::paged`].
    paged: bool,
    /// The owner's answer, once given.
    pub owner_answer: Option<OwnerAnswer>,
    /// The analyst who acknowledged it (Slack user id): someone is on it.
    pub acknowledged_by: Option<String>,
    /// The analyst it is assigned to, for `/triage list mine`.
    pub assignee: Option<String>,
    /// When the owner gets a reminder, if still silent.
    pub remind_at: Option<DateTime<Utc>>,
    /// When owner silence escalates to a page.
    pub escalate_at: Option<DateTime<Utc>>,
    /// The closing record, once resolved.
    pub resolution: Option<Resolution>,
    /// Everything that happened, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Steps still to do, in order (the outbox); the first runs next.
    pub steps: Vec<StepRecord>,
    /// Next step sequence number (unique per case; used in idempotency markers).
    pub next_step: u64,
    /// Inbound items already applied (newest last, bounded), so replaying one after a crash
    /// between applying it and marking it done changes nothing.
    #[serde(default)]
    pub applied: Vec<u64>,
    /// When the case first reached each milestone people measure (acknowledged, owner asked,
    /// escalated): what `/triage stats` and the Prometheus histograms compute MTTA and owner
    /// response from. Cases stored before it decode with none.
    #[serde(default)]
    pub milestones: Milestones,
    /// Flow 2's record (classification, SOP, tool calls and approvals), once classified.
    /// Cases stored before flow 2 existed decode without it.
    #[serde(default)]
    pub triage: Option<remediation::Triage>,
}

impl Case {
    /// A new case for `alert`, in state `New`, with its opening on the timeline.
    pub fn new(id: CaseId, alert: Alert, group_key: String, now: DateTime<Utc>) -> Case {
        let mut case = Case {
            id,
            state: CaseState::New,
            created_at: now,
            updated_at: now,
            alert,
            group_key,
            grouped: vec![],
            enrichment: None,
            decision: None,
            issue: None,
            card: None,
            digest: None,
            dm: None,
            paged: false,
            owner_answer: None,
            acknowledged_by: None,
            assignee: None,
            remind_at: None,
            escalate_at: None,
            resolution: None,
            timeline: vec![],
            steps: vec![],
            next_step: 1,
            applied: vec![],
            milestones: Milestones::default(),
            triage: None,
        };
        case.note(
            now,
            None,
            format!("Case opened from alert {}", case.alert.name),
        );
        case
    }

    /// Appends a timeline entry and bumps `updated_at`.
    pub fn note(&mut self, at: DateTime<Utc>, actor: Option<&str>, text: impl Into<String>) {
        self.updated_at = at;
        self.timeline.push(TimelineEntry {
            at,
            actor: actor.map(str::to_string),
            text: text.into(),
        });
    }

    /// Queues a step at the end of the outbox with the next sequence number (part of its
    /// idempotency marker).
    pub fn push_step(&mut self, step: Step) {
        let seq = self.next_step;
        self.next_step += 1;
        self.steps.push(StepRecord::new(seq, step));
    }

    /// How many alerts the case holds, shown on the card.
    pub fn alert_count(&self) -> usize {
        1 + self.grouped.len()
    }

    /// When the latest alert arrived: the grouping window runs from here.
    pub fn last_seen(&self) -> DateTime<Utc> {
        self.grouped.last().map(|g| g.at).unwrap_or(self.created_at)
    }

    /// The owner, if enrichment found one: who flow 1 asks.
    pub fn owner(&self) -> Option<&Owner> {
        self.enrichment.as_ref()?.owner.as_ref()
    }

    /// Records that inbound item `seq` was applied; `false` if it already was.
    pub fn mark_applied(&mut self, seq: u64) -> bool {
        if self.applied.contains(&seq) {
            return false;
        }
        self.applied.push(seq);
        if self.applied.len() > 256 {
            self.applied.remove(0);
        }
        true
    }

    /// Where the case is in its life (set only by the transitions in `case/`).
    pub fn state(&self) -> CaseState {
        self.state
    }

    /// Whether PagerDuty accepted a page for the case, so acknowledging and resolving it also
    /// acks and resolves the incident.
    pub fn was_paged(&self) -> bool {
        self.paged
    }

    /// Puts a case in any state, for unit tests that start mid-flow; never in the binary.
    #[cfg(test)]
    pub fn force_state(&mut self, state: CaseState) {
        self.state = state;
    }

    /// The priority, once decided: it chooses between asking the owner and paging.
    pub fn priority(&self) -> Option<Priority> {
        self.decision.as_ref().map(|d| d.priority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_from_what_people_type() {
        assert_eq!(CaseId::parse("VIG-12"), Some(CaseId::from_seq(12)));
        assert_eq!(CaseId::parse(" 12 "), Some(CaseId::from_seq(12)));
        assert_eq!(CaseId::parse("vig-3"), Some(CaseId::from_seq(3)));
        assert_eq!(CaseId::parse("VIG-x"), None);
        assert_eq!(CaseId::parse("<@U1>"), None);
    }

    #[test]
    fn steps_get_unique_sequence_numbers() {
        let mut c = Case::new(
            CaseId::from_seq(1),
            Alert::default(),
            "k".into(),
            Utc::now(),
        );
        c.push_step(Step::Enrich);
        c.push_step(Step::Prioritise);
        assert_eq!(c.steps[0].seq, 1);
        assert_eq!(c.steps[1].seq, 2);
        assert_eq!(c.next_step, 3);
    }
}
