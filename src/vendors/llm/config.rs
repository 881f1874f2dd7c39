//! `[llm]`: the OpenAI-compatible chat-completions endpoint flow 2 classifies and plans with.
//! Optional: without it the rules classifier and the runbooks run as written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// `[llm]` as written in the TOML; `resolve` checks it and reads the key. Without it
/// flow 2 neither classifies nor plans.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// API base including its version: `https://api.openai.com/v1`,
    /// `http://localhost:11434/v1` (Ollama), `http://HOST:8000/v1` (vLLM, llama.cpp).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// File holding the API key (or `VIGIL_LLM_API_KEY`); local servers need none.
    pub api_key_file: Option<PathBuf>,
    /// Model name as the endpoint knows it (`gpt-4o-mini`, `llama3.1:8b`).
    pub model: String,
    /// Longest wait for one completion.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// The bearer key, read by `resolve` from `api_key_file` or `VIGIL_LLM_API_KEY`; `None`
    /// for local endpoints that need none (then no `Authorization` header is sent).
    #[serde(skip)]
    pub api_key: Option<Secret>,
}

fn default_base_url() -> String {
    "https://api.openai.com/v1".into()
}

fn default_timeout() -> Duration {
    Duration::from_secs(60)
}

impl LlmConfig {
    /// Checks values and reads the key.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        self.base_url = base_url("llm.base_url", &self.base_url)?;
        if self.model.trim().is_empty() {
            return Err(ConfigError::Invalid {
                key: "llm.model".into(),
                expected: "the model name the endpoint serves (see its GET /models)".into(),
                got: self.model.clone(),
            });
        }
        if self.timeout < Duration::from_secs(1) || self.timeout > Duration::from_secs(600) {
            return Err(ConfigError::Invalid {
                key: "llm.timeout".into(),
                expected: "a duration from 1s to 10m, like \"60s\"".into(),
                got: humantime::format_duration(self.timeout).to_string(),
            });
        }
        self.api_key = secret::resolve_optional(
            &SecretSpec {
                key: "llm.api_key",
                env: "VIGIL_LLM_API_KEY",
                file: self.api_key_file.as_deref(),
                expected: "the endpoint's API key (sent as a bearer token)",
                valid: |v| !v.is_empty() && !v.chars().any(char::is_whitespace),
            },
            base,
            env,
        )?;
        Ok(())
    }
}
