//! Reputation look-ups: AbuseIPDB for an IP, EmailRep for an address. Reads only.

use serde_json::json;

use super::{ToolOutcome, not_configured};
use crate::pipeline::engine::Engine;
use crate::triage::tools::ToolName;
use crate::vendors::VendorError;
use crate::vendors::abuseipdb::models::IpReport;
use crate::vendors::emailrep::models::{EmailReport, Reputation};

pub(super) async fn abuseipdb(
    engine: &Engine,
    tool: ToolName,
    ip: &str,
) -> Result<ToolOutcome, VendorError> {
    let client = engine
        .vendors
        .abuseipdb
        .as_ref()
        .ok_or_else(|| not_configured(tool, "abuseipdb"))?;
    Ok(ip_outcome(&client.check(ip).await?))
}

pub(super) async fn emailrep(
    engine: &Engine,
    tool: ToolName,
    email: &str,
) -> Result<ToolOutcome, VendorError> {
    let client = engine
        .vendors
        .emailrep
        .as_ref()
        .ok_or_else(|| not_configured(tool, "emailrep"))?;
    Ok(email_outcome(&client.query(email).await?))
}

/// AbuseIPDB's answer in a line: confidence score, reports, reporters, where.
pub(super) fn ip_outcome(r: &IpReport) -> ToolOutcome {
    let mut summary = format!(
        "{}: abuse confidence {}%, {} report(s) from {} user(s)",
        r.ip_address, r.abuse_confidence_score, r.total_reports, r.num_distinct_users
    );
    if let Some(cc) = &r.country_code {
        summary.push_str(&format!(", {cc}"));
    }
    if let Some(isp) = &r.isp {
        summary.push_str(&format!(", {isp}"));
    }
    if r.is_tor == Some(true) {
        summary.push_str(", Tor exit node");
    }
    ToolOutcome::new(
        summary,
        json!({
            "ip": r.ip_address,
            "abuse_confidence_score": r.abuse_confidence_score,
            "total_reports": r.total_reports,
            "distinct_users": r.num_distinct_users,
            "country": r.country_code,
            "isp": r.isp,
            "usage_type": r.usage_type,
            "domain": r.domain,
            "is_tor": r.is_tor,
            "is_whitelisted": r.is_whitelisted,
            "last_reported_at": r.last_reported_at,
        }),
    )
}

fn reputation_word(r: Reputation) -> &'static str {
    match r {
        Reputation::High => "high",
        Reputation::Medium => "medium",
        Reputation::Low => "low",
        Reputation::None => "none",
    }
}

/// EmailRep's answer in a line: reputation, suspicious or not, the worst flags.
pub(super) fn email_outcome(r: &EmailReport) -> ToolOutcome {
    let d = &r.details;
    let flags: Vec<&str> = [
        (d.blacklisted, "blacklisted"),
        (d.malicious_activity, "malicious activity"),
        (d.credentials_leaked, "credentials leaked"),
        (d.spoofable, "spoofable"),
        (d.new_domain, "new domain"),
        (d.disposable, "disposable"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let summary = format!(
        "{}: reputation {}, {}, {} reference(s){}",
        r.email,
        reputation_word(r.reputation),
        if r.suspicious {
            "suspicious"
        } else {
            "not suspicious"
        },
        r.references,
        if flags.is_empty() {
            String::new()
        } else {
            format!(", {}", flags.join(", "))
        }
    );
    ToolOutcome::new(
        summary,
        json!({
            "email": r.email,
            "reputation": reputation_word(r.reputation),
            "suspicious": r.suspicious,
            "references": r.references,
            "flags": flags,
            "first_seen": d.first_seen,
            "last_seen": d.last_seen,
            "domain_reputation": d.domain_reputation,
            "days_since_domain_creation": d.days_since_domain_creation,
            "profiles": d.profiles,
        }),
    )
}
