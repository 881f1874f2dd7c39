//! What flow 2's steps report back: a tool call's result or failure, an agent turn taken, the
//! agent's closing summary or why it stopped. The `ToolCall` and `AgentTurn` steps call these;
//! they never assign the triage record themselves.
//!
//! Invariant: only a `Planned` or `Approved` call can become `Done` or `Failed`, once. Every
//! finished call goes on the timeline (tool, arguments, result, approver, time) and, unless the
//! case is folded into a storm digest, in the card's thread as one reply; when the last queued
//! call of a batch finishes, the calls of the batch not yet reported get one GitHub comment.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::note::{IssueNote, ThreadNote};
use super::remediation::{CallStatus, ToolCall};
use super::{Case, Step};

/// Longest agent summary kept on the record.
pub const MAX_AGENT_SUMMARY: usize = 2000;

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push('…');
    t
}

impl CallStatus {
    /// What became of the call, in plain words (escaped by whoever shows it).
    pub fn text(&self) -> String {
        match self {
            CallStatus::Planned => "planned".into(),
            CallStatus::Refused { reason } => format!("refused: {reason}"),
            CallStatus::AwaitingApproval => "waiting for an analyst's approval".into(),
            CallStatus::Approved => "approved, not run yet".into(),
            CallStatus::Denied => "denied".into(),
            CallStatus::Expired => "approval expired".into(),
            CallStatus::Done { summary, .. } => format!("done: {summary}"),
            CallStatus::Failed { error, .. } => format!("failed: {error}"),
        }
    }
}

impl ToolCall {
    /// The arguments as `key=value` pairs, plain.
    pub fn args_text(&self) -> String {
        self.args
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The analyst who approved the call, when one did.
    pub fn approver(&self) -> Option<&str> {
        self.approval
            .as_ref()
            .and_then(|a| a.decision.as_ref())
            .filter(|d| d.approved)
            .map(|d| d.by.as_str())
    }

    /// One plain line (timeline, GitHub fence): `#3 virustotal_file hash=… → done: …`.
    pub fn line(&self) -> String {
        let mut line = format!(
            "#{} {} {} → {}",
            self.id,
            self.name,
            self.args_text(),
            self.status.text()
        );
        if let Some(by) = self.approver() {
            line.push_str(&format!(" (approved by {by})"));
        }
        line
    }
}

impl Case {
    /// Call `id` ran: its one-line summary and bounded detail are recorded.
    pub fn call_done(&mut self, id: u32, summary: String, detail: Value, now: DateTime<Utc>) {
        if let Some(t) = self.triage.as_mut() {
            t.details.insert(id, detail);
        }
        self.finish_call(id, CallStatus::Done { summary, at: now }, now);
    }

    /// Call `id` failed for good: `error` says which call, what status and what Vigil did.
    pub fn call_failed(&mut self, id: u32, error: String, now: DateTime<Utc>) {
        self.finish_call(id, CallStatus::Failed { error, at: now }, now);
    }

    /// A `ToolCall` step found its call not runnable (refused, denied, waiting, already run):
    /// nothing ran, and the timeline says so.
    pub fn call_not_run(&mut self, id: u32, now: DateTime<Utc>) {
        let what = match self.triage.as_ref().and_then(|t| t.call(id)) {
            Some(c) => format!(
                "Tool call #{id} {} not run: it is {}",
                c.name,
                c.status.text()
            ),
            None => format!("Tool call #{id} not run: no such call on this case"),
        };
        self.note(now, None, what);
    }

    fn finish_call(&mut self, id: u32, status: CallStatus, now: DateTime<Utc>) {
        let Some(t) = self.triage.as_mut() else {
            return;
        };
        let Some(call) = t.call_mut(id) else {
            return;
        };
        if !matches!(call.status, CallStatus::Planned | CallStatus::Approved) {
            return;
        }
        call.status = status;
        let line = format!("Tool call {}", call.line());
        self.note(now, None, line);
        if self.card.is_some() && self.digest.is_none() {
            self.push_step(Step::CardThread {
                note: ThreadNote::ToolCall { call: id }.into(),
            });
            self.push_step(Step::UpdateCard);
        }
        let batch_left = self
            .steps
            .iter()
            .any(|s| matches!(s.step, Step::ToolCall { call } if call != id));
        if !batch_left {
            self.report_calls();
        }
    }

    /// Queues one GitHub comment for every finished call not reported yet.
    fn report_calls(&mut self) {
        let Some(t) = self.triage.as_mut() else {
            return;
        };
        let calls: Vec<u32> = t
            .calls
            .iter()
            .filter(|c| {
                matches!(
                    c.status,
                    CallStatus::Done { .. } | CallStatus::Failed { .. }
                )
            })
            .map(|c| c.id)
            .filter(|id| !t.reported.contains(id))
            .collect();
        if calls.is_empty() {
            return;
        }
        t.reported.extend(&calls);
        self.push_step(Step::IssueComment {
            note: IssueNote::ToolCalls { calls }.into(),
        });
    }

    /// The agent took turn `turn` (counted for the turn cap and shown on the card).
    pub fn agent_turn_taken(&mut self, turn: usize, proposed: usize, now: DateTime<Utc>) {
        if let Some(t) = self.triage.as_mut() {
            t.agent_turns = t.agent_turns.max(turn);
        }
        self.note(
            now,
            None,
            format!("Agent turn {turn}: the model proposed {proposed} tool call(s)"),
        );
    }

