//! `[okta]`: the identity provider whose users flow 2 looks up, signs out and suspends.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// `[okta]` as written in the TOML; `resolve` checks it and reads the token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaConfig {
    /// Your org URL, e.g. `https://acme.okta.com` (paths under `/api/v1` are appended).
    pub base_url: String,
    /// File holding an API token (or `VIGIL_OKTA_API_TOKEN`), sent as `SSWS <token>`.
    pub api_token_file: Option<PathBuf>,
    /// The API token (sent as `Authorization: SSWS …`), read by `resolve` from `api_token_file`
    /// or `VIGIL_OKTA_API_TOKEN`; never a TOML key.
    #[serde(skip)]
    pub api_token: Secret,
}

impl OktaConfig {
    /// Checks values and reads the token.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        self.base_url = base_url("okta.base_url", &self.base_url)?;
        self.api_token = secret::resolve(
            &SecretSpec {
                key: "okta.api_token",
                env: "VIGIL_OKTA_API_TOKEN",
                file: self.api_token_file.as_deref(),
                expected: "an Okta API token (Admin Console > Security > API > Tokens)",
                valid: |v| !v.is_empty() && !v.chars().any(char::is_whitespace),
            },
            base,
            env,
        )?;
        Ok(())
    }
}
