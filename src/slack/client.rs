//! Builds slack-morphism's client against a configurable Web API base.
//!
//! slack-morphism's default connector is https-only, which cannot reach a local Slack (the
//! sandbox); building the connector with `https_or_http` keeps the same client type for both
//! (crates.md §1.4). slack-morphism's rate control stays off: it throttles `chat.postMessage`
//! to one per second for the whole process; Vigil paces per channel and waits out 429s itself
//! (`slack::api`).

use std::sync::Arc;

use slack_morphism::prelude::*;

use super::config::SlackConfig;

/// The shared Slack client type.
pub type Slack = Arc<SlackHyperClient>;

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SlackSetupError {
    /// No trusted root certificates could be loaded from the system.
    #[error("cannot load the system's root certificates for TLS: {0}")]
    Roots(#[from] std::io::Error),
}

/// A Slack Web API client for `config.base_url`.
pub fn build(config: &SlackConfig) -> Result<Slack, SlackSetupError> {
    crate::tls::init();
    let https_or_http = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    let connector = SlackClientHyperConnector::with_connector(https_or_http)
        .with_slack_api_url(&config.base_url);
    Ok(Arc::new(SlackClient::new(connector)))
}

/// The bot token as slack-morphism wants it.
pub fn bot_token(config: &SlackConfig) -> SlackApiToken {
    SlackApiToken::new(config.bot_token.expose().into())
}

/// The app-level token as slack-morphism wants it.
pub fn app_token(config: &SlackConfig) -> SlackApiToken {
    SlackApiToken::new(config.app_token.expose().into())
}
