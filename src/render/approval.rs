//! What people see of a destructive call's approval (SPEC §3.3): the request in the card's
//! thread with its two buttons, the same message once decided (buttons gone), the card's
//! "Waiting for approval" lines and App Home's entries.
//!
//! Invariant: the call is shown exactly as it will run (tool and every argument), escaped and
//! verbatim (arguments come from a runbook or a model reading alert text), long values fenced;
//! a button's value is `<case id>:<token>`: the case id only routes the click, the token alone
//! authorises it. Action ids live here and nowhere else.

use slack_morphism::prelude::*;

use super::escape::{self, MESSAGE_TEXT, inline_code, mention, mrkdwn};
use super::kit::{self, Style};
use crate::case::remediation::{CallStatus, ToolCall};
use crate::case::{Case, CaseId};

/// Action ids of the approval buttons (stable; documented in the README).
pub mod actions {
    /// Approve the call: it runs.
    pub const APPROVE: &str = "approval_approve";
    /// Deny the call: it never runs.
    pub const DENY: &str = "approval_deny";
}

/// Whether `action_id` is one of the approval buttons, and which.
pub fn approves(action_id: &str) -> Option<bool> {
    match action_id {
        actions::APPROVE => Some(true),
        actions::DENY => Some(false),
        _ => None,
    }
}

/// The buttons' value: the case (for routing) and the one-shot token.
pub fn button_value(case: &CaseId, token: &str) -> String {
    format!("{case}:{token}")
}

/// Splits a button value into the case it routes to and the token; `None` if it is not of
/// that shape (the token is checked against the case later, never trusted here).
pub fn parse_value(value: &str) -> Option<(CaseId, String)> {
    let (case, token) = value.split_once(':')?;
    let token = token.trim();
    let well_formed =
        (1..=64).contains(&token.len()) && token.chars().all(|c| c.is_ascii_alphanumeric());
    if !well_formed {
        return None;
    }
    Some((CaseId::parse(case)?, token.to_string()))
}

/// Values longer than this are fenced on a line of their own instead of inline.
const INLINE_ARG: usize = 60;
/// Most characters of one argument shown (the record keeps at most 300 anyway).
const MAX_ARG: usize = 600;

/// A Slack code block that the value cannot close (backticks become `ˋ`), escaped.
fn fenced(text: &str) -> String {
    let body: String = escape::truncate(text, MAX_ARG)
        .chars()
        .map(|c| if c == '`' { 'ˋ' } else { c })
        .collect();
    format!("```{}```", mrkdwn(&body))
}

fn arg_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The call as it will run: tool, then each argument.
pub fn call_text(call: &ToolCall) -> String {
    let mut out = format!("*Tool* {}", inline_code(&call.name));
    for (k, v) in &call.args {
        let v = arg_text(v);
        if v.chars().count() > INLINE_ARG || v.contains('\n') {
            out.push_str(&format!("\n• {}:\n{}", inline_code(k), fenced(&v)));
        } else {
            out.push_str(&format!("\n• {}: {}", inline_code(k), inline_code(&v)));
        }
    }
    out
}

/// What the call acts on, in words: the host or account, and the Slack user it belongs to.
pub fn acts_on_text(case: &Case, acts_on: Option<&str>) -> String {
    let host = case
        .alert
        .device
        .as_ref()
        .map(|d| d.hostname.as_str())
        .filter(|h| !h.is_empty());
    let subject = match host {
        Some(h) => format!("{} · host {}", case.id, inline_code(h)),
        None => format!(
            "{} · account {}",
            case.id,
            inline_code(case.alert.subject())
        ),
    };
    match acts_on {
        Some(u) => format!("*Acts on* {subject}, which belongs to {}", mention(u)),
        None => format!("*Acts on* {subject}"),
    }
}

/// Slack's date formatting of a moment, with a UTC fallback for clients that lack it.
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} at {{time}}|{}>",
        at.timestamp(),
        at.format("%Y-%m-%d %H:%M UTC")
    )
}

fn approval_of(call: &ToolCall) -> Option<&crate::case::remediation::Approval> {
    call.approval.as_ref()
}

fn body(case: &Case, call: &ToolCall) -> Vec<SlackBlock> {
    let acts_on = approval_of(call).and_then(|a| a.acts_on.as_deref());
    vec![
        kit::section(&format!(
            ":warning: *Approval needed* for tool call #{} on {}",
            call.id, case.id
        )),
        kit::section(&call_text(call)),
        kit::section(&acts_on_text(case, acts_on)),
    ]
}

