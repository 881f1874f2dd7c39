//! HTTP handlers of the urlscan.io simulator: submit, result, and the control record call.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::result::{self, Task};
use super::{Scan, error};
use crate::Sandbox;
use crate::args;
use crate::control;
use crate::intel;
use crate::quota::Window;

const VISIBILITIES: &[&str] = &["public", "unlisted", "private"];

fn root(headers: &HeaderMap) -> String {
    let host = args::header(headers, "host").unwrap_or("127.0.0.1");
    format!("http://{host}/urlscan")
}

/// Checks `API-Key`; `Err` is the answer. `missing` is the status without a key.
#[allow(clippy::result_large_err)]
fn authenticate<'a>(
    sb: &Sandbox,
    headers: &'a HeaderMap,
    missing: StatusCode,
) -> Result<&'a str, Response> {
    let key = match args::header(headers, "api-key").map(str::trim) {
        None | Some("") => {
            return Err(error(
                missing,
                "API key missing",
                "Provide your API key in the API-Key header.",
            ));
        }
        Some(k) => k,
    };
    if uuid::Uuid::parse_str(key).is_err() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Invalid API key format",
            "API keys are UUIDs.",
        ));
    }
    if key != sb.credentials.urlscan.api_key {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "The API key is not valid.",
        ));
    }
    Ok(key)
}

/// The per-minute limit of an action: a `POST /_sandbox/limits` rule, else urlscan's plan.
fn limit_of(sb: &Sandbox, action: &str) -> u64 {
    sb.limits
        .list()
        .into_iter()
        .find(|l| l.service == "urlscan" && l.method == action)
        .map(|l| u64::from(l.per_minute))
        .unwrap_or(if action == "retrieve" { 120 } else { 60 })
}

fn rate_headers(resp: &mut Response, action: &str, w: &Window, now: chrono::DateTime<Utc>) {
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    set(h, "x-rate-limit-scope", "team".into());
    set(h, "x-rate-limit-action", action.into());
    set(h, "x-rate-limit-window", "minute".into());
    set(h, "x-rate-limit-limit", w.limit.to_string());
    set(h, "x-rate-limit-remaining", w.remaining.to_string());
    set(
        h,
        "x-rate-limit-reset",
        w.reset.to_rfc3339_opts(SecondsFormat::Millis, true),
    );
    set(
        h,
        "x-rate-limit-reset-after",
        w.reset_after_secs(now).to_string(),
    );
}

/// Takes one request of `action`; `Err` is the 429.
#[allow(clippy::result_large_err)]
fn take(
    sb: &Sandbox,
    key: &str,
    action: &str,
) -> Result<(Window, chrono::DateTime<Utc>), Response> {
    let now = Utc::now();
    let w = sb
        .urlscan
        .minute
        .take(&format!("{action}:{key}"), limit_of(sb, action), now);
    if w.allowed {
        return Ok((w, now));
    }
    let mut resp = error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Rate limit for `{action}` exceeded"),
        &format!(
            "You have exceeded your {action} rate limit of {} per minute.",
            w.limit
        ),
    );
    rate_headers(&mut resp, action, &w, now);
    Err(resp)
}

