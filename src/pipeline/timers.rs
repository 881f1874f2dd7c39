//! Owner timers: a reminder, then escalation when the owner stays silent. Times are stored on
//! the case, so they survive restarts; a tick kicks cases whose time has come.

use chrono::{DateTime, Utc};

use super::config::TriageConfig;
use super::flow;
use crate::case::{Case, CaseState, Step};

/// Applies due timers; `true` if the case changed.
pub fn apply(case: &mut Case, now: DateTime<Utc>, cfg: &TriageConfig) -> bool {
    if case.state != CaseState::AwaitingOwner {
        return false;
    }
    if case.escalate_at.is_some_and(|t| t <= now) {
        let waited = humantime::format_duration(cfg.escalate_after);
        case.note(
            now,
            None,
            format!("No answer from the owner after {waited}; escalating"),
        );
        flow::escalate(
            case,
            now,
            &format!("the owner did not answer within {waited}"),
        );
        return true;
    }
    if case.remind_at.is_some_and(|t| t <= now) {
        case.remind_at = None;
        case.note(now, None, "Reminder sent to the owner");
        if let Some(text) = crate::render::dm::reminder(case) {
            case.push_step(Step::DmThread { text });
        }
        return true;
    }
    false
}
