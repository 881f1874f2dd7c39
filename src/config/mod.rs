//! Vigil's configuration: one TOML file (`deny_unknown_fields` everywhere), secrets from
//! `VIGIL_*` environment variables or `*_file` paths, every vendor's `base_url` configurable.
//!
//! Loading is two steps: parse the file into typed sections (a typo names its key and the keys
//! that were expected), then resolve secrets (a missing or malformed secret names its key and
//! where it may come from). Each vendor's section lives beside its client
//! (`vendors/<name>/config.rs`, `slack/config.rs`), as in vector's component folders.

pub mod secret;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::slack::config::SlackConfig;
use crate::vendors::abuseipdb::config::AbuseIpDbConfig;
use crate::vendors::confluence::config::ConfluenceConfig;
use crate::vendors::crowdstrike::config::CrowdStrikeConfig;
use crate::vendors::emailrep::config::EmailRepConfig;
use crate::vendors::github::config::GitHubConfig;
use crate::vendors::llm::config::LlmConfig;
use crate::vendors::okta::config::OktaConfig;
use crate::vendors::oomnitza::config::OomnitzaConfig;
use crate::vendors::pagerduty::config::PagerDutyConfig;
use crate::vendors::tavily::config::TavilyConfig;
use crate::vendors::urlscan::config::UrlscanConfig;
use crate::vendors::virustotal::config::VirusTotalConfig;
pub use secret::Secret;
use secret::{Env, SecretSpec};

/// The complete, commented example printed by `vigil config example`.
pub const EXAMPLE: &str = include_str!("../../assets/vigil.example.toml");

/// Everything `vigil run` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP server for `/healthz`, `/metrics` and the alert webhook.
    #[serde(default)]
    pub server: ServerConfig,
    /// Where cases are kept.
    #[serde(default)]
    pub store: StoreConfig,
    /// Log filter and line format; `VIGIL_LOG` overrides the filter.
    #[serde(default)]
    pub log: LogConfig,
    /// Slack: the only required section.
    pub slack: SlackConfig,
    /// CrowdStrike Falcon (alerts, hosts, containment).
    pub crowdstrike: Option<CrowdStrikeConfig>,
    /// Oomnitza (device owners).
    pub oomnitza: Option<OomnitzaConfig>,
    /// GitHub (one issue per case).
    pub github: Option<GitHubConfig>,
    /// PagerDuty (pages for high-priority cases).
    pub pagerduty: Option<PagerDutyConfig>,
    /// Confluence Cloud (flow 2: the SOP pages).
    pub confluence: Option<ConfluenceConfig>,
    /// Okta (flow 2: user look-ups, sessions, suspension, Okta Verify pushes).
    pub okta: Option<OktaConfig>,
    /// An OpenAI-compatible chat-completions endpoint (flow 2: classifier and agent).
    pub llm: Option<LlmConfig>,
    /// VirusTotal (file, URL, domain and IP verdicts).
    pub virustotal: Option<VirusTotalConfig>,
    /// AbuseIPDB (abuse reports of an IP).
    pub abuseipdb: Option<AbuseIpDbConfig>,
    /// EmailRep (reputation of a sender address).
    pub emailrep: Option<EmailRepConfig>,
    /// urlscan.io (a sandboxed visit of a URL).
    pub urlscan: Option<UrlscanConfig>,
    /// Tavily (web search for write-ups about an indicator).
    pub tavily: Option<TavilyConfig>,
    /// Grouping, owner timers, the no-owner policy and the priority rules.
    #[serde(default)]
    pub triage: crate::pipeline::config::TriageConfig,
    /// Flow 2's caps, prompts and the allowlist of SOP pages without a runbook.
    #[serde(default)]
    pub remediation: crate::pipeline::config::RemediationConfig,
    /// How destructive tool calls are approved.
    #[serde(default)]
    pub approvals: crate::pipeline::config::ApprovalsConfig,
    /// The folder of the config file; relative paths are taken from here.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[server]`: the local HTTP listener and the alert webhook's secret; every key has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the HTTP server (`/healthz`, `/metrics`, `POST /v1/alerts`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// File holding the webhook's HMAC secret (or `VIGIL_WEBHOOK_SECRET`); without one the
    /// webhook is off.
    pub webhook_secret_file: Option<PathBuf>,
    /// The webhook's HMAC secret, read at load from `webhook_secret_file` or
    /// `VIGIL_WEBHOOK_SECRET`; `None` turns the webhook off. Never a TOML key.
    #[serde(skip)]
    pub webhook_secret: Option<Secret>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            webhook_secret_file: None,
            webhook_secret: None,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8088))
}

