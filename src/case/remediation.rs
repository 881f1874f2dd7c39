//! Flow 2's record on a case (SPEC §3): what the alert is about, what kind of alert it is, the
//! SOP that was followed (provable later by page id and version), and every tool call with its
//! fate: proposed, refused with a reason, waiting for an analyst, approved or denied by whom,
//! run with what result.
//!
//! Invariant: a tool call is never run unless its record says `Planned` (non-destructive) or
//! `Approved` (destructive, with the decision recorded first); a refused, denied or expired call
//! stays on the record and never changes again. An approval token is bound to one call id and
//! decided at most once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Case, SlackRef, Step};
use crate::triage::classify::Classification;
use crate::triage::entities::Entities;
use crate::triage::guard::{self, Caps, PastCall, Scope, Usage};
use crate::triage::tools::ToolName;

/// Most tool calls one case's record holds, refused ones included: the guard's call cap
/// counts only calls that ran or were requested, so a model that keeps proposing refused calls
/// is stopped by this bound instead of growing the case without end.
pub const MAX_CALL_RECORDS: usize = 64;

/// What flow 2 knows and did on a case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Triage {
    /// Hosts, users, IPs, domains, URLs, hashes, emails and the sender: the only values a
    /// tool call may name (SPEC §3.3).
    pub entities: Entities,
    /// Type, severity, rationale and the rule (or model) that decided.
    pub classification: Classification,
    /// The SOP search and what it found.
    pub sop: SopStatus,
    /// Every proposed tool call, in the order proposed.
    pub calls: Vec<ToolCall>,
    /// When classification started: the guard's wall-time cap runs from here.
    pub started_at: DateTime<Utc>,
    /// Agent turns taken so far (0 when the runbook runs without a model).
    #[serde(default)]
    pub agent_turns: usize,
    /// The agent's closing summary, once it gave one.
    #[serde(default)]
    pub summary: Option<String>,
    /// What each finished call found, bounded, for the agent's later turns (by call id).
    #[serde(default)]
    pub details: std::collections::BTreeMap<u32, Value>,
    /// Calls already summarised in a GitHub comment, so each batch comment names only new
    /// ones.
    #[serde(default)]
    pub reported: Vec<u32>,
    /// The SOP's parsed runbook as read (the `Remediate` step expands it), when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<crate::triage::runbook::Runbook>,
}

/// Where the SOP search stands.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SopStatus {
    /// Not searched yet.
    Pending,
    /// Confluence is not configured: flow 1 runs alone.
    NotConfigured,
    /// The search ran and found no page for this type.
    NotFound {
        /// The CQL that was run, so an analyst can repeat it.
        query: String,
    },
    /// Confluence could not be searched (after retries); the case says so and flow 1 runs.
    Unavailable {
        /// The call, status and what Vigil did, in words.
        error: String,
    },
    /// The SOP of record.
    Found(SopRef),
}

/// The page that was followed, as it was when Vigil read it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SopRef {
    /// Confluence page id.
    pub page_id: String,
    /// Page title.
    pub title: String,
    /// Page version number read (a later edit of the page does not change what this case
    /// followed).
    pub version: u64,
    /// Link for people.
    pub url: String,
    /// Whether the page's `vigil-runbook` could be used.
    pub runbook: RunbookState,
    /// The page's text (plain, bounded) for the agent, which reads it as data.
    #[serde(default)]
    pub text: String,
}

/// The page's machine-readable runbook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RunbookState {
    /// Parsed: its tools are the SOP's allowlist.
    Parsed {
        /// The allowlist: every tool the runbook names.
        allowlist: Vec<ToolName>,
        /// How many steps it has.
        steps: usize,
    },
    /// The page has no `vigil-runbook` macro; the configured allowlist applies and the agent
    /// (if any) picks the steps.
    Missing,
    /// The macro is there but could not be used; why, in words.
    Invalid {
        /// The parse error.
        reason: String,
    },
}

/// Who proposed a call.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Proposer {
    /// The runbook's step `step` (1-based).
    Runbook {
        /// Step number in the runbook.
        step: usize,
    },
    /// The agent, in turn `turn` (1-based).
    Agent {
        /// Agent turn.
        turn: usize,
    },
}

/// One proposed tool call and its fate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolCall {
    /// Unique within the case (1-based): what steps and approval tokens refer to.
    pub id: u32,
    /// The tool, or `None` when the proposal named no tool of Vigil's (`name` says what).
    pub tool: Option<ToolName>,
    /// The name as proposed (the tool's stable name when `tool` is set).
    pub name: String,
    /// The arguments as proposed (bounded).
    pub args: Map<String, Value>,
    /// Runbook step or agent turn.
    pub proposer: Proposer,
    /// When it was proposed.
    pub proposed_at: DateTime<Utc>,
    /// What became of it.
    pub status: CallStatus,
    /// The approval, for destructive calls.
    #[serde(default)]
    pub approval: Option<Approval>,
}

