//! Deciding a destructive call's approval (SPEC §3.3): an analyst's click, or its expiry.
//!
//! Invariant: an approval is decided at most once, only through its own one-shot token, only
//! before it expires, never by the person the call acts on (when `forbid_self` holds); the
//! decision (who, when, approved or not) is written on the call and the timeline before
//! anything follows from it, and only an approval queues `Step::ToolCall` for that call. A
//! denied or expired call never runs. Every refusal changes nothing.

use chrono::{DateTime, Utc};

use super::note::ThreadNote;
use super::remediation::{Approval, ApprovalDecision, CallStatus, ToolCall};
use super::{Case, SlackRef, Step};

/// Who "decides" an approval that expired.
pub const EXPIRY_DECIDER: &str = "vigil";

/// Why a click cannot decide an approval; each is shown to the person who clicked.
#[derive(Debug, Clone, PartialEq)]
pub enum Undecidable {
    /// No call of this case carries the token: forged, mistyped, or another case's.
    UnknownToken,
    /// The token is real but the click did not come from its call's approval message (nor
    /// the viewer's App Home): a button of another call or message.
    OtherMessage,
    /// Decided already (by a person, or expired); the earlier decision stands.
    Decided(ApprovalDecision),
    /// Its time ran out at `expires_at`.
    Expired(DateTime<Utc>),
    /// The clicker is the person the call acts on, and `forbid_self` holds.
    ActsOnYou,
}

/// Where a click came from, as far as the case can check it.
#[derive(Debug, Clone, PartialEq)]
pub enum ClickedOn {
    /// A message: it must be this call's approval message.
    Message(SlackRef),
    /// The viewer's App Home (already checked to be the view Vigil published for them).
    Home,
}

/// What a decided click did.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// The call's id.
    pub call: u32,
    /// Approved (queued to run) or denied.
    pub approved: bool,
}

impl Case {
    /// The call whose approval `token` is, and that approval.
    fn approval_of(&self, token: &str) -> Option<(&ToolCall, &Approval)> {
        let t = self.triage.as_ref()?;
        let call = t.call_by_token(token)?;
        Some((call, call.approval.as_ref()?))
    }

    /// Whether `user` may decide the approval `token` from where they clicked, now. The one
    /// check: the bot runs it before the ack and [`Case::approval_decided`] again when the
    /// click is applied.
    pub fn may_decide(
        &self,
        token: &str,
        from: &ClickedOn,
        user: &str,
        forbid_self: bool,
        now: DateTime<Utc>,
    ) -> Result<u32, Undecidable> {
        let (call, approval) = self.approval_of(token).ok_or(Undecidable::UnknownToken)?;
        if let ClickedOn::Message(m) = from
            && approval.message.as_ref() != Some(m)
        {
            return Err(Undecidable::OtherMessage);
        }
        if let Some(d) = &approval.decision {
            return Err(Undecidable::Decided(d.clone()));
        }
        if call.status != CallStatus::AwaitingApproval {
            return Err(Undecidable::Decided(ApprovalDecision {
                approved: false,
                by: EXPIRY_DECIDER.into(),
                at: now,
            }));
        }
        if now >= approval.expires_at {
            return Err(Undecidable::Expired(approval.expires_at));
        }
        if forbid_self && approval.acts_on.as_deref() == Some(user) {
            return Err(Undecidable::ActsOnYou);
        }
        Ok(call.id)
    }

    /// An analyst decided the approval `token`: checked again ([`Case::may_decide`]), then
    /// the decision goes on the call and the timeline; an approval sets the call `Approved`
    /// and queues it to run, a denial sets it `Denied`. Either way the approval message is
    /// updated, the card's thread told and the card re-rendered.
    pub fn approval_decided(
        &mut self,
        token: &str,
        from: &ClickedOn,
        by: &str,
        approve: bool,
        forbid_self: bool,
        now: DateTime<Utc>,
    ) -> Result<Decided, Undecidable> {
        let id = self.may_decide(token, from, by, forbid_self, now)?;
        self.decide(id, by, approve, now);
        Ok(Decided {
            call: id,
            approved: approve,
        })
    }

