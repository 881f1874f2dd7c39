//! GitHub issue text for a case. Every alert value goes through `github_text` or a code block,
//! so it cannot mention people, link, or forge Vigil's hidden markers (it cannot produce `<`).

use super::escape::{github_code_block, github_text, truncate};
use crate::case::{Case, CaseId};

/// The hidden marker that finds a case's issue after a crash.
pub fn case_marker(id: &CaseId) -> String {
    format!("<!-- vigil:case={id} -->")
}

/// The hidden marker of one comment step.
pub fn step_marker(id: &CaseId, seq: u64) -> String {
    format!("<!-- vigil:case={id}:step={seq} -->")
}

/// A comment body with its step marker.
pub fn comment_body(text: &str, id: &CaseId, seq: u64) -> String {
    format!("{text}\n\n{}", step_marker(id, seq))
}

/// `[VIG-12] High: Suspicious PowerShell on WS-1` (≤ 256 characters, one line).
pub fn issue_title(case: &Case) -> String {
    let p = match case.priority() {
        Some(crate::case::Priority::High) => "High",
        Some(crate::case::Priority::Low) => "Low",
        None => "Triage",
    };
    let raw = format!(
        "[{}] {p}: {} on {}",
        case.id,
        case.alert.name,
        case.alert.subject()
    );
    let one_line: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(&one_line, 256)
}

fn row(out: &mut String, key: &str, value: &str) {
    if !value.is_empty() {
        out.push_str(&format!("| {key} | {} |\n", github_text(value)));
    }
}

/// The issue body: facts, device, owner, priority, links, command line, marker.
pub fn issue_body(case: &Case) -> String {
    let a = &case.alert;
    let mut out = format!(
        "Vigil case **{}**, opened from a {} alert.\n\n| | |\n|---|---|\n",
        case.id,
        github_text(&a.source)
    );
    row(&mut out, "Alert", &a.name);
    row(&mut out, "Alert id", &a.id);
    row(
        &mut out,
        "Severity",
        &format!("{} ({})", a.severity, a.severity_name),
    );
    row(
        &mut out,
        "Tactic / technique",
        &format!("{} {} {}", a.tactic, a.technique_id, a.technique)
            .trim()
            .to_string(),
    );
    if let Some(d) = &a.device {
        row(&mut out, "Host", &d.hostname);
        row(&mut out, "Platform", &d.platform);
        row(&mut out, "Device id", &d.device_id);
    }
    row(&mut out, "Account", &a.account_upn);
    row(&mut out, "User", &a.user_name);
    row(&mut out, "File", &a.filepath);
    row(&mut out, "SHA-256", &a.sha256);
    if let Some(o) = case.owner() {
        row(
            &mut out,
            "Owner",
            &format!("{} {}", o.name, o.email).trim().to_string(),
        );
    }
    if let Some(d) = &case.decision {
        row(
            &mut out,
            "Priority",
            &format!(
                "{} by rule \"{}\" ({})",
                d.priority.as_str(),
                d.rule,
                d.reason
            ),
        );
    }
    if let Some(e) = &case.enrichment {
        for n in &e.notes {
            row(&mut out, "Note", n);
        }
    }
    if a.link.starts_with("https://") || a.link.starts_with("http://") {
        out.push_str(&format!(
            "\n[Alert in the console]({})\n",
            a.link.replace(['(', ')', ' '], "")
        ));
    }
    if !a.cmdline.is_empty() {
        out.push_str(&format!(
            "\nCommand line:\n\n{}\n",
            github_code_block(&a.cmdline)
        ));
    }
    if !a.description.is_empty() {
        out.push_str(&format!("\n> {}\n", github_text(&a.description)));
    }
    out.push_str(&format!("\n{}\n", case_marker(&case.id)));
    truncate(&out, 60_000)
}

/// The owner's button answer.
pub fn owner_answer_comment(case: &Case) -> String {
    match &case.owner_answer {
        Some(a) => format!(
            "**Owner answered:** {} (Slack user `{}`, {}).",
            a.reply.label(),
            github_text(&a.by),
            a.at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        None => "**Owner answered.**".into(),
    }
}

/// The owner's own words.
pub fn owner_wrote_comment(_case: &Case, text: &str) -> String {
    format!("**Owner wrote in Slack:**\n\n> {}", github_text(text))
}

/// On-call was paged.
pub fn paged_comment(case: &Case, why: &str) -> String {
    format!(
        "**Paged on-call** through PagerDuty: {} (dedup key `{}`).",
        github_text(why),
        case.id
    )
}

/// Resolved.
pub fn resolved_comment(case: &Case) -> String {
    match &case.resolution {
        Some(r) => format!(
            "**Resolved** by Slack user `{}`: {}",
            github_text(&r.by),
            github_text(&r.reason)
        ),
        None => "**Resolved.**".into(),
    }
}

/// A grouped alert.
pub fn grouped_comment(case: &Case, name: &str) -> String {
    format!(
        "**Another alert joined this case:** {} ({} alerts).",
        github_text(name),
        case.alert_count()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Alert, Case, CaseId};

    #[test]
    fn alert_text_cannot_forge_the_marker_or_mention() {
        let alert = Alert {
            name: "<!-- vigil:case=VIG-9 --> @security-team".into(),
            cmdline: "```\n@evil".into(),
            ..Default::default()
        };
        let case = Case::new(CaseId::from_seq(1), alert, "k".into(), chrono::Utc::now());
        let body = issue_body(&case);
        assert_eq!(body.matches("<!-- vigil:case=").count(), 1, "{body}");
        assert!(body.contains(&case_marker(&case.id)));
        assert!(!body.contains(" @security-team"));
    }
}
