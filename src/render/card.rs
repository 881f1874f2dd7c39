//! The case card in the alerts channel: the case's only top-level message, changed in place as
//! the case moves. Plus the one-line and detailed summaries `/triage` shows.

use slack_morphism::prelude::*;

use super::escape::{self, MESSAGE_TEXT, inline_code, mention, mrkdwn};
use super::kit::{self, Style};
use crate::case::{Case, CaseState, Priority};

/// Action ids on cards (stable; documented in the README).
pub mod actions {
    /// Action id of the card's Acknowledge button (also acks the page).
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
    match (case.state(), case.priority()) {
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
                Some(id) => format!("{} ({})", mrkdwn(name), mention(id)),
                None => mrkdwn(name),
            }
        }
        None if case.enrichment.is_some() => "_none found_".into(),
        None => "_looking…_".into(),
    }
}

/// The state in words.
pub fn state_line(case: &Case) -> String {
    match case.state() {
        CaseState::Resolved => match &case.resolution {
            Some(r) => format!("Resolved by {}: {}", mention(&r.by), mrkdwn(&r.reason)),
            None => "Resolved".into(),
        },
        CaseState::AwaitingOwner => "Waiting for the owner".into(),
        CaseState::Escalated => "Escalated: on-call paged".into(),
        CaseState::Acknowledged => match &case.acknowledged_by {
            Some(by) => format!("Acknowledged by {}", mention(by)),
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

fn severity_name(case: &Case) -> String {
    let name = case.alert.severity_name.trim();
    if name.is_empty() {
        crate::case::Alert::severity_label(case.alert.severity).to_string()
    } else {
        mrkdwn(name)
    }
}

/// Longest URL shown as a link or used by a button (Slack's button `url` limit is 3000; links
/// share the 2000-character context element with others).
const MAX_LINK_URL: usize = 1000;

/// The URL if it is an absolute http(s) URL, normalised (so `<`, `>`, `|` and spaces are
/// percent-encoded and cannot break a `<url|label>` link); anything else is not shown.
pub fn http_url(u: &str) -> Option<url::Url> {
    let parsed = url::Url::parse(u.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then_some(parsed)
}

/// A mrkdwn link `<url|label>` to an http(s) URL, or `None` for anything else. The URL's `&`
/// and `|` are escaped so neither the label nor the target can be changed by its text.
pub fn mrkdwn_link(u: &str, label: &str) -> Option<String> {
    let url = http_url(u).filter(|u| u.as_str().len() <= MAX_LINK_URL)?;
    let target = url.as_str().replace('&', "&amp;").replace('|', "%7C");
    Some(format!("<{target}|{}>", mrkdwn(label)))
}

/// The card: text fallback and blocks.
pub fn card(case: &Case) -> (String, Vec<SlackBlock>) {
    let a = &case.alert;
    // Id and priority first: the header is cut at 150 characters and they must survive.
    let title = format!(
        "{} · {} priority: {}",
        case.id,
        priority_label(case),
        a.name
    );
    let fallback = escape::truncate_mrkdwn(
        &format!("{} {}: {}", emoji(case), case.id, mrkdwn(&a.name)),
        MESSAGE_TEXT,
    );
    let mut blocks = vec![kit::header(&title)];
    blocks.push(kit::section(&format!(
        "{} *{}*\n{}",
        emoji(case),
        mrkdwn(&a.name),
        subject_line(case)
    )));
    let mut facts = vec![
        format!("*Severity*\n{} ({})", a.severity, severity_name(case)),
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
    if let Some(to) = &case.assignee {
        facts.push(format!("*Assignee*\n{}", mention(to)));
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
    blocks.extend(super::remediation::card_blocks(case));
    let mut links = vec![];
    if let Some(i) = &case.issue {
        links.extend(mrkdwn_link(&i.url, &format!("GitHub #{}", i.number)));
    }
    links.extend(mrkdwn_link(&a.link, "Alert in console"));
    if !links.is_empty() {
        blocks.push(kit::context(&links.join(" · ")));
    }
    if case.state().is_open() {
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
    if case.state() != CaseState::Escalated {
        b.push(kit::button(
            "Escalate",
            actions::ESCALATE,
            id,
            Style::Danger,
        ));
    }
    b.push(kit::button("Resolve", actions::RESOLVE, id, Style::Plain));
    if case.state() == CaseState::AwaitingOwner {
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
    let issue_url = case.issue.as_ref().and_then(|i| http_url(&i.url));
    if let Some(u) = issue_url.filter(|u| u.as_str().len() <= MAX_LINK_URL) {
        b.push(kit::button("Open ticket", actions::TICKET, id, Style::Plain).with_url(u));
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
        let link = mrkdwn_link(&i.url, &format!("#{}", i.number));
        out.push_str(&format!(
            "*Issue:* {}\n",
            link.unwrap_or_else(|| format!("#{}", i.number))
        ));
    }
    out.push_str("*Timeline:*\n");
    for t in case.timeline.iter().rev().take(12).rev() {
        out.push_str(&format!(
            "  {} {}\n",
            t.at.format("%H:%M:%S"),
            mrkdwn(&super::escape::truncate(&t.text, 200))
        ));
    }
    whole_links(super::escape::truncate(&out, 3500))
}

/// Cuts a truncated mrkdwn text back before a `<url|label>` link the cut went through, so a
/// half link (`<http://…`) never reaches Slack as broken markup. Alert text in `details` is
/// escaped (`&lt;`), so every `<` left in it is one of Vigil's own links or mentions.
fn whole_links(mut text: String) -> String {
    if let Some(open) = text.rfind('<')
        && text.rfind('>').is_none_or(|close| close < open)
    {
        text.truncate(open);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::case::{
        Alert, AlertDevice, CaseId, Decision, Enrichment, GroupedAlert, IssueRef, Owner, Resolution,
    };

    fn case(device: bool) -> Case {
        let alert = Alert {
            name: "Suspicious PowerShell".into(),
            severity: 72,
            account_upn: "carol@example.com".into(),
            link: "https://falcon.example/alert/1".into(),
            device: device.then(|| AlertDevice {
                hostname: "WS-CAROL".into(),
                device_id: "d1".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut c = Case::new(CaseId::from_seq(12), alert, "k".into(), Utc::now());
        c.decision = Some(Decision {
            priority: Priority::High,
            rule: "high-severity".into(),
            reason: "severity 72 ≥ 70".into(),
        });
        c.force_state(CaseState::AwaitingOwner);
        c
    }

    fn json(blocks: &[SlackBlock]) -> String {
        serde_json::to_string(blocks).unwrap_or_default()
    }

    fn action_ids(blocks: &[SlackBlock]) -> Vec<String> {
        let v = serde_json::to_value(blocks).unwrap_or_default();
        let mut ids = vec![];
        for b in v.as_array().into_iter().flatten() {
            for e in b["elements"].as_array().into_iter().flatten() {
                if let Some(id) = e["action_id"].as_str() {
                    ids.push(id.to_string());
                }
            }
        }
        ids
    }

    #[test]
    fn open_card_shows_the_facts_and_every_button_names_its_case() {
        let mut c = case(true);
        c.issue = Some(IssueRef {
            number: 3,
            url: "https://github.example/acme/sec/issues/3".into(),
        });
        let (text, blocks) = card(&c);
        let j = json(&blocks);
        assert!(text.contains("VIG-12"));
        assert!(j.contains("VIG-12 · High priority"), "{j}");
        assert!(j.contains("Host `WS-CAROL`"));
        assert!(
            j.contains("72 (High)"),
            "severity label from the number: {j}"
        );
        assert!(j.contains("high-severity") && j.contains("severity 72 ≥ 70"));
        assert!(j.contains("<https://github.example/acme/sec/issues/3|GitHub #3>"));
        assert!(j.contains("<https://falcon.example/alert/1|Alert in console>"));
        let ids = action_ids(&blocks);
        for id in [
            actions::ACK,
            actions::ASSIGN,
            actions::ESCALATE,
            actions::RESOLVE,
            actions::SNOOZE,
            actions::CONTAIN,
            actions::TICKET,
        ] {
            assert!(ids.iter().any(|i| i == id), "{id} in {ids:?}");
        }
        let v = serde_json::to_value(&blocks).unwrap_or_default();
        let buttons = v.as_array().into_iter().flatten().flat_map(|b| {
            b["elements"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|e| e["type"] == "button")
        });
        for b in buttons {
            assert_eq!(b["value"], "VIG-12", "{b}");
            if b["action_id"] == actions::CONTAIN {
                assert_eq!(b["style"], "danger");
                assert!(b["confirm"].is_object(), "contain needs a confirm dialog");
            }
        }
    }

    #[test]
    fn identity_alert_shows_the_account_and_cannot_be_contained() {
        let (_, blocks) = card(&case(false));
        assert!(json(&blocks).contains("Account `carol@example.com`"));
        assert!(!action_ids(&blocks).iter().any(|i| i == actions::CONTAIN));
        assert!(!action_ids(&blocks).iter().any(|i| i == actions::TICKET));
    }

    #[test]
    fn resolved_card_is_final_and_says_who_and_why() {
        let mut c = case(true);
        c.force_state(CaseState::Resolved);
        c.resolution = Some(Resolution {
            by: "U0ANA".into(),
            reason: "admin <tool>".into(),
            at: Utc::now(),
        });
        let (_, blocks) = card(&c);
        assert!(action_ids(&blocks).is_empty());
        assert!(json(&blocks).contains("Resolved by <@U0ANA>: admin &lt;tool&gt;"));
    }

    #[test]
    fn owner_is_mentioned_only_through_a_looked_up_id() {
        let mut c = case(true);
        c.enrichment = Some(Enrichment {
            owner: Some(Owner {
                name: "<!channel> Carol <@U999>".into(),
                slack_user: Some("U0CAROL".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        let j = json(&card(&c).1);
        assert!(
            j.contains("&lt;!channel&gt; Carol &lt;@U999&gt; (<@U0CAROL>)"),
            "{j}"
        );
        assert!(!j.contains("<@U999>") && !j.contains("<!channel>"));
    }

    #[test]
    fn grouped_cases_show_count_and_last_seen() {
        let mut c = case(true);
        c.grouped.push(GroupedAlert {
            id: "a2".into(),
            name: "Again".into(),
            at: Utc::now(),
        });
        let j = json(&card(&c).1);
        assert!(j.contains("2 alerts, last seen"), "{j}");
    }

    #[test]
    fn only_http_links_are_shown() {
        let mut c = case(true);
        c.alert.link = "javascript:alert(1)".into();
        c.issue = Some(IssueRef {
            number: 3,
            url: "slack://evil".into(),
        });
        let (_, blocks) = card(&c);
        let j = json(&blocks);
        assert!(!j.contains("javascript") && !j.contains("slack://"), "{j}");
        assert!(!action_ids(&blocks).iter().any(|i| i == actions::TICKET));
        let link = mrkdwn_link("https://x.example/a?b=1&c=2|x>", "l");
        assert_eq!(
            link.as_deref(),
            Some("<https://x.example/a?b=1&amp;c=2%7Cx%3E|l>")
        );
    }

    #[test]
    fn header_keeps_id_and_priority_for_a_huge_name() {
        let mut c = case(true);
        c.alert.name = "x".repeat(5000);
        let v = serde_json::to_value(card(&c).1).unwrap_or_default();
        let header = v[0]["text"]["text"].as_str().unwrap_or_default();
        assert!(header.starts_with("VIG-12 · High priority: x"), "{header}");
        assert!(header.chars().count() <= 150);
    }

    #[test]
    fn summary_and_details_escape_alert_text() {
        let mut c = case(true);
        c.alert.name = "<!here> boom".into();
        c.note(Utc::now(), None, "<@U1> said <!channel>");
        assert!(!summary_line(&c).contains("<!here>"));
        let d = details(&c);
        assert!(d.contains("&lt;@U1&gt; said &lt;!channel&gt;"), "{d}");
        assert!(d.contains("high-severity"));
    }
}