/// `[store]`: where the sled database lives and how long dedupe keys are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Folder of the sled database (relative to the config file).
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// How long Slack event ids and webhook signatures are remembered for dedupe before the
    /// `seen` tree forgets them (it would otherwise grow forever). Slack redelivers within
    /// minutes and webhook timestamps expire after 5, so at least [`MIN_DEDUPE_RETENTION`].
    #[serde(default = "default_dedupe_retention", with = "humantime_serde")]
    pub dedupe_retention: std::time::Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: default_store_path(),
            dedupe_retention: default_dedupe_retention(),
        }
    }
}

/// The shortest `store.dedupe_retention` accepted: longer than any redelivery or replay window.
pub const MIN_DEDUPE_RETENTION: std::time::Duration = std::time::Duration::from_secs(3600);

fn default_dedupe_retention() -> std::time::Duration {
    std::time::Duration::from_secs(7 * 24 * 3600)
}

fn default_store_path() -> PathBuf {
    PathBuf::from("data")
}

/// `[log]`: what `telemetry::init_logs` sets up; logs go to stderr.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Filter in `tracing` syntax (`info`, `vigil=debug,info`); `VIGIL_LOG` overrides it.
    #[serde(default = "default_level")]
    pub level: String,
    /// `text` or `json`.
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: default_level(),
            format: LogFormat::Text,
        }
    }
}

fn default_level() -> String {
    "info".into()
}

/// Log line format: text for people at a terminal, JSON for a log shipper.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Why a config could not be used; every variant names the key and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    Read {
        /// The config file's path as given.
        path: PathBuf,
        /// The OS error (`No such file or directory`, `Permission denied`).
        reason: String,
    },
    /// The file is not valid TOML or has a wrong key or value.
    #[error("{file}: {key}: {message}")]
    Parse {
        /// The config file's path, as people gave it.
        file: String,
        /// Dotted key path (`slack.alerts_channel`), or `(top level)`.
        key: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A required secret was not provided.
    #[error(
        "{key}: missing secret: set the environment variable {env} or `{key}_file` (a path to a file holding {expected})"
    )]
    MissingSecret {
        /// Dotted key of the secret (`slack.bot_token`).
        key: String,
        /// The environment variable that may hold it (`VIGIL_SLACK_BOT_TOKEN`).
        env: String,
        /// What the value looks like (each section's own words), so the operator knows what to fetch.
        expected: String,
    },
    /// A secret was written into the config file.
    #[error(
        "{key}: secrets are not read from the config file; put it in the environment variable {env} or in a file named by `{key}_file`"
    )]
    InlineSecret {
        /// Dotted key that was written inline (`github.token`).
        key: String,
        /// The environment variable to move it to.
        env: String,
    },
    /// A `*_file` could not be read.
    #[error("{key}: cannot read {path}: {reason}")]
    SecretFile {
        /// Dotted key of the secret whose `*_file` failed.
        key: String,
        /// The file named by `*_file`, resolved against the config file's folder.
        path: PathBuf,
        /// The OS error reading it.
        reason: String,
    },
    /// A secret does not look right.
    #[error("{key} (from {origin}): expected {expected}")]
    InvalidSecret {
        /// Dotted key of the secret.
        key: String,
        /// Where it came from (never the value).
        origin: String,
        /// What it should look like.
        expected: String,
    },
    /// A plain value is out of range or malformed.
    #[error("{key}: expected {expected}, got {got:?}")]
    Invalid {
        /// Dotted key of the value (`crowdstrike.poll_interval_secs`).
        key: String,
        /// What is accepted.
        expected: String,
        /// What was there.
        got: String,
    },
}

