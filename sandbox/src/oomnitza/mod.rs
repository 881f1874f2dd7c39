//! The Oomnitza simulator (vendor-apis §3): asset and user lookups of API v3, as served by
//! `https://<tenant>.oomnitza.com`, mounted under `/oomnitza`.
//!
//! - `GET /api/v3/assets`, `GET /api/v3/users`: bare JSON arrays; `filter` (see [`filter`]),
//!   `limit` (default 100, at most 1000), `skip`, `sortby`, `fields`.
//! - `GET /api/v3/assets/{equipment_id}`, `PATCH` the same, `GET /api/v3/users/{username or
//!   user_id}`, `GET /api/v3/users/{ident}/assets`.
//! - Auth: `Authorization2: <token>`. HTTP Basic is real but the sandbox has no user/password
//!   credential, so Basic is always refused.
//! - Errors: Oomnitza's error body is not documented; every error here is one small object
//!   `{"errors": {"<parameter or header at fault>": "<message>"}}` (401 bad token, 400 bad
//!   filter/parameter/body, 404 unknown record or path).
//! - No rate limiter: Oomnitza documents no API rate limit. Injected 429 faults carry
//!   `Retry-After`.
//!
//! Control: `POST /_sandbox/oomnitza/assets` (add or replace by `equipment_id`, generated when
//! absent), `POST /_sandbox/oomnitza/users` (by `username`), and `GET` of both for inspection.

pub mod filter;
mod handlers;
pub mod query;
pub mod state;

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::{Sandbox, Seed};

/// State of the Oomnitza simulator: the tenant's assets and users.
pub struct OomnitzaSim {
    state: Mutex<state::State>,
}

impl OomnitzaSim {
    /// Builds the simulator from the seed's inventory.
    pub fn new(seed: &Seed) -> Self {
        OomnitzaSim {
            state: Mutex::new(state::State::from_seed(&seed.oomnitza)),
        }
    }

    /// Back to the seed (`POST /_sandbox/reset`).
    pub fn reset(&self, seed: &Seed) {
        *self.state.lock() = state::State::from_seed(&seed.oomnitza);
    }

    /// Runs `f` with the state locked; the lock never outlives the call (no `.await` inside).
    fn with<T>(&self, f: impl FnOnce(&mut state::State) -> T) -> T {
        f(&mut self.state.lock())
    }
}

/// Vendor routes, mounted at `/oomnitza`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/api/v3/assets", get(handlers::list_assets))
        .route(
            "/api/v3/assets/{ident}",
            get(handlers::get_asset).patch(handlers::patch_asset),
        )
        .route("/api/v3/users", get(handlers::list_users))
        .route("/api/v3/users/{ident}", get(handlers::get_user))
        .route("/api/v3/users/{ident}/assets", get(handlers::user_assets))
        .fallback(handlers::unknown_path)
}

/// Control routes under `/_sandbox/oomnitza`.
pub fn control_routes() -> Router<Sandbox> {
    Router::new()
        .route(
            "/assets",
            get(handlers::control_list_assets).post(handlers::control_put_asset),
        )
        .route(
            "/users",
            get(handlers::control_list_users).post(handlers::control_put_user),
        )
}

/// The one error shape every Oomnitza error answers (the real one is undocumented):
/// `{"errors": {"<what is at fault>": "<message>"}}`.
pub fn error(status: StatusCode, at_fault: &str, message: impl Into<String>) -> Response {
    let body = json!({ "errors": { at_fault: message.into() } });
    (status, Json(body)).into_response()
}

/// The vendor's error answer for an injected fault: the error object with the status's reason;
/// a 429 (and any fault given `retry_after`) carries `Retry-After` in seconds.
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = body.unwrap_or_else(|| json!({ "errors": { "request": reason } }));
    let mut resp = (status, Json(body)).into_response();
    let wait = match (status, retry_after) {
        (_, Some(secs)) => Some(secs),
        (StatusCode::TOO_MANY_REQUESTS, None) => Some(1),
        _ => None,
    };
    if let Some(secs) = wait {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}
