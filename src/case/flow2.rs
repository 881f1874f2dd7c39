//! Flow 2's front half on a case (SPEC §3): classified, SOP found (or not), runbook planned.
//! Pure, like [`super::flow`]: each method records what a step learnt, writes the timeline line
//! and queues what follows; the steps in `pipeline/steps/sop.rs` only fetch and report here.
//!
//! Invariant: a case is classified at most once (a re-run step changes nothing), the SOP of
//! record is set at most once, and the plan is made at most once (calls are proposed only
//! through [`Case::propose_call`]), so a crash between a step's effect and its removal from the
//! outbox never doubles a note, a proposal or a comment.

use chrono::{DateTime, Utc};

use super::note::{IssueNote, ThreadNote};
use super::remediation::{Proposed, Proposer, RunbookState, SopStatus, Triage};
use super::{Case, Step};
use crate::triage::classify::Classification;
use crate::triage::entities::Entities;
use crate::triage::guard::Caps;
use crate::triage::runbook::Runbook;
use crate::triage::tools::ToolName;

/// What the `Remediate` step is handed from config: the guard's caps, the approval expiry and
/// whether an agent can take over, so the case reads no config type.
#[derive(Debug, Clone, Copy)]
pub struct PlanPolicy {
    /// `[remediation]` caps.
    pub caps: Caps,
    /// How long an approval request stays open.
    pub expire_after: std::time::Duration,
    /// Whether an LLM is configured (a page without a usable runbook goes to the agent).
    pub agent: bool,
}

impl Case {
    /// Queues classification, once per case: routing calls it after flow 1's engagement.
    pub fn begin_flow2(&mut self) {
        let queued = self.steps.iter().any(|s| s.step == Step::Classify);
        if self.triage.is_none() && !queued {
            self.push_step(Step::Classify);
        }
    }

    /// The alert's entities and classification are known. Queues the SOP search when
    /// Confluence is configured (`sop_search`); otherwise records that there is none to
    /// search and refreshes the card so it shows the classification.
    pub fn classified(
        &mut self,
        entities: Entities,
        classification: Classification,
        sop_search: bool,
        now: DateTime<Utc>,
    ) {
        if self.triage.is_some() {
            return;
        }
        let c = &classification;
        let mut line = format!(
            "Classified as {} ({} severity) by rule {}: {}",
            c.alert_type.as_str(),
            c.severity.as_str(),
            c.rule,
            c.rationale
        );
        if let Some(why) = &c.fallback {
            line.push_str(&format!(
                " (the model's answer was not used: {why}; the rules decided)"
            ));
        }
        let mut triage = Triage::new(entities, classification, now);
        if sop_search {
            self.note(now, None, line);
            self.triage = Some(triage);
            self.push_step(Step::FindSop);
        } else {
            // One line: the timeline people read stays flow 1's when flow 2 cannot go on.
            line.push_str("; Confluence is not configured, so no SOP is searched");
            self.note(now, None, line);
            triage.sop = SopStatus::NotConfigured;
            self.triage = Some(triage);
            self.push_step(Step::UpdateCard);
        }
    }

    /// The SOP search ended: the page of record (with its runbook, when parsed), or why there
    /// is none. Without a page the case says so in the card's thread (the plan comment that
    /// follows tells the issue); either way flow 1 goes on and planning follows.
    pub fn sop_searched(&mut self, sop: SopStatus, runbook: Option<Runbook>, now: DateTime<Utc>) {
        let Some(t) = self.triage.as_mut() else {
            return;
        };
        if t.sop != SopStatus::Pending {
            return;
        }
        let line = match &sop {
            SopStatus::Found(s) => format!(
                "SOP of record: {} (page {}, version {}); {}",
                s.title,
                s.page_id,
                s.version,
                runbook_words(&s.runbook)
            ),
            SopStatus::NotFound { query } => format!(
                "No SOP found for {} (searched {query}); flow 1 goes on",
                t.classification.alert_type.as_str()
            ),
            SopStatus::Unavailable { error } => {
                format!("The SOP could not be searched: {error}; flow 1 goes on")
            }
            SopStatus::Pending | SopStatus::NotConfigured => return,
        };
        let missing = t.sop_ref().is_none() && !matches!(sop, SopStatus::Found(_));
        t.sop = sop;
        t.runbook = runbook;
        self.note(now, None, line);
        if missing {
            self.push_step(Step::CardThread {
                note: ThreadNote::NoSop.into(),
            });
        }
        self.push_step(Step::Remediate);
        self.push_step(Step::UpdateCard);
    }

    /// Turns the SOP into proposed calls: the runbook's steps in order, each through the guard
    /// (a step with no entity to fill it is a timeline note); without a usable runbook, the
    /// agent's first turn when a model is configured, else the analysts. Then one issue
    /// comment with the plan and a card refresh. Runs once: a case that already has calls or
    /// agent turns is left as it is.
    pub fn plan(&mut self, policy: &PlanPolicy, now: DateTime<Utc>) {
        let Some(t) = self.triage.as_ref() else {
            return;
        };
        if !t.calls.is_empty() || t.agent_turns > 0 {
            return;
        }
        let runbook = t.runbook.clone();
        let found = t.sop_ref().map(|s| s.runbook.clone());
        // Where this plan's first step lands: the plan comment goes there, ahead of the calls
        // it lists, so the issue says what will run before the results arrive.
        let first = self.steps.len();
        match (found, runbook) {
            (Some(RunbookState::Parsed { allowlist, .. }), Some(runbook)) => {
                self.run_runbook(&runbook, &allowlist, policy, now)
            }
            (Some(_), _) if policy.agent => {
                self.note(
                    now,
                    None,
                    "The SOP has no usable runbook: the agent picks the steps from its text",
                );
                self.push_step(Step::AgentTurn { turn: 1 });
            }
            (Some(_), _) => self.note(
                now,
                None,
                "The SOP has no usable runbook and no model is configured: its steps are left \
                 to the analysts",
            ),
            (None, _) => self.note(
                now,
                None,
                "No SOP to follow: the remediation steps are left to the analysts",
            ),
        }
        self.push_step(Step::IssueComment {
            note: IssueNote::Plan.into(),
        });
        if let Some(comment) = self.steps.pop() {
            self.steps.insert(first.min(self.steps.len()), comment);
        }
        self.push_step(Step::UpdateCard);
    }

