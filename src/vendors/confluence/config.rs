//! `[confluence]`: the wiki where SOP pages live (flow 2 finds the SOP of each case there).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// `[confluence]` as written in the TOML; `resolve` checks it and reads the token.
/// Without it flow 2 has no SOP pages to follow.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfluenceConfig {
    /// The site, e.g. `https://acme.atlassian.net` (a trailing `/wiki` is accepted and dropped).
    pub base_url: String,
    /// The Atlassian account's email: the user name of Basic auth.
    pub email: String,
    /// File holding that account's API token (or `VIGIL_CONFLUENCE_API_TOKEN`).
    pub api_token_file: Option<PathBuf>,
    /// Space key the SOP pages are in.
    #[serde(default = "default_space")]
    pub space: String,
    /// Label every SOP page carries; a type's page also carries `<label>-<type>`.
    #[serde(default = "default_label")]
    pub label: String,
    /// The token, read by `resolve` from `api_token_file` or `VIGIL_CONFLUENCE_API_TOKEN`
    /// (sent with `email` as basic auth); never a TOML key.
    #[serde(skip)]
    pub api_token: Secret,
}

fn default_space() -> String {
    "SEC".into()
}

fn default_label() -> String {
    "sop".into()
}

impl ConfluenceConfig {
    /// Checks values and reads the token.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        let url = base_url("confluence.base_url", &self.base_url)?;
        self.base_url = url.strip_suffix("/wiki").unwrap_or(&url).to_string();
        if !self.email.contains('@') {
            return Err(ConfigError::Invalid {
                key: "confluence.email".into(),
                expected: "the email of the Atlassian account the API token belongs to".into(),
                got: self.email.clone(),
            });
        }
        for (key, value) in [
            ("confluence.space", &self.space),
            ("confluence.label", &self.label),
        ] {
            if value.trim().is_empty() || value.chars().any(char::is_whitespace) {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    expected: "a non-empty key without spaces".into(),
                    got: value.clone(),
                });
            }
        }
        self.api_token = secret::resolve(
            &SecretSpec {
                key: "confluence.api_token",
                env: "VIGIL_CONFLUENCE_API_TOKEN",
                file: self.api_token_file.as_deref(),
                expected: "an Atlassian API token (id.atlassian.com > Security > API tokens)",
                valid: secret::non_empty,
            },
            base,
            env,
        )?;
        Ok(())
    }
}
