//! The `ToolCall` step (SPEC §3 step 4): runs one allowed or approved tool call through the
//! executor and records its result on the case, which documents it (timeline, thread, card,
//! and the batch's GitHub comment).
//!
//! Only a call whose record says `Planned` or `Approved` runs; anything else is a no-op said on
//! the timeline. The arguments run are the recorded ones, parsed again. A transient vendor
//! error goes back to the engine's retry path until the last attempt, which, like a permanent
//! error, records the call `Failed` with the call, the status and what Vigil did.
//!
//! Crash safety: the step records its intent (`Step::needs_intent`). Slack notify is found
//! after a crash by its message metadata ([`tools::find_notify`]); every other tool is a read
//! or idempotent at its vendor (contain and lift at Falcon, suspend/unsuspend read the status
//! first, clear sessions), so running it again after a crash is safe.

use chrono::{DateTime, Utc};

use crate::case::remediation::CallStatus;
use crate::case::{Case, StepRecord};
use crate::pipeline::engine::{Engine, MAX_ATTEMPTS, StepError};
use crate::pipeline::tools;
use crate::triage::tools::{ToolArgs, ToolName};
use crate::vendors::VendorError;

/// Runs call `id` of the case.
pub(super) async fn tool_call(
    engine: &Engine,
    case: &mut Case,
    rec: &StepRecord,
    id: u32,
) -> Result<(), StepError> {
    let Some((tool, args)) = runnable(case, id) else {
        case.call_not_run(id, Utc::now());
        return Ok(());
    };
    let args = match ToolArgs::parse(tool, &args) {
        Ok(a) => a,
        Err(e) => {
            let error = format!(
                "tool call #{id} {tool}: its recorded arguments do not parse ({e}); Vigil did not run it"
            );
            case.call_failed(id, error, Utc::now());
            return Ok(());
        }
    };
    match tools::run(engine, case, id, tool, &args).await {
        Ok(o) => case.call_done(id, o.summary, o.detail, Utc::now()),
        Err(e) if e.is_transient() && rec.attempts + 1 < MAX_ATTEMPTS => return Err(e.into()),
        Err(e) => case.call_failed(id, failure(id, tool, &e, rec.attempts + 1), Utc::now()),
    }
    Ok(())
}

/// The tool and recorded arguments of call `id`, if its record lets it run.
fn runnable(
    case: &Case,
    id: u32,
) -> Option<(ToolName, serde_json::Map<String, serde_json::Value>)> {
    let call = case.triage.as_ref()?.call(id)?;
    if !matches!(call.status, CallStatus::Planned | CallStatus::Approved) {
        return None;
    }
    Some((call.tool?, call.args.clone()))
}

/// A failed call in words: the vendor call and its status (in the error), and what Vigil did.
fn failure(id: u32, tool: ToolName, e: &VendorError, attempts: u32) -> String {
    let what = if e.is_transient() {
        format!("gave up after {attempts} attempts")
    } else {
        "not retried (retrying cannot help)".to_string()
    };
    format!("tool call #{id} {tool}: {e}; {what}, the case goes on without it")
}

/// After a crash between intent and record: a Slack notification the call may have posted.
/// Every other tool reports "not found", so it runs again (reads and idempotent actions).
pub(super) async fn find_tool_call(
    engine: &Engine,
    case: &mut Case,
    id: u32,
    since: DateTime<Utc>,
) -> Result<bool, VendorError> {
    let Some((ToolName::SlackNotify, _)) = runnable(case, id) else {
        return Ok(false);
    };
    match tools::find_notify(engine, case, id, since).await? {
        Some(o) => {
            case.call_done(id, o.summary, o.detail, Utc::now());
            Ok(true)
        }
        None => Ok(false),
    }
}
