//! `[pagerduty]`: the Events v2 integration that pages on-call, and the REST API to read back.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// `[pagerduty]` as written in the TOML; `resolve` checks it and reads the keys. Without
/// it no case pages on-call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// Events API v2 base (`https://events.pagerduty.com`; EU: `https://events.eu.pagerduty.com`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// REST API base (`https://api.pagerduty.com`), used to read incidents back.
    #[serde(default = "default_api_base_url")]
    pub api_base_url: String,
    /// File holding the 32-character integration (routing) key (or
    /// `VIGIL_PAGERDUTY_ROUTING_KEY`).
    pub routing_key_file: Option<PathBuf>,
    /// File holding a read-only REST API token (or `VIGIL_PAGERDUTY_API_TOKEN`); optional.
    pub api_token_file: Option<PathBuf>,
    /// The integration (routing) key, read by `resolve` from `routing_key_file` or
    /// `VIGIL_PAGERDUTY_ROUTING_KEY`; never a TOML key.
    #[serde(skip)]
    pub routing_key: Secret,
    /// The REST token, read by `resolve` from `api_token_file` or `VIGIL_PAGERDUTY_API_TOKEN`;
    /// `None` when not given, and then reading incidents fails as `Invalid`.
    #[serde(skip)]
    pub api_token: Option<Secret>,
}

fn default_base_url() -> String {
    "https://events.pagerduty.com".into()
}

fn default_api_base_url() -> String {
    "https://api.pagerduty.com".into()
}

impl PagerDutyConfig {
    /// Checks values and reads the keys.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        self.base_url = base_url("pagerduty.base_url", &self.base_url)?;
        self.api_base_url = base_url("pagerduty.api_base_url", &self.api_base_url)?;
        self.routing_key = secret::resolve(
            &SecretSpec {
                key: "pagerduty.routing_key",
                env: "VIGIL_PAGERDUTY_ROUTING_KEY",
                file: self.routing_key_file.as_deref(),
                expected: "the 32-character Events API v2 integration key",
                valid: |v| v.len() == 32,
            },
            base,
            env,
        )?;
        self.api_token = secret::resolve_optional(
            &SecretSpec {
                key: "pagerduty.api_token",
                env: "VIGIL_PAGERDUTY_API_TOKEN",
                file: self.api_token_file.as_deref(),
                expected: "a REST API token",
                valid: secret::non_empty,
            },
            base,
            env,
        )?;
        Ok(())
    }
}
