//! The PagerDuty simulator (vendor-apis §5, §14), mounted under `/pagerduty`:
//!
//! - `events/v2/enqueue`: Events API v2, no auth header, the 32-character `routing_key` in the
//!   body must be this sandbox's integration key. Validation, dedup semantics and the 202/400/429
//!   answers follow PD's docs (see [`events`] and [`state`]). Limited to 120 events/min per
//!   routing key (`pagerduty`/`enqueue` in the limits table).
//! - `api/…`: the REST API v2 read side (`/incidents`, `/incidents/{id}`, `…/alerts`,
//!   `…/log_entries`), `Authorization: Token token=…` (see [`rest`]).
//!
//! Injected faults answer the Events API error shape `{"status","message","errors"}` for every
//! path (the fault layer only gives a status; Vigil only writes events), 429 with PD's throttle
//! body. Control: `GET /_sandbox/pagerduty/incidents` lists every incident with every event.

pub mod events;
pub mod render;
pub mod rest;
pub mod state;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::args::MAX_BODY_BYTES;
use super::{Sandbox, Seed};

/// State of the PagerDuty simulator: the incidents of its one service.
pub struct PagerDutySim {
    store: Mutex<state::Store>,
}

impl PagerDutySim {
    /// An empty service (the seed has no PagerDuty data).
    pub fn new(_seed: &Seed) -> Self {
        PagerDutySim {
            store: Mutex::new(state::Store::default()),
        }
    }

    /// Back to no incidents (`POST /_sandbox/reset`).
    pub fn reset(&self, _seed: &Seed) {
        *self.store.lock() = state::Store::default();
    }

    /// Applies a validated event now; answers its dedup key.
    pub fn apply(&self, event: events::Event) -> String {
        self.store.lock().apply(event, chrono::Utc::now())
    }

    /// Runs `f` with the store locked; the lock never outlives the call (no `.await` inside).
    pub fn with<T>(&self, f: impl FnOnce(&state::Store) -> T) -> T {
        f(&self.store.lock())
    }
}

/// Vendor routes, mounted at `/pagerduty`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/events/v2/enqueue", post(events::enqueue))
        .route("/api/incidents", get(rest::list_incidents))
        .route("/api/incidents/{id}", get(rest::get_incident))
        .route("/api/incidents/{id}/alerts", get(rest::list_alerts))
        .route(
            "/api/incidents/{id}/log_entries",
            get(rest::list_log_entries),
        )
        .fallback(rest::unknown_path)
        // Events over 512 KB must get PD's 400, not axum's 413 at its 2 MB default.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Control routes under `/_sandbox/pagerduty`.
pub fn control_routes() -> Router<Sandbox> {
    Router::new().route("/incidents", get(rest::control_incidents))
}

/// The vendor's error answer for an injected fault, in the Events API shape: 429 is PD's
/// throttle answer, anything else `{"status":"error","message":<reason>,"errors":[<reason>]}`.
/// `Retry-After` only when the fault gives `retry_after` (PD documents none).
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let mut resp = match (body, status) {
        (Some(body), _) => (status, Json(body)).into_response(),
        (None, StatusCode::TOO_MANY_REQUESTS) => events::throttled(),
        (None, _) => {
            let reason = status.canonical_reason().unwrap_or("Error");
            let body = json!({"status": "error", "message": reason, "errors": [reason]});
            (status, Json(body)).into_response()
        }
    };
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}
