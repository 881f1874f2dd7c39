//! Flow 2's words (SPEC §3): the card's classification / SOP / actions section, the "no SOP"
//! thread reply and the plan comment on the issue. Every alert, vendor and model string (type
//! rationale, page title, call arguments, results) goes through `escape`; links only through
//! the checked link builders; the section stays within Block Kit's limits however many calls a
//! case holds.

use super::card::mrkdwn_link;
use super::escape::{github_text, inline_code, mrkdwn, truncate};
use super::github::markdown_link;
use super::kit;
use crate::case::Case;
use crate::case::remediation::{CallStatus, RunbookState, SopStatus, ToolCall, Triage};
use slack_morphism::prelude::SlackBlock;

/// Calls listed per group on the card and in the comment; the rest are counted.
const MAX_LISTED: usize = 10;
/// Longest rationale, call argument or result shown in one line.
const MAX_LINE: usize = 200;

/// `tool(key=value, …)` of a call, raw (escape at the use).
fn call_text(c: &ToolCall) -> String {
    let args: Vec<String> = c
        .args
        .iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) => format!("{k}={s}"),
            None => format!("{k}={v}"),
        })
        .collect();
    truncate(&format!("{}({})", c.name, args.join(", ")), MAX_LINE)
}

/// A call's status in words, raw.
fn status_text(s: &CallStatus) -> String {
    match s {
        CallStatus::Planned => "queued".into(),
        CallStatus::AwaitingApproval => "waiting for an analyst's approval".into(),
        CallStatus::Approved => "approved, queued".into(),
        CallStatus::Denied => "denied by an analyst".into(),
        CallStatus::Expired => "approval expired".into(),
        CallStatus::Refused { reason } => format!("refused: {}", truncate(reason, MAX_LINE)),
        CallStatus::Done { summary, .. } => format!("done: {}", truncate(summary, MAX_LINE)),
        CallStatus::Failed { error, .. } => format!("failed: {}", truncate(error, MAX_LINE)),
    }
}

fn classification_line(t: &Triage) -> String {
    let c = &t.classification;
    let mut s = format!(
        "{} · {} severity · rule {}",
        c.alert_type.as_str(),
        c.severity.as_str(),
        c.rule
    );
    if c.fallback.is_some() {
        s.push_str(" (the model's answer was not usable; the rules decided)");
    }
    s
}

/// The SOP in Slack mrkdwn: a link to the page of record, or why there is none.
fn sop_mrkdwn(t: &Triage) -> String {
    match &t.sop {
        SopStatus::Pending => "_searching…_".into(),
        SopStatus::NotConfigured => "_Confluence is not configured_".into(),
        SopStatus::NotFound { .. } => format!(
            "_No SOP found for {}_: steps are left to the analysts",
            t.classification.alert_type.as_str()
        ),
        SopStatus::Unavailable { error } => format!(
            "_Confluence could not be searched_: {}",
            mrkdwn(&truncate(error, MAX_LINE))
        ),
        SopStatus::Found(s) => {
            let title = format!("{} (v{})", s.title, s.version);
            let link = mrkdwn_link(&s.url, &title).unwrap_or_else(|| mrkdwn(&title));
            let runbook = match &s.runbook {
                RunbookState::Parsed { steps, .. } => format!("runbook of {steps} step(s)"),
                RunbookState::Missing => "no runbook".into(),
                RunbookState::Invalid { .. } => "runbook unusable".into(),
            };
            format!("{link} · page {} · {runbook}", inline_code(&s.page_id))
        }
    }
}

/// Up to [`MAX_LISTED`] lines, then how many more.
fn listed<'a>(
    calls: impl Iterator<Item = &'a ToolCall>,
    line: impl Fn(&ToolCall) -> String,
) -> Option<String> {
    let all: Vec<&ToolCall> = calls.collect();
    if all.is_empty() {
        return None;
    }
    let mut lines: Vec<String> = all.iter().take(MAX_LISTED).map(|c| line(c)).collect();
    if all.len() > MAX_LISTED {
        lines.push(format!("…and {} more", all.len() - MAX_LISTED));
    }
    Some(lines.join("\n"))
}