    fn run_runbook(
        &mut self,
        runbook: &Runbook,
        allowlist: &[ToolName],
        policy: &PlanPolicy,
        now: DateTime<Utc>,
    ) {
        let Some(t) = self.triage.as_ref() else {
            return;
        };
        let planned = runbook.expand(&t.entities, &self.alert.name);
        for (i, step) in planned.into_iter().enumerate() {
            let n = i + 1;
            if let Some(placeholder) = &step.skipped {
                self.note(
                    now,
                    None,
                    format!(
                        "Runbook step {n} ({}) skipped: the case has no {placeholder}",
                        step.tool.as_str()
                    ),
                );
                continue;
            }
            for call in step.calls {
                let proposed = self.propose_call(
                    Proposer::Runbook { step: n },
                    call.tool.as_str(),
                    &call.args,
                    allowlist,
                    policy.caps,
                    policy.expire_after,
                    now,
                );
                if proposed == Proposed::Dropped {
                    self.note(
                        now,
                        None,
                        "The case holds as many tool calls as it may; the rest of the runbook \
                         is left to the analysts",
                    );
                    return;
                }
            }
        }
    }
}

fn runbook_words(state: &RunbookState) -> String {
    match state {
        RunbookState::Parsed { steps, .. } => format!("its runbook has {steps} step(s)"),
        RunbookState::Missing => "it has no vigil-runbook".into(),
        RunbookState::Invalid { reason } => format!("its runbook cannot be used: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::remediation::{CallStatus, SopRef};
    use crate::case::{Alert, AlertDevice, CaseId};
    use crate::triage::classify::classify_rules;

    const BODY: &str = r#"<ac:structured-macro ac:name="code"><ac:parameter ac:name="title">vigil-runbook</ac:parameter><ac:plain-text-body><![CDATA[[
        {"tool": "crowdstrike_host_details", "args": {"device_id": "{{host}}"}},
        {"tool": "virustotal_file", "args": {"hash": "{{hash}}"}},
        {"tool": "crowdstrike_contain_host", "args": {"device_id": "{{host}}"}, "approval": "required"}
    ]]]></ac:plain-text-body></ac:structured-macro>"#;

    fn kinds(c: &Case) -> Vec<&'static str> {
        c.steps.iter().map(|s| s.step.kind()).collect()
    }

    fn policy() -> PlanPolicy {
        PlanPolicy {
            caps: Caps::default(),
            expire_after: std::time::Duration::from_secs(1800),
            agent: false,
        }
    }

    #[test]
    fn each_stage_happens_once_and_plans_the_runbook_in_order() {
        let now = Utc::now();
        let alert = Alert {
            device: Some(AlertDevice {
                device_id: "a1b2c3d4e5f60718293a4b5c6d7e8f01".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut c = Case::new(CaseId::from_seq(1), alert, "k".into(), now);
        c.begin_flow2();
        c.begin_flow2();
        assert_eq!(kinds(&c), ["classify"]);
        c.steps.clear();
        let e = Entities::from_alert(&c.alert);
        let mut e2 = e.clone();
        e2.add(crate::triage::entities::EntityKind::Hash, &"ab".repeat(32));
        let class = classify_rules(&c.alert, &e2);
        c.classified(e2.clone(), class.clone(), true, now);
        c.classified(e2, class, true, now);
        assert_eq!(kinds(&c), ["find_sop"]);
        c.steps.clear();
        let runbook = Runbook::from_storage(BODY).expect("runbook");
        let sop = SopRef {
            page_id: "98301".into(),
            title: "SOP".into(),
            version: 3,
            url: "https://wiki.example/x".into(),
            runbook: RunbookState::Parsed {
                allowlist: runbook.allowlist(),
                steps: 3,
            },
            text: String::new(),
        };
        c.sop_searched(SopStatus::Found(sop.clone()), Some(runbook.clone()), now);
        c.sop_searched(SopStatus::Found(sop), Some(runbook), now);
        assert_eq!(kinds(&c), ["remediate", "update_card"]);
        c.steps.clear();
        c.plan(&policy(), now);
        c.plan(&policy(), now);
        let t = c.triage.as_ref().expect("triage");
        let names: Vec<&str> = t.calls.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "crowdstrike_host_details",
                "virustotal_file",
                "crowdstrike_contain_host"
            ]
        );
        assert_eq!(t.calls[2].status, CallStatus::AwaitingApproval);
        assert_eq!(
            kinds(&c),
            [
                "issue_comment",
                "tool_call",
                "tool_call",
                "request_approval",
                "update_card"
            ],
            "the plan comment goes ahead of the calls it lists"
        );
    }
}