fn buttons(case: &Case, call: &ToolCall) -> Option<SlackBlock> {
    let token = &approval_of(call)?.token;
    let value = button_value(&case.id, token);
    Some(kit::actions(
        &format!("approval:{}:{}", case.id, call.id),
        vec![
            kit::button("Approve", actions::APPROVE, &value, Style::Primary),
            kit::button("Deny", actions::DENY, &value, Style::Danger),
        ],
    ))
}

/// The approval request: the call, what it acts on, when it expires, and the buttons.
pub fn request(case: &Case, call: &ToolCall) -> (String, Vec<SlackBlock>) {
    let mut blocks = body(case, call);
    if let Some(a) = approval_of(call) {
        blocks.push(kit::context(&format!(
            "Expires {}. Only an analyst may decide{}.",
            when(a.expires_at),
            if a.acts_on.is_some() {
                ", and not the person it acts on"
            } else {
                ""
            }
        )));
    }
    blocks.extend(buttons(case, call));
    let text = escape::truncate_mrkdwn(
        &format!(
            "Approval needed: {} on {} (tool call #{})",
            mrkdwn(&call.name),
            case.id,
            call.id
        ),
        MESSAGE_TEXT,
    );
    (text, blocks)
}

/// The decision in words, as the decided message and the thread say it.
pub fn decision_line(call: &ToolCall) -> String {
    let decision = approval_of(call).and_then(|a| a.decision.as_ref());
    match (&call.status, decision) {
        (CallStatus::Expired, Some(d)) => format!(
            ":hourglass: Expired at {}; the call was not run.",
            when(d.at)
        ),
        (_, Some(d)) if d.approved => format!(
            ":white_check_mark: Approved by {} at {}.",
            mention(&d.by),
            when(d.at)
        ),
        (_, Some(d)) => format!(
            ":no_entry: Denied by {} at {}; the call was not run.",
            mention(&d.by),
            when(d.at)
        ),
        (_, None) => ":hourglass_flowing_sand: Waiting for an analyst.".into(),
    }
}

/// The approval message once decided: the same call, the decision instead of the buttons.
pub fn outcome(case: &Case, call: &ToolCall) -> (String, Vec<SlackBlock>) {
    let mut blocks = body(case, call);
    let line = decision_line(call);
    blocks.push(kit::section(&line));
    let text = escape::truncate_mrkdwn(
        &format!("Tool call #{} {}: {line}", call.id, mrkdwn(&call.name)),
        MESSAGE_TEXT,
    );
    (text, blocks)
}

/// The card thread's reply when an approval was decided.
pub fn decided_note(case: &Case, call_id: u32) -> String {
    match case.triage.as_ref().and_then(|t| t.call(call_id)) {
        Some(call) => format!(
            "Tool call #{} {}: {}",
            call.id,
            inline_code(&call.name),
            decision_line(call)
        ),
        None => format!("Tool call #{call_id} was decided."),
    }
}

