//! The six SOP pages every sandbox seeds in space `SEC` (SPEC §3.2): one per alert type, each
//! labelled `sop` and `sop-<type>`, each a real storage-format page with prose around one
//! `vigil-runbook` code macro.
//!
//! Runbook format (the text inside the macro's plain-text body): a JSON array of steps, each
//! `{"tool": <tool name>, "args": {<name>: <value>}, "approval": "required"?}`. Values may hold
//! placeholders naming case entities: `{{host}}` (device id), `{{user}}`, `{{ip}}`, `{{domain}}`,
//! `{{url}}`, `{{hash}}`, `{{sender}}`, and `{{alert_name}}`; a step whose placeholder names a
//! kind with several entities runs once per entity. Destructive steps (contain, suspend, clear
//! sessions) carry `"approval": "required"`. The table in SPEC §3.2 fixes each runbook's steps.

use serde_json::{Value, json};

/// One seeded page: its fixed id, title, labels and storage-format body.
#[derive(Debug, Clone)]
pub struct SopPage {
    /// Numeric page id (as Confluence ids are).
    pub id: &'static str,
    /// The alert type it covers (`malware`, `c2`, …), as flow 2's classifier names it.
    pub alert_type: &'static str,
    /// Page title (`SOP: …`), as search hits and the case record show it.
    pub title: &'static str,
    /// Storage-format XHTML body.
    pub body: String,
}

/// The space the SOPs live in.
pub const SPACE_KEY: &str = "SEC";

struct Spec {
    id: &'static str,
    alert_type: &'static str,
    title: &'static str,
    purpose: &'static str,
    when: &'static str,
    steps: Value,
    after: &'static str,
}

