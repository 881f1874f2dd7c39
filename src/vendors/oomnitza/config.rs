//! `[oomnitza]`: the asset inventory that knows who owns a device.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// `[oomnitza]` as written in the TOML; `resolve` checks it and reads the token. Without
/// it device owners stay unknown.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OomnitzaConfig {
    /// Your tenant, e.g. `https://acme.oomnitza.com`.
    pub base_url: String,
    /// File holding the API token (or `VIGIL_OOMNITZA_TOKEN`).
    pub token_file: Option<PathBuf>,
    /// The API token (sent as `Authorization2`), read by `resolve` from `token_file` or
    /// `VIGIL_OOMNITZA_TOKEN`; never a TOML key.
    #[serde(skip)]
    pub token: Secret,
}

impl OomnitzaConfig {
    /// Checks values and reads the token.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        self.base_url = base_url("oomnitza.base_url", &self.base_url)?;
        self.token = secret::resolve(
            &SecretSpec {
                key: "oomnitza.token",
                env: "VIGIL_OOMNITZA_TOKEN",
                file: self.token_file.as_deref(),
                expected: "an Oomnitza API token (Configuration > Security > API tokens)",
                valid: secret::non_empty,
            },
            base,
            env,
        )?;
        Ok(())
    }
}
