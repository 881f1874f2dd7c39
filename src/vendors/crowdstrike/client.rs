//! CrowdStrike Falcon client: OAuth2 client-credentials token, cached and refreshed before it
//! expires (or after a 401), and the calls Vigil makes with it.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

use super::config::CrowdStrikeConfig;
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};

const VENDOR: &str = "crowdstrike";
/// Falcon's rate-limit header: Unix epoch seconds when a retry is allowed.
pub const RETRY_SIGNAL: RetrySignal = RetrySignal::EpochHeader("x-ratelimit-retryafter");
/// Refresh this long before the token's stated expiry.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A Falcon API client.
pub struct CrowdStrikeClient {
    http: reqwest::Client,
    config: CrowdStrikeConfig,
    token: Mutex<Option<CachedToken>>,
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
    /// A client for the configured cloud.
    pub fn new(config: CrowdStrikeConfig) -> Result<Self, VendorError> {
        Ok(CrowdStrikeClient {
            http: http::client()?,
            config,
            token: Mutex::new(None),
        })
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
        let resp = self
            .http
            .post(format!("{}/oauth2/token", self.config.base_url))
            .form(&[
                ("client_id", self.config.client_id.as_str()),
                ("client_secret", self.config.client_secret.expose()),
            ])
            .send()
            .await
            .map_err(|e| http::transport(VENDOR, CALL, e))?;
        let t: TokenResponse =
            http::decode(VENDOR, CALL, resp, RETRY_SIGNAL, error_message).await?;
        let lifetime = Duration::from_secs(t.expires_in);
        Ok(CachedToken {
            value: t.access_token,
            refresh_at: Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN),
        })
    }
}
