//! Flow 1's transitions (SPEC §2): what each decision and answer does to a case. Pure: they
//! change the case and queue steps (with typed notes); the engine performs the steps. These
//! methods, the timers in [`super::timers`] and the step results in [`super::results`] are the
//! only code that sets a case's state.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::note::{DmNote, IssueNote, ThreadNote};
use super::step::{CloseReason, DmKind};
use super::{
    Alert, Case, CaseId, CaseState, GroupedAlert, OwnerAnswer, OwnerReply, Priority, Resolution,
    Step,
};

/// The longest snooze: people mistype (`300000y`), and a case postponed for longer than a
/// month is a case nobody is watching.
pub const MAX_SNOOZE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// The furthest any owner timer is set from now, whatever the config says: far enough to mean
/// "never" and near enough that the time always exists and serialises.
const MAX_TIMER: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);

/// `from + wait` without overflow: `wait` is cut to [`MAX_TIMER`] and a sum past chrono's range
/// stays at `from` (checked arithmetic; a duration from config or people never panics).
pub fn later(from: DateTime<Utc>, wait: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(wait.min(MAX_TIMER))
        .ok()
        .and_then(|d| from.checked_add_signed(d))
        .unwrap_or(from)
}

/// `from - wait` without overflow, the mirror of [`later`].
pub fn earlier(from: DateTime<Utc>, wait: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(wait.min(MAX_TIMER))
        .ok()
        .and_then(|d| from.checked_sub_signed(d))
        .unwrap_or(from)
}

/// What to do with a low-priority case nobody owns (`[triage] no_owner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoOwnerPolicy {
    /// Page on-call: nothing waits on a person who does not exist.
    #[default]
    Page,
    /// Leave it on the card for the analysts.
    Analysts,
}

/// The settings routing and the owner timers obey, handed in by the pipeline so the case
/// reads no config type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OwnerPolicy {
    /// When the owner gets a reminder.
    pub reminder_after: std::time::Duration,
    /// When owner silence escalates to a page.
    pub escalate_after: std::time::Duration,
    /// Low-priority cases with no owner in Slack.
    pub no_owner: NoOwnerPolicy,
}

/// `not_planned` for false positives and benign activity, `completed` otherwise.
pub fn close_reason(reason: &str) -> CloseReason {
    let r = reason.to_lowercase();
    if [
        "false positive",
        "benign",
        "expected",
        "not planned",
        "duplicate",
    ]
    .iter()
    .any(|k| r.contains(k))
    {
        CloseReason::NotPlanned
    } else {
        CloseReason::Completed
    }
}

impl Case {
    /// A new case with the flow's first steps queued: enrich, prioritise, ticket, card, route.
    pub fn open(id: CaseId, alert: &Alert, key: &str, now: DateTime<Utc>) -> Case {
        let mut case = Case::new(id, alert.clone(), key.to_string(), now);
        for step in [
            Step::Enrich,
            Step::Prioritise,
            Step::CreateIssue,
            Step::PostCard,
            Step::Route,
        ] {
            case.push_step(step);
        }
        case
    }

    /// Another alert with the case's grouping key arrived; a replay of the same alert changes
    /// nothing.
    pub fn alert_grouped(&mut self, alert_id: String, name: String, at: DateTime<Utc>) {
        if self.grouped.iter().any(|g| g.id == alert_id) {
            return;
        }
        self.grouped.push(GroupedAlert {
            id: alert_id,
            name: name.clone(),
            at,
        });
        self.note(at, None, format!("Another alert joined the case: {name}"));
        let alerts = self.alert_count();
        self.push_step(Step::UpdateCard);
        self.push_step(Step::CardThread {
            note: ThreadNote::Grouped {
                name: name.clone(),
                alerts,
            }
            .into(),
        });
        self.push_step(Step::IssueComment {
            note: IssueNote::Grouped { name, alerts }.into(),
        });
    }

