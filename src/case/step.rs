//! The outbox: what a case still has to do, one step at a time, in order.
//!
//! A step that creates something at a vendor with no idempotency key (an issue, a comment, a
//! Slack message) records its intent time before it acts. After a crash, a step with an intent
//! and no result is resolved by looking for what it may have created (markers, message
//! metadata) since that time, never by guessing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::note::{DmNote, IssueNote, Said, ThreadNote};

/// Which DM an owner gets: the priority decides whether there is anything to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DmKind {
    /// Low priority: "was this you?" with buttons.
    Ask,
    /// High priority: what is happening and what to do; no question.
    Inform,
}

/// How an issue is closed: GitHub's `state_reason`, so false positives can be told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// Dealt with (`completed`).
    Completed,
    /// Nothing to do, e.g. a false positive (`not_planned`).
    NotPlanned,
}

/// One thing a case has to do, persisted in the outbox until done, so a crash resumes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Look up device, asset, owner and the owner's Slack user (in parallel where they do not
    /// depend on each other).
    Enrich,
    /// Run the priority rule table (`[triage] rules`): the first match decides.
    Prioritise,
    /// Open the GitHub issue, with the hidden case marker a crash lookup finds.
    CreateIssue,
    /// Post the card in the alerts channel, with metadata a crash lookup finds.
    PostCard,
    /// Storms: list the case in the burst's digest message instead of posting its own card.
    JoinDigest,
    /// Decide between asking the owner and paging, and queue what follows.
    Route,
    /// DM the owner: ask (low priority) or inform (high).
    OwnerDm {
        /// Ask or inform.
        kind: DmKind,
    },
    /// Trigger PagerDuty; the case id is the `dedup_key`, so a repeat is harmless.
    Page,
    /// Acknowledge the PagerDuty incident when an analyst acknowledges the case.
    PageAck,
    /// Resolve the PagerDuty incident when the case is resolved.
    PageResolve,
    /// Re-render the card from the case (`chat.update`, idempotent).
    UpdateCard,
    /// Reply in the card's thread (found by metadata after a crash).
    CardThread {
        /// What to say, rendered to mrkdwn when the step runs (`text` in stored steps from
        /// before typed notes).
        #[serde(alias = "text")]
        note: Said<ThreadNote>,
    },
    /// Reply in the owner's DM thread (found by metadata after a crash).
    DmThread {
        /// What to say, rendered to mrkdwn when the step runs (`text` in old stored steps).
        #[serde(alias = "text")]
        note: Said<DmNote>,
    },
    /// Comment on the GitHub issue (found by its marker after a crash).
    IssueComment {
        /// What to say, rendered to Markdown when the step runs (`body` in old stored steps).
        #[serde(alias = "body")]
        note: Said<IssueNote>,
    },
    /// Add labels to the GitHub issue (adding an existing label is harmless).
    IssueLabels {
        /// Labels to add, e.g. the owner's answer (`owner-denied`).
        labels: Vec<String>,
    },
    /// Close the GitHub issue with a `state_reason`.
    CloseIssue {
        /// Completed or not planned.
        reason: CloseReason,
    },
    /// Network-contain the alert's host (an analyst confirmed it).
    Contain,
    /// Set the source alert's status, with a comment.
    AlertStatus {
        /// `new`, `in_progress`, `closed`, …
        status: String,
        /// Comment appended.
        comment: String,
    },
    /// Flow 2: extract the case's entities and classify the alert (rules, or the model).
    Classify,
    /// Flow 2: find the type's SOP in Confluence and record which page and version.
    FindSop,
    /// Flow 2: turn the SOP into proposed tool calls (the runbook in order, or the agent's
    /// first turn), each through the guard.
    Remediate,
    /// Flow 2: one agent turn: the model reads the case, the SOP and the results so far and
    /// proposes the next calls or a closing summary.
    AgentTurn {
        /// 1-based.
        turn: usize,
    },
    /// Flow 2: run an allowed (or approved) tool call and document its result.
    ToolCall {
        /// The call's id on the case's record.
        call: u32,
    },
    /// Flow 2: post the approval message of a destructive call in the card's thread.
    RequestApproval {
        /// The call's id.
        call: u32,
    },
    /// Flow 2: show an approval's decision (or expiry) on its message, buttons gone.
    ApprovalOutcome {
        /// The call's id.
        call: u32,
    },
}

/// A step's short stable name: the metric label, the log field and the failpoint prefix.
pub type StepKind = &'static str;

/// Every step kind, in flow order: what failpoints (`<kind>.intent`, `<kind>.done`) and crash
/// tests enumerate. A unit test keeps it equal to [`Step::kind`]'s answers.
pub const KINDS: &[StepKind] = &[
    "enrich",
    "prioritise",
    "create_issue",
    "post_card",
    "join_digest",
    "route",
    "owner_dm",
    "page",
    "page_ack",
    "page_resolve",
    "update_card",
    "card_thread",
    "dm_thread",
    "issue_comment",
    "issue_labels",
    "close_issue",
    "contain",
    "alert_status",
    "classify",
    "find_sop",
    "remediate",
    "agent_turn",
    "tool_call",
    "request_approval",
    "approval_outcome",
];

