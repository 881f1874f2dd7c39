//! The case card in the alerts channel: the case's only top-level message, changed in place as
//! the case moves. Plus the one-line and detailed summaries `/triage` shows.

use slack_morphism::prelude::*;

use super::escape::{inline_code, mrkdwn};
use super::kit::{self, Style};
use crate::case::{Case, CaseState, Priority};

/// Action ids on cards (stable; documented in the README).
pub mod actions {
    /// Acknowledge.
    pub const ACK: &str = "case_ack";
    /// Assign to me.
    pub const ASSIGN: &str = "case_assign";
    /// Escalate (page).
    pub const ESCALATE: &str = "case_escalate";
    /// Resolve (opens the reason modal).
    pub const RESOLVE: &str = "case_resolve";
    /// Snooze owner timers.
    pub const SNOOZE: &str = "case_snooze";
    /// Contain host (confirm dialog).
    pub const CONTAIN: &str = "case_contain";
    /// Open the ticket (link button).
    pub const TICKET: &str = "case_ticket";
}

fn priority_label(case: &Case) -> &'static str {
    match case.priority() {
        Some(Priority::High) => "High",
        Some(Priority::Low) => "Low",
        None => "Pending",
    }
}

fn emoji(case: &Case) -> &'static str {
    match (case.state, case.priority()) {
        (CaseState::Resolved, _) => ":white_check_mark:",
        (_, Some(Priority::High)) | (CaseState::Escalated, _) => ":rotating_light:",
        _ => ":large_orange_diamond:",
    }
}

/// What the alert is about, for people: the host, or the account for identity alerts.
pub fn subject_line(case: &Case) -> String {
    match &case.alert.device {
        Some(d) if !d.hostname.is_empty() => format!("Host {}", inline_code(&d.hostname)),
        _ => format!("Account {}", inline_code(case.alert.subject())),
    }
}

fn owner_line(case: &Case) -> String {
    match case.owner() {
        Some(o) => {
            let name = if o.name.is_empty() {
                o.email.as_str()
            } else {
                o.name.as_str()
            };
            match &o.slack_user {
                // An id Vigil looked up itself, never text from the alert.
                Some(id) => format!("{} (<@{id}>)", mrkdwn(name)),
                None => mrkdwn(name),
            }
        }
        None if case.enrichment.is_some() => "_none found_".into(),
        None => "_looking…_".into(),
    }
}

/// The state in words.
pub fn state_line(case: &Case) -> String {
    match case.state {
        CaseState::Resolved => match &case.resolution {
            Some(r) => format!("Resolved by <@{}>: {}", r.by, mrkdwn(&r.reason)),
            None => "Resolved".into(),
        },
        CaseState::AwaitingOwner => "Waiting for the owner".into(),
        CaseState::Escalated => "Escalated: on-call paged".into(),
        CaseState::Acknowledged => match &case.acknowledged_by {
            Some(by) => format!("Acknowledged by <@{by}>"),
            None => "Acknowledged".into(),
        },
        other => {
            let mut s = other.as_str().to_string();
            if let Some(a) = &case.owner_answer {
                s = format!("Owner answered: {}", a.reply.label());
            }
            s
        }
    }
}