    /// After the card is up: ask the owner (low, with an owner in Slack) or page (high, or no
    /// one to ask and the policy says page).
    pub fn route(&mut self, now: DateTime<Utc>, policy: &OwnerPolicy) {
        let priority = self.priority().unwrap_or(Priority::Low);
        let owner_in_slack = self.owner().and_then(|o| o.slack_user.clone());
        match (priority, owner_in_slack) {
            (Priority::High, _) => self.escalate(now, "high priority"),
            (Priority::Low, Some(_)) => {
                self.state = CaseState::AwaitingOwner;
                self.remind_at = Some(later(now, policy.reminder_after));
                self.escalate_at = Some(later(now, policy.escalate_after));
                self.note(now, None, "Asking the device owner");
                self.push_step(Step::OwnerDm { kind: DmKind::Ask });
                self.push_step(Step::UpdateCard);
            }
            (Priority::Low, None) => match policy.no_owner {
                NoOwnerPolicy::Page => self.escalate(now, "no owner could be asked"),
                NoOwnerPolicy::Analysts => {
                    self.note(now, None, "No owner could be asked; left for the analysts");
                    self.push_step(Step::UpdateCard);
                    self.push_step(Step::CardThread {
                        note: ThreadNote::NoOwner.into(),
                    });
                }
            },
        }
    }

    /// Pages on-call (once: PagerDuty's dedup key is the case id), tells the owner, updates the
    /// card, thread and issue.
    pub fn escalate(&mut self, now: DateTime<Utc>, why: &str) {
        if !self.state.is_open() {
            return;
        }
        self.remind_at = None;
        self.escalate_at = None;
        let first_time = !self.paged;
        self.milestones.escalated_at.get_or_insert(now);
        self.state = CaseState::Escalated;
        self.note(now, None, format!("Escalated to on-call: {why}"));
        if first_time {
            self.push_step(Step::Page);
        }
        if self.owner().and_then(|o| o.slack_user.as_ref()).is_some() {
            if self.dm.is_none() {
                self.push_step(Step::OwnerDm {
                    kind: DmKind::Inform,
                });
            } else {
                self.push_step(Step::DmThread {
                    note: DmNote::Escalated.into(),
                });
            }
        }
        self.push_step(Step::UpdateCard);
        self.push_step(Step::CardThread {
            note: ThreadNote::Paged { why: why.into() }.into(),
        });
        self.push_step(Step::IssueComment {
            note: IssueNote::Paged { why: why.into() }.into(),
        });
        self.push_step(Step::IssueLabels {
            labels: vec!["paged".into()],
        });
    }

    /// The owner pressed one of the DM buttons.
    pub fn owner_answered(&mut self, reply: OwnerReply, by: &str, now: DateTime<Utc>) {
        self.owner_answer = Some(OwnerAnswer {
            reply,
            by: by.to_string(),
            at: now,
        });
        self.remind_at = None;
        self.escalate_at = None;
        self.note(now, Some(by), format!("Owner answered: {}", reply.label()));
        self.push_step(Step::DmThread {
            note: DmNote::Answered.into(),
        });
        self.push_step(Step::IssueComment {
            note: IssueNote::OwnerAnswer.into(),
        });
        self.push_step(Step::IssueLabels {
            labels: vec![reply.github_label().into()],
        });
        match reply {
            OwnerReply::NotMe => self.escalate(now, "the owner says it was not them"),
            OwnerReply::Me | OwnerReply::NotMine => {
                self.state = CaseState::Announced;
                self.push_step(Step::UpdateCard);
                self.push_step(Step::CardThread {
                    note: ThreadNote::OwnerAnswered.into(),
                });
            }
        }
    }

    /// The owner wrote in their DM.
    pub fn owner_wrote(&mut self, by: &str, text: &str, now: DateTime<Utc>) {
        self.note(now, Some(by), format!("Owner wrote: {text}"));
        self.push_step(Step::CardThread {
            note: ThreadNote::OwnerWrote { text: text.into() }.into(),
        });
        self.push_step(Step::IssueComment {
            note: IssueNote::OwnerWrote { text: text.into() }.into(),
        });
    }

    /// An analyst acknowledged.
    pub fn acknowledge(&mut self, by: &str, now: DateTime<Utc>) {
        if !self.state.is_open() || self.acknowledged_by.is_some() {
            return;
        }
        self.acknowledged_by = Some(by.to_string());
        self.milestones.acknowledged_at.get_or_insert(now);
        self.remind_at = None;
        self.escalate_at = None;
        self.state = CaseState::Acknowledged;
        self.note(now, Some(by), "Acknowledged");
        if self.paged {
            self.push_step(Step::PageAck);
        }
        self.push_step(Step::AlertStatus {
            status: "in_progress".into(),
            comment: format!("Acknowledged in Slack ({}) by {by}", self.id),
        });
        self.push_step(Step::UpdateCard);
        self.push_step(Step::CardThread {
            note: ThreadNote::Acknowledged { by: by.into() }.into(),
        });
    }

