//! PagerDuty client: Events API v2 for pages, REST API to read incidents back.

use serde::Deserialize;

use super::config::PagerDutyConfig;
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};

const VENDOR: &str = "pagerduty";

/// A PagerDuty client for one integration.
pub struct PagerDutyClient {
    http: reqwest::Client,
    config: PagerDutyConfig,
}

/// One page of `GET /incidents`.
#[derive(Debug, Clone, Deserialize)]
pub struct IncidentPage {
    /// The incidents.
    pub incidents: Vec<Incident>,
    /// Whether another page follows.
    #[serde(default)]
    pub more: bool,
}

/// The incident fields Vigil reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Incident {
    /// `P…` id.
    pub id: String,
    /// The dedup key it was triggered with.
    #[serde(default)]
    pub incident_key: Option<String>,
    /// `triggered`, `acknowledged` or `resolved`.
    pub status: String,
    /// Link for people.
    #[serde(default)]
    pub html_url: Option<String>,
}

/// PagerDuty's error text: Events API `message` + `errors`, or REST `error.message`.
pub fn error_message(v: &serde_json::Value) -> Option<String> {
    if let Some(m) = v.pointer("/error/message").and_then(|m| m.as_str()) {
        return Some(m.to_string());
    }
    let message = v.get("message")?.as_str()?.to_string();
    let details: Vec<&str> = v
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    Some(if details.is_empty() {
        message
    } else {
        format!("{message}: {}", details.join("; "))
    })
}

impl PagerDutyClient {
    /// A client for the configured integration.
    pub fn new(config: PagerDutyConfig) -> Result<Self, VendorError> {
        Ok(PagerDutyClient {
            http: http::client()?,
            config,
        })
    }

    /// Whether a REST token is configured (reading incidents back needs one).
    pub fn can_read(&self) -> bool {
        self.config.api_token.is_some()
    }

    /// `GET /incidents?limit=…&offset=…`.
    pub async fn incidents(&self, limit: u32, offset: u32) -> Result<IncidentPage, VendorError> {
        const CALL: &str = "list incidents";
        let Some(token) = &self.config.api_token else {
            return Err(VendorError::Decode {
                vendor: VENDOR,
                call: CALL,
                message: "no pagerduty.api_token configured".into(),
            });
        };
        let resp = self
            .http
            .get(format!("{}/incidents", self.config.api_base_url))
            .header("authorization", format!("Token token={}", token.expose()))
            .header("accept", "application/json")
            .query(&[("limit", limit), ("offset", offset)])
            .send()
            .await
            .map_err(|e| http::transport(VENDOR, CALL, e))?;
        http::decode(
            VENDOR,
            CALL,
            resp,
            RetrySignal::RetryAfterSeconds,
            error_message,
        )
        .await
    }
}
