//! The PagerDuty event for a case: a summary on-call can act on, the facts in
//! `custom_details`, and links back to the card, the issue and the console.

use serde_json::json;

use crate::case::{Case, Priority};
use crate::vendors::pagerduty::models::{Severity, TriggerEvent};

/// The trigger event; its dedup key is the case id, so a repeat never double-pages.
pub fn trigger(case: &Case) -> TriggerEvent {
    let a = &case.alert;
    let severity = match (case.priority(), a.severity) {
        (_, 80..) => Severity::Critical,
        (Some(Priority::High), _) => Severity::Error,
        (_, 40..) => Severity::Warning,
        _ => Severity::Info,
    };
    let owner = case.owner().map(|o| o.email.clone()).unwrap_or_default();
    let mut links = vec![];
    if let Some(i) = &case.issue {
        links.push((i.url.clone(), format!("GitHub issue #{}", i.number)));
    }
    if a.link.starts_with("https://") || a.link.starts_with("http://") {
        links.push((a.link.clone(), "Alert in the console".to_string()));
    }
    TriggerEvent {
        dedup_key: case.id.to_string(),
        summary: format!("[{}] {} on {}", case.id, a.name, a.subject()),
        source: a.subject().to_string(),
        severity,
        component: Some(a.product.clone()).filter(|p| !p.is_empty()),
        group: Some("endpoints".into()),
        class: Some(a.tactic.clone()).filter(|t| !t.is_empty()),
        custom_details: json!({
            "case": case.id.as_str(),
            "alert_id": a.id,
            "severity": a.severity,
            "tactic": a.tactic,
            "technique": format!("{} {}", a.technique_id, a.technique).trim().to_string(),
            "user": a.user_name,
            "owner": owner,
            "priority_rule": case.decision.as_ref().map(|d| d.rule.clone()),
            "owner_answer": case.owner_answer.as_ref().map(|o| o.reply.label()),
        }),
        links,
        client: Some("Vigil".into()),
        client_url: case.issue.as_ref().map(|i| i.url.clone()),
    }
}
