//! `[slack]`: where the Web API is, the two tokens, where cards go and who the analysts are.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::secret::{self, Env, Secret, SecretSpec};
use crate::config::{ConfigError, base_url};

/// Slack settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Web API base, without a trailing slash (`https://slack.com/api`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// File holding the `xoxb-` bot token (or `VIGIL_SLACK_BOT_TOKEN`).
    pub bot_token_file: Option<PathBuf>,
    /// File holding the `xapp-` app-level token with `connections:write` (or
    /// `VIGIL_SLACK_APP_TOKEN`).
    pub app_token_file: Option<PathBuf>,
    /// Channel id (`C…`) for case cards; the bot must be a member. An id, not a name:
    /// names change, and finding Vigil's own messages after a crash needs the id.
    pub alerts_channel: String,
    /// User group whose members are analysts (`S…` id).
    pub analyst_usergroup: Option<String>,
    /// Further analysts by user id (`U…`).
    #[serde(default)]
    pub analyst_users: Vec<String>,
    /// Socket Mode connections to keep open (Slack allows 10; 2 covers reconnects).
    #[serde(default = "default_connections")]
    pub socket_connections: u32,
    /// Resolved bot token.
    #[serde(skip)]
    pub bot_token: Secret,
    /// Resolved app-level token.
    #[serde(skip)]
    pub app_token: Secret,
}

fn default_base_url() -> String {
    "https://slack.com/api".into()
}

fn default_connections() -> u32 {
    2
}

impl SlackConfig {
    /// Checks values and reads both tokens.
    pub fn resolve(&mut self, base: &Path, env: Env<'_>) -> Result<(), ConfigError> {
        self.base_url = base_url("slack.base_url", &self.base_url)?;
        if !(1..=10).contains(&self.socket_connections) {
            return Err(ConfigError::Invalid {
                key: "slack.socket_connections".into(),
                expected: "a number from 1 to 10 (Slack allows 10 per app)".into(),
                got: self.socket_connections.to_string(),
            });
        }
        let id_like = |c: &str| {
            c.len() >= 9
                && c.starts_with(['C', 'G'])
                && c.chars().all(|ch| ch.is_ascii_alphanumeric())
        };
        if !id_like(&self.alerts_channel) {
            return Err(ConfigError::Invalid {
                key: "slack.alerts_channel".into(),
                expected:
                    "a channel id like C0123456789 (in Slack: channel details, at the bottom)"
                        .into(),
                got: self.alerts_channel.clone(),
            });
        }
        self.bot_token = secret::resolve(
            &SecretSpec {
                key: "slack.bot_token",
                env: "VIGIL_SLACK_BOT_TOKEN",
                file: self.bot_token_file.as_deref(),
                expected: "a bot token starting with xoxb-",
                valid: |v| v.starts_with("xoxb-"),
            },
            base,
            env,
        )?;
        self.app_token = secret::resolve(
            &SecretSpec {
                key: "slack.app_token",
                env: "VIGIL_SLACK_APP_TOKEN",
                file: self.app_token_file.as_deref(),
                expected: "an app-level token starting with xapp- (scope connections:write)",
                valid: |v| v.starts_with("xapp-"),
            },
            base,
            env,
        )?;
        Ok(())
    }
}
