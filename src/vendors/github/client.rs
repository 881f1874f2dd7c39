//! GitHub REST client for the case repository.

use serde::Deserialize;

use super::config::GitHubConfig;
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};

const VENDOR: &str = "github";
/// The REST API version Vigil is written against.
pub const API_VERSION: &str = "2022-11-28";

/// A GitHub client bound to one repository.
pub struct GitHubClient {
    http: reqwest::Client,
    config: GitHubConfig,
}

/// What Vigil needs to know about the repository.
#[derive(Debug, Clone, Deserialize)]
pub struct Repository {
    /// `owner/name`.
    pub full_name: String,
    /// Whether issues are turned on.
    #[serde(default)]
    pub has_issues: bool,
    /// What the token may do, when GitHub says.
    #[serde(default)]
    pub permissions: Option<Permissions>,
}

/// Token permissions on the repository.
#[derive(Debug, Clone, Deserialize)]
pub struct Permissions {
    /// Write access (needed to open and close issues).
    #[serde(default)]
    pub push: bool,
    /// Triage access (enough for issues and labels).
    #[serde(default)]
    pub triage: bool,
}

/// GitHub's error text: `message`.
pub fn error_message(v: &serde_json::Value) -> Option<String> {
    v.get("message")?.as_str().map(str::to_string)
}

impl GitHubClient {
    /// A client for the configured repository.
    pub fn new(config: GitHubConfig) -> Result<Self, VendorError> {
        Ok(GitHubClient {
            http: http::client()?,
            config,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.config.base_url, path))
            .bearer_auth(self.config.token.expose())
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
    }

    /// `GET /repos/{owner}/{repo}`: proves the token can see the repository.
    pub async fn repository(&self) -> Result<Repository, VendorError> {
        const CALL: &str = "get repository";
        let (owner, name) = self.config.owner_and_name();
        let resp = self
            .request(reqwest::Method::GET, &format!("/repos/{owner}/{name}"))
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
