//! The Okta simulator (vendor-apis §7), mounted under `/okta`, so an org URL is
//! `http://HOST/okta`:
//!
//! - Users: `GET /api/v1/users/{id|login|short login}` (logins URL-encoded),
//!   `GET /api/v1/users?q=|filter=|search=&limit=&after=` (expressions in [`expr`], `Link`
//!   paging), `DELETE /api/v1/users/{id}/sessions?oauthTokens=` → 204,
//!   `POST /api/v1/users/{id}/lifecycle/suspend|unsuspend` → 200 `{}` with Okta's status rules
//!   (suspend only `ACTIVE`, unsuspend only `SUSPENDED`, else 400 `E0000001`).
//! - Factors: `GET /api/v1/users/{id}/factors`, `GET …/factors/{fid}`,
//!   `POST …/factors/{fid}/verify` → 201 `WAITING` with a `poll` link, and
//!   `GET …/factors/{fid}/transactions/{tid}` → `WAITING` until the push is decided:
//!   `SUCCESS`, `REJECTED` or `TIMEOUT` (5 minutes unanswered). Unscripted pushes answer
//!   `WAITING` once, then `SUCCESS`. Control: `POST /_sandbox/okta/push
//!   {"user","result","after_polls"?,"times"?}` scripts a user's next push(es);
//!   `POST /_sandbox/okta/transactions/{tid} {"result"}` decides a waiting one.
//! - Auth: `Authorization: SSWS <api_token>` (a `Bearer` with the same token is accepted as an
//!   OAuth access token would be); otherwise 401 `E0000011` "Invalid token provided".
//! - Errors: `{"errorCode","errorSummary","errorLink","errorId","errorCauses"}`.
//! - Rate limit: one fixed one-minute window per token, 600 requests by default (the
//!   `okta`/`api` rule of `POST /_sandbox/limits`); every answer carries
//!   `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` (epoch seconds);
//!   over the limit, 429 `E0000047`.
//!
//! Seed: one user per Slack seed person (login = email), each `ACTIVE`, with one open session
//! and an Okta Verify push factor. Control: `POST /_sandbox/okta/users {"profile":{…},
//! "status"?}` adds or replaces (by login) a user; `GET /_sandbox/okta/users` shows every user
//! with its sessions, and `GET /_sandbox/okta/transactions` every push.

pub mod expr;
mod handlers;
pub mod state;

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::{Sandbox, Seed};

/// State of the Okta simulator.
pub struct OktaSim {
    store: Mutex<state::Store>,
}

impl OktaSim {
    /// The seeded org.
    pub fn new(seed: &Seed) -> Self {
        OktaSim {
            store: Mutex::new(state::Store::seeded(&seed.slack)),
        }
    }

    /// Back to the seed (`POST /_sandbox/reset`).
    pub fn reset(&self, seed: &Seed) {
        *self.store.lock() = state::Store::seeded(&seed.slack);
    }

    /// Runs `f` with the store locked; the lock never outlives the call (no `.await` inside).
    fn with<T>(&self, f: impl FnOnce(&mut state::Store) -> T) -> T {
        f(&mut self.store.lock())
    }
}

/// Vendor routes, mounted at `/okta`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/api/v1/users", get(handlers::list_users))
        .route("/api/v1/users/{id}", get(handlers::get_user))
        .route(
            "/api/v1/users/{id}/sessions",
            delete(handlers::clear_sessions),
        )
        .route(
            "/api/v1/users/{id}/lifecycle/{action}",
            post(handlers::lifecycle),
        )
        .route("/api/v1/users/{id}/factors", get(handlers::list_factors))
        .route(
            "/api/v1/users/{id}/factors/{fid}",
            get(handlers::get_factor),
        )
        .route(
            "/api/v1/users/{id}/factors/{fid}/verify",
            post(handlers::verify),
        )
        .route(
            "/api/v1/users/{id}/factors/{fid}/transactions/{tid}",
            get(handlers::transaction),
        )
        .fallback(handlers::unknown_path)
}

/// Control routes under `/_sandbox/okta`.
pub fn control_routes() -> Router<Sandbox> {
    Router::new()
        .route(
            "/users",
            get(handlers::control_users).post(handlers::control_put_user),
        )
        .route("/push", post(handlers::control_push))
        .route("/transactions", get(handlers::control_transactions))
        .route("/transactions/{tid}", post(handlers::control_decide))
}

/// Okta's error body.
pub fn error(status: StatusCode, code: &str, summary: &str, causes: &[String]) -> Response {
    let causes: Vec<Value> = causes.iter().map(|c| json!({"errorSummary": c})).collect();
    let body = json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": format!("oae{}", &uuid::Uuid::new_v4().simple().to_string()[..19]),
        "errorCauses": causes,
    });
    (status, Json(body)).into_response()
}

/// Okta's code and summary for an HTTP status (faults and generic errors).
fn code_for(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("E0000001", "Api validation failed"),
        401 => ("E0000011", "Invalid token provided"),
        403 => (
            "E0000006",
            "You do not have permission to perform the requested action",
        ),
        404 => ("E0000007", "Not found: Resource not found"),
        405 => (
            "E0000022",
            "The endpoint does not support the provided HTTP method",
        ),
        429 => (
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        ),
        _ => ("E0000009", "Internal Server Error"),
    }
}

/// The vendor's error answer for an injected fault; a 429 carries Okta's rate-limit headers
/// with the reset `retry_after` seconds ahead (default 60).
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let (code, summary) = code_for(status);
    let mut resp = match body {
        Some(body) => (status, Json(body)).into_response(),
        None => error(status, code, summary, &[]),
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        let reset =
            chrono::Utc::now().timestamp() + i64::try_from(retry_after.unwrap_or(60)).unwrap_or(60);
        let h = resp.headers_mut();
        h.insert("x-rate-limit-limit", HeaderValue::from(600));
        h.insert("x-rate-limit-remaining", HeaderValue::from(0));
        h.insert("x-rate-limit-reset", HeaderValue::from(reset));
    }
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}
