//! Tavily client (vendor-apis §12): `POST /search` with the key as `Authorization: Bearer`,
//! as current tavily-python sends it.
//!
//! Invariants: the query is never empty; `max_results` stays within 0–20; 429 is retried with
//! backoff (Tavily sends no wait header); 432/433 (plan and pay-as-you-go limits) and 401 are
//! returned at once, since waiting does not lift them.

use serde_json::{Value, json};

use super::config::{MAX_RESULTS, TavilyConfig};
use super::models::SearchResponse;
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};
use crate::vendors::outbound::{self, Outbound, RetryPolicy};

const VENDOR: &str = "tavily";
const CALL: &str = "search";

/// A Tavily client for one API key.
pub struct TavilyClient {
    http: reqwest::Client,
    config: TavilyConfig,
    outbound: Outbound,
}

/// Tavily's error text: `{"detail":{"error"}}`, or a bare `detail` string.
pub fn error_message(v: &Value) -> Option<String> {
    let d = v.get("detail")?;
    d.get("error")
        .and_then(Value::as_str)
        .or_else(|| d.as_str())
        .map(str::to_string)
}

impl TavilyClient {
    /// A client with the configured pace and the default retry policy.
    pub fn new(config: TavilyConfig) -> Result<Self, VendorError> {
        let outbound = Self::scheduler(&config, RetryPolicy::default());
        Ok(TavilyClient {
            http: http::client()?,
            config,
            outbound,
        })
    }

    fn scheduler(config: &TavilyConfig, policy: RetryPolicy) -> Outbound {
        let rate = config.requests_per_minute;
        Outbound::new("Tavily", outbound::per_minute(rate, rate.min(10)), policy)
    }

    /// The same client with another retry policy (tests, or a pipeline with its own budget).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.outbound = Self::scheduler(&self.config, policy);
        self
    }

    /// A search with the configured number of results.
    pub async fn search(&self, query: &str) -> Result<SearchResponse, VendorError> {
        self.search_n(query, self.config.max_results).await
    }

    /// `POST /search` `{"query","max_results"}`.
    pub async fn search_n(
        &self,
        query: &str,
        max_results: u8,
    ) -> Result<SearchResponse, VendorError> {
        let query = query.trim();
        if query.is_empty() {
            return Err(VendorError::Invalid {
                vendor: VENDOR,
                call: CALL,
                message: "the query is empty".into(),
            });
        }
        let url = format!("{}/search", self.config.base_url);
        let body = json!({
            "query": query,
            "max_results": max_results.min(MAX_RESULTS),
            "search_depth": "basic",
            "include_answer": false,
        });
        self.outbound
            .call("api", CALL, || async {
                http::send(
                    VENDOR,
                    CALL,
                    self.http
                        .post(&url)
                        .bearer_auth(self.config.api_key.expose())
                        .json(&body),
                    RetrySignal::RetryAfterSeconds,
                    error_message,
                )
                .await
            })
            .await
    }
}
