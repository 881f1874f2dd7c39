//! The executor's summaries: what an analyst reads for each vendor's answer, and the bound on
//! what the agent is given.

use serde_json::{Value, json};

use super::*;
use crate::vendors::abuseipdb::models::IpReport;
use crate::vendors::crowdstrike::models::Device;
use crate::vendors::okta::models::User;
use crate::vendors::urlscan::models::{ScanOutcome, Submission};
use crate::vendors::virustotal::models::{AnalysisStats, IndicatorKind, Lookup, Report};

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("sample decodes")
}

#[test]
fn virustotal_summaries_give_verdict_engine_counts_and_label() {
    let report = Report {
        kind: IndicatorKind::File,
        id: "abc".into(),
        stats: AnalysisStats {
            malicious: 12,
            suspicious: 1,
            harmless: 0,
            undetected: 57,
            timeout: 0,
        },
        reputation: -40,
        threat_label: Some("trojan.eicar".into()),
        owner: None,
        country: None,
        last_analysis_date: None,
    };
    let o = virustotal::outcome("abc", &Lookup::Found(report));
    assert_eq!(
        o.summary,
        "malicious: 12/70 engines malicious, 1 suspicious, reputation -40, label trojan.eicar"
    );
    assert_eq!(o.detail["malicious"], json!(12));
    let unknown = virustotal::outcome("x", &Lookup::Unknown);
    assert!(
        unknown.summary.starts_with("unknown"),
        "{}",
        unknown.summary
    );
    let pending = virustotal::outcome(
        "x",
        &Lookup::Pending {
            analysis_id: "u-1".into(),
        },
    );
    assert!(pending.summary.contains("pending") && pending.summary.contains("u-1"));
}

#[test]
fn abuseipdb_summary_gives_score_reports_and_tor() {
    let r: IpReport = from(
        json!({"ipAddress": "198.51.100.23", "abuseConfidenceScore": 100,
        "totalReports": 42, "numDistinctUsers": 7, "countryCode": "NL", "isp": "Bulletproof",
        "isTor": true}),
    );
    let o = reputation::ip_outcome(&r);
    assert_eq!(
        o.summary,
        "198.51.100.23: abuse confidence 100%, 42 report(s) from 7 user(s), NL, Bulletproof, Tor exit node"
    );
}

#[test]
fn a_pending_urlscan_is_a_result_with_its_link() {
    let s: Submission = from(
        json!({"uuid": "u-9", "result": "https://urlscan.io/result/u-9/",
        "visibility": "unlisted"}),
    );
    let o = urlscan::outcome("http://x.example/", &ScanOutcome::Pending(s));
    assert!(o.summary.starts_with("pending"), "{}", o.summary);
    assert!(o.summary.contains("https://urlscan.io/result/u-9/"));
    assert_eq!(o.detail["pending"], json!(true));
}

#[test]
fn okta_summaries_say_what_changed_and_already_suspended_is_success() {
    let user: User = from(json!({"id": "00u1", "status": "SUSPENDED",
        "profile": {"login": "carol@acme.example"}}));
    let already = okta::outcome(ToolName::OktaSuspendUser, "SUSPENDED", false, &user);
    assert_eq!(
        already.summary,
        "carol@acme.example (00u1): already suspended"
    );
    let done = okta::outcome(ToolName::OktaSuspendUser, "ACTIVE", true, &user);
    assert_eq!(
        done.summary,
        "carol@acme.example (00u1): suspended (was ACTIVE, now SUSPENDED)"
    );
    assert_eq!(done.detail["status_before"], json!("ACTIVE"));
}

#[test]
fn falcon_summary_shows_the_device_status_read_back() {
    let d: Device = from(json!({"device_id": "a1", "hostname": "WS-1",
        "status": "containment_pending", "platform_name": "Mac"}));
    let o = crowdstrike::outcome(ToolName::CrowdstrikeContainHost, "a1", Some(&d));
    assert_eq!(
        o.summary,
        "WS-1 (a1): containment requested, Falcon status containment_pending"
    );
    assert_eq!(o.detail["contained"], json!(true));
    assert!(crowdstrike::is_device_id(
        "a1b2c3d4e5f60718293a4b5c6d7e8f01"
    ));
    assert!(!crowdstrike::is_device_id("ws-carol-mbp"));
}

#[test]
fn details_and_summaries_are_bounded() {
    let huge = "x".repeat(10_000);
    let o = ToolOutcome::new(
        huge.clone(),
        json!({"text": huge, "list": (0..100).collect::<Vec<_>>(),
            "deep": {"a": {"b": {"c": {"d": {"e": 1}}}}}}),
    );
    assert_eq!(o.summary.chars().count(), MAX_SUMMARY + 1);
    assert_eq!(
        o.detail["text"].as_str().map(|s| s.chars().count()),
        Some(301)
    );
    assert_eq!(o.detail["list"].as_array().map(Vec::len), Some(10));
    assert_eq!(o.detail["deep"]["a"]["b"]["c"], json!("…"));
}

#[test]
fn an_unconfigured_vendor_is_a_permanent_error_naming_the_section() {
    let e = not_configured(ToolName::OktaGetUser, "okta");
    assert!(!e.is_transient());
    assert!(e.to_string().contains("add a [okta] section"), "{e}");
}