    /// Records a decision on call `id` (known to be awaiting) and queues what follows.
    fn decide(&mut self, id: u32, by: &str, approve: bool, now: DateTime<Utc>) {
        let Some(call) = self.triage.as_mut().and_then(|t| t.call_mut(id)) else {
            return;
        };
        let Some(approval) = call.approval.as_mut() else {
            return;
        };
        approval.decision = Some(ApprovalDecision {
            approved: approve,
            by: by.to_string(),
            at: now,
        });
        let expired = by == EXPIRY_DECIDER && !approve;
        call.status = match (approve, expired) {
            (true, _) => CallStatus::Approved,
            (false, true) => CallStatus::Expired,
            (false, false) => CallStatus::Denied,
        };
        let name = call.name.clone();
        let at = now.format("%Y-%m-%d %H:%M:%S UTC");
        let (actor, text) = match (approve, expired) {
            (true, _) => (
                Some(by),
                format!("Tool call #{id} {name} approved by <@{by}> at {at}; queued to run"),
            ),
            (false, true) => (
                None,
                format!(
                    "Tool call #{id} {name} expired at {at} without a decision; it will not run"
                ),
            ),
            (false, false) => (
                Some(by),
                format!("Tool call #{id} {name} denied by <@{by}> at {at}; it will not run"),
            ),
        };
        self.note(now, actor, text);
        if approve {
            self.push_step(Step::ToolCall { call: id });
        }
        self.push_step(Step::ApprovalOutcome { call: id });
        if self.card.is_some() || self.digest.is_some() {
            self.push_step(Step::CardThread {
                note: ThreadNote::ApprovalDecided { call: id }.into(),
            });
        }
        if self.card.is_some() {
            self.push_step(Step::UpdateCard);
        }
    }

    /// Expires every undecided approval past its time (decision by [`EXPIRY_DECIDER`]);
    /// `true` if any did. Called with the case's timers.
    pub fn expire_approvals(&mut self, now: DateTime<Utc>) -> bool {
        let due: Vec<u32> = self
            .triage
            .iter()
            .flat_map(|t| t.awaiting())
            .filter(|c| {
                c.approval
                    .as_ref()
                    .is_some_and(|a| a.decision.is_none() && a.expires_at <= now)
            })
            .map(|c| c.id)
            .collect();
        for id in &due {
            self.decide(*id, EXPIRY_DECIDER, false, now);
        }
        !due.is_empty()
    }

    /// The earliest expiry of an undecided approval: when the case's timers must next run.
    pub fn next_approval_expiry(&self) -> Option<DateTime<Utc>> {
        self.triage
            .iter()
            .flat_map(|t| t.awaiting())
            .filter_map(|c| c.approval.as_ref())
            .filter(|a| a.decision.is_none())
            .map(|a| a.expires_at)
            .min()
    }

