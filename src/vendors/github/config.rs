//! `[github]`: where case tickets are opened.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// `[github]` as written in the TOML; `resolve` checks it and reads the token. Without
/// it cases get no issue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubConfig {
    /// REST API base (`https://api.github.com`, or `https://HOST/api/v3` for Enterprise Server).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Repository for case issues, `owner/name`.
    pub repo: String,
    /// File holding a token with Issues read/write on that repo (or `VIGIL_GITHUB_TOKEN`).
    pub token_file: Option<PathBuf>,
    /// Labels put on every case issue.
    #[serde(default = "default_labels")]
    pub labels: Vec<String>,
    /// The token, read by `resolve` from `token_file` or `VIGIL_GITHUB_TOKEN`; never a TOML
    /// key.
    #[serde(skip)]
    pub token: Secret,
}

fn default_base_url() -> String {
    "https://api.github.com".into()
}

fn default_labels() -> Vec<String> {
    vec!["security".into(), "vigil".into()]
}

impl GitHubConfig {
    /// Checks values and reads the token.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        self.base_url = base_url("github.base_url", &self.base_url)?;
        let valid_repo = self
            .repo
            .split_once('/')
            .is_some_and(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'));
        if !valid_repo {
            return Err(ConfigError::Invalid {
                key: "github.repo".into(),
                expected: "owner/name".into(),
                got: self.repo.clone(),
            });
        }
        self.token = secret::resolve(
            &SecretSpec {
                key: "github.token",
                env: "VIGIL_GITHUB_TOKEN",
                file: self.token_file.as_deref(),
                expected: "a GitHub token (ghp_…, github_pat_… or an app installation token)",
                valid: secret::non_empty,
            },
            base,
            env,
        )?;
        Ok(())
    }

    /// `(owner, name)` of the repository.
    pub fn owner_and_name(&self) -> (&str, &str) {
        self.repo
            .split_once('/')
            .unwrap_or((self.repo.as_str(), ""))
    }
}
