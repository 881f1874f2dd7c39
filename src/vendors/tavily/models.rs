//! Tavily's search answer (vendor-apis §12), reduced to what a case note cites.

use serde::Deserialize;

use crate::vendors::http::lenient_text;

/// One search's answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SearchResponse {
    /// The query as Tavily ran it.
    #[serde(default, deserialize_with = "lenient_text")]
    pub query: Option<String>,
    /// Tavily's short answer, when asked for one.
    #[serde(default, deserialize_with = "lenient_text")]
    pub answer: Option<String>,
    /// The hits, best first.
    #[serde(default)]
    pub results: Vec<SearchResult>,
    /// Tavily's id of the request, for support.
    #[serde(default, deserialize_with = "lenient_text")]
    pub request_id: Option<String>,
}

/// One hit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SearchResult {
    /// Page title as Tavily indexed it (attacker-controlled text).
    #[serde(default)]
    pub title: String,
    /// Page URL, for a link.
    #[serde(default)]
    pub url: String,
    /// The relevant extract.
    #[serde(default)]
    pub content: String,
    /// Relevance, 0 to 1.
    #[serde(default)]
    pub score: f64,
}