fn http_url(u: &str) -> Option<String> {
    let parsed = url::Url::parse(u).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

/// The card: text fallback and blocks.
pub fn card(case: &Case) -> (String, Vec<SlackBlock>) {
    let a = &case.alert;
    let title = format!("{} {} · {} priority", case.id, a.name, priority_label(case));
    let fallback = format!("{} {}: {}", emoji(case), case.id, mrkdwn(&a.name));
    let mut blocks = vec![kit::header(&title)];
    blocks.push(kit::section(&format!(
        "{} *{}*\n{}",
        emoji(case),
        mrkdwn(&a.name),
        subject_line(case)
    )));
    let mut facts = vec![
        format!("*Severity*\n{} ({})", a.severity, mrkdwn(&a.severity_name)),
        format!(
            "*Priority*\n{}{}",
            priority_label(case),
            case.decision
                .as_ref()
                .map(|d| format!(" by rule _{}_ ({})", mrkdwn(&d.rule), mrkdwn(&d.reason)))
                .unwrap_or_default()
        ),
        format!("*Owner*\n{}", owner_line(case)),
        format!("*State*\n{}", state_line(case)),
    ];
    if !a.tactic.is_empty() || !a.technique_id.is_empty() {
        facts.push(format!(
            "*Technique*\n{} {} {}",
            mrkdwn(&a.tactic),
            mrkdwn(&a.technique_id),
            mrkdwn(&a.technique)
        ));
    }
    if !a.user_name.is_empty() {
        facts.push(format!("*User*\n{}", inline_code(&a.user_name)));
    }
    if case.alert_count() > 1 {
        facts.push(format!(
            "*Alerts*\n{} alerts, last seen {}",
            case.alert_count(),
            case.last_seen().format("%H:%M UTC")
        ));
    }
    blocks.push(kit::fields(&facts));
    if !a.cmdline.is_empty() {
        blocks.push(kit::section(&format!(
            "*Command line*\n{}",
            inline_code(&a.cmdline)
        )));
    }
    let mut links = vec![];
    if let Some(i) = &case.issue {
        if let Some(u) = http_url(&i.url) {
            links.push(format!("<{u}|GitHub #{}>", i.number));
        }
    }
    if let Some(u) = http_url(&a.link) {
        links.push(format!("<{u}|Alert in console>"));
    }
    if !links.is_empty() {
        blocks.push(kit::context(&links.join(" · ")));
    }
    if case.state.is_open() {
        blocks.push(kit::actions(&format!("case:{}", case.id), buttons(case)));
    }
    (fallback, blocks)
}

fn buttons(case: &Case) -> Vec<SlackBlockButtonElement> {
    let id = case.id.as_str();
    let mut b = vec![];
    if case.acknowledged_by.is_none() {
        b.push(kit::button("Acknowledge", actions::ACK, id, Style::Primary));
    }
    b.push(kit::button(
        "Assign to me",
        actions::ASSIGN,
        id,
        Style::Plain,
    ));
    if case.state != CaseState::Escalated {
        b.push(kit::button(
            "Escalate",
            actions::ESCALATE,
            id,
            Style::Danger,
        ));
    }
    b.push(kit::button("Resolve", actions::RESOLVE, id, Style::Plain));
    if case.state == CaseState::AwaitingOwner {
        b.push(kit::button("Snooze 2h", actions::SNOOZE, id, Style::Plain));
    }
    if let Some(d) = &case.alert.device {
        let host = super::escape::plain(&d.hostname, 60);
        b.push(
            kit::button("Contain host", actions::CONTAIN, id, Style::Danger).with_confirm(kit::confirm(
                "Contain this host?",
                &format!("{host} will be cut off the network until containment is lifted in CrowdStrike."),
                "Contain",
            )),
        );
    }
    if let Some(u) = case.issue.as_ref().and_then(|i| http_url(&i.url)) {
        if let Ok(parsed) = url::Url::parse(&u) {
            b.push(kit::button("Open ticket", actions::TICKET, id, Style::Plain).with_url(parsed));
        }
    }
    b
}

/// One line for `/triage list`.
pub fn summary_line(case: &Case) -> String {
    format!(
        "• *{}* {} · {} · {} · {}",
        case.id,
        mrkdwn(&super::escape::truncate(&case.alert.name, 80)),
        subject_line(case),
        priority_label(case),
        state_line(case)
    )
}

/// The case in detail for `/triage show`.
pub fn details(case: &Case) -> String {
    let mut out = format!("{}\n", summary_line(case));
    out.push_str(&format!("*Owner:* {}\n", owner_line(case)));
    if let Some(d) = &case.decision {
        out.push_str(&format!(
            "*Priority rule:* {} ({})\n",
            mrkdwn(&d.rule),
            mrkdwn(&d.reason)
        ));
    }
    if let Some(i) = &case.issue {
        out.push_str(&format!("*Issue:* #{} {}\n", i.number, mrkdwn(&i.url)));
    }
    out.push_str("*Timeline:*\n");
    for t in case.timeline.iter().rev().take(12).rev() {
        out.push_str(&format!(
            "  {} {}\n",
            t.at.format("%H:%M:%S"),
            mrkdwn(&super::escape::truncate(&t.text, 200))
        ));
    }
    super::escape::truncate(&out, 3500)
}
