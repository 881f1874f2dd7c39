//! Secrets: read from a `VIGIL_*` environment variable or from a file named in the config,
//! never from the config file itself, and never printed (wrapped in `secrecy`).

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use super::ConfigError;

/// A resolved secret. `Debug` prints `[REDACTED]`; the value is only reachable through
/// [`Secret::expose`], so it cannot end up in a log line by accident.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Default for Secret {
    fn default() -> Self {
        Secret(SecretString::from(String::new()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl Secret {
    /// Wraps a value (tests and the sandbox wiring build configs in memory).
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The secret's text, for the one place that sends it to a vendor.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether no value was resolved.
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

/// Where one secret may come from and what it must look like.
pub struct SecretSpec<'a> {
    /// Dotted config key, e.g. `slack.bot_token` (used in error messages).
    pub key: &'a str,
    /// Environment variable that holds it, e.g. `VIGIL_SLACK_BOT_TOKEN`.
    pub env: &'a str,
    /// The `*_file` value from the config, if set.
    pub file: Option<&'a Path>,
    /// What a valid value looks like, in words (`an xoxb- bot token`).
    pub expected: &'a str,
    /// Format check; `false` means the value is rejected with `expected`.
    pub valid: fn(&str) -> bool,
}

/// The environment as a lookup function, so tests need not touch the process environment.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Resolves a required secret: the environment variable wins over the file.
pub fn resolve(spec: &SecretSpec<'_>, base: &Path, env: Env<'_>) -> Result<Secret, ConfigError> {
    match resolve_optional(spec, base, env)? {
        Some(s) => Ok(s),
        None => Err(ConfigError::MissingSecret {
            key: spec.key.to_string(),
            env: spec.env.to_string(),
            expected: spec.expected.to_string(),
        }),
    }
}

/// Resolves a secret that may be absent.
pub fn resolve_optional(
    spec: &SecretSpec<'_>,
    base: &Path,
    env: Env<'_>,
) -> Result<Option<Secret>, ConfigError> {
    let (value, origin) = if let Some(v) = env(spec.env).filter(|v| !v.trim().is_empty()) {
        (v, format!("environment variable {}", spec.env))
    } else if let Some(file) = spec.file {
        let path = absolutize(base, file);
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::SecretFile {
            key: format!("{}_file", spec.key),
            path: path.clone(),
            reason: e.to_string(),
        })?;
        (text, format!("file {}", path.display()))
    } else {
        return Ok(None);
    };
    let value = value.trim().to_string();
    if !(spec.valid)(&value) {
        return Err(ConfigError::InvalidSecret {
            key: spec.key.to_string(),
            origin,
            expected: spec.expected.to_string(),
        });
    }
    Ok(Some(Secret::new(value)))
}

/// A path from the config, taken relative to the config file's folder when not absolute.
pub fn absolutize(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// Accepts any non-empty value.
pub fn non_empty(v: &str) -> bool {
    !v.is_empty()
}
