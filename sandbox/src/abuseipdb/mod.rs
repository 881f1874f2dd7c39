//! The AbuseIPDB API v2 simulator (vendor-apis §9), mounted under `/abuseipdb`: base URL
//! `http://…/abuseipdb`, then `GET /api/v2/check` as on `https://api.abuseipdb.com`.
//!
//! - `GET /api/v2/check?ipAddress=&maxAgeInDays=&verbose`, headers `Key` and
//!   `Accept: application/json` → `{"data":{ipAddress, isPublic, ipVersion, isWhitelisted,
//!   abuseConfidenceScore, countryCode, usageType, isp, domain, hostnames, isTor, totalReports,
//!   numDistinctUsers, lastReportedAt}}`, plus `countryName` and `reports[]` with `verbose`.
//!   Scores and reports follow `sandbox::intel` (a seeded bad IP scores 100; private IPs are
//!   not public and have no reports); only reports within `maxAgeInDays` (1–365, default 30)
//!   count.
//! - Errors: `{"errors":[{"detail","status","source"?}]}`: 401 bad or missing key, 422 a
//!   missing or invalid `ipAddress` / `maxAgeInDays`. As the real API (a Laravel app), errors
//!   come back as an HTML page unless the request's `Accept` names JSON.
//! - Daily quota per key (setting `abuseipdb_daily_limit`, default 1000 as the free plan):
//!   every answer carries `X-RateLimit-Limit` and `X-RateLimit-Remaining`; over the quota a 429
//!   with `Retry-After` (seconds to the next UTC midnight) and `X-RateLimit-Reset` (epoch), body
//!   "Daily rate limit of N requests exceeded for this endpoint…".
//!
//! Control: `POST /_sandbox/abuseipdb/ips` `{"ipAddress", …any data fields}` adds or replaces
//! one IP's answer (fields merged over the rendered ones) → the stored `data` object.

mod handlers;

use std::collections::HashMap;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

use super::quota::Quota;
use super::{Sandbox, Seed};

/// State of the AbuseIPDB simulator: records added by tests and the daily request counts.
pub struct AbuseIpDbSim {
    records: Mutex<HashMap<String, Map<String, Value>>>,
    daily: Quota,
}

impl AbuseIpDbSim {
    /// No records (answers come from [`intel`](crate::intel)) and a fresh daily quota window.
    pub fn new(_seed: &Seed) -> Self {
        AbuseIpDbSim {
            records: Mutex::new(HashMap::new()),
            daily: Quota::new(86_400),
        }
    }

    /// Back to the seed: records and counters dropped.
    pub fn reset(&self, _seed: &Seed) {
        self.records.lock().clear();
        self.daily.clear();
    }
}

/// Vendor routes, mounted at `/abuseipdb`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/api/v2/check", get(handlers::check))
        .fallback(handlers::unknown_path)
}

/// Control routes under `/_sandbox/abuseipdb`.
pub fn control_routes() -> Router<Sandbox> {
    Router::new().route("/ips", post(handlers::control_put))
}

/// AbuseIPDB's error body: `{"errors":[{"detail","status","source":{"parameter"}?}]}`.
pub fn error_body(status: StatusCode, detail: &str, parameter: Option<&str>) -> Value {
    let mut e = json!({"detail": detail, "status": status.as_u16()});
    if let Some(p) = parameter {
        e["source"] = json!({"parameter": p});
    }
    json!({"errors": [e]})
}

/// An error answer: JSON when `json` (the request accepts it), otherwise the HTML page the
/// real API serves.
pub fn error(status: StatusCode, body: Value, json: bool) -> Response {
    if json {
        return (status, axum::Json(body)).into_response();
    }
    let detail = body["errors"][0]["detail"].as_str().unwrap_or("Error");
    let html = format!(
        "<!DOCTYPE html><html><head><title>AbuseIPDB</title></head><body><h1>{}</h1><p>{}</p></body></html>",
        status.as_u16(),
        detail.replace('<', "&lt;")
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        html,
    )
        .into_response()
}

/// The answer to an injected fault: the `errors` body (JSON; the fault layer cannot see the
/// request's `Accept`); a 429 carries `Retry-After` (the fault's, or 1 s) and
/// `X-RateLimit-Remaining: 0`.
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let detail = if status == StatusCode::TOO_MANY_REQUESTS {
        "Daily rate limit of 1000 requests exceeded for this endpoint. See headers for additional details."
    } else {
        status.canonical_reason().unwrap_or("Error")
    };
    let body = body.unwrap_or_else(|| error_body(status, detail, None));
    let mut resp = (status, axum::Json(body)).into_response();
    let wait = match (status, retry_after) {
        (_, Some(s)) => Some(s),
        (StatusCode::TOO_MANY_REQUESTS, None) => Some(1),
        _ => None,
    };
    if let Some(secs) = wait {
        let h = resp.headers_mut();
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        h.insert("x-ratelimit-remaining", HeaderValue::from(0));
    }
    resp
}
