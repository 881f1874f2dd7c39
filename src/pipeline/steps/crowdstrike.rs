//! CrowdStrike Falcon's steps: network-contain the alert's host, and set the source alert's
//! status with a comment. Containment is idempotent at Falcon (a 409 means already
//! contained); the status comment is the one effect Falcon cannot look up after a crash.

use chrono::{DateTime, Utc};

use crate::case::{Case, StepRecord};
use crate::pipeline::engine::{Engine, StepError};

/// Network-contains the alert's host (an analyst confirmed it).
pub(super) async fn contain(
    engine: &Engine,
    case: &mut Case,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let (Some(cs), Some(device)) = (&engine.vendors.crowdstrike, case.alert.device.clone()) else {
        case.note(
            now,
            None,
            "Containment not possible: no CrowdStrike client or no device",
        );
        return Ok(());
    };
    match cs.contain(&device.device_id).await {
        Ok(()) => {}
        Err(e) if e.status() == Some(409) => {}
        Err(e) => return Err(e.into()),
    }
    case.contained(now);
    Ok(())
}

/// Sets the source alert's status, with its comment the first time only. Falcon cannot list an
/// alert's comments, so when an earlier attempt recorded the comment's intent and no result
/// (a crash, or a failure that may have reached Falcon), this attempt sends the status alone:
/// a comment may be missing after a crash, but it is never doubled. A 429 proves Falcon did
/// nothing, so it puts the intent back as it was and the next attempt still comments.
pub(super) async fn alert_status(
    engine: &Engine,
    case: &mut Case,
    rec: &StepRecord,
    status: &str,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let Some(cs) = engine
        .vendors
        .crowdstrike
        .as_ref()
        .filter(|_| case.alert.source == "crowdstrike")
    else {
        return Ok(());
    };
    let ids = vec![case.alert.id.clone()];
    let comment_may_exist = rec.intent_at.is_some();
    let mut actions = vec![("update_status", status)];
    if !comment_may_exist {
        actions.push(("append_comment", comment));
    }
    if let Err(e) = cs.update_alerts(&ids, &actions).await {
        if e.status() == Some(429)
            && let Some(first) = case.steps.first_mut().filter(|s| s.seq == rec.seq)
        {
            first.intent_at = rec.intent_at;
        }
        return Err(e.into());
    }
    case.note(now, None, format!("CrowdStrike alert set to {status}"));
    if comment_may_exist {
        case.note(
            now,
            None,
            "CrowdStrike comment not sent again: an interrupted attempt may have added it, \
             and Falcon cannot list comments to check",
        );
    }
    Ok(())
}

/// Falcon cannot list an alert's comments, so an interrupted status step is never "found":
/// the step itself resolves its intent by setting the status again without the comment.
pub(super) fn find_alert_status() -> bool {
    false
}
