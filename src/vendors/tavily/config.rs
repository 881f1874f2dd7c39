//! `[tavily]`: web search for threat write-ups about an indicator, from Tavily.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// `[tavily]` as written in the TOML; `resolve` checks it and reads the key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TavilyConfig {
    /// The API host (`https://api.tavily.com`); the client appends `/search`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// File holding the API key, `tvly-…` (or `VIGIL_TAVILY_API_KEY`).
    pub api_key_file: Option<PathBuf>,
    /// Results per search (0–20; each search costs one credit whatever the number).
    #[serde(default = "default_max_results")]
    pub max_results: u8,
    /// Calls per minute Vigil allows itself (a development key allows 100).
    #[serde(default = "default_requests_per_minute")]
    pub requests_per_minute: u32,
    /// The key, read by `resolve` from `api_key_file` or `VIGIL_TAVILY_API_KEY`; never a TOML
    /// key.
    #[serde(skip)]
    pub api_key: Secret,
}

/// The most results Tavily returns for one search.
pub const MAX_RESULTS: u8 = 20;

fn default_base_url() -> String {
    "https://api.tavily.com".into()
}

fn default_max_results() -> u8 {
    5
}

fn default_requests_per_minute() -> u32 {
    60
}

impl TavilyConfig {
    /// A config for `base_url` with `api_key` and every knob at its default (tests, sandbox).
    pub fn new(base_url: impl Into<String>, api_key: Secret) -> Self {
        TavilyConfig {
            base_url: base_url.into(),
            api_key_file: None,
            max_results: default_max_results(),
            requests_per_minute: default_requests_per_minute(),
            api_key,
        }
    }

    /// Checks values and reads the key.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        self.base_url = base_url("tavily.base_url", &self.base_url)?;
        if self.max_results > MAX_RESULTS {
            return Err(ConfigError::Invalid {
                key: "tavily.max_results".into(),
                expected: "0 to 20".into(),
                got: self.max_results.to_string(),
            });
        }
        if self.requests_per_minute == 0 {
            return Err(ConfigError::Invalid {
                key: "tavily.requests_per_minute".into(),
                expected: "at least 1".into(),
                got: "0".into(),
            });
        }
        self.api_key = secret::resolve(
            &SecretSpec {
                key: "tavily.api_key",
                env: "VIGIL_TAVILY_API_KEY",
                file: self.api_key_file.as_deref(),
                expected: "a Tavily API key (tvly-…)",
                valid: |v| v.starts_with("tvly-") && v.len() > 5,
            },
            base,
            env,
        )?;
        Ok(())
    }
}
