//! Flow 1's transitions (SPEC §2): what each decision and answer does to a case. Pure: they
//! change the case and queue steps; the engine performs the steps.

use chrono::{DateTime, Utc};

use super::config::{NoOwnerPolicy, TriageConfig};
use crate::case::step::{CloseReason, DmKind};
use crate::case::{Case, CaseState, OwnerAnswer, OwnerReply, Priority, Resolution, Step};
use crate::render;

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

/// After the card is up: ask the owner (low, with an owner in Slack) or page (high, or no one
/// to ask and the policy says page).
pub fn route(case: &mut Case, now: DateTime<Utc>, cfg: &TriageConfig) {
    let priority = case.priority().unwrap_or(Priority::Low);
    let owner_in_slack = case.owner().and_then(|o| o.slack_user.clone());
    match (priority, owner_in_slack) {
        (Priority::High, _) => escalate(case, now, "high priority"),
        (Priority::Low, Some(_)) => {
            case.state = CaseState::AwaitingOwner;
            case.remind_at = Some(later(now, cfg.reminder_after));
            case.escalate_at = Some(later(now, cfg.escalate_after));
            case.note(now, None, "Asking the device owner");
            case.push_step(Step::OwnerDm { kind: DmKind::Ask });
            case.push_step(Step::UpdateCard);
        }
        (Priority::Low, None) => match cfg.no_owner {
            NoOwnerPolicy::Page => escalate(case, now, "no owner could be asked"),
            NoOwnerPolicy::Analysts => {
                case.note(now, None, "No owner could be asked; left for the analysts");
                case.push_step(Step::UpdateCard);
                case.push_step(Step::CardThread {
                    text: render::thread::no_owner(case),
                });
            }
        },
    }
}

/// Pages on-call (once: PagerDuty's dedup key is the case id), tells the owner, updates the
/// card, thread and issue.
pub fn escalate(case: &mut Case, now: DateTime<Utc>, why: &str) {
    if !case.state.is_open() {
        return;
    }
    case.remind_at = None;
    case.escalate_at = None;
    let first_time = !case.paged;
    case.state = CaseState::Escalated;
    case.note(now, None, format!("Escalated to on-call: {why}"));
    if first_time {
        case.push_step(Step::Page);
    }
    if case.owner().and_then(|o| o.slack_user.as_ref()).is_some() {
        if case.dm.is_none() {
            case.push_step(Step::OwnerDm {
                kind: DmKind::Inform,
            });
        } else {
            case.push_step(Step::DmThread {
                text: render::dm::escalated(case),
            });
        }
    }
    case.push_step(Step::UpdateCard);
    case.push_step(Step::CardThread {
        text: render::thread::paged(case, why),
    });
    case.push_step(Step::IssueComment {
        body: render::github::paged_comment(case, why),
    });
    case.push_step(Step::IssueLabels {
        labels: vec!["paged".into()],
    });
}

/// The owner pressed one of the DM buttons.
pub fn owner_answered(case: &mut Case, reply: OwnerReply, by: &str, now: DateTime<Utc>) {
    case.owner_answer = Some(OwnerAnswer {
        reply,
        by: by.to_string(),
        at: now,
    });
    case.remind_at = None;
    case.escalate_at = None;
    case.note(now, Some(by), format!("Owner answered: {}", reply.label()));
    case.push_step(Step::DmThread {
        text: render::dm::answered(case),
    });
    case.push_step(Step::IssueComment {
        body: render::github::owner_answer_comment(case),
    });
    case.push_step(Step::IssueLabels {
        labels: vec![reply.github_label().into()],
    });
    match reply {
        OwnerReply::NotMe => escalate(case, now, "the owner says it was not them"),
        OwnerReply::Me | OwnerReply::NotMine => {
            case.state = CaseState::Announced;
            case.push_step(Step::UpdateCard);
            case.push_step(Step::CardThread {
                text: render::thread::owner_answered(case),
            });
        }
    }
}

