//! Falcon's response envelope and headers (vendor-apis §2.3).
//!
//! Every answer is `{"meta":{"query_time","powered_by","trace_id",…},"resources":[…],"errors":[…]}`
//! with `X-Cs-Traceid`, `X-Ratelimit-Limit` and `X-Ratelimit-Remaining` headers; a 429 also
//! carries `X-Ratelimit-Retryafter` as Unix epoch seconds (not a duration). Gateway-level
//! refusals (401, 429) carry no `resources`, as the real gateway answers them.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

/// `powered_by` of answers the API gateway gives before any service sees the request.
pub const GATEWAY: &str = "crowdstrike-api-gateway";
/// `powered_by` of the OAuth2 service.
pub const OAUTH2: &str = "csam";
/// `powered_by` of the Alerts API.
pub const ALERTS: &str = "detectsapi";
/// `powered_by` of the Hosts API.
pub const HOSTS: &str = "device-api";

/// Falcon's documented limit for requests without a valid token (per source IP, per minute).
pub const UNAUTHENTICATED_LIMIT: u64 = 15;
/// Falcon's documented per-customer limit (per minute), used when no rule is configured.
pub const DEFAULT_API_LIMIT: u64 = 6000;

/// The rate-limit numbers a response reports in its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    /// `X-Ratelimit-Limit`.
    pub limit: u64,
    /// `X-Ratelimit-Remaining`.
    pub remaining: u64,
}

impl RateInfo {
    /// Numbers for answers given before a caller is known (body too large and the like).
    pub fn unmetered() -> Self {
        RateInfo {
            limit: DEFAULT_API_LIMIT,
            remaining: DEFAULT_API_LIMIT,
        }
    }
}

/// One request being answered: when it started, its trace id, the service answering and the
/// rate numbers for its headers. Every response of the simulator is built through it.
#[derive(Debug, Clone)]
pub struct Call {
    started: Instant,
    trace_id: String,
    powered_by: &'static str,
    rate: RateInfo,
}

impl Call {
    /// Starts answering a request on behalf of `powered_by`.
    pub fn new(powered_by: &'static str, rate: RateInfo) -> Self {
        Call {
            started: Instant::now(),
            trace_id: uuid::Uuid::new_v4().to_string(),
            powered_by,
            rate,
        }
    }

    /// The `meta` object: `query_time` (seconds), `powered_by`, `trace_id`.
    pub fn meta(&self) -> Map<String, Value> {
        let mut meta = Map::new();
        meta.insert(
            "query_time".into(),
            json!(self.started.elapsed().as_secs_f64()),
        );
        meta.insert("powered_by".into(), json!(self.powered_by));
        meta.insert("trace_id".into(), json!(self.trace_id));
        meta
    }

    /// A success: `resources` plus extra `meta` entries (`pagination`, `writes`).
    pub fn ok(
        &self,
        status: StatusCode,
        resources: Value,
        extra_meta: Map<String, Value>,
    ) -> Response {
        let mut meta = self.meta();
        meta.extend(extra_meta);
        self.send(
            status,
            json!({"meta": meta, "resources": resources, "errors": []}),
        )
    }

    /// A write answer without resources (PATCH alerts): `meta.writes.resources_affected`.
    pub fn writes(&self, status: StatusCode, affected: usize, errors: Vec<Value>) -> Response {
        let mut meta = self.meta();
        meta.insert("writes".into(), json!({"resources_affected": affected}));
        self.send(status, json!({"meta": meta, "errors": errors}))
    }

    /// An API error (or partial success): found `resources` plus the `errors` list.
    pub fn partial(&self, status: StatusCode, resources: Value, errors: Vec<Value>) -> Response {
        self.send(
            status,
            json!({"meta": self.meta(), "resources": resources, "errors": errors}),
        )
    }

