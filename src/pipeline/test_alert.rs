//! `/triage test [type]`: a synthetic alert of one flow-2 type, admitted like any other alert.
//! Each is built so the rules classifier places it in its type (SPEC §3.2) and the seeded
//! SOP's runbook finds every entity it names: the sandbox's seeded laptop of Carol for the
//! endpoint types, her account for the identity ones. Nothing here is attacker-controlled, but
//! the alert goes through the same ingest and escaping as every other.
//!
//! Invariant: the alert id comes from the command's trigger id, so a redelivered command
//! groups into the same case instead of opening a second one.

use chrono::Utc;
use serde_json::json;

use crate::case::{Alert, AlertDevice};
use crate::triage::classify::AlertType;

/// The seeded laptop the endpoint test alerts are about (the sandbox's `WS-CAROL-MBP`).
const DEVICE_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f01";
const HOSTNAME: &str = "WS-CAROL-MBP";
/// Its owner's account.
const USER: &str = "carol.diaz@acme.example";

/// A synthetic alert of `alert_type`, from `/triage test` typed by `user`.
pub fn test_alert(alert_type: AlertType, trigger_id: &str, user: &str) -> Alert {
    let device = || {
        Some(AlertDevice {
            device_id: DEVICE_ID.into(),
            hostname: HOSTNAME.into(),
            platform: "Mac".into(),
            local_ip: "10.20.1.15".into(),
        })
    };
    let base = Alert {
        id: format!("test:{trigger_id}"),
        source: "test".into(),
        product: "epp".into(),
        severity: 30,
        severity_name: Alert::severity_label(30).into(),
        created_at: Some(Utc::now()),
        raw: json!({"opened_by": user, "test": alert_type.as_str()}),
        ..Alert::default()
    };
    let mut a = match alert_type {
        AlertType::Malware => Alert {
            name: "Vigil test: malicious file on an endpoint".into(),
            tactic: "Malware".into(),
            technique_id: "T1204".into(),
            technique: "User Execution".into(),
            filename: "invoice.pdf.exe".into(),
            sha256: "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f".into(),
            device: device(),
            user_name: "carol.diaz".into(),
            ..base
        },
        AlertType::Phishing => Alert {
            name: "Vigil test: reported email".into(),
            description: "Carol reported an email asking her to confirm her payroll details."
                .into(),
            sender: "payroll@acme-payroll.example".into(),
            account_upn: USER.into(),
            ..base
        },
        AlertType::SuspiciousLogin => Alert {
            product: "idp".into(),
            name: "Vigil test: unusual sign-in".into(),
            tactic: "Credential Access".into(),
            technique_id: "T1110".into(),
            technique: "Brute Force".into(),
            account_upn: USER.into(),
            ..base
        },
        AlertType::C2 => Alert {
            name: "Vigil test: connection to a command server".into(),
            tactic: "Command and Control".into(),
            technique_id: "T1071".into(),
            technique: "Application Layer Protocol".into(),
            device: device(),
            user_name: "carol.diaz".into(),
            ..base
        },
        AlertType::DataExfiltration => Alert {
            name: "Vigil test: large upload to a file-sharing site".into(),
            tactic: "Exfiltration".into(),
            technique_id: "T1567".into(),
            technique: "Exfiltration Over Web Service".into(),
            device: device(),
            account_upn: USER.into(),
            ..base
        },
        AlertType::Other => Alert {
            name: "Vigil test: unusual activity".into(),
            description: "A synthetic alert that matches no category.".into(),
            ..base
        },
    };
    let e = &mut a.entities;
    match alert_type {
        AlertType::Phishing => e.urls.push("https://acme-payroll.example/confirm".into()),
        AlertType::SuspiciousLogin => e.ips.push("198.51.100.23".into()),
        AlertType::C2 => {
            e.ips.push("203.0.113.66".into());
            e.domains.push("update-check.example".into());
        }
        AlertType::DataExfiltration => e.domains.push("files-share.example".into()),
        AlertType::Malware | AlertType::Other => {}
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::classify::classify_rules;
    use crate::triage::entities::Entities;

    #[test]
    fn every_test_alert_is_classified_as_its_type() {
        for t in AlertType::ALL {
            let a = test_alert(t, "1.2.3", "U0ANA00001");
            let c = classify_rules(&a, &Entities::from_alert(&a));
            assert_eq!(c.alert_type, t, "{}: {}", t.as_str(), c.rationale);
        }
    }
}
