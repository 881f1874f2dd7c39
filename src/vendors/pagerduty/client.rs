//! PagerDuty client: Events API v2 for pages (trigger, acknowledge, resolve, idempotent by
//! `dedup_key`), REST API to read incidents back. Events go through the vendor's [`Outbound`]
//! scheduler (~120 events/min per routing key); 429 and 5xx are retried, 400 is not.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::config::PagerDutyConfig;
use super::models::{EnqueueResponse, MAX_DEDUP_KEY_CHARS, MAX_EVENT_BYTES, TriggerEvent};
pub use super::models::{Incident, IncidentPage};
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};
use crate::vendors::outbound::{self, Outbound, RetryPolicy};

const VENDOR: &str = "pagerduty";
/// Limiter key of the events of this client's routing key (one client, one key).
const EVENTS: &str = "events";

/// A PagerDuty client for one integration.
pub struct PagerDutyClient {
    http: reqwest::Client,
    config: PagerDutyConfig,
    outbound: Outbound,
}

/// PagerDuty's error text: Events API `message` + `errors`, or REST `error.message`.
pub fn error_message(v: &Value) -> Option<String> {
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
    /// A client for the configured integration with the default retry policy. It makes no call,
    /// so a bad credential shows on first use (or in `vigil doctor`); it fails only if the HTTP
    /// client cannot be built.
    pub fn new(config: PagerDutyConfig) -> Result<Self, VendorError> {
        Ok(PagerDutyClient {
            http: http::client()?,
            config,
            outbound: Outbound::new(
                "PagerDuty",
                outbound::pagerduty_events_quota(),
                RetryPolicy::default(),
            ),
        })
    }

    /// The same client with another retry policy (tests, or a pipeline with its own budget).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.outbound = Outbound::new("PagerDuty", outbound::pagerduty_events_quota(), policy);
        self
    }

    /// Whether a REST token is configured (reading incidents back needs one).
    pub fn can_read(&self) -> bool {
        self.config.api_token.is_some()
    }

    /// Triggers (or, with an open alert of the same key, merges into) an alert; returns the
    /// `dedup_key` PagerDuty filed it under.
    pub async fn trigger(&self, event: &TriggerEvent) -> Result<String, VendorError> {
        const CALL: &str = "trigger";
        check_dedup_key(CALL, &event.dedup_key)?;
        let body = event.to_body(self.config.routing_key.expose());
        let answer = self.enqueue(CALL, &body).await?;
        Ok(answer
            .dedup_key
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| event.dedup_key.clone()))
    }

    /// Acknowledges the alert of `dedup_key`.
    pub async fn acknowledge(&self, dedup_key: &str) -> Result<(), VendorError> {
        self.follow_up("acknowledge", dedup_key).await
    }

    /// Resolves the alert of `dedup_key`.
    pub async fn resolve(&self, dedup_key: &str) -> Result<(), VendorError> {
        self.follow_up("resolve", dedup_key).await
    }

    async fn follow_up(&self, action: &'static str, dedup_key: &str) -> Result<(), VendorError> {
        check_dedup_key(action, dedup_key)?;
        let body = json!({
            "routing_key": self.config.routing_key.expose(),
            "event_action": action,
            "dedup_key": dedup_key,
        });
        self.enqueue(action, &body).await.map(|_| ())
    }

    /// `POST {base_url}/v2/enqueue`, expecting 202.
    async fn enqueue(
        &self,
        call: &'static str,
        body: &Value,
    ) -> Result<EnqueueResponse, VendorError> {
        let bytes = serde_json::to_vec(body).map_err(|e| VendorError::Invalid {
            vendor: VENDOR,
            call,
            message: e.to_string(),
        })?;
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(VendorError::Invalid {
                vendor: VENDOR,
                call,
                message: format!(
                    "event is {} bytes; PagerDuty takes at most {MAX_EVENT_BYTES}",
                    bytes.len()
                ),
            });
        }
        let url = format!("{}/v2/enqueue", self.config.base_url);
        self.outbound
            .call(EVENTS, call, || async {
                http::send(
                    VENDOR,
                    call,
                    self.http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(bytes.clone()),
                    RetrySignal::RetryAfterSeconds,
                    error_message,
                )
                .await
            })
            .await
    }

    /// `GET /incidents?limit=…&offset=…`.
    pub async fn incidents(&self, limit: u32, offset: u32) -> Result<IncidentPage, VendorError> {
        self.rest_get(
            "list incidents",
            "/incidents",
            &[("limit", limit.to_string()), ("offset", offset.to_string())],
        )
        .await
    }

    /// The incidents triggered with `dedup_key` (`GET /incidents?incident_key=…`), to read back
    /// what a page did.
    pub async fn incidents_by_key(&self, dedup_key: &str) -> Result<Vec<Incident>, VendorError> {
        let page: IncidentPage = self
            .rest_get(
                "find incidents by key",
                "/incidents",
                &[
                    ("incident_key", dedup_key.to_string()),
                    ("date_range", "all".to_string()),
                    ("limit", "100".to_string()),
                ],
            )
            .await?;
        Ok(page.incidents)
    }

    async fn rest_get<T: DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, VendorError> {
        let Some(token) = &self.config.api_token else {
            return Err(VendorError::Invalid {
                vendor: VENDOR,
                call,
                message: "no pagerduty.api_token configured".into(),
            });
        };
        let url = format!("{}{}", self.config.api_base_url, path);
        self.outbound
            .call_unmetered(call, || async {
                http::send(
                    VENDOR,
                    call,
                    self.http
                        .get(&url)
                        .header("authorization", format!("Token token={}", token.expose()))
                        .header("accept", "application/json")
                        .query(query),
                    RetrySignal::RetryAfterSeconds,
                    error_message,
                )
                .await
            })
            .await
    }
}

fn check_dedup_key(call: &'static str, key: &str) -> Result<(), VendorError> {
    let chars = key.chars().count();
    if key.trim().is_empty() || chars > MAX_DEDUP_KEY_CHARS {
        return Err(VendorError::Invalid {
            vendor: VENDOR,
            call,
            message: format!(
                "dedup_key must be 1 to {MAX_DEDUP_KEY_CHARS} characters (got {chars})"
            ),
        });
    }
    Ok(())
}