/// The card's flow-2 blocks (none before classification): classification with its rationale,
/// the SOP, actions taken and actions waiting for approval. At most three sections.
pub fn card_blocks(case: &Case) -> Vec<SlackBlock> {
    let Some(t) = &case.triage else {
        return vec![];
    };
    let mut blocks = vec![kit::section(&format!(
        "*Classification*\n{}\n_{}_\n*SOP*\n{}",
        mrkdwn(&classification_line(t)),
        mrkdwn(&truncate(&t.classification.rationale, MAX_LINE)),
        sop_mrkdwn(t)
    ))];
    let done = listed(
        t.calls
            .iter()
            .filter(|c| matches!(c.status, CallStatus::Done { .. })),
        |c| {
            format!(
                "• {} {}",
                inline_code(&call_text(c)),
                mrkdwn(&status_text(&c.status))
            )
        },
    );
    if let Some(done) = done {
        blocks.push(kit::section(&format!("*Actions taken*\n{done}")));
    }
    let waiting = listed(t.awaiting(), |c| {
        format!("• #{} {}", c.id, inline_code(&call_text(c)))
    });
    if let Some(waiting) = waiting {
        blocks.push(kit::section(&format!("*Waiting for approval*\n{waiting}")));
    }
    blocks
}

/// The card-thread reply when there is no SOP to follow.
pub fn no_sop_reply(case: &Case) -> String {
    let why = match case.triage.as_ref().map(|t| &t.sop) {
        Some(SopStatus::Unavailable { error }) => format!(
            "Confluence could not be searched ({})",
            mrkdwn(&truncate(error, MAX_LINE))
        ),
        _ => "No SOP was found".into(),
    };
    let kind = case
        .triage
        .as_ref()
        .map(|t| t.classification.alert_type.as_str())
        .unwrap_or("this alert");
    format!(
        ":warning: {why} for *{kind}* alerts. Vigil runs no remediation steps on this case; \
         analysts and on-call, please handle it by hand. The rest of the triage goes on."
    )
}

/// The plan comment on the issue: classification, SOP of record, every proposed call and its
/// status (GitHub Markdown, every value escaped).
pub fn plan_comment(case: &Case) -> String {
    let Some(t) = &case.triage else {
        return "**Flow 2:** not classified.".into();
    };
    let mut out = format!(
        "**Classification:** {}\n\n> {}\n\n",
        github_text(&classification_line(t)),
        github_text(&truncate(&t.classification.rationale, MAX_LINE))
    );
    if let Some(why) = &t.classification.fallback {
        out.push_str(&format!(
            "The model's answer was not used: {}\n\n",
            github_text(&truncate(why, MAX_LINE))
        ));
    }
    let sop = match &t.sop {
        SopStatus::Found(s) => {
            let title = format!("{} (version {})", s.title, s.version);
            let link = markdown_link(&s.url, &title).unwrap_or_else(|| github_text(&title));
            format!("**SOP:** {link}, page `{}`", s.page_id.replace('`', "'"))
        }
        SopStatus::NotFound { .. } => {
            "**SOP:** none found; the steps are left to the analysts.".into()
        }
        SopStatus::Unavailable { error } => format!(
            "**SOP:** Confluence could not be searched: {}",
            github_text(&truncate(error, MAX_LINE))
        ),
        SopStatus::NotConfigured => "**SOP:** Confluence is not configured.".into(),
        SopStatus::Pending => "**SOP:** not searched yet.".into(),
    };
    out.push_str(&sop);
    out.push_str("\n\n");
    match listed(t.calls.iter(), |c| {
        format!(
            "{}. {}: {}",
            c.id,
            github_text(&call_text(c)),
            github_text(&status_text(&c.status))
        )
    }) {
        Some(lines) => {
            out.push_str("**Plan:**\n\n");
            out.push_str(&lines);
        }
        None if t.agent_turns > 0 || case.steps.iter().any(|s| s.step.kind() == "agent_turn") => {
            out.push_str("**Plan:** the agent picks the steps from the SOP.")
        }
        None => out.push_str("**Plan:** no tool calls."),
    }
    out
}
