//! urlscan.io client (vendor-apis §11): submit a URL (`POST /api/v1/scan/`), then read its
//! result (`GET /api/v1/result/{uuid}/`), which answers 404 until the scan has finished.
//!
//! Invariants: every call sends `API-Key`; scans are `unlisted` unless configured otherwise;
//! waiting for a result is bounded by `max_wait` and paced by `poll_interval`; a 429's wait
//! comes from `X-Rate-Limit-Reset-After` (urlscan sends no `Retry-After`), which the scheduler
//! honours.

use std::time::{Duration, Instant};

use reqwest::Response;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::config::UrlscanConfig;
use super::models::{ScanOutcome, ScanResult, Submission};
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};
use crate::vendors::outbound::{self, Outbound, RetryPolicy};

const VENDOR: &str = "urlscan";

/// A urlscan.io client for one API key.
pub struct UrlscanClient {
    http: reqwest::Client,
    config: UrlscanConfig,
    outbound: Outbound,
}

/// urlscan's error text: `message`, its `description`, and each `errors[].detail` not
/// already said.
pub fn error_message(v: &Value) -> Option<String> {
    let message = v.get("message").and_then(Value::as_str)?;
    let mut parts = vec![message.to_string()];
    if let Some(d) = v.get("description").and_then(Value::as_str) {
        parts.push(d.to_string());
    }
    for e in v
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(d) = e.get("detail").and_then(Value::as_str)
            && !parts.iter().any(|p| p == d)
        {
            parts.push(d.to_string());
        }
    }
    Some(parts.join(": "))
}

/// `X-Rate-Limit-Reset-After` (seconds, possibly fractional), urlscan's "wait this long".
fn reset_after(resp: &Response) -> Option<Duration> {
    let v = resp
        .headers()
        .get("x-rate-limit-reset-after")?
        .to_str()
        .ok()?;
    let secs = v.trim().parse::<f64>().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

impl UrlscanClient {
    /// A client with the configured pace and the default retry policy.
    pub fn new(config: UrlscanConfig) -> Result<Self, VendorError> {
        let outbound = Self::scheduler(&config, RetryPolicy::default());
        Ok(UrlscanClient {
            http: http::client()?,
            config,
            outbound,
        })
    }

    fn scheduler(config: &UrlscanConfig, policy: RetryPolicy) -> Outbound {
        let rate = config.requests_per_minute;
        Outbound::new(
            "urlscan.io",
            outbound::per_minute(rate, rate.min(10)),
            policy,
        )
    }

    /// The same client with another retry policy (tests, or a pipeline with its own budget).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.outbound = Self::scheduler(&self.config, policy);
        self
    }

    /// `POST /api/v1/scan/` with the configured visibility.
    pub async fn submit(&self, url: &str) -> Result<Submission, VendorError> {
        const CALL: &str = "submit scan";
        let url = url.trim();
        if url.is_empty() {
            return Err(VendorError::Invalid {
                vendor: VENDOR,
                call: CALL,
                message: "the URL is empty".into(),
            });
        }
        let endpoint = format!("{}/api/v1/scan/", self.config.base_url);
        let body = json!({
            "url": url,
            "visibility": self.config.visibility.as_str(),
            "tags": ["vigil"],
        });
        let submission: Submission = self
            .outbound
            .call("scan", CALL, || async {
                self.send(CALL, self.http.post(&endpoint).json(&body)).await
            })
            .await?;
        if submission.visibility.as_deref() != Some(self.config.visibility.as_str()) {
            tracing::info!(
                asked = self.config.visibility.as_str(),
                got = submission.visibility.as_deref().unwrap_or("?"),
                "urlscan changed the scan's visibility"
            );
        }
        Ok(submission)
    }

    /// `GET /api/v1/result/{uuid}/`: the result, or `None` while the scan is not finished
    /// (urlscan answers 404 until then).
    pub async fn result(&self, uuid: &str) -> Result<Option<ScanResult>, VendorError> {
        const CALL: &str = "scan result";
        let Ok(uuid) = uuid::Uuid::parse_str(uuid.trim()) else {
            return Err(VendorError::Invalid {
                vendor: VENDOR,
                call: CALL,
                message: format!("{uuid:?} is not a scan id (a UUID)"),
            });
        };
        let endpoint = format!("{}/api/v1/result/{uuid}/", self.config.base_url);
        let answer = self
            .outbound
            .call("retrieve", CALL, || async {
                self.send(CALL, self.http.get(&endpoint)).await
            })
            .await;
        match answer {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Submits `url` and polls its result every `poll_interval` until it is ready or
    /// `max_wait` has passed.
    pub async fn scan(&self, url: &str) -> Result<ScanOutcome, VendorError> {
        let submission = self.submit(url).await?;
        let deadline = Instant::now() + self.config.max_wait;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(ScanOutcome::Pending(submission));
            }
            tokio::time::sleep(self.config.poll_interval.min(deadline - now)).await;
            if let Some(result) = self.result(&submission.uuid).await? {
                return Ok(ScanOutcome::Done {
                    submission,
                    result: Box::new(result),
                });
            }
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        call: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, VendorError> {
        let resp = request
            .header("API-Key", self.config.api_key.expose())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| http::transport(VENDOR, call, e))?;
        let wait = reset_after(&resp);
        http::decode(
            VENDOR,
            call,
            resp,
            RetrySignal::RetryAfterSeconds,
            error_message,
        )
        .await
        .map_err(|e| match e {
            VendorError::Status {
                vendor,
                call,
                status,
                message,
                retry_after,
            } => VendorError::Status {
                vendor,
                call,
                status,
                message,
                retry_after: wait.filter(|_| status == 429).or(retry_after),
            },
            other => other,
        })
    }
}
