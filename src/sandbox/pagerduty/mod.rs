//! Simulator placeholder for pagerduty, replaced by the real simulator.

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Sandbox, Seed};

/// State of the pagerduty simulator.
#[derive(Default)]
pub struct PagerDutySim;

impl PagerDutySim {
    /// Builds the simulator from the seed.
    pub fn new(_seed: &Seed) -> Self {
        PagerDutySim
    }

    /// Back to the seed.
    pub fn reset(&self, _seed: &Seed) {}
}

/// Vendor routes.
pub fn routes() -> Router<Sandbox> {
    Router::new()
}

/// Control routes under `/_sandbox/pagerduty`.
pub fn control_routes() -> Router<Sandbox> {
    Router::new()
}

/// The vendor's error answer for a fault.
pub fn fault_response(
    status: StatusCode,
    _retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    (status, axum::Json(body.unwrap_or_else(|| json!({})))).into_response()
}
