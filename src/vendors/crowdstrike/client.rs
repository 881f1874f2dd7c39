//! CrowdStrike Falcon client: OAuth2 client-credentials token, cached and refreshed before it
//! expires (or after a 401), and the calls Vigil makes with it: Alerts v2 (poll, details,
//! update) and Hosts (details, containment). Every call goes through the vendor's
//! [`Outbound`] scheduler (6000/min, `X-RateLimit-RetryAfter` honoured).

use std::time::{Duration, Instant};

use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::config::CrowdStrikeConfig;
use super::models::{AlertPage, Device, Envelope};
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};
use crate::vendors::outbound::{self, Outbound, RetryPolicy};

const VENDOR: &str = "crowdstrike";
/// Falcon's rate-limit header: Unix epoch seconds when a retry is allowed.
pub const RETRY_SIGNAL: RetrySignal = RetrySignal::EpochHeader("x-ratelimit-retryafter");
/// Refresh this long before the token's stated expiry (at most half its life).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// The range a token's `expires_in` is taken within: Falcon says 1799 s, but a value of 0 would
/// mean a token request per call and a huge one a token kept long after it was revoked.
const TOKEN_LIFETIME: (Duration, Duration) =
    (Duration::from_secs(60), Duration::from_secs(24 * 3600));

/// How long a token that Falcon says `expires_in` seconds is used: the lifetime clamped to
/// `TOKEN_LIFETIME` (60 s to 24 h), less a margin so it is refreshed before it expires.
pub fn token_reuse_for(expires_in: u64) -> Duration {
    let lifetime = Duration::from_secs(expires_in).clamp(TOKEN_LIFETIME.0, TOKEN_LIFETIME.1);
    lifetime - REFRESH_MARGIN.min(lifetime / 2)
}

/// Largest `limit` of `alerts/combined/alerts/v1`.
const MAX_ALERTS_PAGE: u32 = 1000;
/// Ids per `alerts/entities/alerts` request.
const ALERT_IDS_PER_CALL: usize = 1000;
/// Ids per `POST devices/entities/devices/v2` request.
const DEVICE_IDS_PER_CALL: usize = 5000;

/// A Falcon client for one cloud and API client: it holds the cached OAuth2 token (one
/// refresh at a time, behind the mutex) and the scheduler every call shares.
pub struct CrowdStrikeClient {
    http: reqwest::Client,
    config: CrowdStrikeConfig,
    token: Mutex<Option<CachedToken>>,
    outbound: Outbound,
}

struct CachedToken {
    value: String,
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

/// The message of a Falcon error envelope: `errors[0].message`.
pub fn error_message(v: &serde_json::Value) -> Option<String> {
    v.get("errors")?
        .as_array()?
        .first()?
        .get("message")?
        .as_str()
        .map(str::to_string)
}

impl CrowdStrikeClient {
    /// A client for the configured cloud with the default retry policy. It makes no call,
    /// so a bad credential shows on first use (or in `vigil doctor`); it fails only if the HTTP
    /// client cannot be built.
    pub fn new(config: CrowdStrikeConfig) -> Result<Self, VendorError> {
        Ok(CrowdStrikeClient {
            http: http::client()?,
            config,
            token: Mutex::new(None),
            outbound: Outbound::new(
                "CrowdStrike",
                outbound::crowdstrike_quota(),
                RetryPolicy::default(),
            ),
        })
    }

    /// The same client with another retry policy (tests, or a pipeline with its own budget).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.outbound = Outbound::new("CrowdStrike", outbound::crowdstrike_quota(), policy);
        self
    }