impl Step {
    /// The step's stable short name (one of [`KINDS`]).
    pub fn kind(&self) -> StepKind {
        match self {
            Step::Enrich => "enrich",
            Step::Prioritise => "prioritise",
            Step::CreateIssue => "create_issue",
            Step::PostCard => "post_card",
            Step::JoinDigest => "join_digest",
            Step::Route => "route",
            Step::OwnerDm { .. } => "owner_dm",
            Step::Page => "page",
            Step::PageAck => "page_ack",
            Step::PageResolve => "page_resolve",
            Step::UpdateCard => "update_card",
            Step::CardThread { .. } => "card_thread",
            Step::DmThread { .. } => "dm_thread",
            Step::IssueComment { .. } => "issue_comment",
            Step::IssueLabels { .. } => "issue_labels",
            Step::CloseIssue { .. } => "close_issue",
            Step::Contain => "contain",
            Step::AlertStatus { .. } => "alert_status",
            Step::Classify => "classify",
            Step::FindSop => "find_sop",
            Step::Remediate => "remediate",
            Step::AgentTurn { .. } => "agent_turn",
            Step::ToolCall { .. } => "tool_call",
            Step::RequestApproval { .. } => "request_approval",
            Step::ApprovalOutcome { .. } => "approval_outcome",
        }
    }

    /// Whether repeating the step after a crash could create a duplicate, so it must record
    /// its intent first and look before acting again. `AlertStatus` records it for its
    /// comment: Falcon cannot list an alert's comments, so a retry after an intent without a
    /// result sets the status again but leaves the comment out. `ToolCall` records it for
    /// Slack notify (found by metadata); its other tools are reads or idempotent and run
    /// again.
    pub fn needs_intent(&self) -> bool {
        matches!(
            self,
            Step::CreateIssue
                | Step::PostCard
                | Step::OwnerDm { .. }
                | Step::CardThread { .. }
                | Step::DmThread { .. }
                | Step::IssueComment { .. }
                | Step::AlertStatus { .. }
                | Step::RequestApproval { .. }
                | Step::ToolCall { .. }
        )
    }
}

/// A queued step and what is known about its progress: enough to resume it after a crash
/// without repeating its effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Unique within the case; part of idempotency markers.
    pub seq: u64,
    /// What to do.
    pub step: Step,
    /// When the side effect was about to be performed (set and flushed before acting).
    pub intent_at: Option<DateTime<Utc>>,
    /// Failed attempts so far; at `MAX_ATTEMPTS` the step is given up visibly.
    pub attempts: u32,
    /// Do not try before this (backoff, `Retry-After`).
    pub not_before: Option<DateTime<Utc>>,
    /// The last failure, in words, shown on the case.
    pub last_error: Option<String>,
}

impl StepRecord {
    /// A record for a step not yet attempted.
    pub fn new(seq: u64, step: Step) -> Self {
        StepRecord {
            seq,
            step,
            intent_at: None,
            attempts: 0,
            not_before: None,
            last_error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One step of every kind; the match makes a new variant a compile error here.
    fn one_of_each() -> Vec<Step> {
        let text = || String::from("t");
        let all = vec![
            Step::Enrich,
            Step::Prioritise,
            Step::CreateIssue,
            Step::PostCard,
            Step::JoinDigest,
            Step::Route,
            Step::OwnerDm { kind: DmKind::Ask },
            Step::Page,
            Step::PageAck,
            Step::PageResolve,
            Step::UpdateCard,
            Step::CardThread {
                note: Said::Text(text()),
            },
            Step::DmThread {
                note: DmNote::Closed.into(),
            },
            Step::IssueComment {
                note: IssueNote::Resolved.into(),
            },
            Step::IssueLabels { labels: vec![] },
            Step::CloseIssue {
                reason: CloseReason::Completed,
            },
            Step::Contain,
            Step::AlertStatus {
                status: text(),
                comment: text(),
            },
            Step::Classify,
            Step::FindSop,
            Step::Remediate,
            Step::AgentTurn { turn: 1 },
            Step::ToolCall { call: 1 },
            Step::RequestApproval { call: 1 },
            Step::ApprovalOutcome { call: 1 },
        ];
        for s in &all {
            match s {
                Step::Enrich
                | Step::Prioritise
                | Step::CreateIssue
                | Step::PostCard
                | Step::JoinDigest
                | Step::Route
                | Step::OwnerDm { .. }
                | Step::Page
                | Step::PageAck
                | Step::PageResolve
                | Step::UpdateCard
                | Step::CardThread { .. }
                | Step::DmThread { .. }
                | Step::IssueComment { .. }
                | Step::IssueLabels { .. }
                | Step::CloseIssue { .. }
                | Step::Contain
                | Step::AlertStatus { .. }
                | Step::Classify
                | Step::FindSop
                | Step::Remediate
                | Step::AgentTurn { .. }
                | Step::ToolCall { .. }
                | Step::RequestApproval { .. }
                | Step::ApprovalOutcome { .. } => {}
            }
        }
        all
    }

    #[test]
    fn kinds_lists_every_step_kind_once() {
        let kinds: Vec<StepKind> = one_of_each().iter().map(Step::kind).collect();
        assert_eq!(kinds, KINDS);
    }
}