    /// The approval message of call `id` was posted (or found after a crash), and the Slack
    /// user the call acts on was resolved (for `forbid_self`): both go on the approval.
    pub fn approval_posted(&mut self, id: u32, message: SlackRef, acts_on: Option<String>) {
        let Some(approval) = self
            .triage
            .as_mut()
            .and_then(|t| t.call_mut(id))
            .and_then(|c| c.approval.as_mut())
        else {
            return;
        };
        approval.message = Some(message);
        approval.acts_on = acts_on;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::remediation::{Proposed, Proposer, Triage};
    use crate::case::{Alert, CaseId};
    use crate::triage::classify::{AlertType, Classification, ClassifiedBy, Severity};
    use crate::triage::entities::{Entities, EntityKind};
    use crate::triage::guard::Caps;
    use crate::triage::tools::ToolName;

    const ANA: &str = "U0ANA00001";
    const OWNER: &str = "U0CAROL003";

    fn msg(ts: &str) -> SlackRef {
        SlackRef {
            channel: "C0ALERTS01".into(),
            ts: ts.into(),
        }
    }

    /// A case with two destructive calls waiting (#1 contain, #2 clear sessions), each with
    /// its message posted (`1.1`, `2.2`) and acting on the owner.
    fn case(now: DateTime<Utc>) -> Case {
        let mut case = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        case.card = Some(msg("0.1"));
        let mut e = Entities::default();
        e.add(EntityKind::Host, "dev-1");
        e.device_ids.push("dev-1".into());
        e.add(EntityKind::User, "carol");
        case.triage = Some(Triage::new(
            e,
            Classification {
                alert_type: AlertType::Malware,
                severity: Severity::High,
                rationale: "r".into(),
                rule: "r".into(),
                by: ClassifiedBy::Rules,
                fallback: None,
            },
            now,
        ));
        let allow = [
            ToolName::CrowdstrikeContainHost,
            ToolName::OktaClearSessions,
        ];
        for (name, arg, value) in [
            ("crowdstrike_contain_host", "device_id", "dev-1"),
            ("okta_clear_sessions", "user", "carol"),
        ] {
            let mut args = serde_json::Map::new();
            args.insert(arg.into(), value.into());
            let out = case.propose_call(
                Proposer::Runbook { step: 1 },
                name,
                &args,
                &allow,
                Caps::default(),
                std::time::Duration::from_secs(1800),
                now,
            );
            assert!(matches!(out, Proposed::NeedsApproval(_)), "{out:?}");
        }
        case.approval_posted(1, msg("1.1"), Some(OWNER.into()));
        case.approval_posted(2, msg("2.2"), Some(OWNER.into()));
        case.steps.clear();
        case
    }

    fn token(case: &Case, id: u32) -> String {
        case.triage
            .as_ref()
            .and_then(|t| t.call(id))
            .and_then(|c| c.approval.as_ref())
            .map(|a| a.token.clone())
            .unwrap_or_default()
    }

    fn status(case: &Case, id: u32) -> CallStatus {
        case.triage
            .as_ref()
            .and_then(|t| t.call(id))
            .map(|c| c.status.clone())
            .unwrap_or(CallStatus::Planned)
    }

    fn steps(case: &Case) -> Vec<Step> {
        case.steps.iter().map(|r| r.step.clone()).collect()
    }

    #[test]
    fn an_approval_records_the_decision_first_and_queues_only_that_call() {
        let now = Utc::now();
        let mut c = case(now);
        let t1 = token(&c, 1);
        let from = ClickedOn::Message(msg("1.1"));
        let done = c.approval_decided(&t1, &from, ANA, true, true, now);
        assert_eq!(
            done,
            Ok(Decided {
                call: 1,
                approved: true
            })
        );
        assert_eq!(status(&c, 1), CallStatus::Approved);
        assert_eq!(status(&c, 2), CallStatus::AwaitingApproval);
        let s = steps(&c);
        assert_eq!(s[0], Step::ToolCall { call: 1 });
        assert_eq!(s[1], Step::ApprovalOutcome { call: 1 });
        assert!(s.contains(&Step::UpdateCard));
        assert!(!s.contains(&Step::ToolCall { call: 2 }));
        let d = c
            .triage
            .as_ref()
            .and_then(|t| t.call(1))
            .and_then(|c| c.approval.clone());
        let d = d.and_then(|a| a.decision).expect("decision recorded");
        assert_eq!((d.approved, d.by.as_str(), d.at), (true, ANA, now));
        assert!(c.timeline.iter().any(|e| e.text.contains("#1")
            && e.text.contains("approved by <@U0ANA00001>")
            && e.actor.as_deref() == Some(ANA)));
    }

    #[test]
    fn a_denial_never_queues_the_call() {
        let now = Utc::now();
        let mut c = case(now);
        let t2 = token(&c, 2);
        let out = c.approval_decided(&t2, &ClickedOn::Home, ANA, false, true, now);
        assert!(out.is_ok(), "{out:?}");
        assert_eq!(status(&c, 2), CallStatus::Denied);
        assert!(
            !steps(&c).iter().any(|s| matches!(s, Step::ToolCall { .. })),
            "{:?}",
            steps(&c)
        );
        assert!(steps(&c).contains(&Step::ApprovalOutcome { call: 2 }));
    }

    #[test]
    fn every_refused_click_changes_nothing() {
        let now = Utc::now();
        let mut c = case(now);
        let (t1, t2) = (token(&c, 1), token(&c, 2));
        let on1 = ClickedOn::Message(msg("1.1"));
        let before = c.clone();
        let refused = [
            ("forged", Undecidable::UnknownToken),
            (t2.as_str(), Undecidable::OtherMessage),
        ];
        for (tok, want) in refused {
            assert_eq!(
                c.approval_decided(tok, &on1, ANA, true, true, now),
                Err(want)
            );
        }
        assert_eq!(
            c.approval_decided(&t1, &on1, OWNER, true, true, now),
            Err(Undecidable::ActsOnYou)
        );
        let late = now + chrono::Duration::minutes(31);
        let expires = before
            .triage
            .as_ref()
            .and_then(|t| t.call(1))
            .and_then(|c| c.approval.as_ref())
            .map(|a| a.expires_at)
            .expect("expiry");
        assert_eq!(
            c.approval_decided(&t1, &on1, ANA, true, true, late),
            Err(Undecidable::Expired(expires))
        );
        assert_eq!(c, before, "nothing changed");
        // Without forbid_self the owner may decide; then a replay says who decided.
        assert!(
            c.approval_decided(&t1, &on1, OWNER, false, false, now)
                .is_ok()
        );
        match c.approval_decided(&t1, &on1, ANA, true, true, now) {
            Err(Undecidable::Decided(d)) => assert_eq!((d.by.as_str(), d.approved), (OWNER, false)),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            status(&c, 1),
            CallStatus::Denied,
            "the first decision stands"
        );
    }

    #[test]
    fn an_undecided_approval_expires_once_and_never_runs() {
        let now = Utc::now();
        let mut c = case(now);
        let first = c.next_approval_expiry().expect("a pending expiry");
        assert!(!c.expire_approvals(now), "not due yet");
        assert!(c.expire_approvals(first));
        assert_eq!(status(&c, 1), CallStatus::Expired);
        assert_eq!(status(&c, 2), CallStatus::Expired);
        assert!(!steps(&c).iter().any(|s| matches!(s, Step::ToolCall { .. })));
        assert_eq!(
            steps(&c)
                .iter()
                .filter(|s| matches!(s, Step::ApprovalOutcome { .. }))
                .count(),
            2
        );
        assert!(!c.expire_approvals(first), "expired once");
        assert_eq!(c.next_approval_expiry(), None);
        assert!(c.timeline.iter().any(|e| e.text.contains("expired")));
    }
}
