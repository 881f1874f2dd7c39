//! `[virustotal]`: file, URL, domain and IP reputation from VirusTotal API v3.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// `[virustotal]` as written in the TOML; `resolve` checks it and reads the key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirusTotalConfig {
    /// The API host (`https://www.virustotal.com`); the client appends `/api/v3`, as vt-py does.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// File holding the API key (or `VIGIL_VIRUSTOTAL_API_KEY`).
    pub api_key_file: Option<PathBuf>,
    /// Calls per minute Vigil allows itself: the public API allows 4, premium keys far more.
    #[serde(default = "default_requests_per_minute")]
    pub requests_per_minute: u32,
    /// Whether a URL VirusTotal has never seen is submitted for scanning (`POST /urls`).
    /// Submitted URLs become visible to VirusTotal's community, so this is off by default.
    #[serde(default)]
    pub submit_unknown_urls: bool,
    /// How often a submitted URL's analysis is asked for.
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    pub analysis_poll_interval: Duration,
    /// How long a submitted URL's analysis is waited for before the lookup says "pending".
    #[serde(default = "default_max_wait", with = "humantime_serde")]
    pub analysis_max_wait: Duration,
    /// The key (sent as `x-apikey`), read by `resolve` from `api_key_file` or
    /// `VIGIL_VIRUSTOTAL_API_KEY`; never a TOML key.
    #[serde(skip)]
    pub api_key: Secret,
}

/// The longest `analysis_max_wait` accepted: a lookup must not hold a case step for longer.
pub const MAX_ANALYSIS_WAIT: Duration = Duration::from_secs(600);

fn default_base_url() -> String {
    "https://www.virustotal.com".into()
}

fn default_requests_per_minute() -> u32 {
    4
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(15)
}

fn default_max_wait() -> Duration {
    Duration::from_secs(60)
}

impl VirusTotalConfig {
    /// A config for `base_url` with `api_key` and every knob at its default (tests, sandbox).
    pub fn new(base_url: impl Into<String>, api_key: Secret) -> Self {
        VirusTotalConfig {
            base_url: base_url.into(),
            api_key_file: None,
            requests_per_minute: default_requests_per_minute(),
            submit_unknown_urls: false,
            analysis_poll_interval: default_poll_interval(),
            analysis_max_wait: default_max_wait(),
            api_key,
        }
    }

    /// Checks values and reads the key.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        self.base_url = base_url("virustotal.base_url", &self.base_url)?;
        if self.requests_per_minute == 0 {
            return Err(ConfigError::Invalid {
                key: "virustotal.requests_per_minute".into(),
                expected: "at least 1 (the public API allows 4)".into(),
                got: "0".into(),
            });
        }
        if self.analysis_poll_interval.is_zero() {
            return Err(ConfigError::Invalid {
                key: "virustotal.analysis_poll_interval".into(),
                expected: "a duration above zero, like \"15s\"".into(),
                got: "0s".into(),
            });
        }
        if self.analysis_max_wait > MAX_ANALYSIS_WAIT {
            return Err(ConfigError::Invalid {
                key: "virustotal.analysis_max_wait".into(),
                expected: "a duration of at most 10m".into(),
                got: humantime::format_duration(self.analysis_max_wait).to_string(),
            });
        }
        self.api_key = secret::resolve(
            &SecretSpec {
                key: "virustotal.api_key",
                env: "VIGIL_VIRUSTOTAL_API_KEY",
                file: self.api_key_file.as_deref(),
                expected: "a VirusTotal API key (64 hex characters, from your VirusTotal profile > API key)",
                valid: |v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()),
            },
            base,
            env,
        )?;
        Ok(())
    }
}