    /// An API error with one message and empty `resources`.
    pub fn error(&self, status: StatusCode, message: impl Into<String>) -> Response {
        self.partial(
            status,
            json!([]),
            vec![error_item(status.as_u16(), message)],
        )
    }

    /// A gateway refusal (401, 403 on the token endpoint): errors only, no `resources`.
    pub fn refuse(&self, status: StatusCode, message: impl Into<String>) -> Response {
        let errors = vec![error_item(status.as_u16(), message)];
        self.send(status, json!({"meta": self.meta(), "errors": errors}))
    }

    /// The 429 answer with `X-Ratelimit-Retryafter` = now + `wait`, as epoch seconds.
    pub fn rate_limited(&self, wait_secs: u64) -> Response {
        let mut resp = self.refuse(StatusCode::TOO_MANY_REQUESTS, RATE_LIMIT_MESSAGE);
        set_retry_after(&mut resp, wait_secs);
        resp
    }

    /// Serialises `body` with this call's headers.
    pub fn send(&self, status: StatusCode, body: Value) -> Response {
        let mut resp = (status, Json(body)).into_response();
        put_header(&mut resp, "x-cs-traceid", &self.trace_id);
        put_header(&mut resp, "x-ratelimit-limit", &self.rate.limit.to_string());
        put_header(
            &mut resp,
            "x-ratelimit-remaining",
            &self.rate.remaining.to_string(),
        );
        resp
    }
}

/// Falcon's wording for a rate-limited request.
pub const RATE_LIMIT_MESSAGE: &str = "API rate limit exceeded.";

/// One entry of `errors`: `{"code","message"}`.
pub fn error_item(code: u16, message: impl Into<String>) -> Value {
    json!({"code": code, "message": message.into()})
}

/// One entry of `errors` about a specific id: `{"code","message","id"}`.
pub fn error_for_id(code: u16, message: impl Into<String>, id: &str) -> Value {
    json!({"code": code, "message": message.into(), "id": id})
}

/// Sets `X-Ratelimit-Retryafter` to the epoch second `wait_secs` (at least 1) from now.
pub fn set_retry_after(resp: &mut Response, wait_secs: u64) {
    let retry_at = epoch_secs().saturating_add(wait_secs.max(1));
    put_header(resp, "x-ratelimit-retryafter", &retry_at.to_string());
}

fn put_header(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

/// Seconds since the Unix epoch, now.
pub fn epoch_secs() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// Falcon's message for an error status, used by injected faults without a body.
pub fn default_message(status: StatusCode) -> String {
    match status.as_u16() {
        400 => "Bad Request".into(),
        401 => "access denied, invalid bearer token".into(),
        403 => "access denied, authorization failed".into(),
        404 => "Not Found".into(),
        409 => "Conflict".into(),
        429 => RATE_LIMIT_MESSAGE.into(),
        500 => "Internal Server Error".into(),
        502 => "Bad Gateway".into(),
        503 => "Service Unavailable".into(),
        504 => "Gateway Timeout".into(),
        _ => status
            .canonical_reason()
            .unwrap_or("Unexpected error")
            .to_string(),
    }
}

/// Counts requests per caller over the last minute, only to fill `X-Ratelimit-Remaining`
/// (the limiter that actually refuses is `sb.limits`, which does not expose what is left).
#[derive(Debug, Default)]
pub struct RateWindow(Mutex<HashMap<String, VecDeque<Instant>>>);

impl RateWindow {
    /// Counts one request by `key` and answers how many of `limit` remain this minute.
    pub fn hit(&self, key: &str, limit: u64) -> u64 {
        let now = Instant::now();
        let mut all = self.0.lock();
        let times = all.entry(key.to_string()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            times.pop_front();
        }
        times.push_back(now);
        limit.saturating_sub(u64::try_from(times.len()).unwrap_or(u64::MAX))
    }

    /// Forgets every count (sandbox reset).
    pub fn clear(&self) {
        self.0.lock().clear();
    }
}