/// One secret a section needs: dotted key, environment variable.
pub struct SecretKey {
    /// Dotted key without `_file` (`slack.bot_token`): the name an inline value would have.
    pub key: &'static str,
    /// The environment variable that holds it.
    pub env: &'static str,
}

/// Every secret Vigil knows, so one written inline is caught with a helpful message.
pub const SECRET_KEYS: &[SecretKey] = &[
    SecretKey {
        key: "server.webhook_secret",
        env: "VIGIL_WEBHOOK_SECRET",
    },
    SecretKey {
        key: "slack.bot_token",
        env: "VIGIL_SLACK_BOT_TOKEN",
    },
    SecretKey {
        key: "slack.app_token",
        env: "VIGIL_SLACK_APP_TOKEN",
    },
    SecretKey {
        key: "crowdstrike.client_secret",
        env: "VIGIL_CROWDSTRIKE_CLIENT_SECRET",
    },
    SecretKey {
        key: "oomnitza.token",
        env: "VIGIL_OOMNITZA_TOKEN",
    },
    SecretKey {
        key: "github.token",
        env: "VIGIL_GITHUB_TOKEN",
    },
    SecretKey {
        key: "pagerduty.routing_key",
        env: "VIGIL_PAGERDUTY_ROUTING_KEY",
    },
    SecretKey {
        key: "pagerduty.api_token",
        env: "VIGIL_PAGERDUTY_API_TOKEN",
    },
    SecretKey {
        key: "confluence.api_token",
        env: "VIGIL_CONFLUENCE_API_TOKEN",
    },
    SecretKey {
        key: "okta.api_token",
        env: "VIGIL_OKTA_API_TOKEN",
    },
    SecretKey {
        key: "llm.api_key",
        env: "VIGIL_LLM_API_KEY",
    },
    SecretKey {
        key: "virustotal.api_key",
        env: "VIGIL_VIRUSTOTAL_API_KEY",
    },
    SecretKey {
        key: "abuseipdb.api_key",
        env: "VIGIL_ABUSEIPDB_API_KEY",
    },
    SecretKey {
        key: "emailrep.api_key",
        env: "VIGIL_EMAILREP_API_KEY",
    },
    SecretKey {
        key: "urlscan.api_key",
        env: "VIGIL_URLSCAN_API_KEY",
    },
    SecretKey {
        key: "tavily.api_key",
        env: "VIGIL_TAVILY_API_KEY",
    },
];

/// Looks up the environment variable for a dotted secret key.
pub fn env_for(key: &str) -> &'static str {
    SECRET_KEYS
        .iter()
        .find(|s| s.key == key)
        .map(|s| s.env)
        .unwrap_or("VIGIL_UNKNOWN")
}

