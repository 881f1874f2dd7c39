//! The VirusTotal API v3 simulator (vendor-apis §8), mounted under `/virustotal`, so vt-py's
//! `Client(apikey, host="http://…/virustotal")` works unchanged (it appends `/api/v3`).
//!
//! - `GET /api/v3/files/{md5|sha1|sha256}`, `GET /api/v3/urls/{id}` (id = unpadded base64url of
//!   the URL, or the SHA-256 of the URL as given), `GET /api/v3/domains/{domain}`,
//!   `GET /api/v3/ip_addresses/{ip}`: `{"data":{"id","type","links","attributes"}}` with
//!   `last_analysis_stats`, `last_analysis_results`, `reputation`, … (see [`objects`]).
//! - `POST /api/v3/urls` (form or multipart field `url`, as vt-py sends it) →
//!   `{"data":{"type":"analysis","id"}}`; `GET /api/v3/analyses/{id}` answers it `completed`
//!   at once. A scanned URL is known from then on.
//! - Verdicts come from `sandbox::intel` (seeded known-bad indicators, then the deterministic
//!   rule). Unseeded files and URLs whose digest says "never seen" answer 404 `NotFoundError`,
//!   as VT does for a hash nobody uploaded; domains and IPs always exist.
//! - Auth: `x-apikey` (any case). Missing → 401 `AuthenticationRequiredError`, wrong → 401
//!   `WrongCredentialsError`. Malformed ids → 400 `InvalidArgumentError`. Errors are
//!   `{"error":{"code","message"}}`.
//! - Rate limit: VT documents quotas, not headers; the limit `virustotal`/`api` (per key) is off
//!   by default (`POST /_sandbox/limits` turns it on) and answers 429 `QuotaExceededError`.
//!
//! Control: `POST /_sandbox/virustotal/indicators`
//! `{"type":"file|url|domain|ip_address","id","verdict"?,"attributes"?}` adds or replaces one
//! object (verdict `malicious|suspicious|harmless`; `attributes` merged over the rendered
//! ones) and answers the stored `data` object; reset drops records and scans.

mod handlers;
pub mod objects;

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

use super::intel::Verdict;
use super::{Sandbox, Seed};
use objects::ObjType;

/// One object added through the control API.
#[derive(Debug, Clone)]
pub struct Record {
    /// Verdict to answer instead of the [`intel`](crate::intel) one; `None` keeps it.
    pub verdict: Option<Verdict>,
    /// Attributes merged over the rendered ones.
    pub attributes: Map<String, Value>,
}

/// A URL scan (`POST /urls`).
#[derive(Debug, Clone)]
pub struct Scan {
    /// The URL as submitted; `GET /analyses/{id}` reports on it.
    pub url: String,
    /// When it was submitted (epoch seconds).
    pub date: i64,
}

#[derive(Debug, Default)]
struct State {
    /// Records by (type, canonical value; the URL itself for URLs).
    records: HashMap<(ObjType, String), Record>,
    /// URLs VT knows by their object id (SHA-256), beyond the seeded ones.
    urls: HashMap<String, String>,
    /// Analyses by id.
    analyses: HashMap<String, Scan>,
}

/// State of the VirusTotal simulator: records added by tests, scanned URLs, analyses.
#[derive(Debug, Default)]
pub struct VirusTotalSim {
    state: Mutex<State>,
}

impl VirusTotalSim {
    /// An empty simulator (the seeded indicators live in `sandbox::intel`).
    pub fn new(_seed: &Seed) -> Self {
        Self::default()
    }

    /// Back to the seed: records, scans and analyses dropped.
    pub fn reset(&self, _seed: &Seed) {
        *self.state.lock() = State::default();
    }
}

/// Vendor routes, mounted at `/virustotal`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/api/v3/files/{id}", get(handlers::get_file))
        .route("/api/v3/urls", post(handlers::post_url))
        .route("/api/v3/urls/{id}", get(handlers::get_url))
        .route("/api/v3/domains/{id}", get(handlers::get_domain))
        .route("/api/v3/ip_addresses/{id}", get(handlers::get_ip))
        .route("/api/v3/analyses/{id}", get(handlers::get_analysis))
        .fallback(handlers::unknown_path)
}

/// Control routes under `/_sandbox/virustotal`.
pub fn control_routes() -> Router<Sandbox> {
    Router::new().route("/indicators", post(handlers::control_put))
}

/// VT's error answer: `{"error":{"code","message"}}`.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"code": code, "message": message.into()}});
    (status, Json(body)).into_response()
}

/// VT's error code for a status (vendor-apis §8).
pub fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequestError",
        401 => "WrongCredentialsError",
        403 => "ForbiddenError",
        404 => "NotFoundError",
        409 => "AlreadyExistsError",
        424 => "FailedDependencyError",
        429 => "QuotaExceededError",
        503 => "TransientError",
        504 => "DeadlineExceededError",
        _ => "ServerError",
    }
}

/// The answer to an injected fault: VT's error shape with the status's code; VT sends no
/// `Retry-After`, so one appears only when the fault gives `retry_after`.
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let mut resp = match body {
        Some(b) => (status, Json(b)).into_response(),
        None => error(
            status,
            code_for(status),
            status.canonical_reason().unwrap_or("Error"),
        ),
    };
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}