    /// An analyst took the case.
    pub fn assign(&mut self, to: &str, by: &str, now: DateTime<Utc>) {
        if !self.state.is_open() {
            return;
        }
        self.assignee = Some(to.to_string());
        self.note(now, Some(by), format!("Assigned to {to}"));
        self.push_step(Step::UpdateCard);
        self.push_step(Step::CardThread {
            note: ThreadNote::Assigned {
                to: to.into(),
                by: by.into(),
            }
            .into(),
        });
    }

    /// An analyst postponed the owner timers, by at most [`MAX_SNOOZE`] (the command refuses
    /// more; an item stored before that rule, or built elsewhere, is cut to it here).
    pub fn snooze(&mut self, by: &str, for_: std::time::Duration, now: DateTime<Utc>) {
        if !self.state.is_open() {
            return;
        }
        let for_ = for_.min(MAX_SNOOZE);
        self.remind_at = self.remind_at.map(|t| later(t.max(now), for_));
        self.escalate_at = self.escalate_at.map(|t| later(t.max(now), for_));
        let text = humantime::format_duration(for_).to_string();
        self.note(now, Some(by), format!("Snoozed for {text}"));
        self.push_step(Step::UpdateCard);
        self.push_step(Step::CardThread {
            note: ThreadNote::Snoozed {
                by: by.into(),
                for_: text,
            }
            .into(),
        });
    }

    /// An analyst asked for the alert's host to be network-contained (only an open case with
    /// a device can be).
    pub fn containment_requested(&mut self, by: &str, now: DateTime<Utc>) {
        if self.state.is_open() && self.alert.device.is_some() {
            self.note(now, Some(by), "Host containment requested");
            self.push_step(Step::Contain);
        }
    }

