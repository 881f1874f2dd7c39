//! `[crowdstrike]`: Falcon API cloud, OAuth2 client and polling.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// `[crowdstrike]` as written in the TOML; `resolve` checks it and reads the secret.
/// Without it there is no alert polling and no containment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrowdStrikeConfig {
    /// API base of your cloud (`https://api.crowdstrike.com` for us-1, `…us-2…`, `…eu-1…`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// OAuth2 API client id (scopes: alerts read/write, hosts read/write).
    pub client_id: String,
    /// File holding the client secret (or `VIGIL_CROWDSTRIKE_CLIENT_SECRET`).
    pub client_secret_file: Option<PathBuf>,
    /// Seconds between alert polls.
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    /// The OAuth2 client secret, read by `resolve` from `client_secret_file` or
    /// `VIGIL_CROWDSTRIKE_CLIENT_SECRET`; never a TOML key.
    #[serde(skip)]
    pub client_secret: Secret,
}

fn default_base_url() -> String {
    "https://api.crowdstrike.com".into()
}

fn default_poll() -> u64 {
    30
}

impl CrowdStrikeConfig {
    /// Checks values and reads the client secret.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        self.base_url = base_url("crowdstrike.base_url", &self.base_url)?;
        if self.client_id.trim().is_empty() {
            return Err(ConfigError::Invalid {
                key: "crowdstrike.client_id".into(),
                expected: "the API client id from Falcon > Support > API Clients and Keys".into(),
                got: self.client_id.clone(),
            });
        }
        if self.poll_interval_secs == 0 || self.poll_interval_secs > 3600 {
            return Err(ConfigError::Invalid {
                key: "crowdstrike.poll_interval_secs".into(),
                expected: "seconds between 1 and 3600".into(),
                got: self.poll_interval_secs.to_string(),
            });
        }
        self.client_secret = secret::resolve(
            &SecretSpec {
                key: "crowdstrike.client_secret",
                env: "VIGIL_CROWDSTRIKE_CLIENT_SECRET",
                file: self.client_secret_file.as_deref(),
                expected: "the API client secret",
                valid: secret::non_empty,
            },
            base,
            env,
        )?;
        Ok(())
    }
}
