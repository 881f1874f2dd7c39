//! GitHub issue text for a case. Every alert value goes through `github_text` or a code block,
//! so it cannot mention people, link, or forge Vigil's hidden markers (it cannot produce `<`).

use super::card::http_url;
use super::escape::{github_code_block, github_text, is_slack_user_id, truncate};
use crate::case::note::{IssueNote, Said};
use crate::case::{Alert, Case, CaseId, Priority};

/// GitHub's issue title limit.
pub const TITLE_MAX: usize = 256;
/// Room for the issue body before the marker (GitHub refuses bodies over 65 536 characters).
const BODY_MAX: usize = 60_000;
/// Enrichment notes listed in the issue body; the rest are counted.
const NOTES_MAX: usize = 20;

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
        Some(Priority::High) => "High",
        Some(Priority::Low) => "Low",
        None => "Triage",
    };
    let subject = case.alert.subject();
    let raw = if subject.is_empty() {
        format!("[{}] {p}: {}", case.id, case.alert.name)
    } else {
        format!("[{}] {p}: {} on {subject}", case.id, case.alert.name)
    };
    let one_line: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(one_line.trim_end(), TITLE_MAX)
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
        &format!("{} ({})", a.severity, severity_name(a)),
    );
    row(
        &mut out,
        "Tactic / technique",
        format!("{} {} {}", a.tactic, a.technique_id, a.technique).trim(),
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
        row(&mut out, "Owner", format!("{} {}", o.name, o.email).trim());
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
    notes(&mut out, case);
    links(&mut out, case);
    if !a.cmdline.is_empty() {
        out.push_str(&format!(
            "\nCommand line:\n\n{}\n",
            github_code_block(&a.cmdline)
        ));
    }
    if !a.description.is_empty() {
        out.push_str(&format!("\n> {}\n", github_text(&a.description)));
    }
    // The marker goes after the cut so a huge alert can never push it out.
    let mut body = truncate(&out, BODY_MAX);
    body.push_str(&format!("\n\n{}\n", case_marker(&case.id)));
    body
}

fn severity_name(a: &Alert) -> &str {
    if a.severity_name.trim().is_empty() {
        Alert::severity_label(a.severity)
    } else {
        &a.severity_name
    }
}

fn notes(out: &mut String, case: &Case) {
    let Some(e) = &case.enrichment else { return };
    for n in e.notes.iter().take(NOTES_MAX) {
        row(out, "Note", n);
    }
    if e.notes.len() > NOTES_MAX {
        row(
            out,
            "Note",
            &format!("and {} more notes", e.notes.len() - NOTES_MAX),
        );
    }
}

/// A markdown link to an http(s) URL, or `None`. The URL is normalised by `url` (which
/// percent-encodes `<`, `>`, spaces and quotes) and its parentheses are encoded so it cannot
/// end the link early.
pub fn markdown_link(u: &str, label: &str) -> Option<String> {
    let url = http_url(u)?;
    let target = url.as_str().replace('(', "%28").replace(')', "%29");
    Some(format!("[{}]({target})", github_text(label)))
}

fn links(out: &mut String, case: &Case) {
    if let Some(l) = markdown_link(&case.alert.link, "Alert in the console") {
        out.push_str(&format!("\n{l}\n"));
    }
}

/// How a Slack user appears on GitHub: the id in a code span when it is one (it cannot break
/// the span), otherwise escaped text.
fn slack_user(id: &str) -> String {
    if is_slack_user_id(id) {
        format!("Slack user `{id}`")
    } else {
        github_text(id)
    }
}

