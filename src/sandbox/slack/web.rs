//! Slack Web API simulator (placeholder).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::sandbox::{Sandbox, Seed};

/// Workspace state.
#[derive(Default)]
pub struct WebState;

impl WebState {
    /// From the seed.
    pub fn new(_seed: &Seed) -> Self {
        WebState
    }
    /// Back to the seed.
    pub fn reset(&self, _seed: &Seed) {}
}

/// `/slack/api/{method}`.
pub async fn dispatch(State(_sb): State<Sandbox>) -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// `/slack/response/{id}`.
pub async fn response_url(State(_sb): State<Sandbox>) -> Response {
    StatusCode::NOT_FOUND.into_response()
}
