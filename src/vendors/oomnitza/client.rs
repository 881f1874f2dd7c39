//! Oomnitza client: assets and their owners.

use serde_json::Value;

use super::config::OomnitzaConfig;
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};

const VENDOR: &str = "oomnitza";

/// An Oomnitza API client.
pub struct OomnitzaClient {
    http: reqwest::Client,
    config: OomnitzaConfig,
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

impl OomnitzaClient {
    /// A client for the configured tenant.
    pub fn new(config: OomnitzaConfig) -> Result<Self, VendorError> {
        Ok(OomnitzaClient {
            http: http::client()?,
            config,
        })
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
        let resp = self
            .http
            .get(format!("{}{}", self.config.base_url, path))
            .header("Authorization2", self.config.token.expose())
            .query(&query)
            .send()
            .await
            .map_err(|e| http::transport(VENDOR, call, e))?;
        http::decode(
            VENDOR,
            call,
            resp,
            RetrySignal::RetryAfterSeconds,
            error_message,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_cannot_break_out_of_the_filter() {
        assert_eq!(quote("WS-1"), "'WS-1'");
        assert_eq!(quote("a' or 'x' eq 'x"), "'a\\' or \\'x\\' eq \\'x'");
    }
}