    /// A valid bearer token, from the cache or freshly issued.
    pub async fn token(&self) -> Result<String, VendorError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(t.value.clone());
        }
        let fresh = self.issue_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    /// Drops the cached token (after a 401) so the next call gets a new one.
    pub async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    async fn issue_token(&self) -> Result<CachedToken, VendorError> {
        const CALL: &str = "oauth2 token";
        let request = self
            .http
            .post(format!("{}/oauth2/token", self.config.base_url))
            .form(&[
                ("client_id", self.config.client_id.as_str()),
                ("client_secret", self.config.client_secret.expose()),
            ]);
        let t: TokenResponse =
            http::send(VENDOR, CALL, request, RETRY_SIGNAL, error_message).await?;
        let now = Instant::now();
        Ok(CachedToken {
            value: t.access_token,
            refresh_at: now
                .checked_add(token_reuse_for(t.expires_in))
                .unwrap_or(now),
        })
    }

    /// `POST /alerts/combined/alerts/v1`: one page of full alerts matching the FQL `filter`,
    /// sorted by `sort` (`updated_timestamp|asc`), after the paging token `after`.
    pub async fn alerts_page(
        &self,
        filter: &str,
        sort: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<AlertPage, VendorError> {
        const CALL: &str = "list alerts";
        let mut body = json!({
            "filter": filter,
            "sort": sort,
            "limit": limit.clamp(1, MAX_ALERTS_PAGE),
        });
        if let Some(after) = after.filter(|a| !a.is_empty()) {
            body["after"] = json!(after);
        }
        let url = self.url("/alerts/combined/alerts/v1");
        let env: Envelope<Value> = self
            .envelope(CALL, false, |http, token| {
                http.post(&url).bearer_auth(token).json(&body)
            })
            .await?;
        let pagination = env.meta.pagination.unwrap_or_default();
        Ok(AlertPage {
            alerts: env.resources.unwrap_or_default(),
            after: pagination.after.filter(|a| !a.is_empty()),
            total: pagination.total,
        })
    }

    /// `POST /alerts/entities/alerts/v2`: full alerts by composite id. Ids Falcon does not know
    /// are left out of the answer (Falcon's 404 with partial results is not an error here).
    pub async fn alerts_by_id(&self, ids: &[String]) -> Result<Vec<Value>, VendorError> {
        const CALL: &str = "get alerts";
        let url = self.url("/alerts/entities/alerts/v2");
        let mut found = Vec::new();
        for chunk in ids.chunks(ALERT_IDS_PER_CALL) {
            let body = json!({ "composite_ids": chunk });
            let env: Envelope<Value> = self
                .envelope(CALL, true, |http, token| {
                    http.post(&url).bearer_auth(token).json(&body)
                })
                .await?;
            found.extend(env.resources.unwrap_or_default());
        }
        Ok(found)
    }

    /// `PATCH /alerts/entities/alerts/v3`: applies `actions` (`("update_status", "closed")`,
    /// `("append_comment", "…")`) to the alerts.
    pub async fn update_alerts(
        &self,
        ids: &[String],
        actions: &[(&str, &str)],
    ) -> Result<(), VendorError> {
        const CALL: &str = "update alerts";
        if ids.is_empty() || actions.is_empty() {
            return Ok(());
        }
        let params: Vec<Value> = actions
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        let url = self.url("/alerts/entities/alerts/v3");
        for chunk in ids.chunks(ALERT_IDS_PER_CALL) {
            let body = json!({ "composite_ids": chunk, "action_parameters": params });
            let _: Envelope<Value> = self
                .envelope(CALL, false, |http, token| {
                    http.patch(&url).bearer_auth(token).json(&body)
                })
                .await?;
        }
        Ok(())
    }

    /// `POST /devices/entities/devices/v2`: host details by device id. Unknown ids are left out.
    pub async fn devices(&self, ids: &[String]) -> Result<Vec<Device>, VendorError> {
        const CALL: &str = "get devices";
        let url = self.url("/devices/entities/devices/v2");
        let mut found = Vec::new();
        for chunk in ids.chunks(DEVICE_IDS_PER_CALL) {
            let body = json!({ "ids": chunk });
            let env: Envelope<Value> = self
                .envelope(CALL, true, |http, token| {
                    http.post(&url).bearer_auth(token).json(&body)
                })
                .await?;
            for raw in env.resources.unwrap_or_default() {
                found.push(device(CALL, raw)?);
            }
        }
        Ok(found)
    }

    /// `GET /devices/queries/devices/v1?filter=hostname:'…'`: the device ids of a host name
    /// (Falcon matches names case-insensitively). A tool call may name a host of the case by
    /// name, while Falcon's actions take ids. Quotes and backslashes in the name are escaped,
    /// so a hostile name cannot widen the filter.
    pub async fn device_ids_by_hostname(&self, hostname: &str) -> Result<Vec<String>, VendorError> {
        const CALL: &str = "find device by hostname";
        let url = self.url("/devices/queries/devices/v1");
        let escaped = hostname.replace('\\', "\\\\").replace('\'', "\\'");
        let query = [
            ("filter", format!("hostname:'{escaped}'")),
            ("limit", "10".to_string()),
        ];
        let env: Envelope<String> = self
            .envelope(CALL, false, |http, token| {
                http.get(&url).bearer_auth(token).query(&query)
            })
            .await?;
        Ok(env.resources.unwrap_or_default())
    }

    /// Network-contains a host (`action_name=contain`). A host already contained, or on its
    /// way there, is what was asked for: Falcon's 409 for it counts as success.
    pub async fn contain(&self, device_id: &str) -> Result<(), VendorError> {
        self.device_action("contain host", "contain", device_id)
            .await
    }

    /// Lifts a host's network containment. A host not contained counts as success.
    pub async fn lift_containment(&self, device_id: &str) -> Result<(), VendorError> {
        self.device_action("lift containment", "lift_containment", device_id)
            .await
    }

    async fn device_action(
        &self,
        call: &'static str,
        action: &str,
        device_id: &str,
    ) -> Result<(), VendorError> {
        let url = self.url("/devices/entities/devices-actions/v2");
        let body = json!({ "ids": [device_id] });
        let result: Result<Envelope<Value>, VendorError> = self
            .envelope(call, false, |http, token| {
                http.post(&url)
                    .query(&[("action_name", action)])
                    .bearer_auth(token)
                    .json(&body)
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(409) => {
                tracing::info!(device_id, action, error = %e, "host already in the asked state");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url, path)
    }

    /// Runs one API call under the scheduler and decodes its envelope. With `partial`, a 404
    /// that still carries `resources` (some ids unknown) is an answer, not an error.
    async fn envelope<T, B>(
        &self,
        call: &'static str,
        partial: bool,
        build: B,
    ) -> Result<Envelope<T>, VendorError>
    where
        T: DeserializeOwned,
        B: Fn(&reqwest::Client, &str) -> RequestBuilder,
    {
        let key = self.config.client_id.as_str();
        self.outbound
            .call(key, call, || async {
                let resp = self.send(call, &build).await?;
                if partial && resp.status() == StatusCode::NOT_FOUND {
                    return partial_envelope(call, resp).await;
                }
                http::decode(VENDOR, call, resp, RETRY_SIGNAL, error_message).await
            })
            .await
    }

    /// Sends with the cached token; on a 401 forgets it, gets a new one and sends once more.
    async fn send<B>(&self, call: &'static str, build: &B) -> Result<Response, VendorError>
    where
        B: Fn(&reqwest::Client, &str) -> RequestBuilder,
    {
        let token = self.token().await?;
        let resp = build(&self.http, &token)
            .send()
            .await
            .map_err(|e| http::transport(VENDOR, call, e))?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        tracing::info!(
            call,
            "crowdstrike refused the token (401); getting a new one"
        );
        self.forget_token().await;
        let token = self.token().await?;
        build(&self.http, &token)
            .send()
            .await
            .map_err(|e| http::transport(VENDOR, call, e))
    }
}

/// Reads a 404 envelope: its `resources` when it has any, else the 404 as an error.
async fn partial_envelope<T: DeserializeOwned>(
    call: &'static str,
    resp: Response,
) -> Result<Envelope<T>, VendorError> {
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| http::transport(VENDOR, call, e))?;
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let has_resources = value.get("resources").is_some_and(Value::is_array);
    if !has_resources {
        return Err(VendorError::Status {
            vendor: VENDOR,
            call,
            status: 404,
            message: error_message(&value).unwrap_or_else(|| "Not Found".into()),
            retry_after: None,
        });
    }
    serde_json::from_value(value).map_err(|e| VendorError::Decode {
        vendor: VENDOR,
        call,
        message: e.to_string(),
    })
}

/// One device of a Hosts answer; a record without `device_id` is a broken answer.
fn device(call: &'static str, raw: Value) -> Result<Device, VendorError> {
    serde_json::from_value(raw).map_err(|e| VendorError::Decode {
        vendor: VENDOR,
        call,
        message: format!("device record: {e}"),
    })
}

#[cfg(test)]
mod lifetime_tests {
    use super::*;

    #[test]
    fn token_lifetime_is_clamped_and_refreshed_before_expiry() {
        assert_eq!(token_reuse_for(1799), Duration::from_secs(1739));
        let short = token_reuse_for(0);
        assert!(
            short >= Duration::from_secs(30),
            "expires_in 0 must not mean a token request per call: {short:?}"
        );
        let long = token_reuse_for(u64::MAX);
        assert!(long < Duration::from_secs(24 * 3600), "{long:?}");
        for s in [1, 59, 60, 61, 119, 86_400, 10_000_000] {
            assert!(
                token_reuse_for(s) < Duration::from_secs(s.max(60)),
                "refreshed before it expires ({s} s)"
            );
        }
    }
}