    /// The agent gave its closing summary: kept (bounded), on the timeline and in the thread.
    pub fn agent_finished(&mut self, summary: &str, now: DateTime<Utc>) {
        let Some(t) = self.triage.as_mut() else {
            return;
        };
        let kept = clip(summary.trim(), MAX_AGENT_SUMMARY);
        t.summary = Some(kept.clone());
        self.note(now, None, format!("Agent summary: {kept}"));
        if self.card.is_some() || self.digest.is_some() {
            self.push_step(Step::CardThread {
                note: ThreadNote::AgentSummary.into(),
            });
        }
        if self.card.is_some() {
            self.push_step(Step::UpdateCard);
        }
    }

    /// The agent loop ended without a summary (a cap, bad model output, the model failing):
    /// why, on the timeline and in the thread.
    pub fn agent_stopped(&mut self, reason: String, now: DateTime<Utc>) {
        self.note(now, None, format!("Agent stopped: {reason}"));
        if self.card.is_some() || self.digest.is_some() {
            self.push_step(Step::CardThread {
                note: ThreadNote::AgentStopped { reason }.into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::{Map, Value, json};

    use crate::case::note::{IssueNote, Said, ThreadNote};
    use crate::case::remediation::{CallStatus, Proposed, Proposer, Triage};
    use crate::case::{Alert, Case, CaseId, SlackRef, Step};
    use crate::triage::classify::{AlertType, Classification, ClassifiedBy, Severity};
    use crate::triage::entities::{Entities, EntityKind};
    use crate::triage::guard::Caps;
    use crate::triage::tools::ToolName;

    /// A case with a card and two queued look-ups (#1, #2) of its IP.
    fn case_with_two_calls() -> Case {
        let mut c = Case::new(
            CaseId::from_seq(1),
            Alert::default(),
            "k".into(),
            Utc::now(),
        );
        c.card = Some(SlackRef {
            channel: "C1".into(),
            ts: "1.1".into(),
        });
        let mut e = Entities::default();
        e.add(EntityKind::Ip, "198.51.100.23");
        let class = Classification {
            alert_type: AlertType::C2,
            severity: Severity::High,
            rationale: "r".into(),
            rule: "r".into(),
            by: ClassifiedBy::Rules,
            fallback: None,
        };
        c.triage = Some(Triage::new(e, class, Utc::now()));
        let allow = [ToolName::AbuseipdbCheckIp, ToolName::VirustotalIp];
        for tool in allow {
            let args: Map<String, Value> = [("ip".to_string(), json!("198.51.100.23"))]
                .into_iter()
                .collect();
            let p = c.propose_call(
                Proposer::Runbook { step: 1 },
                tool.as_str(),
                &args,
                &allow,
                Caps::default(),
                std::time::Duration::from_secs(60),
                Utc::now(),
            );
            assert!(matches!(p, Proposed::Queued(_)), "{p:?}");
        }
        c
    }

    fn issue_comments(c: &Case) -> Vec<&Said<IssueNote>> {
        c.steps
            .iter()
            .filter_map(|s| match &s.step {
                Step::IssueComment { note } => Some(note),
                _ => None,
            })
            .collect()
    }

    /// What the engine does once a step's perform returns.
    fn step_ran(c: &mut Case, call: u32) {
        c.steps
            .retain(|s| !matches!(s.step, Step::ToolCall { call: id } if id == call));
    }

    #[test]
    fn a_batch_gets_one_comment_when_its_last_call_finishes() {
        let mut c = case_with_two_calls();
        c.call_done(1, "score 100".into(), json!({}), Utc::now());
        step_ran(&mut c, 1);
        assert!(issue_comments(&c).is_empty(), "call #2 is still queued");
        c.call_failed(2, "virustotal 503".into(), Utc::now());
        step_ran(&mut c, 2);
        assert_eq!(
            issue_comments(&c),
            [&Said::Note(IssueNote::ToolCalls { calls: vec![1, 2] })]
        );
        let replies = c
            .steps
            .iter()
            .filter(|s| {
                matches!(
                    s.step,
                    Step::CardThread {
                        note: Said::Note(ThreadNote::ToolCall { .. })
                    }
                )
            })
            .count();
        assert_eq!(replies, 2, "one thread reply per call");
        assert!(c.timeline.iter().any(|e| {
            e.text
                .contains("#2 virustotal_ip ip=198.51.100.23 → failed: virustotal 503")
        }));
    }

    #[test]
    fn a_call_is_finished_once_and_only_from_planned_or_approved() {
        let mut c = case_with_two_calls();
        c.call_done(1, "first".into(), json!({}), Utc::now());
        c.call_done(1, "again".into(), json!({}), Utc::now());
        let t = c.triage.as_ref().expect("triage");
        assert!(
            matches!(&t.call(1).expect("call").status, CallStatus::Done { summary, .. } if summary == "first")
        );
    }

    #[test]
    fn a_case_folded_into_a_digest_gets_no_per_call_replies() {
        let mut c = case_with_two_calls();
        c.card = None;
        c.digest = Some(7);
        c.call_done(1, "x".into(), json!({}), Utc::now());
        let replies = c
            .steps
            .iter()
            .filter(|s| matches!(s.step, Step::CardThread { .. } | Step::UpdateCard))
            .count();
        assert_eq!(replies, 0);
    }
}
