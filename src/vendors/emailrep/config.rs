//! `[emailrep]`: the reputation of a sender address, from EmailRep (best-effort: Sublime no
//! longer issues keys, existing ones keep working).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// `[emailrep]` as written in the TOML; `resolve` checks it and reads the key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailRepConfig {
    /// The API host (`https://emailrep.io`); the client appends `/{email}`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// File holding the API key (or `VIGIL_EMAILREP_API_KEY`).
    pub api_key_file: Option<PathBuf>,
    /// Calls per minute Vigil allows itself (EmailRep's quotas are per key and per day).
    #[serde(default = "default_requests_per_minute")]
    pub requests_per_minute: u32,
    /// The key, read by `resolve` from `api_key_file` or `VIGIL_EMAILREP_API_KEY`; never a
    /// TOML key.
    #[serde(skip)]
    pub api_key: Secret,
}

fn default_base_url() -> String {
    "https://emailrep.io".into()
}

fn default_requests_per_minute() -> u32 {
    10
}

impl EmailRepConfig {
    /// A config for `base_url` with `api_key` and every knob at its default (tests, sandbox).
    pub fn new(base_url: impl Into<String>, api_key: Secret) -> Self {
        EmailRepConfig {
            base_url: base_url.into(),
            api_key_file: None,
            requests_per_minute: default_requests_per_minute(),
            api_key,
        }
    }

    /// Checks values and reads the key.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        self.base_url = base_url("emailrep.base_url", &self.base_url)?;
        if self.requests_per_minute == 0 {
            return Err(ConfigError::Invalid {
                key: "emailrep.requests_per_minute".into(),
                expected: "at least 1".into(),
                got: "0".into(),
            });
        }
        self.api_key = secret::resolve(
            &SecretSpec {
                key: "emailrep.api_key",
                env: "VIGIL_EMAILREP_API_KEY",
                file: self.api_key_file.as_deref(),
                expected: "an EmailRep API key",
                valid: secret::non_empty,
            },
            base,
            env,
        )?;
        Ok(())
    }
}
