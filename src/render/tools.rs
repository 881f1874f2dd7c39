//! Words for flow 2's tool calls: the thread reply per finished call, the Slack notify tool's
//! message, the GitHub comment summarising a batch of calls, and the agent's closing summary.
//!
//! Invariant: every value here that came from outside (arguments, vendor summaries, the
//! model's text) is escaped for its medium: mrkdwn-escaped (no ping, no link) in Slack, inside
//! a fence it cannot close in GitHub.

use super::escape::{github_code_block, inline_code, mention, mrkdwn, quote, truncate};
use crate::case::Case;
use crate::case::remediation::CallStatus;

/// Longest text of a Slack notify message.
const MAX_NOTIFY: usize = 1000;
/// Longest agent summary shown.
const MAX_SUMMARY_SHOWN: usize = 1500;

/// The card-thread reply for a finished call.
pub fn call_reply(case: &Case, id: u32) -> String {
    let Some(call) = case.triage.as_ref().and_then(|t| t.call(id)) else {
        return format!("Tool call #{id}: no longer on the case.");
    };
    let icon = match call.status {
        CallStatus::Done { .. } => ":white_check_mark:",
        CallStatus::Failed { .. } => ":x:",
        _ => ":hourglass:",
    };
    let mut out = format!(
        "{icon} Tool call #{id} {} {}: {}",
        inline_code(&call.name),
        inline_code(&call.args_text()),
        mrkdwn(&call.status.text()),
    );
    if let Some(by) = call.approver() {
        out.push_str(&format!(" Approved by {}.", mention(by)));
    }
    out
}

/// The Slack notify tool's message: the case, then the text as data.
pub fn notify(case: &Case, text: &str) -> String {
    format!(
        ":loudspeaker: *{}* {}: {}",
        mrkdwn(case.id.as_str()),
        mrkdwn(&truncate(&case.alert.name, 150)),
        mrkdwn(&truncate(text, MAX_NOTIFY))
    )
}

/// The GitHub comment for a batch of calls that ran: one fenced line per call.
pub fn calls_comment(case: &Case, ids: &[u32]) -> String {
    let lines: Vec<String> = ids
        .iter()
        .filter_map(|id| case.triage.as_ref().and_then(|t| t.call(*id)))
        .map(|c| c.line())
        .collect();
    format!(
        "**Tool calls** ({} finished):\n\n{}",
        lines.len(),
        github_code_block(&lines.join("\n"))
    )
}

/// The card-thread reply with the agent's closing summary (read from the case).
pub fn agent_summary(case: &Case) -> String {
    let summary = case
        .triage
        .as_ref()
        .and_then(|t| t.summary.clone())
        .unwrap_or_default();
    format!(
        ":robot_face: The agent finished:{}",
        quote(&summary, MAX_SUMMARY_SHOWN)
    )
}

/// The card-thread reply when the agent loop ended without a summary.
pub fn agent_stopped(reason: &str) -> String {
    format!(":octagonal_sign: The agent stopped: {}", mrkdwn(reason))
}
