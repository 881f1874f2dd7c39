//! What kind of alert a case is (SPEC §3.2): the six alert types, and the deterministic rules
//! classifier that needs no model. A named rule table, first match wins, `other` by default;
//! the rule that decided is kept on the [`Classification`] like flow 1's priority rule.
//!
//! Invariant: [`classify_rules`] is total and deterministic: same alert and entities, same
//! answer, for any input.

use serde::{Deserialize, Serialize};

use super::entities::Entities;
use crate::case::Alert;

/// The alert types of SPEC §3.2; the serde names are the SOP labels' suffixes (`sop-c2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertType {
    /// A malicious file on an endpoint.
    Malware,
    /// A reported or detected phishing email.
    Phishing,
    /// Brute force, impossible travel, identity alerts.
    SuspiciousLogin,
    /// Command-and-control traffic.
    C2,
    /// Unusual uploads of company data.
    DataExfiltration,
    /// Anything else.
    Other,
}

impl AlertType {
    /// All six, in SPEC order.
    pub const ALL: [AlertType; 6] = [
        AlertType::Malware,
        AlertType::Phishing,
        AlertType::SuspiciousLogin,
        AlertType::C2,
        AlertType::DataExfiltration,
        AlertType::Other,
    ];

    /// The stable name (`suspicious_login`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertType::Malware => "malware",
            AlertType::Phishing => "phishing",
            AlertType::SuspiciousLogin => "suspicious_login",
            AlertType::C2 => "c2",
            AlertType::DataExfiltration => "data_exfiltration",
            AlertType::Other => "other",
        }
    }

    /// The type of a stable name.
    pub fn from_name(name: &str) -> Option<AlertType> {
        AlertType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The Confluence label of this type's SOP (`sop-malware`).
    pub fn sop_label(self) -> String {
        format!("sop-{}", self.as_str())
    }
}

/// Triage severity: flow 2's own scale beside flow 1's priority, from the alert's 1–100 score
/// or the model's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Informational or low (alert score below 40).
    Low,
    /// Medium (alert score 40–59).
    Medium,
    /// High (alert score 60–79).
    High,
    /// Critical (alert score 80 and above).
    Critical,
}

impl Severity {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// From the source's 1–100 scale, with Falcon's bands.
    pub fn from_score(score: u8) -> Severity {
        match score {
            0..=39 => Severity::Low,
            40..=59 => Severity::Medium,
            60..=79 => Severity::High,
            _ => Severity::Critical,
        }
    }
}

/// Who decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifiedBy {
    /// The rules table.
    Rules,
    /// The configured model.
    Llm,
}

/// The answer, as the case stores and the card shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    /// The type, which picks the SOP (`sop-<type>` label).
    pub alert_type: AlertType,
    /// The severity shown on the card.
    pub severity: Severity,
    /// One line saying why.
    pub rationale: String,
    /// The rule that decided (`llm` for the model).
    pub rule: String,
    /// Rules or model.
    pub by: ClassifiedBy,
    /// Why the model's answer was not used, when the rules stood in for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// One rule of the table.
