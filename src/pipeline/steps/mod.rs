//! Performing each step against its vendor, and finding the effect of an interrupted step.
//!
//! This file only dispatches: each step kind is registered once in [`perform`] (and, when it
//! creates something a crash could leave unrecorded, once in [`find_existing`]), delegating to
//! the file of the vendor it talks to. Each vendor file holds both sides of its steps, the
//! effect and its crash lookup, and reports results through the case's methods
//! (`case.issue_opened(..)`, `case.card_posted(..)`, …), never by assigning state. A new tool
//! is one file here plus one registration line per match.

mod agent;
mod approval;
mod crowdstrike;
mod enrich;
mod github;
mod pagerduty;
mod slack;
mod sop;
mod tool_call;
mod triage;

use chrono::{DateTime, Utc};

use super::engine::{Engine, StepError};
use crate::case::{Case, Step, StepRecord};
use crate::vendors::VendorError;

/// How far before the recorded intent a lookup starts (clock skew, second-granularity APIs).
const LOOKBACK: chrono::Duration = chrono::Duration::minutes(2);

/// Performs a step, recording its result on the case.
pub async fn perform(engine: &Engine, case: &mut Case, rec: &StepRecord) -> Result<(), StepError> {
    let now = Utc::now();
    match &rec.step {
        Step::Enrich => enrich::enrich(engine, case, now).await,
        Step::Prioritise => triage::prioritise(engine, case, now),
        Step::Route => triage::route(engine, case, now),
        Step::CreateIssue => github::create_issue(engine, case, now).await?,
        Step::IssueComment { note } => github::comment(engine, case, rec, note).await?,
        Step::IssueLabels { labels } => github::add_labels(engine, case, labels).await?,
        Step::CloseIssue { reason } => github::close(engine, case, *reason, now).await?,
        Step::PostCard => slack::post_card(engine, case, now).await?,
        Step::JoinDigest => slack::join_digest(engine, case, now)?,
        Step::OwnerDm { kind } => slack::owner_dm(engine, case, *kind, now).await?,
        Step::UpdateCard => slack::update_card(engine, case).await?,
        Step::CardThread { note } => slack::card_thread(engine, case, rec, note).await?,
        Step::DmThread { note } => slack::dm_thread(engine, case, rec, note).await?,
        Step::Page => pagerduty::page(engine, case, now).await?,
        Step::PageAck => pagerduty::acknowledge(engine, case).await?,
        Step::PageResolve => pagerduty::resolve(engine, case, now).await?,
        Step::Contain => crowdstrike::contain(engine, case, now).await?,
        Step::AlertStatus { status, comment } => {
            crowdstrike::alert_status(engine, case, rec, status, comment, now).await?
        }
        Step::Classify => sop::classify(engine, case, now).await,
        Step::FindSop => sop::find_sop(engine, case, rec, now).await?,
        Step::Remediate => sop::remediate(engine, case, now),
        Step::ToolCall { call } => tool_call::tool_call(engine, case, rec, *call).await?,
        Step::AgentTurn { turn } => agent::agent_turn(engine, case, rec, *turn).await?,
        Step::RequestApproval { call } => approval::request(engine, case, *call).await?,
        Step::ApprovalOutcome { call } => approval::outcome(engine, case, *call).await?,
    }
    Ok(())
}

/// After a crash between intent and record: looks for what the step may have created since
/// its intent. `true` means found and recorded (the step is done).
pub async fn find_existing(
    engine: &Engine,
    case: &mut Case,
    rec: &StepRecord,
    intent_at: DateTime<Utc>,
) -> Result<bool, VendorError> {
    let since = intent_at - LOOKBACK;
    match &rec.step {
        Step::CreateIssue => github::find_issue(engine, case, since).await,
        Step::IssueComment { .. } => github::find_comment(engine, case, rec, since).await,
        Step::PostCard => slack::find_card(engine, case, since).await,
        Step::OwnerDm { .. } => slack::find_dm(engine, case, since).await,
        Step::CardThread { .. } => slack::find_card_reply(engine, case, rec).await,
        Step::DmThread { .. } => slack::find_dm_reply(engine, case, rec).await,
        Step::AlertStatus { .. } => Ok(crowdstrike::find_alert_status()),
        Step::ToolCall { call } => tool_call::find_tool_call(engine, case, *call, since).await,
        Step::RequestApproval { call } => approval::find_request(engine, case, *call).await,
        _ => Ok(false),
    }
}

/// Storms: a low-priority case's GitHub issue waits for its slot at the content-creation pace
/// off the runner (the step's `not_before`); see [`github::defer_issue`].
pub fn defer_until(engine: &Engine, case: &Case, rec: &StepRecord) -> Option<DateTime<Utc>> {
    match rec.step {
        Step::CreateIssue => github::defer_issue(engine, case, rec),
        _ => None,
    }
}
