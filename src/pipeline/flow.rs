//! Flow 1's transitions (SPEC §2): what each decision and answer does to a case. Pure: they
//! change the case and queue steps; the engine performs the steps.

use chrono::{DateTime, Utc};

use super::config::{NoOwnerPolicy, TriageConfig};
use crate::case::step::{CloseReason, DmKind};
use crate::case::{Case, CaseState, OwnerAnswer, OwnerReply, Priority, Resolution, Step};
use crate::render;

/// After the card is up: ask the owner (low, with an owner in Slack) or page (high, or no one
/// to ask and the policy says page).
pub fn route(case: &mut Case, now: DateTime<Utc>, cfg: &TriageConfig) {
    let priority = case.priority().unwrap_or(Priority::Low);
    let owner_in_slack = case.owner().and_then(|o| o.slack_user.clone());
    match (priority, owner_in_slack) {
        (Priority::High, _) => escalate(case, now, "high priority"),
        (Priority::Low, Some(_)) => {
            case.state = CaseState::AwaitingOwner;
            case.remind_at =
                Some(now + chrono::Duration::from_std(cfg.reminder_after).unwrap_or_default());
            case.escalate_at =
                Some(now + chrono::Duration::from_std(cfg.escalate_after).unwrap_or_default());
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

/// An analyst postponed the owner timers.
pub fn snooze(case: &mut Case, by: &str, for_: std::time::Duration, now: DateTime<Utc>) {
    if !case.state.is_open() {
        return;
    }
    let delta = chrono::Duration::from_std(for_).unwrap_or_default();
    case.remind_at = case.remind_at.map(|t| t.max(now) + delta);
    case.escalate_at = case.escalate_at.map(|t| t.max(now) + delta);
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
