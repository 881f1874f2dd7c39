//! Prioritisation: a rule table from config decides low or high, and the case records which
//! rule decided. First match wins; a rule's conditions must all hold; no match means low.

use serde::{Deserialize, Serialize};

use super::alert::Alert;

/// Low or high: low asks the owner first, high pages on-call at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Ask the device owner; escalate if they say no or stay silent.
    Low,
    /// Page on-call now and tell the owner.
    High,
}

impl Priority {
    /// `low` / `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::High => "high",
        }
    }
}

/// One row of the table (`[[triage.rules]]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Shown on the card as the reason (`critical severity`).
    pub name: String,
    /// What a match decides.
    pub priority: Priority,
    /// Matches when the alert's severity (1–100) is at least this.
    #[serde(default)]
    pub min_severity: Option<u8>,
    /// Matches when the alert's tactic is one of these (case-insensitive).
    #[serde(default)]
    pub tactics: Vec<String>,
    /// Matches when the device carries one of these tags.
    #[serde(default)]
    pub host_tags: Vec<String>,
    /// Matches when the hostname fits one of these globs (`SRV-*`, case-insensitive).
    #[serde(default)]
    pub hostname_patterns: Vec<String>,
    /// Matches when the alert's product is one of these (`epp`, `idp`).
    #[serde(default)]
    pub products: Vec<String>,
}

/// What the table decided, kept on the case and shown on the card.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Decision {
    /// The priority.
    pub priority: Priority,
    /// The rule's name, or `default`.
    pub rule: String,
    /// Why, in words (`severity 85 ≥ 70`).
    pub reason: String,
}

/// Facts the rules look at beyond the alert itself.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    /// Tags of the device (from the EDR).
    pub host_tags: &'a [String],
}

/// The default table: critical or high severity, credential access and production hosts page.
pub fn default_rules() -> Vec<Rule> {
    let rule = |name: &str| Rule {
        name: name.into(),
        priority: Priority::High,
        min_severity: None,
        tactics: vec![],
        host_tags: vec![],
        hostname_patterns: vec![],
        products: vec![],
    };
    vec![
        Rule {
            min_severity: Some(70),
            ..rule("high severity")
        },
        Rule {
            tactics: vec!["Credential Access".into()],
            ..rule("credential access")
        },
        Rule {
            host_tags: vec!["SensorGroupingTags/production".into()],
            ..rule("production host")
        },
    ]
}

impl Rule {
    /// Whether every condition of the rule holds; `None` if it does not, or the reason.
    fn check(&self, alert: &Alert, facts: &Facts<'_>) -> Option<String> {
        let mut why = vec![];
        if let Some(min) = self.min_severity {
            if alert.severity < min {
                return None;
            }
            why.push(format!("severity {} ≥ {min}", alert.severity));
        }
        if !self.tactics.is_empty() {
            let hit = self
                .tactics
                .iter()
                .find(|t| t.eq_ignore_ascii_case(&alert.tactic))?;
            why.push(format!("tactic {hit}"));
        }
        if !self.products.is_empty() {
            let hit = self
                .products
                .iter()
                .find(|p| p.eq_ignore_ascii_case(&alert.product))?;
            why.push(format!("product {hit}"));
        }
        if !self.host_tags.is_empty() {
            let hit = self
                .host_tags
                .iter()
                .find(|t| facts.host_tags.iter().any(|h| h.eq_ignore_ascii_case(t)))?;
            why.push(format!("host tag {hit}"));
        }
        if !self.hostname_patterns.is_empty() {
            let host = alert
                .device
                .as_ref()
                .map(|d| d.hostname.as_str())
                .unwrap_or("");
            let hit = self
                .hostname_patterns
                .iter()
                .find(|p| glob_match(p, host))?;
            why.push(format!("hostname matches {hit}"));
        }
        Some(if why.is_empty() {
            "matches everything".into()
        } else {
            why.join(", ")
        })
    }
}

/// Runs the table: first matching rule wins; otherwise low by the `default` rule.
pub fn decide(rules: &[Rule], alert: &Alert, facts: &Facts<'_>) -> Decision {
    for rule in rules {
        if let Some(reason) = rule.check(alert, facts) {
            return Decision {
                priority: rule.priority,
                rule: rule.name.clone(),
                reason,
            };
        }
    }
    Decision {
        priority: Priority::Low,
        rule: "default".into(),
        reason: "no rule matched".into(),
    }
}

/// Case-insensitive glob with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::alert::AlertDevice;

    fn alert(severity: u8, tactic: &str, host: &str) -> Alert {
        Alert {
            severity,
            tactic: tactic.into(),
            device: Some(AlertDevice {
                hostname: host.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn first_match_wins_and_is_recorded() {
        let d = decide(
            &default_rules(),
            &alert(85, "Execution", "WS-1"),
            &Facts::default(),
        );
        assert_eq!(d.priority, Priority::High);
        assert_eq!(d.rule, "high severity");
        assert!(d.reason.contains("85"));
    }

    #[test]
    fn no_match_is_low_by_default() {
        let d = decide(
            &default_rules(),
            &alert(30, "Execution", "WS-1"),
            &Facts::default(),
        );
        assert_eq!(d.priority, Priority::Low);
        assert_eq!(d.rule, "default");
    }

    #[test]
    fn tags_and_patterns_match() {
        let tags = vec!["SensorGroupingTags/production".to_string()];
        let d = decide(
            &default_rules(),
            &alert(30, "Execution", "SRV-1"),
            &Facts { host_tags: &tags },
        );
        assert_eq!(d.rule, "production host");
        let rules = vec![Rule {
            name: "build".into(),
            priority: Priority::High,
            min_severity: None,
            tactics: vec![],
            host_tags: vec![],
            hostname_patterns: vec!["srv-build-*".into()],
            products: vec![],
        }];
        assert_eq!(
            decide(&rules, &alert(1, "", "SRV-BUILD-07"), &Facts::default()).priority,
            Priority::High
        );
        assert_eq!(
            decide(&rules, &alert(1, "", "WS-BUILD-07"), &Facts::default()).priority,
            Priority::Low
        );
    }

    #[test]
    fn glob() {
        assert!(glob_match("WS-*", "ws-carol"));
        assert!(glob_match("*-07", "SRV-BUILD-07"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
        assert!(glob_match("*", ""));
    }
}
