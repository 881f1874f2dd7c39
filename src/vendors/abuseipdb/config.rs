//! `[abuseipdb]`: how often an IP was reported for abuse, from AbuseIPDB API v2.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// `[abuseipdb]` as written in the TOML; [`AbuseIpDbConfig::resolve`] checks it and reads
/// the key. Absent section: IP verdicts come from the other reputation vendors only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbuseIpDbConfig {
    /// The API host (`https://api.abuseipdb.com`); the client appends `/api/v2/check`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// File holding the API key (or `VIGIL_ABUSEIPDB_API_KEY`).
    pub api_key_file: Option<PathBuf>,
    /// Only reports this many days old or newer count (1–365, AbuseIPDB's `maxAgeInDays`).
    #[serde(default = "default_max_age_in_days")]
    pub max_age_in_days: u16,
    /// Calls per minute Vigil allows itself. AbuseIPDB's own quota is per day (1000 on the
    /// free plan); this only keeps a storm from burning it in a minute.
    #[serde(default = "default_requests_per_minute")]
    pub requests_per_minute: u32,
    /// The key, read by `resolve` from `api_key_file` or `VIGIL_ABUSEIPDB_API_KEY`; never a TOML
    /// key, so it cannot sit in the config file.
    #[serde(skip)]
    pub api_key: Secret,
}

fn default_base_url() -> String {
    "https://api.abuseipdb.com".into()
}

fn default_max_age_in_days() -> u16 {
    90
}

fn default_requests_per_minute() -> u32 {
    30
}

impl AbuseIpDbConfig {
    /// A config for `base_url` with `api_key` and every knob at its default (tests, sandbox).
    pub fn new(base_url: impl Into<String>, api_key: Secret) -> Self {
        AbuseIpDbConfig {
            base_url: base_url.into(),
            api_key_file: None,
            max_age_in_days: default_max_age_in_days(),
            requests_per_minute: default_requests_per_minute(),
            api_key,
        }
    }

    /// Checks values and reads the key.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        self.base_url = base_url("abuseipdb.base_url", &self.base_url)?;
        if !(1..=365).contains(&self.max_age_in_days) {
            return Err(ConfigError::Invalid {
                key: "abuseipdb.max_age_in_days".into(),
                expected: "a number of days from 1 to 365".into(),
                got: self.max_age_in_days.to_string(),
            });
        }
        if self.requests_per_minute == 0 {
            return Err(ConfigError::Invalid {
                key: "abuseipdb.requests_per_minute".into(),
                expected: "at least 1".into(),
                got: "0".into(),
            });
        }
        self.api_key = secret::resolve(
            &SecretSpec {
                key: "abuseipdb.api_key",
                env: "VIGIL_ABUSEIPDB_API_KEY",
                file: self.api_key_file.as_deref(),
                expected: "an AbuseIPDB APIv2 key (Account > API)",
                valid: secret::non_empty,
            },
            base,
            env,
        )?;
        Ok(())
    }
}