fn bad_url(message: &str, detail: &str) -> Response {
    let body = json!({
        "message": message,
        "description": detail,
        "status": 400,
        "errors": [{"title": message, "detail": detail, "status": 400}],
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// Whether a URL's query carries something that looks like an email address (PII).
fn has_pii(u: &url::Url) -> bool {
    u.query_pairs().any(|(_, v)| v.contains('@'))
}

/// `POST /api/v1/scan/`.
pub async fn scan(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    let key = match authenticate(&sb, &headers, StatusCode::UNAUTHORIZED) {
        Ok(k) => k.to_string(),
        Err(r) => return r,
    };
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid JSON body",
            "The request body must be a JSON object.",
        );
    };
    let Some(raw_url) = req
        .get("url")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|u| !u.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "Missing URL properties",
            "The submission was missing the required url field.",
        );
    };
    let with_scheme = if raw_url.contains("://") {
        raw_url.to_string()
    } else {
        format!("http://{raw_url}")
    };
    let Some(parsed) = url::Url::parse(&with_scheme)
        .ok()
        .filter(|u| u.host_str().is_some())
    else {
        return bad_url(
            "Invalid URL",
            &format!("The URL {raw_url} could not be parsed."),
        );
    };
    let host = intel::url_host(&with_scheme).unwrap_or_default();
    if host.ends_with(".invalid")
        || (host.parse::<std::net::IpAddr>().is_err() && !host.contains('.'))
    {
        return bad_url(
            "DNS Error - Could not resolve domain",
            &format!(
                "The domain {host} could not be resolved to a valid IPv4/IPv6 address. We won't try to load it in the browser."
            ),
        );
    }
    let asked = match req.get("visibility") {
        None | Some(Value::Null) => "public".to_string(),
        Some(Value::String(v)) if VISIBILITIES.contains(&v.as_str()) => v.clone(),
        Some(v) => {
            return error(
                StatusCode::BAD_REQUEST,
                "Invalid visibility",
                &format!("Visibility {v} must be one of public, unlisted, private."),
            );
        }
    };
    let forced = asked == "public"
        && has_pii(&parsed)
        && req.get("overrideSafety").is_none_or(Value::is_null);
    let visibility = if forced {
        "unlisted".to_string()
    } else {
        asked
    };
    let tags: Vec<String> = req
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let (w, now) = match take(&sb, &key, &visibility) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let uuid = uuid::Uuid::new_v4().to_string();
    let root = root(&headers);
    let time = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let delay = i64::try_from(sb.settings.get().urlscan_result_delay_ms).unwrap_or(i64::MAX);
    let ready_at = now
        .checked_add_signed(Duration::milliseconds(delay))
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC);
    {
        let mut state = sb.urlscan.state.lock();
        let record = state.records.get(&with_scheme).cloned();
        let task = Task {
            uuid: &uuid,
            url: &with_scheme,
            visibility: &visibility,
            tags: &tags,
            time: &time,
            root: &root,
        };
        let doc = result::build(&task, record.as_ref());
        state.scans.insert(
            uuid.clone(),
            Scan {
                ready_at,
                result: doc,
            },
        );
    }
    let mut options = Map::new();
    for k in ["customagent", "referer", "country"] {
        if let Some(v) = req.get(k).filter(|v| !v.is_null()) {
            options.insert(k.to_string(), v.clone());
        }
    }
    let mut message = "Submission successful".to_string();
    if forced {
        message.push_str(
            ". Visibility was changed to unlisted because the URL contains potential PII",
        );
    }
    let mut resp = Json(json!({
        "message": message,
        "uuid": uuid,
        "result": format!("{root}/result/{uuid}/"),
        "api": format!("{root}/api/v1/result/{uuid}/"),
        "visibility": visibility,
        "url": with_scheme,
        "options": options,
        "country": req.get("country").cloned().unwrap_or(json!("nl")),
    }))
    .into_response();
    rate_headers(&mut resp, &visibility, &w, now);
    resp
}

/// `GET /api/v1/result/{uuid}/`.
pub async fn result(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Response {
    let key = match authenticate(&sb, &headers, StatusCode::FORBIDDEN) {
        Ok(k) => k.to_string(),
        Err(r) => return r,
    };
    let scan = sb.urlscan.state.lock().scans.get(&uuid).cloned();
    let Some(scan) = scan else {
        return error(
            StatusCode::NOT_FOUND,
            "Scan is not finished yet",
            "The scan is not finished yet or does not exist.",
        );
    };
    if Utc::now() < scan.ready_at {
        return error(
            StatusCode::NOT_FOUND,
            "Scan is not finished yet",
            "The scan is not finished yet or does not exist.",
        );
    }
    let (w, now) = match take(&sb, &key, "retrieve") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut resp = Json(scan.result).into_response();
    rate_headers(&mut resp, "retrieve", &w, now);
    resp
}

/// Any other path under `/urlscan`.
pub async fn unknown_path() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "Not Found",
        "The requested resource does not exist.",
    )
}

/// `POST /_sandbox/urlscan/results`: sets what later scans of a URL find.
pub async fn control_put(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let rec = match control::parse_body::<Map<String, Value>>(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Some(u) = rec
        .get("url")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|u| url::Url::parse(u).is_ok())
    else {
        return control::bad_request("url (an absolute URL) is required");
    };
    if rec.get("page").is_some_and(|p| !p.is_object()) {
        return control::bad_request("page must be an object");
    }
    let u = u.to_string();
    sb.urlscan.state.lock().records.insert(u, rec.clone());
    Json(Value::Object(rec)).into_response()
}
