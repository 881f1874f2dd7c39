//! The PagerDuty event for a case: a summary on-call can act on, the facts in
//! `custom_details`, and links back to the issue and the console. Alert values are cut so the
//! event always fits PagerDuty's limits (an oversized event would be refused for good and the
//! case could never page).

use serde_json::json;

use super::card::http_url;
use super::escape::plain;
use crate::case::{Case, Priority};
use crate::vendors::pagerduty::models::{MAX_SUMMARY_CHARS, Severity, TriggerEvent};

/// Longest alert value in `custom_details` (the command line gets more room).
const DETAIL_MAX: usize = 1000;
/// Longest command line in `custom_details`.
const CMDLINE_MAX: usize = 4000;
/// Longest `source` (host or account).
const SOURCE_MAX: usize = 255;

/// PagerDuty severity: Falcon's critical band pages as critical, otherwise Vigil's priority.
fn severity(case: &Case) -> Severity {
    match (case.priority(), case.alert.severity) {
        (_, 80..) => Severity::Critical,
        (Some(Priority::High), _) => Severity::Error,
        (_, 40..) => Severity::Warning,
        _ => Severity::Info,
    }
}

fn detail(text: &str) -> String {
    plain(text, DETAIL_MAX)
}

fn links(case: &Case) -> Vec<(String, String)> {
    let mut links = vec![];
    if let Some(i) = &case.issue
        && let Some(u) = http_url(&i.url)
    {
        links.push((u.to_string(), format!("GitHub issue #{}", i.number)));
    }
    if let Some(u) = http_url(&case.alert.link) {
        links.push((u.to_string(), "Alert in the console".to_string()));
    }
    links.retain(|(u, _)| u.len() <= 2000);
    links
}

/// The trigger event; its dedup key is the case id, so a repeat never double-pages.
pub fn trigger(case: &Case) -> TriggerEvent {
    let a = &case.alert;
    let subject = plain(a.subject(), SOURCE_MAX);
    let source = if subject.trim().is_empty() {
        "unknown".to_string()
    } else {
        subject
    };
    let summary = plain(
        &format!("[{}] {} on {source}", case.id, a.name),
        MAX_SUMMARY_CHARS,
    );
    let owner = case.owner().map(|o| detail(&o.email)).unwrap_or_default();
    let technique = format!("{} {}", a.technique_id, a.technique);
    let links = links(case);
    let client_url = links
        .iter()
        .find(|(_, text)| text.starts_with("GitHub"))
        .map(|(u, _)| u.clone());
    TriggerEvent {
        dedup_key: case.id.to_string(),
        summary,
        source,
        severity: severity(case),
        component: Some(detail(&a.product)).filter(|p| !p.is_empty()),
        group: Some("endpoints".into()),
        class: Some(detail(&a.tactic)).filter(|t| !t.is_empty()),
        custom_details: json!({
            "case": case.id.as_str(),
            "alert_id": detail(&a.id),
            "alert": detail(&a.name),
            "severity": a.severity,
            "tactic": detail(&a.tactic),
            "technique": detail(technique.trim()),
            "user": detail(&a.user_name),
            "account": detail(&a.account_upn),
            "cmdline": plain(&a.cmdline, CMDLINE_MAX),
            "owner": owner,
            "priority_rule": case.decision.as_ref().map(|d| detail(&d.rule)),
            "owner_answer": case.owner_answer.as_ref().map(|o| o.reply.label()),
        }),
        links,
        client: Some("Vigil".into()),
        client_url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Alert, AlertDevice, CaseId, IssueRef};
    use crate::vendors::pagerduty::models::MAX_EVENT_BYTES;

    fn case(alert: Alert) -> Case {
        Case::new(CaseId::from_seq(12), alert, "k".into(), chrono::Utc::now())
    }

    #[test]
    fn trigger_names_the_case_and_host_and_links_back() {
        let mut c = case(Alert {
            name: "Suspicious PowerShell".into(),
            severity: 85,
            link: "javascript:alert(1)".into(),
            device: Some(AlertDevice {
                hostname: "WS-1".into(),
                ..Default::default()
            }),
            ..Default::default()
        });
        c.issue = Some(IssueRef {
            number: 3,
            url: "https://github.example/acme/sec/issues/3".into(),
        });
        let t = trigger(&c);
        assert_eq!(t.dedup_key, "VIG-12");
        assert_eq!(t.summary, "[VIG-12] Suspicious PowerShell on WS-1");
        assert_eq!(t.source, "WS-1");
        assert_eq!(t.severity, Severity::Critical);
        assert_eq!(t.links.len(), 1, "only http(s) links: {:?}", t.links);
        assert_eq!(
            t.client_url.as_deref(),
            Some("https://github.example/acme/sec/issues/3")
        );
    }

    #[test]
    fn huge_alerts_still_fit_pagerduty() {
        let big = "x\n".repeat(300_000);
        let c = case(Alert {
            id: big.clone(),
            name: big.clone(),
            cmdline: big.clone(),
            user_name: big.clone(),
            account_upn: big.clone(),
            tactic: big.clone(),
            technique: big.clone(),
            product: big,
            ..Default::default()
        });
        let t = trigger(&c);
        assert!(t.summary.chars().count() <= MAX_SUMMARY_CHARS);
        assert!(!t.summary.contains('\n'));
        assert!(t.source.chars().count() <= SOURCE_MAX);
        let body = serde_json::to_vec(&t.to_body("routing")).unwrap_or_default();
        assert!(!body.is_empty() && body.len() < MAX_EVENT_BYTES);
    }

    #[test]
    fn an_alert_with_no_subject_still_has_a_source() {
        assert_eq!(trigger(&case(Alert::default())).source, "unknown");
    }
}
