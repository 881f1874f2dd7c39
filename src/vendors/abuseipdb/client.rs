//! AbuseIPDB API v2 client (vendor-apis §9): `GET /api/v2/check` for one IP.
//!
//! Invariants: every call sends `Key` and `Accept: application/json` (without it AbuseIPDB
//! answers errors as an HTML page); the address is checked locally before anything is sent;
//! a 429 whose `Retry-After` is longer than the scheduler would wait (the daily quota, which
//! resets at midnight UTC) comes back at once with when it resets, instead of being retried.

use std::time::Duration;

use serde_json::Value;

use super::config::AbuseIpDbConfig;
use super::models::{Envelope, IpReport};
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};
use crate::vendors::outbound::{self, Outbound, RetryPolicy};

const VENDOR: &str = "abuseipdb";
const CALL: &str = "check ip";

/// An AbuseIPDB client for one API key.
pub struct AbuseIpDbClient {
    http: reqwest::Client,
    config: AbuseIpDbConfig,
    outbound: Outbound,
}

/// AbuseIPDB's error text: every `errors[].detail`, joined.
pub fn error_message(v: &Value) -> Option<String> {
    let details: Vec<&str> = v
        .get("errors")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("detail").and_then(Value::as_str))
        .collect();
    (!details.is_empty()).then(|| details.join("; "))
}

/// Rewrites a quota 429 so the analyst reads when it resets; other errors pass unchanged.
fn explain_quota(err: VendorError) -> VendorError {
    match err {
        VendorError::Status {
            vendor,
            call,
            status: 429,
            message,
            retry_after: Some(wait),
        } => VendorError::Status {
            vendor,
            call,
            status: 429,
            message: format!(
                "{message} (the daily quota resets in {})",
                humantime::format_duration(Duration::from_secs(wait.as_secs()))
            ),
            retry_after: Some(wait),
        },
        other => other,
    }
}

impl AbuseIpDbClient {
    /// A client with the configured pace and the default retry policy.
    pub fn new(config: AbuseIpDbConfig) -> Result<Self, VendorError> {
        let outbound = Self::scheduler(&config, RetryPolicy::default());
        Ok(AbuseIpDbClient {
            http: http::client()?,
            config,
            outbound,
        })
    }

    fn scheduler(config: &AbuseIpDbConfig, policy: RetryPolicy) -> Outbound {
        let rate = config.requests_per_minute;
        Outbound::new(
            "AbuseIPDB",
            outbound::per_minute(rate, rate.min(10)),
            policy,
        )
    }

    /// The same client with another retry policy (tests, or a pipeline with its own budget).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.outbound = Self::scheduler(&self.config, policy);
        self
    }

    /// `GET /api/v2/check?ipAddress=…&maxAgeInDays=…` with the configured age.
    pub async fn check(&self, ip: &str) -> Result<IpReport, VendorError> {
        self.check_within(ip, self.config.max_age_in_days).await
    }

    /// Like [`AbuseIpDbClient::check`] with reports of the last `max_age_in_days` (1–365).
    pub async fn check_within(
        &self,
        ip: &str,
        max_age_in_days: u16,
    ) -> Result<IpReport, VendorError> {
        let ip: std::net::IpAddr = ip.trim().parse().map_err(|_| VendorError::Invalid {
            vendor: VENDOR,
            call: CALL,
            message: format!("{ip:?} is not an IPv4 or IPv6 address"),
        })?;
        if !(1..=365).contains(&max_age_in_days) {
            return Err(VendorError::Invalid {
                vendor: VENDOR,
                call: CALL,
                message: format!("maxAgeInDays must be 1 to 365, not {max_age_in_days}"),
            });
        }
        let url = format!("{}/api/v2/check", self.config.base_url);
        let query = [
            ("ipAddress", ip.to_string()),
            ("maxAgeInDays", max_age_in_days.to_string()),
        ];
        let longest_wait = self.outbound.policy().max_retry_after;
        // A quota that resets later than the scheduler would wait is handed back as the
        // inner error, so the scheduler does not retry it.
        let answer: Result<IpReport, VendorError> = self
            .outbound
            .call("api", CALL, || async {
                let sent = http::send::<Envelope>(
                    VENDOR,
                    CALL,
                    self.http
                        .get(&url)
                        .header("Key", self.config.api_key.expose())
                        .header("accept", "application/json")
                        .query(&query),
                    RetrySignal::RetryAfterSeconds,
                    error_message,
                )
                .await;
                match sent {
                    Ok(env) => Ok(Ok(env.data)),
                    Err(e)
                        if e.status() == Some(429)
                            && e.retry_after().is_some_and(|w| w > longest_wait) =>
                    {
                        Ok(Err(explain_quota(e)))
                    }
                    Err(e) => Err(e),
                }
            })
            .await
            .and_then(|inner| inner);
        answer
    }
}
