//! What a case tells people, as data: the transitions in `case/` say WHICH note goes where, and
//! `render/` turns it into words (mrkdwn or Markdown) when the step runs, so `case/` never
//! knows a chat or ticket format.
//!
//! A note carries what was true when it was queued and may change before the step runs (a
//! grouped alert's count); what cannot change once set (the resolution, the owner's answer) is
//! read from the case when rendering. Steps stored before notes were typed hold their text,
//! already rendered; [`Said::Text`] keeps decoding them.

use serde::{Deserialize, Serialize};

/// A reply in the card's thread (or the storm digest's thread for a folded case).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum ThreadNote {
    /// Another alert joined; `alerts` is the count at that moment.
    Grouped {
        /// The joining alert's name.
        name: String,
        /// Alerts in the case once it joined.
        alerts: usize,
    },
    /// On-call was paged; `why` is Vigil's own wording.
    Paged {
        /// Why it was paged.
        why: String,
    },
    /// Nobody could be asked and the policy leaves the case to analysts.
    NoOwner,
    /// The owner pressed a DM button (the answer is on the case).
    OwnerAnswered,
    /// The owner wrote in their DM.
    OwnerWrote {
        /// Their words, unescaped.
        text: String,
    },
    /// An analyst acknowledged.
    Acknowledged {
        /// Slack user id of the analyst.
        by: String,
    },
    /// An analyst assigned the case.
    Assigned {
        /// Slack user id of the assignee.
        to: String,
        /// Slack user id of who assigned it.
        by: String,
    },
    /// An analyst postponed the owner timers.
    Snoozed {
        /// Slack user id of the analyst.
        by: String,
        /// How long, in words (`1h 30m`).
        for_: String,
    },
    /// The case was resolved (the resolution is on the case).
    Resolved,
    /// The alert's host was network-contained.
    Contained,
    /// A destructive call's approval was decided (approved, denied or expired; the decision
    /// is on the call).
    ApprovalDecided {
        /// The call's id.
        call: u32,
    },
    /// Flow 2 found no SOP to follow (none in the space, or Confluence unreachable): the
    /// analysts and on-call handle the remediation by hand (what was searched is on the case).
    NoSop,
    /// A step gave up; the case went on without it.
    StepFailed {
        /// The step's kind.
        kind: String,
        /// The last error, unescaped.
        error: String,
    },
    /// Flow 2: a tool call finished (its status, arguments and approver are on the case).
    ToolCall {
        /// The call's id.
        call: u32,
    },
    /// Flow 2: the agent gave its closing summary (on the case).
    AgentSummary,
    /// Flow 2: the agent loop ended without a summary; why, in Vigil's words.
    AgentStopped {
        /// Why, unescaped.
        reason: String,
    },
}

/// A reply in the owner's DM thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum DmNote {
    /// The owner has not answered yet: remind them.
    Reminder,
    /// The owner answered (the answer is on the case).
    Answered,
    /// The case was escalated after the DM was sent.
    Escalated,
    /// The case was closed.
    Closed,
}

/// A comment on the case's GitHub issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum IssueNote {
    /// Another alert joined; `alerts` is the count at that moment.
    Grouped {
        /// The joining alert's name.
        name: String,
        /// Alerts in the case once it joined.
        alerts: usize,
    },
    /// On-call was paged.
    Paged {
        /// Why it was paged.
        why: String,
    },
    /// The owner pressed a DM button (the answer is on the case).
    OwnerAnswer,
    /// The owner wrote in their DM.
    OwnerWrote {
        /// Their words, unescaped.
        text: String,
    },
    /// The case was resolved (the resolution is on the case).
    Resolved,
    /// Flow 2: one comment for a batch of finished tool calls (GitHub's content-creation
    /// limit is shared with issue creation, so never one comment per call).
    ToolCalls {
        /// The calls' ids.
        calls: Vec<u32>,
    },
    /// Flow 2's plan: classification, SOP of record and every proposed call with its status,
    /// read from the case when the comment is written.
    Plan,
}

/// What a queued step says: a typed note, or the already-rendered text a step stored before
/// notes were typed held (it is sent as it is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Said<N> {
    /// A note rendered when the step runs.
    Note(N),
    /// Text rendered when the step was queued (old stored steps).
    Text(String),
}

impl<N> From<N> for Said<N> {
    fn from(note: N) -> Self {
        Said::Note(note)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Step;

    #[test]
    fn steps_stored_with_text_still_decode() {
        let old = r#"[
            {"step":"card_thread","text":":eyes: Acknowledged by <@U1>."},
            {"step":"dm_thread","text":"Security closed this case (VIG-1). Thank you!"},
            {"step":"issue_comment","body":"**Resolved.**"}
        ]"#;
        let steps: Vec<Step> = serde_json::from_str(old).expect("old steps decode");
        assert_eq!(
            steps,
            vec![
                Step::CardThread {
                    note: Said::Text(":eyes: Acknowledged by <@U1>.".into())
                },
                Step::DmThread {
                    note: Said::Text("Security closed this case (VIG-1). Thank you!".into())
                },
                Step::IssueComment {
                    note: Said::Text("**Resolved.**".into())
                },
            ]
        );
    }

    #[test]
    fn typed_notes_round_trip() {
        let steps = vec![
            Step::CardThread {
                note: ThreadNote::Assigned {
                    to: "U2".into(),
                    by: "U1".into(),
                }
                .into(),
            },
            Step::CardThread {
                note: ThreadNote::Resolved.into(),
            },
            Step::DmThread {
                note: DmNote::Reminder.into(),
            },
            Step::IssueComment {
                note: IssueNote::Grouped {
                    name: "x".into(),
                    alerts: 2,
                }
                .into(),
            },
        ];
        let json = serde_json::to_string(&steps).expect("encode");
        let back: Vec<Step> = serde_json::from_str(&json).expect("decode");
        assert_eq!(back, steps);
    }
}