/// A tool call's fate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CallStatus {
    /// Allowed and queued to run.
    Planned,
    /// Refused by the guardrails; never runs.
    Refused {
        /// Why, in words.
        reason: String,
    },
    /// Destructive: waiting for an analyst.
    AwaitingApproval,
    /// An analyst approved it; queued to run.
    Approved,
    /// An analyst denied it; never runs.
    Denied,
    /// Nobody decided in time; never runs.
    Expired,
    /// Ran.
    Done {
        /// What it found or did, in one line.
        summary: String,
        /// When it finished.
        at: DateTime<Utc>,
    },
    /// Ran and failed for good (after retries).
    Failed {
        /// Which call, what status, what Vigil did.
        error: String,
        /// When it was given up.
        at: DateTime<Utc>,
    },
}

impl CallStatus {
    /// Whether nothing more will happen to the call.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            CallStatus::Refused { .. }
                | CallStatus::Denied
                | CallStatus::Expired
                | CallStatus::Done { .. }
                | CallStatus::Failed { .. }
        )
    }
}

/// An analyst's approval of one destructive call (SPEC §3.3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Approval {
    /// The one-shot token the buttons carry; bound to this call only.
    pub token: String,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
    /// When an undecided request expires.
    pub expires_at: DateTime<Utc>,
    /// The approval message in the card's thread, once posted.
    #[serde(default)]
    pub message: Option<SlackRef>,
    /// The decision, once made (by a person, or by expiry).
    #[serde(default)]
    pub decision: Option<ApprovalDecision>,
    /// The Slack user the call acts on (the device owner, the account's user), resolved when
    /// the approval message is posted: with `[approvals] forbid_self` they cannot approve it.
    #[serde(default)]
    pub acts_on: Option<String>,
}

/// How an approval was decided.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApprovalDecision {
    /// Approved or denied (an expiry is a denial by `vigil`).
    pub approved: bool,
    /// Slack user id of the analyst, or `vigil` for an expiry.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl Triage {
    /// A fresh record: classified, SOP not searched yet.
    pub fn new(entities: Entities, classification: Classification, now: DateTime<Utc>) -> Triage {
        Triage {
            entities,
            classification,
            sop: SopStatus::Pending,
            calls: Vec::new(),
            started_at: now,
            agent_turns: 0,
            summary: None,
            details: Default::default(),
            reported: Vec::new(),
            runbook: None,
        }
    }

    /// The call with id `id`.
    pub fn call(&self, id: u32) -> Option<&ToolCall> {
        self.calls.iter().find(|c| c.id == id)
    }

    /// The call with id `id`, to record its fate.
    pub fn call_mut(&mut self, id: u32) -> Option<&mut ToolCall> {
        self.calls.iter_mut().find(|c| c.id == id)
    }

    /// The call an approval token belongs to, if any call has it.
    pub fn call_by_token(&self, token: &str) -> Option<&ToolCall> {
        self.calls
            .iter()
            .find(|c| c.approval.as_ref().is_some_and(|a| a.token == token))
    }

    /// The id the next proposed call gets.
    pub fn next_call_id(&self) -> u32 {
        self.calls.iter().map(|c| c.id).max().unwrap_or(0) + 1
    }

    /// Calls waiting for an analyst, for the card and App Home.
    pub fn awaiting(&self) -> impl Iterator<Item = &ToolCall> {
        self.calls
            .iter()
            .filter(|c| c.status == CallStatus::AwaitingApproval)
    }

    /// The SOP of record, when one was found.
    pub fn sop_ref(&self) -> Option<&SopRef> {
        match &self.sop {
            SopStatus::Found(s) => Some(s),
            _ => None,
        }
    }
}

/// Longest proposed tool name or argument value kept on the record: a model's huge argument
/// is refused by the guard, and the record keeps only enough of it to show what was tried.
const MAX_RECORDED: usize = 300;

fn bounded_args(args: &Map<String, Value>) -> Map<String, Value> {
    args.iter()
        .take(8)
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => Value::String(clip(s)),
                other => Value::String(clip(&other.to_string())),
            };
            (clip(k), v)
        })
        .collect()
}

fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_RECORDED {
        return s.to_string();
    }
    let mut t: String = s.chars().take(MAX_RECORDED).collect();
    t.push('…');
    t
}

