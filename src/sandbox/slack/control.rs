//! People in Slack: control calls that push envelopes (placeholder).

use axum::Router;

use crate::sandbox::Sandbox;

/// Routes under `/_sandbox/slack`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
}
