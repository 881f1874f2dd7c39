//! Oomnitza client: assets and their owners. Every call goes through the vendor's
//! [`Outbound`] scheduler (a modest default rate; Oomnitza documents none).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::config::OomnitzaConfig;
use super::models::{Asset, User};
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};
use crate::vendors::outbound::{self, Outbound, RetryPolicy};

const VENDOR: &str = "oomnitza";

/// An Oomnitza client for one tenant; every call goes through its scheduler, which also
/// retries 429s and 5xx.
pub struct OomnitzaClient {
    http: reqwest::Client,
    config: OomnitzaConfig,
    outbound: Outbound,
}

/// Oomnitza's error text, whatever shape the tenant answers with.
pub fn error_message(v: &Value) -> Option<String> {
    ["error", "message", "errors"]
        .iter()
        .find_map(|k| v.get(*k))
        .map(|m| {
            m.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| m.to_string())
        })
}

/// Quotes a value for an Oomnitza filter (`field eq '<value>'`), escaping quotes.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The filter `field eq '<value>'`, with the value quoted by [`quote`].
pub fn eq_filter(field: &str, value: &str) -> String {
    format!("{field} eq {}", quote(value))
}

impl OomnitzaClient {
    /// A client for the configured tenant with the default retry policy. It makes no call,
    /// so a bad credential shows on first use (or in `vigil doctor`); it fails only if the HTTP
    /// client cannot be built.
    pub fn new(config: OomnitzaConfig) -> Result<Self, VendorError> {
        Ok(OomnitzaClient {
            http: http::client()?,
            config,
            outbound: Outbound::new(
                "Oomnitza",
                outbound::oomnitza_quota(),
                RetryPolicy::default(),
            ),
        })
    }

    /// The same client with another retry policy (tests, or a pipeline with its own budget).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.outbound = Outbound::new("Oomnitza", outbound::oomnitza_quota(), policy);
        self
    }

    /// `GET /api/v3/users?filter=…&limit=…`: users matching a filter (bare JSON array).
    pub async fn users(&self, filter: Option<&str>, limit: u32) -> Result<Vec<Value>, VendorError> {
        self.list("/api/v3/users", "list users", filter, limit)
            .await
    }

    /// `GET /api/v3/assets?filter=…&limit=…`: assets matching a filter.
    pub async fn assets(
        &self,
        filter: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Value>, VendorError> {
        self.list("/api/v3/assets", "list assets", filter, limit)
            .await
    }

    /// The asset with this hardware serial number (`serial_number eq '…'`), if any.
    pub async fn asset_by_serial(&self, serial: &str) -> Result<Option<Asset>, VendorError> {
        self.first(
            "/api/v3/assets",
            "find asset by serial",
            "serial_number",
            serial,
        )
        .await
    }

    /// The asset with this host name (`device_name eq '…'`), if any.
    pub async fn asset_by_hostname(&self, hostname: &str) -> Result<Option<Asset>, VendorError> {
        self.first(
            "/api/v3/assets",
            "find asset by hostname",
            "device_name",
            hostname,
        )
        .await
    }

    /// The user with this username (what an asset's `assigned_to` holds), if any.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>, VendorError> {
        self.first(
            "/api/v3/users",
            "find user by username",
            "username",
            username,
        )
        .await
    }

    /// The user with this email (identity alerts name the account by UPN), if any.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, VendorError> {
        self.first("/api/v3/users", "find user by email", "email", email)
            .await
    }

    /// The first record where `field` equals `value`. An empty value, an empty list and a 404
    /// all mean "none"; other errors (401 bad token, 400 bad filter, 5xx) are errors.
    async fn first<T: DeserializeOwned>(
        &self,
        path: &str,
        call: &'static str,
        field: &str,
        value: &str,
    ) -> Result<Option<T>, VendorError> {
        if value.trim().is_empty() {
            return Ok(None);
        }
        let filter = eq_filter(field, value);
        let found = match self.list(path, call, Some(&filter), 2).await {
            Ok(found) => found,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        if found.len() > 1 {
            tracing::warn!(
                field,
                call,
                "oomnitza has several records for one value; using the first"
            );
        }
        let Some(record) = found.into_iter().next() else {
            return Ok(None);
        };
        serde_json::from_value(record)
            .map(Some)
            .map_err(|e| VendorError::Decode {
                vendor: VENDOR,
                call,
                message: format!("record is not an object: {e}"),
            })
    }

    async fn list(
        &self,
        path: &str,
        call: &'static str,
        filter: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Value>, VendorError> {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(f) = filter {
            query.push(("filter", f.to_string()));
        }
        let url = format!("{}{}", self.config.base_url, path);
        self.outbound
            .call("tenant", call, || async {
                http::send(
                    VENDOR,
                    call,
                    self.http
                        .get(&url)
                        .header("Authorization2", self.config.token.expose())
                        .header("accept", "application/json")
                        .query(&query),
                    RetrySignal::RetryAfterSeconds,
                    error_message,
                )
                .await
            })
            .await
    }
}
