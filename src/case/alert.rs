//! The alert as a case sees it: the facts people need, every one of them attacker-controlled
//! text that is escaped wherever it is shown. Vendor shapes are turned into this by the vendor
//! clients; the case never sees vendor JSON except `raw`, kept for display and audit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One alert, normalised.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Alert {
    /// The source's unique id (CrowdStrike `composite_id`); the dedupe key.
    pub id: String,
    /// Where it came from (`crowdstrike`, `webhook`, `slack`).
    pub source: String,
    /// Product family (`epp`, `idp`, …), when known.
    pub product: String,
    /// Short name of the detection.
    pub name: String,
    /// What happened, in the source's words.
    pub description: String,
    /// Severity on the 1–100 scale.
    pub severity: u8,
    /// Severity label (`Low`, `High`, …).
    pub severity_name: String,
    /// MITRE tactic.
    pub tactic: String,
    /// MITRE technique.
    pub technique: String,
    /// MITRE technique id (`T1059`).
    pub technique_id: String,
    /// The device, when the alert has one.
    pub device: Option<AlertDevice>,
    /// The user account involved (`user_name`, or the UPN of identity alerts).
    pub user_name: String,
    /// The account's UPN / email, for identity alerts.
    pub account_upn: String,
    /// Command line.
    pub cmdline: String,
    /// File name.
    pub filename: String,
    /// File path.
    pub filepath: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Link to the alert in the source's console.
    pub link: String,
    /// When the source created it.
    pub created_at: Option<DateTime<Utc>>,
    /// The source's own object, for display and audit.
    pub raw: serde_json::Value,
    /// A reported email's From address (the generic webhook's `sender`); flow 2's phishing
    /// rule and EmailRep step read it. Defaulted so cases stored before it existed decode.
    #[serde(default)]
    pub sender: String,
    /// Indicators the source listed itself (the generic webhook's `entities`, Falcon's
    /// `ioc_context`), still unvalidated: flow 2 validates them into the case's entities.
    /// Defaulted so cases stored before it existed decode.
    #[serde(default)]
    pub entities: AlertEntities,
}

/// The indicators a source names, as it sent them (SPEC §3.1's generic `entities`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(default)]
pub struct AlertEntities {
    /// Host names.
    pub hosts: Vec<String>,
    /// Accounts.
    pub users: Vec<String>,
    /// IP addresses.
    pub ips: Vec<String>,
    /// Domains.
    pub domains: Vec<String>,
    /// URLs.
    pub urls: Vec<String>,
    /// File hashes.
    pub hashes: Vec<String>,
    /// Email addresses.
    pub emails: Vec<String>,
}

/// The device an alert is about.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AlertDevice {
    /// Source's device id (CrowdStrike `device_id`).
    pub device_id: String,
    /// Host name.
    pub hostname: String,
    /// Operating system family.
    pub platform: String,
    /// Internal IP.
    pub local_ip: String,
}

impl Alert {
    /// What the alert is about, for titles: the host, else the account, else the source id.
    pub fn subject(&self) -> &str {
        if let Some(d) = self.device.as_ref().filter(|d| !d.hostname.is_empty()) {
            return &d.hostname;
        }
        if !self.account_upn.is_empty() {
            return &self.account_upn;
        }
        if !self.user_name.is_empty() {
            return &self.user_name;
        }
        &self.id
    }

    /// The label `Informational`…`Critical` for a 1–100 severity, as Falcon defines it.
    pub fn severity_label(severity: u8) -> &'static str {
        match severity {
            0..=19 => "Informational",
            20..=39 => "Low",
            40..=59 => "Medium",
            60..=79 => "High",
            _ => "Critical",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_stored_before_sender_and_entities_still_decodes() {
        let mut old = match serde_json::to_value(Alert {
            id: "a1".into(),
            name: "n".into(),
            ..Default::default()
        }) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        if let Some(m) = old.as_object_mut() {
            m.remove("sender");
            m.remove("entities");
        }
        let back: Alert = match serde_json::from_value(old) {
            Ok(a) => a,
            Err(e) => panic!("old alert: {e}"),
        };
        assert_eq!(back.id, "a1");
        assert_eq!(back.sender, "");
        assert_eq!(back.entities, AlertEntities::default());
    }
}
