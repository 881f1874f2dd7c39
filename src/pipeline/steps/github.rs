//! GitHub's steps: open the case's issue, comment, label and close it, and after a crash find
//! the issue or comment an interrupted step made (by the case and step markers in their
//! bodies). Without a GitHub client they do nothing.

use chrono::{DateTime, Utc};

use super::slack::{lookup_owner_slack, record_slack_lookup, slack_lookup_due};
use crate::case::note::{IssueNote, Said};
use crate::case::step::CloseReason;
use crate::case::{Case, Priority, StepRecord};
use crate::pipeline::engine::{Engine, StepError};
use crate::render;
use crate::vendors::VendorError;

/// Opens the GitHub issue and, at the same time, looks up the owner's Slack user: neither
/// waits for the other (SPEC §2.3). The lookup's answer is kept on the case even when the
/// issue fails, so a retry only retries the issue.
pub(super) async fn create_issue(
    engine: &Engine,
    case: &mut Case,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let lookup = lookup_owner_slack(engine, slack_lookup_due(case));
    let Some(gh) = &engine.vendors.github else {
        record_slack_lookup(case, lookup.await, now);
        case.note(now, None, "GitHub is not configured; no issue opened");
        return Ok(());
    };
    let mut labels = engine.issue_labels.clone();
    if let Some(p) = case.priority() {
        labels.push(format!("priority:{}", p.as_str()));
    }
    let title = render::github::issue_title(case);
    let body = render::github::issue_body(case);
    let (issue, found) = tokio::join!(gh.create_issue(&title, &body, &labels), lookup);
    record_slack_lookup(case, found, now);
    let issue = issue?;
    case.issue_opened(issue.number, issue.html_url, now);
    Ok(())
}

/// The issue an interrupted [`create_issue`] opened: the one created since the intent whose
/// body holds the case marker.
pub(super) async fn find_issue(
    engine: &Engine,
    case: &mut Case,
    since: DateTime<Utc>,
) -> Result<bool, VendorError> {
    let Some(gh) = &engine.vendors.github else {
        return Ok(false);
    };
    let marker = render::github::case_marker(&case.id);
    let found = gh
        .issues_created_since(since)
        .await?
        .into_iter()
        .find(|i| i.body.as_deref().is_some_and(|b| b.contains(&marker)));
    Ok(match found {
        Some(issue) => {
            case.issue_opened(issue.number, issue.html_url, Utc::now());
            true
        }
        None => false,
    })
}

/// Comments on the issue; the body ends with the step's marker so a crash lookup finds it.
pub(super) async fn comment(
    engine: &Engine,
    case: &Case,
    rec: &StepRecord,
    note: &Said<IssueNote>,
) -> Result<(), StepError> {
    if let (Some(gh), Some(issue)) = (&engine.vendors.github, case.issue.clone()) {
        let text = render::github::note(case, note);
        gh.comment(
            issue.number,
            &render::github::comment_body(&text, &case.id, rec.seq),
        )
        .await?;
    }
    Ok(())
}

/// Whether an interrupted [`comment`] reached the issue (its step marker is in a comment made
/// since the intent).
pub(super) async fn find_comment(
    engine: &Engine,
    case: &Case,
    rec: &StepRecord,
    since: DateTime<Utc>,
) -> Result<bool, VendorError> {
    let (Some(gh), Some(issue)) = (&engine.vendors.github, case.issue.clone()) else {
        return Ok(false);
    };
    let marker = render::github::step_marker(&case.id, rec.seq);
    Ok(gh
        .comments_since(issue.number, since)
        .await?
        .iter()
        .any(|c| c.body.contains(&marker)))
}

/// Adds labels (adding one twice is harmless, so no intent is recorded).
pub(super) async fn add_labels(
    engine: &Engine,
    case: &Case,
    labels: &[String],
) -> Result<(), StepError> {
    if let (Some(gh), Some(issue)) = (&engine.vendors.github, case.issue.clone()) {
        gh.add_labels(issue.number, labels).await?;
    }
    Ok(())
}

/// Closes the issue with GitHub's state reason for `reason`.
pub(super) async fn close(
    engine: &Engine,
    case: &mut Case,
    reason: CloseReason,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    if let (Some(gh), Some(issue)) = (&engine.vendors.github, case.issue.clone()) {
        let state_reason = match reason {
            CloseReason::Completed => "completed",
            CloseReason::NotPlanned => "not_planned",
        };
        gh.close(issue.number, state_reason).await?;
        case.note(
            now,
            None,
            format!("GitHub issue #{} closed ({state_reason})", issue.number),
        );
    }
    Ok(())
}

/// Storms: a low-priority case's GitHub issue waits for its slot at the content-creation pace
/// off the runner (the step's `not_before`), so hundreds of queued issues never hold every
/// runner while high-priority cases wait to start. A high-priority issue takes its slot and
/// goes at once. `Some(when)` defers the step to its slot; a step already deferred (or being
/// retried) is not deferred again.
pub(super) fn defer_issue(engine: &Engine, case: &Case, rec: &StepRecord) -> Option<DateTime<Utc>> {
    if rec.intent_at.is_some() || rec.attempts > 0 || rec.not_before.is_some() {
        return None;
    }
    let gh = engine.vendors.github.as_ref()?;
    let wait = gh.reserve_issue_slot();
    let low = case.priority().unwrap_or(Priority::Low) == Priority::Low;
    (low && wait > std::time::Duration::from_secs(1))
        .then(|| Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default())
}