impl Config {
    /// Reads, parses and resolves the config at `path` using the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, &|k| std::env::var(k).ok())
    }

    /// Like [`Config::load`] with an explicit environment (tests).
    pub fn load_with_env(path: &Path, env: Env<'_>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base = std::path::absolute(&base).unwrap_or(base);
        Self::from_toml(&text, &path.display().to_string(), &base, env)
    }

    /// Parses TOML text; `file` names it in errors, `base` anchors relative paths.
    pub fn from_toml(
        text: &str,
        file: &str,
        base: &Path,
        env: Env<'_>,
    ) -> Result<Config, ConfigError> {
        reject_inline_secrets(text, file)?;
        let de = toml::Deserializer::new(text);
        let mut config: Config =
            serde_path_to_error::deserialize(de).map_err(|e| ConfigError::Parse {
                file: file.to_string(),
                key: path_of(&e),
                message: e.inner().message().to_string(),
            })?;
        config.base_dir = base.to_path_buf();
        config.resolve(env)?;
        Ok(config)
    }

    fn resolve(&mut self, env: Env<'_>) -> Result<(), ConfigError> {
        let base = self.base_dir.clone();
        self.store.path = secret::absolutize(&base, &self.store.path);
        if self.store.dedupe_retention < MIN_DEDUPE_RETENTION {
            return Err(ConfigError::Invalid {
                key: "store.dedupe_retention".into(),
                expected: "a duration of at least 1h, like \"7d\" (shorter lets Slack redeliveries and webhook replays through)".into(),
                got: humantime::format_duration(self.store.dedupe_retention).to_string(),
            });
        }
        self.server.webhook_secret = secret::resolve_optional(
            &SecretSpec {
                key: "server.webhook_secret",
                env: "VIGIL_WEBHOOK_SECRET",
                file: self.server.webhook_secret_file.as_deref(),
                expected: "at least 16 characters of random text",
                valid: |v| v.len() >= 16,
            },
            &base,
            env,
        )?;
        self.slack.resolve(&base, env)?;
        if let Some(c) = &mut self.crowdstrike {
            c.resolve(&base, env)?;
        }
        if let Some(c) = &mut self.oomnitza {
            c.resolve(&base, env)?;
        }
        if let Some(c) = &mut self.github {
            c.resolve(&base, env)?;
        }
        if let Some(c) = &mut self.pagerduty {
            c.resolve(&base, env)?;
        }
        if let Some(c) = &mut self.confluence {
            c.resolve(&base, env)?;
        }
        if let Some(c) = &mut self.okta {
            c.resolve(&base, env)?;
        }
        if let Some(c) = &mut self.llm {
            c.resolve(&base, env)?;
        }
        if let Some(c) = &mut self.virustotal {
            c.resolve(&base, env)?;
        }
        if let Some(c) = &mut self.abuseipdb {
            c.resolve(&base, env)?;
        }
        if let Some(c) = &mut self.emailrep {
            c.resolve(&base, env)?;
        }
        if let Some(c) = &mut self.urlscan {
            c.resolve(&base, env)?;
        }
        if let Some(c) = &mut self.tavily {
            c.resolve(&base, env)?;
        }
        self.remediation.resolve(&base)?;
        self.approvals.resolve()?;
        Ok(())
    }
}

/// The dotted path serde was at when it failed, `(top level)` for the root.
fn path_of<E>(e: &serde_path_to_error::Error<E>) -> String {
    let p = e.path().to_string();
    if p == "." || p.is_empty() {
        "(top level)".into()
    } else {
        p
    }
}

/// Finds a secret written straight into the file and says where it belongs instead.
fn reject_inline_secrets(text: &str, file: &str) -> Result<(), ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Parse {
            file: file.to_string(),
            key: "(syntax)".into(),
            message: e.to_string().trim().to_string(),
        })?;
    for s in SECRET_KEYS {
        let Some((section, field)) = s.key.split_once('.') else {
            continue;
        };
        let present = table
            .get(section)
            .and_then(|v| v.as_table())
            .is_some_and(|t| t.contains_key(field));
        if present {
            return Err(ConfigError::InlineSecret {
                key: s.key.to_string(),
                env: s.env.to_string(),
            });
        }
    }
    Ok(())
}

/// Checks that `value` parses as an absolute http(s) URL and returns it without a trailing
/// slash (clients append paths with a leading slash).
pub fn base_url(key: &str, value: &str) -> Result<String, ConfigError> {
    let trimmed = value.trim().trim_end_matches('/');
    match url::Url::parse(trimmed) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(trimmed.to_string())
        }
        _ => Err(ConfigError::Invalid {
            key: key.to_string(),
            expected: "an absolute http:// or https:// URL".into(),
            got: value.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests;
