//! `[urlscan]`: a sandboxed browser visit of a suspicious URL, from urlscan.io.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// Who may see a scan on urlscan.io.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Listed on urlscan.io's front page and search: never for URLs from internal alerts.
    Public,
    /// Only reachable by its id, and to urlscan's paying customers.
    #[default]
    Unlisted,
    /// Only the submitting account.
    Private,
}

impl Visibility {
    /// The value of the submission's `visibility` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
        }
    }
}

/// `[urlscan]` as written in the TOML; `resolve` checks it and reads the key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlscanConfig {
    /// The API host (`https://urlscan.io`); the client appends `/api/v1/…`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// File holding the API key, a UUID (or `VIGIL_URLSCAN_API_KEY`).
    pub api_key_file: Option<PathBuf>,
    /// Visibility of submitted scans; `unlisted` by default so alert URLs stay off the
    /// public feed.
    #[serde(default)]
    pub visibility: Visibility,
    /// How often a scan's result is asked for while it is not finished (404).
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How long a scan is waited for before the lookup says "pending" (at most 10m).
    #[serde(default = "default_max_wait", with = "humantime_serde")]
    pub max_wait: Duration,
    /// Calls per minute Vigil allows itself (the free plan: 60 scans, 120 result reads).
    #[serde(default = "default_requests_per_minute")]
    pub requests_per_minute: u32,
    /// The key (sent as `API-Key`), read by `resolve` from `api_key_file` or
    /// `VIGIL_URLSCAN_API_KEY`; never a TOML key.
    #[serde(skip)]
    pub api_key: Secret,
}

/// The longest `max_wait` accepted: a scan must not hold a case step for longer.
pub const MAX_WAIT: Duration = Duration::from_secs(600);

fn default_base_url() -> String {
    "https://urlscan.io".into()
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(2)
}

fn default_max_wait() -> Duration {
    Duration::from_secs(60)
}

fn default_requests_per_minute() -> u32 {
    60
}

impl UrlscanConfig {
    /// A config for `base_url` with `api_key` and every knob at its default (tests, sandbox).
    pub fn new(base_url: impl Into<String>, api_key: Secret) -> Self {
        UrlscanConfig {
            base_url: base_url.into(),
            api_key_file: None,
            visibility: Visibility::default(),
            poll_interval: default_poll_interval(),
            max_wait: default_max_wait(),
            requests_per_minute: default_requests_per_minute(),
            api_key,
        }
    }

    /// Checks values and reads the key.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        self.base_url = base_url("urlscan.base_url", &self.base_url)?;
        if self.poll_interval < Duration::from_millis(100) {
            return Err(ConfigError::Invalid {
                key: "urlscan.poll_interval".into(),
                expected: "a duration of at least 100ms, like \"2s\"".into(),
                got: humantime::format_duration(self.poll_interval).to_string(),
            });
        }
        if self.max_wait > MAX_WAIT {
            return Err(ConfigError::Invalid {
                key: "urlscan.max_wait".into(),
                expected: "a duration of at most 10m".into(),
                got: humantime::format_duration(self.max_wait).to_string(),
            });
        }
        if self.requests_per_minute == 0 {
            return Err(ConfigError::Invalid {
                key: "urlscan.requests_per_minute".into(),
                expected: "at least 1".into(),
                got: "0".into(),
            });
        }
        self.api_key = secret::resolve(
            &SecretSpec {
                key: "urlscan.api_key",
                env: "VIGIL_URLSCAN_API_KEY",
                file: self.api_key_file.as_deref(),
                expected: "a urlscan.io API key (a UUID, from Settings & API)",
                valid: |v| uuid::Uuid::parse_str(v).is_ok(),
            },
            base,
            env,
        )?;
        Ok(())
    }
}