/// The owner wrote in their DM.
pub fn owner_wrote(case: &mut Case, by: &str, text: &str, now: DateTime<Utc>) {
    case.note(now, Some(by), format!("Owner wrote: {text}"));
    case.push_step(Step::CardThread {
        text: render::thread::owner_wrote(case, text),
    });
    case.push_step(Step::IssueComment {
        body: render::github::owner_wrote_comment(case, text),
    });
}

/// An analyst acknowledged.
pub fn acknowledge(case: &mut Case, by: &str, now: DateTime<Utc>) {
    if !case.state.is_open() || case.acknowledged_by.is_some() {
        return;
    }
    case.acknowledged_by = Some(by.to_string());
    case.remind_at = None;
    case.escalate_at = None;
    case.state = CaseState::Acknowledged;
    case.note(now, Some(by), "Acknowledged");
    if case.paged {
        case.push_step(Step::PageAck);
    }
    case.push_step(Step::AlertStatus {
        status: "in_progress".into(),
        comment: format!("Acknowledged in Slack ({}) by {by}", case.id),
    });
    case.push_step(Step::UpdateCard);
    case.push_step(Step::CardThread {
        text: render::thread::acknowledged(case, by),
    });
}

/// An analyst took the case.
pub fn assign(case: &mut Case, to: &str, by: &str, now: DateTime<Utc>) {
    if !case.state.is_open() {
        return;
    }
    case.assignee = Some(to.to_string());
    case.note(now, Some(by), format!("Assigned to {to}"));
    case.push_step(Step::UpdateCard);
    case.push_step(Step::CardThread {
        text: render::thread::assigned(case, to, by),
    });
}

/// An analyst postponed the owner timers, by at most [`MAX_SNOOZE`] (the command refuses more;
/// an item stored before that rule, or built elsewhere, is cut to it here).
pub fn snooze(case: &mut Case, by: &str, for_: std::time::Duration, now: DateTime<Utc>) {
    if !case.state.is_open() {
        return;
    }
    let for_ = for_.min(MAX_SNOOZE);
    case.remind_at = case.remind_at.map(|t| later(t.max(now), for_));
    case.escalate_at = case.escalate_at.map(|t| later(t.max(now), for_));
    let text = humantime::format_duration(for_).to_string();
    case.note(now, Some(by), format!("Snoozed for {text}"));
    case.push_step(Step::UpdateCard);
    case.push_step(Step::CardThread {
        text: render::thread::snoozed(case, by, &text),
    });
}

/// Closes the case everywhere: issue comment and close, PagerDuty resolve, alert closed,
/// card final.
pub fn resolve(case: &mut Case, by: &str, reason: &str, now: DateTime<Utc>) {
    if !case.state.is_open() {
        return;
    }
    case.resolution = Some(Resolution {
        by: by.to_string(),
        reason: reason.to_string(),
        at: now,
    });
    case.state = CaseState::Resolved;
    case.remind_at = None;
    case.escalate_at = None;
    case.note(now, Some(by), format!("Resolved: {reason}"));
    case.push_step(Step::IssueComment {
        body: render::github::resolved_comment(case),
    });
    case.push_step(Step::CloseIssue {
        reason: close_reason(reason),
    });
    if case.paged {
        case.push_step(Step::PageResolve);
    }
    case.push_step(Step::AlertStatus {
        status: "closed".into(),
        comment: format!("Resolved in Slack ({}) by {by}: {reason}", case.id),
    });
    case.push_step(Step::UpdateCard);
    case.push_step(Step::CardThread {
        text: render::thread::resolved(case),
    });
    if case.dm.is_some() {
        case.push_step(Step::DmThread {
            text: render::dm::closed(case),
        });
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Alert, CaseId};
    use proptest::prelude::*;

    fn awaiting(now: DateTime<Utc>, remind: DateTime<Utc>) -> Case {
        let mut c = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        c.state = CaseState::AwaitingOwner;
        c.remind_at = Some(remind);
        c.escalate_at = Some(remind);
        c
    }

    #[test]
    fn a_snooze_past_the_cap_is_cut_to_thirty_days() {
        let now = Utc::now();
        let mut c = awaiting(now, now);
        snooze(&mut c, "U1", std::time::Duration::from_secs(u64::MAX), now);
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
            snooze(&mut c, "U1", std::time::Duration::from_secs(secs), now);
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
