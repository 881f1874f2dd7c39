//! `POST /extract` (what tavily-python's `extract` calls): the page text of up to 20 URLs.
//!
//! Invariants: the same key rules and `tavily`/`search` rate limit as `/search`; `urls` is a
//! string or a list of 1–20 strings; an address that is not `http(s)` with a host lands in
//! `failed_results` instead of failing the call, as Tavily reports unreachable pages; the text
//! is deterministic per URL.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::super::Sandbox;
use super::super::args;
use super::super::intel;
use super::{default_message, error, one_of, truthy};

/// Most URLs one extract takes.
const MAX_URLS: usize = 20;

/// `POST /extract`.
pub async fn extract(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let body_key = parsed
        .as_ref()
        .ok()
        .and_then(|v| v.get("api_key"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let key = args::bearer(&headers).map(str::to_string).or(body_key);
    if key.as_deref() != Some(sb.credentials.tavily.api_key.as_str()) {
        let status = StatusCode::UNAUTHORIZED;
        return error(status, default_message(status));
    }
    if sb
        .limits
        .check("tavily", "search", &sb.credentials.tavily.api_key)
        .is_err()
    {
        let status = StatusCode::TOO_MANY_REQUESTS;
        return error(status, default_message(status));
    }
    let Ok(Value::Object(req)) = parsed else {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid request body: expected a JSON object.",
        );
    };
    let urls: Vec<String> = match req.get("urls") {
        Some(Value::String(u)) => vec![u.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    if urls.is_empty() || urls.len() > MAX_URLS {
        return error(
            StatusCode::BAD_REQUEST,
            "urls must be a URL or a list of 1 to 20 URLs.",
        );
    }
    for (field, allowed) in [
        ("extract_depth", &["basic", "advanced"][..]),
        ("format", &["markdown", "text"][..]),
    ] {
        if let Err(e) = one_of(&req, field, allowed) {
            return error(StatusCode::BAD_REQUEST, &e);
        }
    }
    let images = truthy(req.get("include_images"));
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for url in &urls {
        let host = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .and_then(|_| intel::url_host(url));
        match host {
            Some(host) => {
                let mut r = json!({"url": url, "raw_content": page_text(url, &host)});
                if images {
                    r["images"] = json!([]);
                }
                results.push(r);
            }
            None => failed.push(json!({"url": url, "error": "Failed to fetch url"})),
        }
    }
    let mut out = json!({
        "results": results,
        "failed_results": failed,
        "response_time": 0.31,
        "request_id": uuid::Uuid::new_v4().to_string(),
    });
    if truthy(req.get("include_usage")) {
        let advanced = req.get("extract_depth").and_then(Value::as_str) == Some("advanced");
        let per = if advanced { 2 } else { 1 };
        out["usage"] = json!({"credits": results.len().div_ceil(5) * per});
    }
    Json(out).into_response()
}

/// What a page "says": a heading and a paragraph naming its host and path.
fn page_text(url: &str, host: &str) -> String {
    format!("# {host}\n\nContent of {url} as the sandbox serves it: no live page is fetched.")
}
