//! EmailRep's answer (vendor-apis §10). Fields are read leniently: the service is no longer
//! developed, and its answers differ by key tier.

use serde::Deserialize;

use crate::vendors::http::{lenient_list, lenient_text};

/// EmailRep's overall judgement of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reputation {
    /// Long history, no abuse.
    High,
    /// Some history.
    Medium,
    /// Little or bad history.
    Low,
    /// EmailRep knows nothing.
    None,
}

impl Reputation {
    fn parse(s: Option<&str>) -> Reputation {
        match s.map(str::to_ascii_lowercase).as_deref() {
            Some("high") => Reputation::High,
            Some("medium") => Reputation::Medium,
            Some("low") => Reputation::Low,
            _ => Reputation::None,
        }
    }
}

/// What EmailRep knows about one address.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailReport {
    /// The address as EmailRep echoes it.
    pub email: String,
    /// Overall reputation.
    pub reputation: Reputation,
    /// Whether EmailRep thinks the address is risky.
    pub suspicious: bool,
    /// How many sources mention the address.
    pub references: u64,
    /// The facts behind the verdict.
    pub details: Details,
}

/// `details`: the facts behind a verdict.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Details {
    /// On a blocklist.
    #[serde(default)]
    pub blacklisted: bool,
    /// Seen in malicious activity.
    #[serde(default)]
    pub malicious_activity: bool,
    /// Seen in malicious activity recently.
    #[serde(default)]
    pub malicious_activity_recent: bool,
    /// Credentials found in a leak.
    #[serde(default)]
    pub credentials_leaked: bool,
    /// In a known data breach.
    #[serde(default)]
    pub data_breach: bool,
    /// First seen (`MM/DD/YYYY` or `never`).
    #[serde(default, deserialize_with = "lenient_text")]
    pub first_seen: Option<String>,
    /// Last seen (`MM/DD/YYYY` or `never`), as EmailRep sends it.
    #[serde(default, deserialize_with = "lenient_text")]
    pub last_seen: Option<String>,
    /// The domain's own reputation (`high`, `medium`, `low`, `n/a`).
    #[serde(default, deserialize_with = "lenient_text")]
    pub domain_reputation: Option<String>,
    /// The domain was registered recently (a phishing tell).
    #[serde(default)]
    pub new_domain: bool,
    /// Days since the domain was created.
    #[serde(default)]
    pub days_since_domain_creation: Option<i64>,
    /// Sent spam.
    #[serde(default)]
    pub spam: bool,
    /// A free mail provider.
    #[serde(default)]
    pub free_provider: bool,
    /// A disposable address.
    #[serde(default)]
    pub disposable: bool,
    /// Mail to it is delivered.
    #[serde(default)]
    pub deliverable: bool,
    /// The domain can be spoofed (weak SPF/DMARC).
    #[serde(default)]
    pub spoofable: bool,
    /// Social profiles found for it.
    #[serde(default, deserialize_with = "lenient_list")]
    pub profiles: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Wire {
    #[serde(default, deserialize_with = "lenient_text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub reputation: Option<String>,
    #[serde(default)]
    pub suspicious: bool,
    #[serde(default)]
    pub references: u64,
    #[serde(default)]
    pub details: Details,
}

impl Wire {
    pub(crate) fn into_report(self, asked: &str) -> EmailReport {
        EmailReport {
            email: self.email.unwrap_or_else(|| asked.to_string()),
            reputation: Reputation::parse(self.reputation.as_deref()),
            suspicious: self.suspicious,
            references: self.references,
            details: self.details,
        }
    }
}
