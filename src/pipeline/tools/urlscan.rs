//! urlscan.io: submit a URL and poll its result for the configured bounded time
//! (`[urlscan] max_wait`). A scan still running when the wait ends is a result that says so,
//! with its link, never a hang. A repeated submission is a second scan of the same URL: a read
//! with no effect anyone relies on.

use serde_json::json;

use super::{ToolOutcome, not_configured};
use crate::pipeline::engine::Engine;
use crate::triage::tools::ToolName;
use crate::vendors::VendorError;
use crate::vendors::urlscan::models::ScanOutcome;

pub(super) async fn run(
    engine: &Engine,
    tool: ToolName,
    url: &str,
) -> Result<ToolOutcome, VendorError> {
    let client = engine
        .vendors
        .urlscan
        .as_ref()
        .ok_or_else(|| not_configured(tool, "urlscan"))?;
    Ok(outcome(url, &client.scan(url).await?))
}

/// The summary and detail of a scan of `url`.
pub(super) fn outcome(url: &str, scan: &ScanOutcome) -> ToolOutcome {
    match scan {
        ScanOutcome::Done { submission, result } => {
            let o = &result.verdicts.overall;
            let link = result
                .task
                .report_url
                .clone()
                .or_else(|| submission.result.clone())
                .unwrap_or_default();
            let mut summary = format!(
                "{}: score {}",
                if o.malicious {
                    "malicious"
                } else {
                    "not malicious"
                },
                o.score
            );
            if !o.categories.is_empty() {
                summary.push_str(&format!(", {}", o.categories.join(", ")));
            }
            if let Some(d) = &result.page.domain {
                summary.push_str(&format!(", page on {d}"));
            }
            if !link.is_empty() {
                summary.push_str(&format!(", report {link}"));
            }
            ToolOutcome::new(
                summary,
                json!({
                    "url": url,
                    "malicious": o.malicious,
                    "score": o.score,
                    "categories": o.categories,
                    "tags": o.tags,
                    "page_domain": result.page.domain,
                    "page_ip": result.page.ip,
                    "page_country": result.page.country,
                    "page_title": result.page.title,
                    "report": link,
                }),
            )
        }
        ScanOutcome::Pending(s) => {
            let link = s.result.clone().unwrap_or_default();
            ToolOutcome::new(
                format!(
                    "pending: scan {} still running when the wait ended; result at {link}",
                    s.uuid
                ),
                json!({"url": url, "pending": true, "uuid": s.uuid, "report": link}),
            )
        }
    }
}
