//! Owner timers: a reminder, then escalation when the owner stays silent. Times are stored on
//! the case, so they survive restarts; the engine's tick calls [`Case::apply_timers`] on cases
//! whose time has come. Owner timers only act while the case waits on its owner; an
//! approval's expiry (see `approvals`) acts whatever the case's state.

use chrono::{DateTime, Utc};

use super::flow::OwnerPolicy;
use super::note::DmNote;
use super::{Case, CaseState, Step};

impl Case {
    /// Applies due timers (approval expiries in any state, owner timers while waiting on the
    /// owner); `true` if the case changed.
    pub fn apply_timers(&mut self, now: DateTime<Utc>, policy: &OwnerPolicy) -> bool {
        let expired = self.expire_approvals(now);
        self.owner_timers(now, policy) || expired
    }

    fn owner_timers(&mut self, now: DateTime<Utc>, policy: &OwnerPolicy) -> bool {
        if self.state != CaseState::AwaitingOwner {
            return false;
        }
        if self.escalate_at.is_some_and(|t| t <= now) {
            let waited = humantime::format_duration(policy.escalate_after);
            self.note(
                now,
                None,
                format!("No answer from the owner after {waited}; escalating"),
            );
            let first = self.milestones.escalated_at.is_none();
            self.escalate(now, &format!("the owner did not answer within {waited}"));
            if first && self.milestones.escalated_at.is_some() {
                self.milestones.auto_escalated = true;
            }
            return true;
        }
        if self.remind_at.is_some_and(|t| t <= now) {
            self.remind_at = None;
            self.note(now, None, "Reminder sent to the owner");
            if self.owner().and_then(|o| o.slack_user.as_ref()).is_some() {
                self.push_step(Step::DmThread {
                    note: DmNote::Reminder.into(),
                });
            }
            return true;
        }
        false
    }

    /// Applying the timers failed unexpectedly (a bug, caught): they are stopped, not retried
    /// every tick, and the timeline says why.
    pub fn timers_failed(&mut self, why: &str, now: DateTime<Utc>) {
        self.remind_at = None;
        self.escalate_at = None;
        self.note(
            now,
            None,
            format!("Owner timers failed unexpectedly and were stopped: {why}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::flow::NoOwnerPolicy;
    use crate::case::{Alert, CaseId, Enrichment, Owner};

    fn policy() -> OwnerPolicy {
        OwnerPolicy {
            reminder_after: std::time::Duration::from_secs(60),
            escalate_after: std::time::Duration::from_secs(120),
            no_owner: NoOwnerPolicy::Page,
        }
    }

    fn awaiting(now: DateTime<Utc>) -> Case {
        let mut c = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        c.enrichment = Some(Enrichment {
            owner: Some(Owner {
                slack_user: Some("U0OWNER".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        c.route(now, &policy());
        c.steps.clear();
        c
    }

    #[test]
    fn the_reminder_comes_first_then_silence_escalates() {
        let start = Utc::now();
        let mut c = awaiting(start);
        assert!(!c.apply_timers(start, &policy()), "nothing due yet");
        let remind = start + chrono::Duration::seconds(61);
        assert!(c.apply_timers(remind, &policy()));
        assert_eq!(c.state(), CaseState::AwaitingOwner);
        assert_eq!(
            c.steps[0].step,
            Step::DmThread {
                note: DmNote::Reminder.into()
            }
        );
        assert!(!c.apply_timers(remind, &policy()), "reminded once");
        assert!(!c.milestones.auto_escalated);
        let silence = start + chrono::Duration::seconds(121);
        assert!(c.apply_timers(silence, &policy()));
        assert_eq!(c.state(), CaseState::Escalated);
        assert!(c.milestones.auto_escalated, "escalated on silence");
        assert_eq!(c.milestones.escalated_at, Some(silence));
        assert!(!c.apply_timers(start + chrono::Duration::hours(9), &policy()));
    }

    #[test]
    fn milestones_keep_their_first_time() {
        let start = Utc::now();
        let mut c = awaiting(start);
        let ack = start + chrono::Duration::seconds(30);
        c.acknowledge("U1", ack);
        c.acknowledge("U2", ack + chrono::Duration::seconds(30));
        assert_eq!(c.milestones.acknowledged_at, Some(ack));
        c.escalate(ack + chrono::Duration::seconds(5), "by hand");
        assert!(!c.milestones.auto_escalated, "a person escalated it");
        assert!(c.milestones.escalated_at.is_some());
    }

    #[test]
    fn timers_do_nothing_once_the_case_moved_on() {
        let start = Utc::now();
        let mut c = awaiting(start);
        c.acknowledge("U1", start);
        assert!(!c.apply_timers(start + chrono::Duration::hours(9), &policy()));
        assert_eq!(c.state(), CaseState::Acknowledged);
    }
}
