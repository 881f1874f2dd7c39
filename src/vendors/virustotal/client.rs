//! VirusTotal API v3 client (vendor-apis §8): look up a file hash, URL, domain or IP and get
//! a typed verdict from `last_analysis_stats`.
//!
//! Invariants: every call carries `x-apikey` and goes through the vendor's [`Outbound`]
//! (default 4 calls a minute, the public API's quota); `NotFoundError` is the answer
//! [`Lookup::Unknown`], never an error; `QuotaExceededError` (429, no wait header) is retried
//! with backoff by the scheduler; `WrongCredentialsError` (401) is returned at once.

use std::time::{Duration, Instant};

use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::config::VirusTotalConfig;
use super::models::{Analysis, AnalysisRef, Envelope, IndicatorKind, Lookup, Object, Report};
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};
use crate::vendors::outbound::{self, Outbound, RetryPolicy};

const VENDOR: &str = "virustotal";
/// The limiter key: VirusTotal counts every call against one per-key quota.
const QUOTA_KEY: &str = "api";

/// A VirusTotal client for one API key.
pub struct VirusTotalClient {
    http: reqwest::Client,
    config: VirusTotalConfig,
    outbound: Outbound,
}

/// VirusTotal's error text: `{"error":{"code","message"}}` → `Code: message`.
pub fn error_message(v: &Value) -> Option<String> {
    let e = v.get("error")?;
    let code = e.get("code").and_then(Value::as_str);
    let message = e.get("message").and_then(Value::as_str);
    match (code, message) {
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (Some(c), None) => Some(c.to_string()),
        (None, Some(m)) => Some(m.to_string()),
        (None, None) => None,
    }
}

/// The `/urls/{id}` id of a URL: its unpadded base64url encoding, as vt-py's `url_id`.
pub fn url_id(url: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url.as_bytes())
}

fn invalid(call: &'static str, message: impl Into<String>) -> VendorError {
    VendorError::Invalid {
        vendor: VENDOR,
        call,
        message: message.into(),
    }
}

impl VirusTotalClient {
    /// A client with the configured quota and the default retry policy.
    pub fn new(config: VirusTotalConfig) -> Result<Self, VendorError> {
        let outbound = Self::scheduler(&config, RetryPolicy::default());
        Ok(VirusTotalClient {
            http: http::client()?,
            config,
            outbound,
        })
    }

    fn scheduler(config: &VirusTotalConfig, policy: RetryPolicy) -> Outbound {
        let rate = config.requests_per_minute;
        Outbound::new("VirusTotal", outbound::per_minute(rate, rate), policy)
    }

    /// The same client with another retry policy (tests, or a pipeline with its own budget).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.outbound = Self::scheduler(&self.config, policy);
        self
    }

    /// `GET /files/{hash}`: a file by MD5, SHA-1 or SHA-256.
    pub async fn file(&self, hash: &str) -> Result<Lookup, VendorError> {
        const CALL: &str = "file report";
        let hash = hash.trim();
        let hex = hash.chars().all(|c| c.is_ascii_hexdigit());
        if !hex || ![32, 40, 64].contains(&hash.len()) {
            return Err(invalid(CALL, "a file hash is 32, 40 or 64 hex characters"));
        }
        self.lookup(CALL, IndicatorKind::File, &hash.to_ascii_lowercase())
            .await
    }

    /// `GET /domains/{domain}`.
    pub async fn domain(&self, domain: &str) -> Result<Lookup, VendorError> {
        const CALL: &str = "domain report";
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let ok = domain.contains('.')
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
        if !ok {
            return Err(invalid(CALL, format!("{domain:?} is not a domain name")));
        }
        self.lookup(CALL, IndicatorKind::Domain, &domain).await
    }

    /// `GET /ip_addresses/{ip}`.
    pub async fn ip_address(&self, ip: &str) -> Result<Lookup, VendorError> {
        const CALL: &str = "ip address report";
        let ip: std::net::IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| invalid(CALL, format!("{ip:?} is not an IP address")))?;
        self.lookup(CALL, IndicatorKind::IpAddress, &ip.to_string())
            .await
    }

    /// `GET /urls/{base64url}`; when VirusTotal has never seen the URL and
    /// `submit_unknown_urls` is on, `POST /urls` and wait for the analysis (bounded by
    /// `analysis_max_wait`).
    pub async fn url(&self, url: &str) -> Result<Lookup, VendorError> {
        const CALL: &str = "url report";
        let url = url.trim();
        if url.is_empty() {
            return Err(invalid(CALL, "the URL is empty"));
        }
        let found = self.lookup(CALL, IndicatorKind::Url, &url_id(url)).await?;
        if found != Lookup::Unknown || !self.config.submit_unknown_urls {
            return Ok(found);
        }
        let analysis_id = self.submit_url(url).await?;
        self.wait_for_analysis(url, &analysis_id).await
    }

    /// `POST /urls` (form field `url`, as vt-py sends it): the analysis id of a new scan.
    pub async fn submit_url(&self, url: &str) -> Result<String, VendorError> {
        const CALL: &str = "submit url";
        let endpoint = format!("{}/api/v3/urls", self.config.base_url);
        let form = [("url", url.trim())];
        let answer: Envelope<AnalysisRef> = self
            .outbound
            .call(QUOTA_KEY, CALL, || async {
                self.send(CALL, self.http.post(&endpoint).form(&form)).await
            })
            .await?;
        Ok(answer.data.id)
    }

    /// Polls `GET /analyses/{id}` until `completed` or `analysis_max_wait` has passed.
    async fn wait_for_analysis(&self, url: &str, analysis_id: &str) -> Result<Lookup, VendorError> {
        const CALL: &str = "url analysis";
        let endpoint = format!("{}/api/v3/analyses/{analysis_id}", self.config.base_url);
        let deadline = Instant::now() + self.config.analysis_max_wait;
        loop {
            let answer: Envelope<Analysis> = self
                .outbound
                .call(QUOTA_KEY, CALL, || async {
                    self.send(CALL, self.http.get(&endpoint)).await
                })
                .await?;
            let a = answer.data;
            if a.attributes.status.as_deref() == Some("completed") {
                return Ok(Lookup::Found(Report {
                    kind: IndicatorKind::Url,
                    id: url_id(url),
                    stats: a.attributes.stats,
                    reputation: 0,
                    threat_label: None,
                    owner: None,
                    country: None,
                    last_analysis_date: a.attributes.date,
                }));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Lookup::Pending { analysis_id: a.id });
            }
            let pause = self.config.analysis_poll_interval.min(deadline - now);
            tokio::time::sleep(pause.max(Duration::from_millis(1))).await;
        }
    }

    async fn lookup(
        &self,
        call: &'static str,
        kind: IndicatorKind,
        id: &str,
    ) -> Result<Lookup, VendorError> {
        let endpoint = format!("{}/api/v3/{}/{id}", self.config.base_url, kind.collection());
        let answer: Result<Envelope<Object>, VendorError> = self
            .outbound
            .call(QUOTA_KEY, call, || async {
                self.send(call, self.http.get(&endpoint)).await
            })
            .await;
        match answer {
            Ok(env) => Ok(Lookup::Found(env.data.into_report(kind))),
            Err(e) if e.status() == Some(404) => Ok(Lookup::Unknown),
            Err(e) => Err(e),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        call: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, VendorError> {
        http::send(
            VENDOR,
            call,
            request
                .header("x-apikey", self.config.api_key.expose())
                .header("accept", "application/json"),
            RetrySignal::RetryAfterSeconds,
            error_message,
        )
        .await
    }
}
