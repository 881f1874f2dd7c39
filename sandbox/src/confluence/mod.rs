//! The Confluence Cloud simulator (vendor-apis §6), mounted under `/confluence`, so a site base
//! is `http://HOST/confluence/wiki`:
//!
//! - v1: `GET /wiki/rest/api/search?cql=` (CQL subset in [`cql`]; `start`/`limit` or the
//!   `cursor` from `_links.next`; `expand=content.body.storage,content.version,…`),
//!   `GET /wiki/rest/api/content/search?cql=`, `GET /wiki/rest/api/content/{id}`
//!   (`expand=body.storage,version,space,metadata.labels`, `version=N`),
//!   `GET …/content/{id}/version` and `GET …/content/{id}/label`.
//! - v2: `GET /wiki/api/v2/pages/{id}?body-format=storage` (`version=N`, `include-labels`) and
//!   `GET /wiki/api/v2/pages/{id}/versions`.
//! - Auth: `Authorization: Basic base64(email:api_token)`; anything else is 401 in the API's own
//!   shape. Errors: v1 `{"statusCode","message","data":{…}}`, v2
//!   `{"errors":[{"status","code","title","detail"}]}` (see `handlers.rs`). Injected faults use
//!   the v1 shape on every path (the fault layer knows only the status).
//! - Rate limit: Atlassian publishes no fixed number for API-token traffic, so none is on by
//!   default; `POST /_sandbox/limits {"service":"confluence","method":"api",…}` turns one on
//!   per account. A 429 carries `Retry-After` (seconds), `X-RateLimit-Limit`,
//!   `X-RateLimit-Remaining: 0`, `X-RateLimit-Reset` (ISO 8601) and `RateLimit-Reason`.
//!
//! Seed: space `SEC` with the six SOP pages of [`sops`]. Control: `POST
//! /_sandbox/confluence/pages {"space","title","labels","body","id"?}` adds a page or, for the
//! same id (or the same space and title), saves a new version of it; `GET` lists every page.

pub mod cql;
mod handlers;
pub mod sops;
pub mod state;

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::{Sandbox, Seed};

/// State of the Confluence simulator: the site's spaces and pages.
pub struct ConfluenceSim {
    store: Mutex<state::Store>,
}

impl ConfluenceSim {
    /// The seeded site: space `SEC` with one SOP page per alert type (the seed argument is unused:
    /// the pages are fixed in `sops`).
    pub fn new(_seed: &Seed) -> Self {
        ConfluenceSim {
            store: Mutex::new(state::Store::seeded()),
        }
    }

    /// Back to the seed (`POST /_sandbox/reset`).
    pub fn reset(&self, _seed: &Seed) {
        *self.store.lock() = state::Store::seeded();
    }

    /// Runs `f` with the store locked; the lock never outlives the call (no `.await` inside).
    fn with<T>(&self, f: impl FnOnce(&mut state::Store) -> T) -> T {
        f(&mut self.store.lock())
    }
}

/// Vendor routes, mounted at `/confluence`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/wiki/rest/api/search", get(handlers::search))
        .route(
            "/wiki/rest/api/content/search",
            get(handlers::content_search),
        )
        .route("/wiki/rest/api/content/{id}", get(handlers::get_content))
        .route(
            "/wiki/rest/api/content/{id}/version",
            get(handlers::content_versions),
        )
        .route(
            "/wiki/rest/api/content/{id}/label",
            get(handlers::content_labels),
        )
        .route("/wiki/api/v2/pages/{id}", get(handlers::v2_page))
        .route(
            "/wiki/api/v2/pages/{id}/versions",
            get(handlers::v2_versions),
        )
        .fallback(handlers::unknown_path)
}

/// Control routes under `/_sandbox/confluence`.
pub fn control_routes() -> Router<Sandbox> {
    Router::new().route(
        "/pages",
        get(handlers::control_list_pages).post(handlers::control_put_page),
    )
}

/// The v1 error body Confluence Cloud answers: `{"statusCode","message","data":{…}}`.
pub fn v1_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "message": message,
        "data": {
            "authorized": status != StatusCode::UNAUTHORIZED,
            "valid": status != StatusCode::BAD_REQUEST,
            "allowedInReadOnlyMode": true,
            "errors": [],
            "successful": false,
        },
    });
    (status, Json(body)).into_response()
}

/// The v2 error body: `{"errors":[{"status","code","title","detail"}]}`.
pub fn v2_error(status: StatusCode, code: &str, detail: Option<&str>) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = json!({"errors": [{
        "status": status.as_u16(),
        "code": code,
        "title": title,
        "detail": detail,
    }]});
    (status, Json(body)).into_response()
}

/// Adds Atlassian's rate-limit headers to a 429.
pub fn rate_limit_headers(resp: &mut Response, retry_after: u64, limit: Option<u32>) {
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    h.insert("x-ratelimit-remaining", HeaderValue::from(0));
    if let Some(limit) = limit {
        h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    }
    let reset = chrono::Utc::now()
        + chrono::Duration::seconds(
            i64::try_from(retry_after)
                .unwrap_or(i64::MAX / 2)
                .min(86_400),
        );
    if let Ok(v) = HeaderValue::from_str(&reset.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    {
        h.insert("x-ratelimit-reset", v);
    }
    h.insert(
        "ratelimit-reason",
        HeaderValue::from_static("confluence-burst-based"),
    );
}

/// The vendor's error answer for an injected fault: the v1 error body with the status's reason;
/// a 429 carries `Retry-After` (default 1 s) and the rate-limit headers.
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let mut resp = match body {
        Some(body) => (status, Json(body)).into_response(),
        None if status == StatusCode::TOO_MANY_REQUESTS => v1_error(status, "Rate limit exceeded"),
        None => v1_error(status, reason),
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        rate_limit_headers(&mut resp, retry_after.unwrap_or(1), None);
    } else if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}
