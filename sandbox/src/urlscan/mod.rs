//! The urlscan.io simulator (vendor-apis §11), mounted under `/urlscan`: the official
//! `urlscan-python` client works with `Client(api_key, base_url="http://…/urlscan")`.
//!
//! - `POST /api/v1/scan/` `{"url","visibility"?,"tags"?,"customagent"?,"referer"?,
//!   "overrideSafety"?,"country"?}` with `API-Key` → `{"message":"Submission successful","uuid",
//!   "result","api","visibility","url","options"}`. Visibility `public` (default), `unlisted`
//!   or `private`; as urlscan does, a public scan of a URL whose query carries an email address
//!   is forced to `unlisted` (unless `overrideSafety` is set), and the answer says so.
//! - `GET /api/v1/result/{uuid}/` answers 404 `Scan is not finished yet` until
//!   `urlscan_result_delay_ms` (setting, default 10 000, urlscan's usual scan time) has passed
//!   since submission, then the result ([`result`]). Unknown ids are 404 too. Needs the key
//!   (403 without, as urlscan since 2026).
//! - Errors `{"message","description","status","errors"?:[{"title","detail","status"}]}`: 400
//!   missing or bad `url` (hosts under `.invalid` fail DNS), bad `visibility`, a key that is not
//!   a UUID ("Invalid API key format"); 401 an unknown key.
//! - Rate limits per action (`public`, `unlisted`, `private`, `retrieve`) per key and minute:
//!   60 for scans and 120 for retrieval (urlscan's free plan), or the `per_minute` of a
//!   `POST /_sandbox/limits` rule `{"service":"urlscan","method":"<action>"}`. Successful
//!   answers carry `X-Rate-Limit-Scope`, `-Action`, `-Window`, `-Limit`, `-Remaining`, `-Reset`
//!   (ISO 8601) and `-Reset-After` (seconds); past the limit a 429 with the same headers. Only
//!   successful requests count, as urlscan counts them.
//!
//! Control: `POST /_sandbox/urlscan/results` `{"url", "score"?, "malicious"?, "categories"?,
//! "brands"?, "tags"?, "page"?}` sets what later scans of that URL find → the stored record.

mod handlers;
pub mod result;

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

use super::quota::Quota;
use super::{Sandbox, Seed};

/// One submitted scan: its result is built at submission and served from `ready_at` on (404
/// before, as urlscan answers).
#[derive(Debug, Clone)]
pub struct Scan {
    /// When its result becomes available.
    pub ready_at: DateTime<Utc>,
    /// The result document, fixed at submission.
    pub result: Value,
}

#[derive(Default)]
struct State {
    scans: HashMap<String, Scan>,
    records: HashMap<String, Map<String, Value>>,
}

/// State of the urlscan.io simulator: scans, records added by tests, per-minute counters.
pub struct UrlscanSim {
    state: Mutex<State>,
    minute: Quota,
}

impl UrlscanSim {
    /// No scans and no records: results come from [`intel`](crate::intel) until a test adds one.
    pub fn new(_seed: &Seed) -> Self {
        UrlscanSim {
            state: Mutex::new(State::default()),
            minute: Quota::new(60),
        }
    }

    /// Back to the seed: scans, records and counters dropped.
    pub fn reset(&self, _seed: &Seed) {
        *self.state.lock() = State::default();
        self.minute.clear();
    }
}

/// Vendor routes, mounted at `/urlscan`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/api/v1/scan/", post(handlers::scan))
        .route("/api/v1/scan", post(handlers::scan))
        .route("/api/v1/result/{uuid}/", get(handlers::result))
        .route("/api/v1/result/{uuid}", get(handlers::result))
        .fallback(handlers::unknown_path)
}

/// Control routes under `/_sandbox/urlscan`.
pub fn control_routes() -> Router<Sandbox> {
    Router::new().route("/results", post(handlers::control_put))
}

/// urlscan's error answer.
pub fn error(status: StatusCode, message: &str, description: &str) -> Response {
    let body = json!({"message": message, "description": description, "status": status.as_u16()});
    (status, Json(body)).into_response()
}

/// The answer to an injected fault: urlscan's error body; a 429 carries
/// `X-Rate-Limit-Reset-After` (the fault's `retry_after`, or 1 s), which the client waits.
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let mut resp = match body {
        Some(b) => (status, Json(b)).into_response(),
        None if status == StatusCode::TOO_MANY_REQUESTS => error(
            status,
            "Rate limit exceeded",
            "You have exceeded your rate limit for this action. Wait before retrying.",
        ),
        None => error(status, reason, reason),
    };
    let wait = match (status, retry_after) {
        (_, Some(s)) => Some(s),
        (StatusCode::TOO_MANY_REQUESTS, None) => Some(1),
        _ => None,
    };
    if let Some(secs) = wait {
        let h = resp.headers_mut();
        h.insert("x-rate-limit-reset-after", HeaderValue::from(secs));
        h.insert("x-rate-limit-remaining", HeaderValue::from(0));
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}
