//! VirusTotal tools: file, URL, domain and IP reports. Reads only (a URL VirusTotal never saw
//! may be submitted for analysis when the client is configured to, which is itself
//! idempotent: the same URL gets the same report).

use serde_json::json;

use super::{ToolOutcome, not_configured};
use crate::pipeline::engine::Engine;
use crate::triage::tools::ToolName;
use crate::vendors::VendorError;
use crate::vendors::virustotal::models::{Lookup, Verdict};

pub(super) async fn run(
    engine: &Engine,
    tool: ToolName,
    value: &str,
) -> Result<ToolOutcome, VendorError> {
    let vt = engine
        .vendors
        .virustotal
        .as_ref()
        .ok_or_else(|| not_configured(tool, "virustotal"))?;
    let lookup = match tool {
        ToolName::VirustotalFile => vt.file(value).await?,
        ToolName::VirustotalUrl => vt.url(value).await?,
        ToolName::VirustotalDomain => vt.domain(value).await?,
        _ => vt.ip_address(value).await?,
    };
    Ok(outcome(value, &lookup))
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Malicious => "malicious",
        Verdict::Suspicious => "suspicious",
        Verdict::Harmless => "harmless",
        Verdict::Undetected => "undetected",
    }
}

/// The summary and detail of a VirusTotal lookup of `value`.
pub(super) fn outcome(value: &str, lookup: &Lookup) -> ToolOutcome {
    match lookup {
        Lookup::Found(r) => {
            let verdict = verdict_word(r.verdict());
            let mut summary = format!(
                "{verdict}: {}/{} engines malicious, {} suspicious, reputation {}",
                r.stats.malicious,
                r.stats.engines(),
                r.stats.suspicious,
                r.reputation
            );
            if let Some(label) = &r.threat_label {
                summary.push_str(&format!(", label {label}"));
            }
            if let Some(owner) = &r.owner {
                summary.push_str(&format!(", owner {owner}"));
            }
            ToolOutcome::new(
                summary,
                json!({
                    "indicator": value,
                    "verdict": verdict,
                    "malicious": r.stats.malicious,
                    "suspicious": r.stats.suspicious,
                    "harmless": r.stats.harmless,
                    "undetected": r.stats.undetected,
                    "engines": r.stats.engines(),
                    "reputation": r.reputation,
                    "threat_label": r.threat_label,
                    "owner": r.owner,
                    "country": r.country,
                    "last_analysis_date": r.last_analysis_date,
                }),
            )
        }
        Lookup::Unknown => ToolOutcome::new(
            "unknown: VirusTotal has never seen it",
            json!({"indicator": value, "verdict": "unknown"}),
        ),
        Lookup::Pending { analysis_id } => ToolOutcome::new(
            format!("pending: submitted for analysis {analysis_id}, not finished yet"),
            json!({"indicator": value, "verdict": "pending", "analysis_id": analysis_id}),
        ),
    }
}