/// The owner's button answer.
pub fn owner_answer_comment(case: &Case) -> String {
    match &case.owner_answer {
        Some(a) => format!(
            "**Owner answered:** {} ({}, {}).",
            a.reply.label(),
            slack_user(&a.by),
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

/// The closing comment: who resolved the case and why, before the issue is closed.
pub fn resolved_comment(case: &Case) -> String {
    match &case.resolution {
        Some(r) => format!(
            "**Resolved** by {}: {}",
            slack_user(&r.by),
            github_text(&r.reason)
        ),
        None => "**Resolved.**".into(),
    }
}

/// A grouped alert, `alerts` being the case's count when it joined.
pub fn grouped_comment(name: &str, alerts: usize) -> String {
    format!(
        "**Another alert joined this case:** {} ({alerts} alerts).",
        github_text(name),
    )
}

/// The body of an issue-comment step, rendered when it runs (before [`comment_body`] adds the
/// marker); text stored by an older Vigil is already Markdown and goes as it is.
pub fn note(case: &Case, said: &Said<IssueNote>) -> String {
    let note = match said {
        Said::Text(text) => return text.clone(),
        Said::Note(note) => note,
    };
    match note {
        IssueNote::Grouped { name, alerts } => grouped_comment(name, *alerts),
        IssueNote::Paged { why } => paged_comment(case, why),
        IssueNote::OwnerAnswer => owner_answer_comment(case),
        IssueNote::OwnerWrote { text } => owner_wrote_comment(case, text),
        IssueNote::Resolved => resolved_comment(case),
        IssueNote::ToolCalls { calls } => super::tools::calls_comment(case, calls),
        IssueNote::Plan => super::remediation::plan_comment(case),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use proptest::prelude::*;

    use super::*;
    use crate::case::{AlertDevice, Decision, OwnerAnswer, OwnerReply, Resolution};

    fn case_with(alert: Alert) -> Case {
        let mut c = Case::new(CaseId::from_seq(12), alert, "k".into(), Utc::now());
        c.decision = Some(Decision {
            priority: Priority::High,
            rule: "high-severity".into(),
            reason: "severity 85".into(),
        });
        c
    }

    fn endpoint() -> Alert {
        Alert {
            name: "Suspicious PowerShell".into(),
            severity: 85,
            cmdline: "powershell -enc AAAA".into(),
            link: "https://falcon.example/a(1)".into(),
            device: Some(AlertDevice {
                hostname: "WS-CAROL-MBP".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn title_is_one_line_with_id_priority_and_subject() {
        let c = case_with(endpoint());
        assert_eq!(
            issue_title(&c),
            "[VIG-12] High: Suspicious PowerShell on WS-CAROL-MBP"
        );
        let mut hostile = endpoint();
        hostile.name = format!("a\nb\r{}", "x".repeat(400));
        let t = issue_title(&case_with(hostile));
        assert!(!t.contains('\n') && !t.contains('\r'));
        assert!(t.chars().count() <= TITLE_MAX);
        assert!(t.starts_with("[VIG-12] High: a b "));
    }

    #[test]
    fn body_has_facts_rule_link_code_and_marker() {
        let body = issue_body(&case_with(endpoint()));
        assert!(body.contains("| Host | WS-CAROL-MBP |"), "{body}");
        assert!(body.contains("| Severity | 85 \\(Critical\\) |"), "{body}");
        assert!(body.contains("high-severity"));
        assert!(body.contains("[Alert in the console](https://falcon.example/a%281%29)"));
        assert!(body.contains("```text\npowershell -enc AAAA\n```"));
        assert!(
            body.lines()
                .any(|l| l == case_marker(&CaseId::from_seq(12)))
        );
    }

    #[test]
    fn alert_text_cannot_forge_the_marker_or_mention() {
        let alert = Alert {
            name: "<!-- vigil:case=VIG-9 --> @security-team".into(),
            description: "<!-- vigil:case=VIG-9 -->".into(),
            cmdline: "```\n<!-- vigil:case=VIG-9 -->\n@evil".into(),
            link: "https://x.example/<!-- vigil:case=VIG-9 -->".into(),
            ..Default::default()
        };
        let case = case_with(alert);
        let body = issue_body(&case);
        assert_eq!(body.matches("<!--").count(), 1, "{body}");
        assert!(body.contains(&case_marker(&case.id)));
        assert!(!body.contains("@security-team"));
    }

    #[test]
    fn marker_survives_a_huge_alert() {
        let mut alert = endpoint();
        alert.name = "n".repeat(100_000);
        alert.description = "d".repeat(100_000);
        alert.cmdline = "c".repeat(100_000);
        let body = issue_body(&case_with(alert));
        assert!(body.chars().count() <= 65_536);
        assert!(body.ends_with(&format!("{}\n", case_marker(&CaseId::from_seq(12)))));
    }

    #[test]
    fn markers_and_comments() {
        let id = CaseId::from_seq(12);
        assert_eq!(case_marker(&id), "<!-- vigil:case=VIG-12 -->");
        assert_eq!(step_marker(&id, 7), "<!-- vigil:case=VIG-12:step=7 -->");
        let body = comment_body("hello", &id, 7);
        assert!(body.starts_with("hello") && body.ends_with(&step_marker(&id, 7)));
        assert!(
            !body.contains(&case_marker(&id)),
            "a comment is not the issue"
        );
    }

    #[test]
    fn comments_escape_what_people_wrote() {
        let mut c = case_with(endpoint());
        c.owner_answer = Some(OwnerAnswer {
            reply: OwnerReply::NotMe,
            by: "U0CAROL".into(),
            at: Utc::now(),
        });
        c.resolution = Some(Resolution {
            by: "U0ANA".into(),
            reason: "@team see [x](https://evil) <!-- vigil:case=VIG-1 -->".into(),
            at: Utc::now(),
        });
        let answered = owner_answer_comment(&c);
        assert!(answered.contains("No, this wasn't me") && answered.contains("`U0CAROL`"));
        let resolved = resolved_comment(&c);
        assert!(resolved.contains("`U0ANA`"));
        assert!(
            !resolved.contains("@team") && !resolved.contains("](") && !resolved.contains("<!--")
        );
        let wrote = owner_wrote_comment(&c, "it was @bob\n# not me");
        assert!(!wrote.contains("@bob") && !wrote.contains("\n# "));
        assert!(grouped_comment("@x", c.alert_count()).contains("@\u{200b}x"));
        assert!(paged_comment(&c, "owner said not me").contains("VIG-12"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn only_vigil_writes_markers(name in ".{0,300}", cmd in ".{0,300}", link in ".{0,100}") {
            let mut alert = endpoint();
            alert.name = name;
            alert.cmdline = cmd;
            alert.link = format!("https://x.example/{link}");
            let body = issue_body(&case_with(alert));
            prop_assert_eq!(body.matches("<!--").count(), 1);
            prop_assert!(issue_title(&case_with(endpoint())).chars().count() <= TITLE_MAX);
        }
    }
}