pub struct Rule {
    /// Stable name, recorded on the case.
    pub name: &'static str,
    /// The type it gives.
    pub alert_type: AlertType,
    /// Whether it matches.
    pub matches: fn(&Alert, &Entities) -> bool,
    /// The rationale it gives.
    pub rationale: &'static str,
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

fn text(a: &Alert) -> String {
    lower(&format!("{} {} {}", a.name, a.technique, a.description))
}

fn technique_in(a: &Alert, ids: &[&str]) -> bool {
    let t = a.technique_id.trim().to_uppercase();
    ids.iter()
        .any(|id| t == *id || t.starts_with(&format!("{id}.")))
}

fn tactic_is(a: &Alert, tactic: &str) -> bool {
    lower(&a.tactic).contains(tactic)
}

/// The rules of SPEC §3.2, in order.
pub fn rules() -> Vec<Rule> {
    vec![
        Rule {
            name: "identity_alert",
            alert_type: AlertType::SuspiciousLogin,
            matches: |a, _| lower(&a.product) == "idp",
            rationale: "Falcon Identity Protection alert",
        },
        Rule {
            name: "credential_technique",
            alert_type: AlertType::SuspiciousLogin,
            matches: |a, _| {
                tactic_is(a, "credential access")
                    || technique_in(a, &["T1110", "T1078", "T1556"])
                    || ["brute force", "password spray", "impossible travel"]
                        .iter()
                        .any(|k| text(a).contains(k))
            },
            rationale: "credential-access tactic or brute-force technique",
        },
        Rule {
            name: "command_and_control",
            alert_type: AlertType::C2,
            matches: |a, _| {
                tactic_is(a, "command and control")
                    || technique_in(a, &["T1071", "T1095", "T1571", "T1573"])
                    || ["c2 domain", "command and control", "beacon"]
                        .iter()
                        .any(|k| text(a).contains(k))
            },
            rationale: "Command and Control tactic or a C2 domain",
        },
        Rule {
            name: "exfiltration",
            alert_type: AlertType::DataExfiltration,
            matches: |a, _| {
                tactic_is(a, "exfiltration")
                    || technique_in(a, &["T1041", "T1048", "T1567"])
                    || text(a).contains("exfiltration")
            },
            rationale: "Exfiltration tactic or technique",
        },
        Rule {
            name: "malware_file",
            alert_type: AlertType::Malware,
            matches: |a, e| {
                let scenario = a
                    .raw
                    .get("scenario")
                    .and_then(serde_json::Value::as_str)
                    .map(lower)
                    .unwrap_or_default();
                let ml = scenario.contains("ngav")
                    || scenario.contains("machine_learning")
                    || tactic_is(a, "machine learning")
                    || text(a).contains("ngav");
                let malware_tactic = ["malware", "execution", "machine learning"]
                    .iter()
                    .any(|t| tactic_is(a, t))
                    || ["malware", "trojan", "ransomware"]
                        .iter()
                        .any(|k| text(a).contains(k));
                ml || (!e.hashes.is_empty() && malware_tactic)
            },
            rationale: "a file hash with a malware tactic, or an ML/NGAV detection",
        },
        Rule {
            name: "reported_email",
            alert_type: AlertType::Phishing,
            matches: |_, e| e.sender.is_some() && !e.urls.is_empty(),
            rationale: "a reported email with a sender and a URL",
        },
        Rule {
            name: "phishing_name",
            alert_type: AlertType::Phishing,
            matches: |a, _| text(a).contains("phish"),
            rationale: "the alert is named as phishing",
        },
    ]
}

/// The rules classifier: the first matching rule, else `other` (rule `default`).
pub fn classify_rules(alert: &Alert, entities: &Entities) -> Classification {
    let severity = Severity::from_score(alert.severity);
    for r in rules() {
        if (r.matches)(alert, entities) {
            return Classification {
                alert_type: r.alert_type,
                severity,
                rationale: format!("{}: {}", r.alert_type.as_str(), r.rationale),
                rule: r.name.into(),
                by: ClassifiedBy::Rules,
                fallback: None,
            };
        }
    }
    Classification {
        alert_type: AlertType::Other,
        severity,
        rationale: "no rule matched the alert".into(),
        rule: "default".into(),
        by: ClassifiedBy::Rules,
        fallback: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(alert: Alert, rule: &str, ty: AlertType) {
        let e = Entities::from_alert(&alert);
        let c = classify_rules(&alert, &e);
        assert_eq!((c.rule.as_str(), c.alert_type), (rule, ty), "{c:?}");
        assert_eq!(c.by, ClassifiedBy::Rules);
    }

    const SHA: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

    #[test]
    fn each_rule_decides_its_type() {
        check(
            Alert {
                product: "idp".into(),
                ..Default::default()
            },
            "identity_alert",
            AlertType::SuspiciousLogin,
        );
        check(
            Alert {
                technique_id: "T1110.003".into(),
                ..Default::default()
            },
            "credential_technique",
            AlertType::SuspiciousLogin,
        );
        check(
            Alert {
                tactic: "Command and Control".into(),
                ..Default::default()
            },
            "command_and_control",
            AlertType::C2,
        );
        check(
            Alert {
                tactic: "Exfiltration".into(),
                ..Default::default()
            },
            "exfiltration",
            AlertType::DataExfiltration,
        );
        check(
            Alert {
                tactic: "Execution".into(),
                sha256: SHA.into(),
                ..Default::default()
            },
            "malware_file",
            AlertType::Malware,
        );
        check(
            Alert {
                raw: json!({"scenario": "NGAV"}),
                ..Default::default()
            },
            "malware_file",
            AlertType::Malware,
        );
        check(
            Alert {
                sender: "boss@evil.example".into(),
                description: "click https://evil.example/login".into(),
                ..Default::default()
            },
            "reported_email",
            AlertType::Phishing,
        );
        check(
            Alert {
                name: "User reported phishing".into(),
                ..Default::default()
            },
            "phishing_name",
            AlertType::Phishing,
        );
        check(
            Alert {
                name: "Odd thing".into(),
                ..Default::default()
            },
            "default",
            AlertType::Other,
        );
    }

    #[test]
    fn an_execution_tactic_without_a_hash_is_not_malware() {
        check(
            Alert {
                tactic: "Execution".into(),
                ..Default::default()
            },
            "default",
            AlertType::Other,
        );
    }

    #[test]
    fn first_match_wins_and_severity_follows_the_score() {
        let a = Alert {
            product: "idp".into(),
            tactic: "Command and Control".into(),
            severity: 85,
            ..Default::default()
        };
        let c = classify_rules(&a, &Entities::default());
        assert_eq!(c.rule, "identity_alert");
        assert_eq!(c.severity, Severity::Critical);
    }

    #[test]
    fn type_names_are_the_spec_names() {
        let names: Vec<String> = AlertType::ALL
            .iter()
            .filter_map(|t| serde_json::to_value(t).ok())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        assert_eq!(
            names,
            [
                "malware",
                "phishing",
                "suspicious_login",
                "c2",
                "data_exfiltration",
                "other"
            ]
        );
        assert!(
            AlertType::ALL
                .iter()
                .all(|t| AlertType::from_name(t.as_str()) == Some(*t))
        );
        assert_eq!(AlertType::C2.sop_label(), "sop-c2");
    }
}