    /// Closes the case everywhere: issue comment and close, PagerDuty resolve, alert closed,
    /// card final.
    pub fn resolve(&mut self, by: &str, reason: &str, now: DateTime<Utc>) {
        if !self.state.is_open() {
            return;
        }
        self.resolution = Some(Resolution {
            by: by.to_string(),
            reason: reason.to_string(),
            at: now,
        });
        self.state = CaseState::Resolved;
        self.remind_at = None;
        self.escalate_at = None;
        self.note(now, Some(by), format!("Resolved: {reason}"));
        self.push_step(Step::IssueComment {
            note: IssueNote::Resolved.into(),
        });
        self.push_step(Step::CloseIssue {
            reason: close_reason(reason),
        });
        if self.paged {
            self.push_step(Step::PageResolve);
        }
        self.push_step(Step::AlertStatus {
            status: "closed".into(),
            comment: format!("Resolved in Slack ({}) by {by}: {reason}", self.id),
        });
        self.push_step(Step::UpdateCard);
        self.push_step(Step::CardThread {
            note: ThreadNote::Resolved.into(),
        });
        if self.dm.is_some() {
            self.push_step(Step::DmThread {
                note: DmNote::Closed.into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Enrichment, Owner};
    use proptest::prelude::*;

    fn awaiting(now: DateTime<Utc>, remind: DateTime<Utc>) -> Case {
        let mut c = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        c.force_state(CaseState::AwaitingOwner);
        c.remind_at = Some(remind);
        c.escalate_at = Some(remind);
        c
    }

    fn policy() -> OwnerPolicy {
        OwnerPolicy {
            reminder_after: std::time::Duration::from_secs(60),
            escalate_after: std::time::Duration::from_secs(120),
            no_owner: NoOwnerPolicy::Analysts,
        }
    }

    fn kinds(c: &Case) -> Vec<&'static str> {
        c.steps.iter().map(|s| s.step.kind()).collect()
    }

    #[test]
    fn a_new_case_starts_with_the_flow() {
        let c = Case::open(CaseId::from_seq(1), &Alert::default(), "k", Utc::now());
        assert_eq!(
            kinds(&c),
            ["enrich", "prioritise", "create_issue", "post_card", "route"]
        );
        assert_eq!(c.state(), CaseState::New);
    }

    #[test]
    fn a_low_case_with_an_owner_in_slack_waits_on_the_owner() {
        let now = Utc::now();
        let mut c = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        c.enrichment = Some(Enrichment {
            owner: Some(Owner {
                slack_user: Some("U0OWNER".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        c.route(now, &policy());
        assert_eq!(c.state(), CaseState::AwaitingOwner);
        assert_eq!(c.remind_at, Some(now + chrono::Duration::seconds(60)));
        assert_eq!(kinds(&c), ["owner_dm", "update_card"]);
    }

    #[test]
    fn a_low_case_nobody_owns_is_left_to_analysts_or_paged_by_policy() {
        let now = Utc::now();
        let mut left = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        left.route(now, &policy());
        assert_eq!(left.state(), CaseState::New, "no transition, just a note");
        assert_eq!(kinds(&left), ["update_card", "card_thread"]);
        let mut paged = Case::new(CaseId::from_seq(2), Alert::default(), "k".into(), now);
        let page = OwnerPolicy {
            no_owner: NoOwnerPolicy::Page,
            ..policy()
        };
        paged.route(now, &page);
        assert_eq!(paged.state(), CaseState::Escalated);
        assert_eq!(kinds(&paged)[0], "page");
    }

    #[test]
    fn a_resolved_case_ignores_later_commands() {
        let now = Utc::now();
        let mut c = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        c.resolve("U1", "false positive", now);
        assert_eq!(c.state(), CaseState::Resolved);
        assert!(
            matches!(
                c.steps[1].step,
                Step::CloseIssue {
                    reason: CloseReason::NotPlanned
                }
            ),
            "a false positive closes as not planned"
        );
        let queued = c.steps.len();
        c.acknowledge("U1", now);
        c.escalate(now, "late");
        c.assign("U2", "U1", now);
        assert_eq!(c.state(), CaseState::Resolved);
        assert_eq!(c.steps.len(), queued, "nothing queued after resolving");
    }

    #[test]
    fn a_grouped_alert_carries_its_count_and_replays_change_nothing() {
        let now = Utc::now();
        let mut c = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        c.alert_grouped("a2".into(), "second".into(), now);
        c.alert_grouped("a2".into(), "second".into(), now);
        assert_eq!(c.alert_count(), 2);
        assert_eq!(
            c.steps[1].step,
            Step::CardThread {
                note: ThreadNote::Grouped {
                    name: "second".into(),
                    alerts: 2
                }
                .into()
            }
        );
        assert_eq!(c.steps.len(), 3);
    }

    #[test]
    fn a_snooze_past_the_cap_is_cut_to_thirty_days() {
        let now = Utc::now();
        let mut c = awaiting(now, now);
        c.snooze("U1", std::time::Duration::from_secs(u64::MAX), now);
        assert_eq!(
            c.remind_at,
            Some(now + chrono::Duration::days(30)),
            "cut to MAX_SNOOZE"
        );
    }

    proptest! {
        /// Any snooze length on any timer time (up to chrono's last day) neither panics nor
        /// moves a timer by more than the cap or backwards.
        #[test]
        fn snooze_never_panics_and_stays_within_the_cap(
            secs in prop_oneof![0u64..400_000 * 365 * 86_400, any::<u64>()],
            remind_secs in 0i64..=DateTime::<Utc>::MAX_UTC.timestamp(),
        ) {
            let now = Utc::now();
            let remind = DateTime::<Utc>::from_timestamp(remind_secs, 0).unwrap_or(now);
            let mut c = awaiting(now, remind);
            c.snooze("U1", std::time::Duration::from_secs(secs), now);
            let from = remind.max(now);
            let t = c.remind_at.unwrap_or(from);
            prop_assert!(t >= from);
            prop_assert!(t - from <= chrono::Duration::days(30));
        }

        /// `later` is total: any wait from any representable time.
        #[test]
        fn later_is_checked(secs in any::<u64>(), nanos in 0u32..1_000_000_000, at in any::<i64>()) {
            let from = DateTime::<Utc>::from_timestamp(at % DateTime::<Utc>::MAX_UTC.timestamp(), 0)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let t = later(from, std::time::Duration::new(secs, nanos));
            prop_assert!(t >= from);
        }
    }
}