/// What the guard made of one proposal, as [`Case::propose_call`] recorded it.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposed {
    /// Queued to run (`Step::ToolCall`).
    Queued(u32),
    /// Destructive: an approval is requested (`Step::RequestApproval`).
    NeedsApproval(u32),
    /// Refused: on the record and the timeline, never run.
    Refused(u32, String),
    /// The record is full ([`MAX_CALL_RECORDS`]); nothing was recorded.
    Dropped,
}

impl Case {
    /// Records a proposed tool call with the guard's verdict (SPEC §3.3) and queues what
    /// follows: an allowed call gets a `ToolCall` step, a destructive one an approval request
    /// (with a fresh one-shot token expiring after `expire_after`), a refused one only a
    /// timeline entry with the reason. The runbook runner and the agent both propose through
    /// here, so neither can run a call the guard did not see. `allowlist` is the SOP's.
    #[allow(clippy::too_many_arguments)]
    pub fn propose_call(
        &mut self,
        proposer: Proposer,
        name: &str,
        args: &Map<String, Value>,
        allowlist: &[ToolName],
        caps: Caps,
        expire_after: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Proposed {
        let Some(t) = self.triage.as_mut() else {
            return Proposed::Dropped;
        };
        if t.calls.len() >= MAX_CALL_RECORDS {
            return Proposed::Dropped;
        }
        let past: Vec<PastCall> = t
            .calls
            .iter()
            .filter(|c| !matches!(c.status, CallStatus::Refused { .. }))
            .filter_map(|c| {
                Some(PastCall {
                    tool: c.tool?,
                    args: c.args.clone(),
                })
            })
            .collect();
        let usage = Usage {
            turns: match proposer {
                Proposer::Agent { turn } => turn,
                Proposer::Runbook { .. } => 0,
            },
            elapsed: (now - t.started_at).to_std().unwrap_or_default(),
        };
        let scope = Scope {
            allowlist,
            entities: &t.entities,
        };
        let verdict = guard::decide(scope, &past, usage, caps, name, args);
        let id = t.next_call_id();
        let mut call = ToolCall {
            id,
            tool: ToolName::from_name(name),
            name: clip(name),
            args: bounded_args(args),
            proposer,
            proposed_at: now,
            status: CallStatus::Planned,
            approval: None,
        };
        let (outcome, step, text) = match verdict {
            guard::Decision::Allow(tool, _) => (
                Proposed::Queued(id),
                Some(Step::ToolCall { call: id }),
                format!("Tool call #{id} {} queued", tool.as_str()),
            ),
            guard::Decision::NeedsApproval(tool, _) => {
                call.status = CallStatus::AwaitingApproval;
                call.approval = Some(Approval {
                    token: uuid::Uuid::new_v4().simple().to_string(),
                    requested_at: now,
                    expires_at: super::flow::later(now, expire_after),
                    message: None,
                    decision: None,
                    acts_on: None,
                });
                (
                    Proposed::NeedsApproval(id),
                    Some(Step::RequestApproval { call: id }),
                    format!(
                        "Tool call #{id} {} is destructive: waiting for an analyst's approval",
                        tool.as_str()
                    ),
                )
            }
            guard::Decision::Refuse(why) => {
                let reason = why.to_string();
                call.status = CallStatus::Refused {
                    reason: reason.clone(),
                };
                (
                    Proposed::Refused(id, reason.clone()),
                    None,
                    format!("Tool call #{id} `{}` refused: {reason}", clip(name)),
                )
            }
        };
        t.calls.push(call);
        self.note(now, None, text);
        if let Some(step) = step {
            self.push_step(step);
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Alert, CaseId};
    use crate::triage::classify::{AlertType, ClassifiedBy, Severity};
    use crate::triage::entities::EntityKind;

    fn classification() -> Classification {
        Classification {
            alert_type: AlertType::Malware,
            severity: Severity::High,
            rationale: "hash with a malware tactic".into(),
            rule: "malware-hash".into(),
            by: ClassifiedBy::Rules,
            fallback: None,
        }
    }

    #[test]
    fn a_record_round_trips_through_json_with_every_status() {
        let now = Utc::now();
        let mut t = Triage::new(Entities::default(), classification(), now);
        t.sop = SopStatus::Found(SopRef {
            page_id: "101".into(),
            title: "SOP: Malware".into(),
            version: 3,
            url: "https://x/wiki/spaces/SEC/pages/101".into(),
            runbook: RunbookState::Parsed {
                allowlist: vec![ToolName::CrowdstrikeContainHost],
                steps: 1,
            },
            text: "Contain the host.".into(),
        });
        for (i, status) in [
            CallStatus::Planned,
            CallStatus::Refused {
                reason: "not on the allowlist".into(),
            },
            CallStatus::AwaitingApproval,
            CallStatus::Approved,
            CallStatus::Denied,
            CallStatus::Expired,
            CallStatus::Done {
                summary: "ok".into(),
                at: now,
            },
            CallStatus::Failed {
                error: "503".into(),
                at: now,
            },
        ]
        .into_iter()
        .enumerate()
        {
            t.calls.push(ToolCall {
                id: i as u32 + 1,
                tool: Some(ToolName::CrowdstrikeContainHost),
                name: "crowdstrike_contain_host".into(),
                args: Map::new(),
                proposer: Proposer::Runbook { step: 1 },
                proposed_at: now,
                status,
                approval: Some(Approval {
                    token: format!("tok{i}"),
                    requested_at: now,
                    expires_at: now,
                    message: None,
                    decision: None,
                    acts_on: None,
                }),
            });
        }
        let json = serde_json::to_string(&t).expect("encodes");
        let back: Triage = serde_json::from_str(&json).expect("decodes");
        assert_eq!(back, t);
        assert_eq!(back.next_call_id(), 9);
        assert_eq!(back.call_by_token("tok2").map(|c| c.id), Some(3));
        assert_eq!(back.awaiting().count(), 1);
        assert!(back.call(5).is_some_and(|c| c.status.is_final()));
        assert!(!back.call(4).is_some_and(|c| c.status.is_final()));
    }

    fn case_with_entities() -> Case {
        let now = Utc::now();
        let mut case = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        let mut e = Entities::default();
        e.add(EntityKind::Host, "dev-1");
        e.device_ids.push("dev-1".into());
        e.add(EntityKind::Ip, "203.0.113.9");
        case.triage = Some(Triage::new(e, classification(), now));
        case
    }

    fn args(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    const ALLOW: &[ToolName] = &[ToolName::CrowdstrikeContainHost, ToolName::AbuseipdbCheckIp];

    fn propose(case: &mut Case, name: &str, a: Value) -> Proposed {
        case.propose_call(
            Proposer::Runbook { step: 1 },
            name,
            &args(a),
            ALLOW,
            Caps::default(),
            std::time::Duration::from_secs(1800),
            Utc::now(),
        )
    }

    #[test]
    fn an_allowed_call_is_queued_a_destructive_one_waits_and_a_refused_one_only_notes() {
        let mut case = case_with_entities();
        let ok = propose(
            &mut case,
            "abuseipdb_check_ip",
            serde_json::json!({"ip": "203.0.113.9"}),
        );
        assert_eq!(ok, Proposed::Queued(1));
        let wait = propose(
            &mut case,
            "crowdstrike_contain_host",
            serde_json::json!({"device_id": "dev-1"}),
        );
        assert_eq!(wait, Proposed::NeedsApproval(2));
        let out = propose(
            &mut case,
            "crowdstrike_contain_host",
            serde_json::json!({"device_id": "dev-9"}),
        );
        assert!(matches!(out, Proposed::Refused(3, _)), "{out:?}");
        let steps: Vec<&Step> = case.steps.iter().map(|r| &r.step).collect();
        assert_eq!(
            steps,
            vec![
                &Step::ToolCall { call: 1 },
                &Step::RequestApproval { call: 2 }
            ]
        );
        let t = case.triage.as_ref().expect("triage");
        let approval = t
            .call(2)
            .and_then(|c| c.approval.as_ref())
            .expect("approval");
        assert_eq!(approval.token.len(), 32);
        assert!(t.call(1).is_some_and(|c| c.approval.is_none()));
        assert!(matches!(
            t.call(3).map(|c| &c.status),
            Some(CallStatus::Refused { .. })
        ));
        assert!(
            case.timeline
                .iter()
                .any(|e| e.text.contains("#3") && e.text.contains("refused"))
        );
    }

    #[test]
    fn the_record_is_bounded_and_huge_proposals_are_clipped() {
        let mut case = case_with_entities();
        let huge = "x".repeat(100_000);
        for _ in 0..MAX_CALL_RECORDS {
            propose(&mut case, &huge, serde_json::json!({"q": huge.clone()}));
        }
        assert_eq!(
            propose(
                &mut case,
                "abuseipdb_check_ip",
                serde_json::json!({"ip": "203.0.113.9"})
            ),
            Proposed::Dropped
        );
        let t = case.triage.as_ref().expect("triage");
        assert_eq!(t.calls.len(), MAX_CALL_RECORDS);
        assert!(
            t.calls
                .iter()
                .all(|c| c.name.chars().count() <= MAX_RECORDED + 1)
        );
        assert!(case.steps.is_empty());
    }
}