fn specs() -> Vec<Spec> {
    vec![
        Spec {
            id: "98301",
            alert_type: "malware",
            title: "SOP: Malware on an endpoint",
            purpose: "How the security team handles a malicious file detected on a laptop or server by CrowdStrike Falcon.",
            when: "An endpoint alert carries a file hash and a malware tactic, or Falcon's machine-learning (NGAV) scenario fired.",
            steps: json!([
                {"tool": "crowdstrike_host_details", "args": {"device_id": "{{host}}"}},
                {"tool": "virustotal_file", "args": {"hash": "{{hash}}"}},
                {"tool": "crowdstrike_contain_host", "args": {"device_id": "{{host}}"}, "approval": "required"}
            ]),
            after: "Once the host is contained, open a ticket for a re-image and tell the device owner that the laptop is cut off from the network on purpose.",
        },
        Spec {
            id: "98302",
            alert_type: "phishing",
            title: "SOP: Reported phishing email",
            purpose: "How to triage an email somebody reported as phishing.",
            when: "A reported email with a sender address and at least one URL.",
            steps: json!([
                {"tool": "emailrep_query", "args": {"email": "{{sender}}"}},
                {"tool": "urlscan_scan", "args": {"url": "{{url}}"}},
                {"tool": "virustotal_url", "args": {"url": "{{url}}"}},
                {"tool": "okta_clear_sessions", "args": {"user": "{{user}}"}, "approval": "required"}
            ]),
            after: "If the recipient entered credentials, ask them to reset their password and re-enrol Okta Verify.",
        },
        Spec {
            id: "98303",
            alert_type: "suspicious_login",
            title: "SOP: Suspicious login",
            purpose: "How to handle an unusual sign-in: brute force, impossible travel, or a login from a known-bad address.",
            when: "An identity (Falcon idp) alert, or a credential-access technique such as T1110.",
            steps: json!([
                {"tool": "abuseipdb_check_ip", "args": {"ip": "{{ip}}"}},
                {"tool": "okta_get_user", "args": {"user": "{{user}}"}},
                {"tool": "okta_clear_sessions", "args": {"user": "{{user}}"}, "approval": "required"}
            ]),
            after: "Ask the user whether the login was theirs; if not, reset the password and review recent Okta system log events.",
        },
        Spec {
            id: "98304",
            alert_type: "c2",
            title: "SOP: Command and control traffic",
            purpose: "How to respond when a host talks to command-and-control infrastructure.",
            when: "A Command and Control tactic, or a connection to a known C2 domain or address.",
            steps: json!([
                {"tool": "abuseipdb_check_ip", "args": {"ip": "{{ip}}"}},
                {"tool": "virustotal_domain", "args": {"domain": "{{domain}}"}},
                {"tool": "tavily_search", "args": {"query": "{{domain}}"}},
                {"tool": "crowdstrike_contain_host", "args": {"device_id": "{{host}}"}, "approval": "required"}
            ]),
            after: "Block the domain at the DNS resolver and look for other hosts that resolved it.",
        },
        Spec {
            id: "98305",
            alert_type: "data_exfiltration",
            title: "SOP: Data exfiltration",
            purpose: "How to respond to large or unusual uploads of company data.",
            when: "An exfiltration tactic, or uploads to an unknown file-sharing domain.",
            steps: json!([
                {"tool": "crowdstrike_host_details", "args": {"device_id": "{{host}}"}},
                {"tool": "virustotal_domain", "args": {"domain": "{{domain}}"}},
                {"tool": "okta_suspend_user", "args": {"user": "{{user}}"}, "approval": "required"}
            ]),
            after: "Involve legal and the data owner before the user is unsuspended.",
        },
        Spec {
            id: "98306",
            alert_type: "other",
            title: "SOP: Other security alerts",
            purpose: "What to do with an alert that matches no other SOP.",
            when: "The classifier could not place the alert in a known category.",
            steps: json!([
                {"tool": "tavily_search", "args": {"query": "{{alert_name}}"}},
                {"tool": "slack_notify", "args": {"text": "Unclassified alert needs a human look: {{alert_name}}"}}
            ]),
            after: "If the alert recurs, write a new SOP for it.",
        },
    ]
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Wraps a runbook (a JSON array of steps) in the `vigil-runbook` code macro.
pub fn runbook_macro(steps: &Value) -> String {
    let text = serde_json::to_string_pretty(steps).unwrap_or_else(|_| "[]".into());
    format!(
        "<ac:structured-macro ac:name=\"code\" ac:schema-version=\"1\">\
<ac:parameter ac:name=\"title\">vigil-runbook</ac:parameter>\
<ac:parameter ac:name=\"language\">json</ac:parameter>\
<ac:plain-text-body><![CDATA[{text}]]></ac:plain-text-body></ac:structured-macro>"
    )
}

fn body(spec: &Spec) -> String {
    let list: String = spec
        .steps
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| {
                    let tool = s["tool"].as_str().unwrap_or_default();
                    let gate = if s["approval"] == "required" {
                        " <strong>(needs an analyst's approval)</strong>"
                    } else {
                        ""
                    };
                    format!("<li><code>{}</code>{gate}</li>", escape(tool))
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "<h2>Purpose</h2><p>{}</p><h2>When this applies</h2><p>{}</p>\
<h2>Steps</h2><p>Work through these in order and record each result on the case.</p><ol>{list}</ol>\
<h2>Runbook</h2><p>Vigil runs the steps below; destructive ones wait for approval in Slack.</p>{}\
<h2>Afterwards</h2><p>{}</p>",
        escape(spec.purpose),
        escape(spec.when),
        runbook_macro(&spec.steps),
        escape(spec.after)
    )
}

/// The six seeded SOP pages, in alert-type order.
pub fn pages() -> Vec<SopPage> {
    specs()
        .iter()
        .map(|s| SopPage {
            id: s.id,
            alert_type: s.alert_type,
            title: s.title,
            body: body(s),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runbook text back out of a body, as Vigil will read it.
    fn runbook(body: &str) -> Value {
        let start = body.find("<![CDATA[").map(|i| i + 9).unwrap_or(0);
        let end = body.find("]]>").unwrap_or(body.len());
        serde_json::from_str(&body[start..end]).unwrap_or(Value::Null)
    }

    #[test]
    fn each_type_has_one_page_whose_runbook_follows_the_spec_table() {
        let pages = pages();
        let types: Vec<&str> = pages.iter().map(|p| p.alert_type).collect();
        assert_eq!(
            types,
            [
                "malware",
                "phishing",
                "suspicious_login",
                "c2",
                "data_exfiltration",
                "other"
            ]
        );
        let tools = |i: usize| -> Vec<String> {
            runbook(&pages[i].body)
                .as_array()
                .map(|s| {
                    s.iter()
                        .map(|x| x["tool"].as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(
            tools(0),
            [
                "crowdstrike_host_details",
                "virustotal_file",
                "crowdstrike_contain_host"
            ]
        );
        assert_eq!(
            tools(3),
            [
                "abuseipdb_check_ip",
                "virustotal_domain",
                "tavily_search",
                "crowdstrike_contain_host"
            ]
        );
        for p in &pages {
            assert!(
                p.body
                    .contains("<ac:parameter ac:name=\"title\">vigil-runbook</ac:parameter>")
            );
            assert!(
                p.body.contains("<h2>Purpose</h2>"),
                "prose around the macro"
            );
            let steps = runbook(&p.body);
            for s in steps.as_array().into_iter().flatten() {
                let destructive = matches!(
                    s["tool"].as_str(),
                    Some("crowdstrike_contain_host" | "okta_suspend_user" | "okta_clear_sessions")
                );
                assert_eq!(destructive, s["approval"] == "required", "{}", p.title);
            }
        }
    }
}