fn short_args(call: &ToolCall) -> String {
    call.args
        .iter()
        .map(|(k, v)| format!("{}={}", k, escape::truncate(&arg_text(v), 40)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn waiting_line(case: &Case, call: &ToolCall) -> String {
    let expires = approval_of(call)
        .map(|a| format!(", expires {}", when(a.expires_at)))
        .unwrap_or_default();
    format!(
        "• *{}* #{} {} {}{expires}",
        case.id,
        call.id,
        inline_code(&call.name),
        inline_code(&short_args(call)),
    )
}

/// App Home's entries for one case: each waiting call with the same buttons as its message.
pub fn home_entries(case: &Case) -> Vec<SlackBlock> {
    let mut blocks = vec![];
    for call in case.triage.iter().flat_map(|t| t.awaiting()) {
        blocks.push(kit::section(&waiting_line(case, call)));
        blocks.extend(buttons(case, call));
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::remediation::{Approval, Proposer, Triage};
    use crate::case::{Alert, AlertDevice};
    use crate::triage::classify::{AlertType, Classification, ClassifiedBy, Severity};
    use chrono::Utc;

    fn case_with(args: serde_json::Value) -> Case {
        let now = Utc::now();
        let alert = Alert {
            device: Some(AlertDevice {
                hostname: "WS-<!here>".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut c = Case::new(CaseId::from_seq(12), alert, "k".into(), now);
        let mut t = Triage::new(
            Default::default(),
            Classification {
                alert_type: AlertType::Malware,
                severity: Severity::High,
                rationale: "r".into(),
                rule: "r".into(),
                by: ClassifiedBy::Rules,
                fallback: None,
            },
            now,
        );
        t.calls.push(ToolCall {
            id: 3,
            tool: None,
            name: "crowdstrike_contain_host".into(),
            args: args.as_object().cloned().unwrap_or_default(),
            proposer: Proposer::Runbook { step: 1 },
            proposed_at: now,
            status: CallStatus::AwaitingApproval,
            approval: Some(Approval {
                token: "0123456789abcdef0123456789abcdef".into(),
                requested_at: now,
                expires_at: now,
                message: None,
                decision: None,
                acts_on: Some("U0CAROL003".into()),
            }),
        });
        c.triage = Some(t);
        c
    }

    fn json(blocks: &[SlackBlock]) -> serde_json::Value {
        serde_json::to_value(blocks).unwrap_or_default()
    }

    #[test]
    fn the_request_shows_the_exact_call_escaped_verbatim_with_both_buttons() {
        let long = format!("{}```<!channel>", "x".repeat(100));
        let c = case_with(serde_json::json!({"device_id": "<@U999> d1", "note": long}));
        let call = c
            .triage
            .as_ref()
            .and_then(|t| t.call(3))
            .cloned()
            .expect("call");
        let (_, blocks) = request(&c, &call);
        let v = json(&blocks);
        let s = v.to_string();
        assert!(s.contains("`crowdstrike_contain_host`"), "{s}");
        assert!(s.contains("&lt;@U999&gt; d1"), "{s}");
        assert!(!s.contains("<!channel>") && !s.contains("<!here>") && !s.contains("<@U999>"));
        assert!(s.contains("```xxx"), "a long value is fenced: {s}");
        assert!(
            s.contains("ˋˋˋ&lt;!channel&gt;```"),
            "it cannot close its fence: {s}"
        );
        assert!(s.contains("<@U0CAROL003>"), "who it acts on: {s}");
        assert!(s.contains("<!date^"), "the expiry: {s}");
        for b in v.as_array().into_iter().flatten() {
            if let Some(t) = b.get("text").filter(|t| t["type"] == "mrkdwn") {
                assert_eq!(t["verbatim"], true, "{b}");
            }
        }
        let buttons: Vec<&serde_json::Value> = v
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|b| b["elements"].as_array().into_iter().flatten())
            .filter(|e| e["type"] == "button")
            .collect();
        let ids: Vec<&str> = buttons
            .iter()
            .filter_map(|b| b["action_id"].as_str())
            .collect();
        assert_eq!(ids, vec![actions::APPROVE, actions::DENY]);
        for b in buttons {
            let value = b["value"].as_str().unwrap_or_default();
            assert_eq!(
                parse_value(value),
                Some((
                    CaseId::from_seq(12),
                    "0123456789abcdef0123456789abcdef".into()
                ))
            );
        }
    }

    #[test]
    fn the_decided_message_has_no_buttons_and_says_who() {
        let mut c = case_with(serde_json::json!({"device_id": "d1"}));
        if let Some(call) = c.triage.as_mut().and_then(|t| t.call_mut(3)) {
            call.status = CallStatus::Denied;
            if let Some(a) = call.approval.as_mut() {
                a.decision = Some(crate::case::remediation::ApprovalDecision {
                    approved: false,
                    by: "U0ANA00001".into(),
                    at: Utc::now(),
                });
            }
        }
        let call = c
            .triage
            .as_ref()
            .and_then(|t| t.call(3))
            .cloned()
            .expect("call");
        let (_, blocks) = outcome(&c, &call);
        let s = json(&blocks).to_string();
        assert!(s.contains("Denied by <@U0ANA00001>"), "{s}");
        assert!(
            !s.contains(actions::APPROVE) && !s.contains("\"button\""),
            "{s}"
        );
        assert!(home_entries(&c).is_empty(), "no longer waiting");
    }

    #[test]
    fn values_that_are_not_case_and_token_are_rejected() {
        for bad in ["", "VIG-1", "VIG-1:", "x:abc", "VIG-1:a b", "VIG-1:<!here>"] {
            assert_eq!(parse_value(bad), None, "{bad}");
        }
        assert_eq!(
            parse_value("VIG-4:abc123"),
            Some((CaseId::from_seq(4), "abc123".into()))
        );
    }
}
