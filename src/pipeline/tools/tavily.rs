//! Tavily web search. A read.

use serde_json::json;

use super::{ToolOutcome, clip, not_configured};
use crate::pipeline::engine::Engine;
use crate::triage::tools::ToolName;
use crate::vendors::VendorError;
use crate::vendors::tavily::models::SearchResponse;

pub(super) async fn run(
    engine: &Engine,
    tool: ToolName,
    query: &str,
) -> Result<ToolOutcome, VendorError> {
    let client = engine
        .vendors
        .tavily
        .as_ref()
        .ok_or_else(|| not_configured(tool, "tavily"))?;
    Ok(outcome(&client.search(query).await?))
}

/// The summary (result count, the top hit) and detail (answer and hits) of a search.
pub(super) fn outcome(r: &SearchResponse) -> ToolOutcome {
    let mut summary = format!("{} result(s)", r.results.len());
    if let Some(top) = r.results.first() {
        summary.push_str(&format!("; top: {} ({})", clip(&top.title, 80), top.url));
    }
    let hits: Vec<_> = r
        .results
        .iter()
        .take(5)
        .map(|h| json!({"title": h.title, "url": h.url, "content": h.content, "score": h.score}))
        .collect();
    ToolOutcome::new(summary, json!({"answer": r.answer, "results": hits}))
}
