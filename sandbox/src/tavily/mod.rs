//! The Tavily search simulator (vendor-apis §12), mounted under `/tavily`: tavily-python's
//! `TavilyClient(api_key, api_base_url="http://…/tavily")` posts to `{base}/search`.
//!
//! - `POST /search`, JSON body; the key as `Authorization: Bearer tvly-…` (current clients) or
//!   `api_key` in the body (older ones). Unknown body fields are ignored, as the SDK sends new
//!   ones (`max_age_hours`, `fetch_timeout`, …) before the API documents them.
//! - Answer: `{"query","follow_up_questions":null,"answer","images":[],"results":[{"title",
//!   "url","content","score","raw_content"}],"response_time","request_id"}` (+ `usage` with
//!   `include_usage`, `favicon` per result with `include_favicon`). Results are a pure function
//!   of the query: a query naming a seeded indicator (`sandbox::intel`) leads with threat
//!   write-ups about it; `max_results` (0–20, default 5), `include_domains`, `exclude_domains`
//!   are honoured.
//! - `POST /extract` (tavily-python's `extract`): `urls` (one or up to 20) → `results` with
//!   `raw_content`, unfetchable addresses in `failed_results`; same key rules and rate limit.
//! - Errors `{"detail":{"error"}}`: 400 bad body / missing `query` / bad enum value, 401 bad
//!   key; 432 and 433 (plan and pay-as-you-go limits) only as injected faults.
//! - Rate limit `tavily`/`search` per key, off by default (`POST /_sandbox/limits`), 429 with
//!   Tavily's body and no headers (Tavily documents none).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::Sandbox;
use super::args;

mod extract;
use super::intel::{self, KNOWN};

/// Vendor routes, mounted at `/tavily`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/search", post(search))
        .route("/extract", post(extract::extract))
        .fallback(unknown_path)
}

/// Tavily's error answer `{"detail":{"error"}}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"detail": {"error": message}}))).into_response()
}

fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "Unauthorized: missing or invalid API key.",
        429 => {
            "Your request has been blocked due to excessive requests. Please reduce rate of requests."
        }
        432 => {
            "This request exceeds your plan's set usage limit. Please upgrade your plan or contact support@tavily.com"
        }
        433 => {
            "This request exceeds the pay-as-you-go limit. You can increase your limit on the Tavily dashboard."
        }
        403 => "Forbidden",
        _ => "Internal Server Error",
    }
}

/// The answer to an injected fault: Tavily's `detail.error` body for the status.
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let mut resp = match body {
        Some(b) => (status, Json(b)).into_response(),
        None => error(status, default_message(status)),
    };
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

async fn unknown_path() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

fn one_of(body: &Map<String, Value>, key: &str, allowed: &[&str]) -> Result<(), String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(v) => Err(format!(
            "Invalid {key}: {v}. Must be one of {}.",
            allowed.join(", ")
        )),
    }
}

fn domains(body: &Map<String, Value>, key: &str) -> Vec<String> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty() && s != "false",
        _ => false,
    }
}

/// `POST /search`.
async fn search(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let body_key = parsed
        .as_ref()
        .ok()
        .and_then(|v| v.get("api_key"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let key = args::bearer(&headers).map(str::to_string).or(body_key);
    if key.as_deref() != Some(sb.credentials.tavily.api_key.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            default_message(StatusCode::UNAUTHORIZED),
        );
    }
    if sb
        .limits
        .check("tavily", "search", &sb.credentials.tavily.api_key)
        .is_err()
    {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            default_message(StatusCode::TOO_MANY_REQUESTS),
        );
    }
    let Ok(Value::Object(req)) = parsed else {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid request body: expected a JSON object.",
        );
    };
    let Some(query) = req
        .get("query")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|q| !q.is_empty())
    else {
        return error(StatusCode::BAD_REQUEST, "Query is missing.");
    };
    for (key, allowed) in [
        (
            "search_depth",
            &["basic", "advanced", "fast", "ultra-fast"][..],
        ),
        ("topic", &["general", "news", "finance"][..]),
        (
            "time_range",
            &["day", "week", "month", "year", "d", "w", "m", "y"][..],
        ),
    ] {
        if let Err(e) = one_of(&req, key, allowed) {
            return error(StatusCode::BAD_REQUEST, &e);
        }
    }
    let max_results = match req.get("max_results") {
        None | Some(Value::Null) => 5,
        Some(v) => match v.as_u64() {
            Some(n) if n <= 20 => n as usize,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "max_results must be between 0 and 20.",
                );
            }
        },
    };
    let include = domains(&req, "include_domains");
    let exclude = domains(&req, "exclude_domains");
    let raw = truthy(req.get("include_raw_content"));
    let favicon = truthy(req.get("include_favicon"));
    let mut results: Vec<Value> = candidates(query, &include)
        .into_iter()
        .filter(|r| {
            let host = r["url"]
                .as_str()
                .and_then(intel::url_host)
                .unwrap_or_default();
            !exclude
                .iter()
                .any(|d| host == *d || host.ends_with(&format!(".{d}")))
        })
        .take(max_results)
        .collect();
    for r in &mut results {
        let content = r["content"].clone();
        r["raw_content"] = if raw { content } else { Value::Null };
        if favicon {
            let host = r["url"]
                .as_str()
                .and_then(intel::url_host)
                .unwrap_or_default();
            r["favicon"] = json!(format!("https://{host}/favicon.ico"));
        }
    }
    let mut out = json!({
        "query": query,
        "follow_up_questions": null,
        "answer": if truthy(req.get("include_answer")) { answer(query) } else { Value::Null },
        "images": [],
        "results": results,
        "response_time": 0.42,
        "request_id": uuid::Uuid::new_v4().to_string(),
    });
    if truthy(req.get("include_usage")) {
        let advanced = req.get("search_depth").and_then(Value::as_str) == Some("advanced");
        out["usage"] = json!({"credits": if advanced { 2 } else { 1 }});
    }
    if truthy(req.get("auto_parameters")) {
        out["auto_parameters"] = json!({"topic": "general", "search_depth": "basic"});
    }
    Json(out).into_response()
}

/// The seeded indicator a query names, if any.
fn named_indicator(query: &str) -> Option<&'static intel::Known> {
    let q = query.to_ascii_lowercase();
    KNOWN
        .iter()
        .find(|k| q.contains(&k.value.to_ascii_lowercase()))
}

fn answer(query: &str) -> Value {
    match named_indicator(query) {
        Some(k) if k.verdict != intel::Verdict::Harmless => json!(format!(
            "{} is reported as malicious ({}). Security researchers have linked it to active campaigns; block it and investigate hosts that contacted it.",
            k.value, k.label
        )),
        _ => json!(format!(
            "Public sources have no reports linking \"{query}\" to malicious activity."
        )),
    }
}

/// Up to 20 results for a query, best first.
fn candidates(query: &str, include: &[String]) -> Vec<Value> {
    let sites = if include.is_empty() {
        vec![
            "threatintel.example.com".to_string(),
            "blog.securityresearch.example.org".to_string(),
            "www.malware-reports.example.net".to_string(),
            "docs.example.com".to_string(),
            "forum.sysadmins.example.org".to_string(),
        ]
    } else {
        include.to_vec()
    };
    let slug: String = query
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let slug: String = slug.chars().take(60).collect();
    let mut out = Vec::new();
    if let Some(k) = named_indicator(query).filter(|k| k.verdict != intel::Verdict::Harmless) {
        out.push(json!({
            "title": format!("{} – threat report: {}", k.value, k.label),
            "url": format!("https://{}/reports/{slug}", sites[0]),
            "content": format!("Analysis of {}: observed in {} activity. Indicators of compromise and detection guidance included.", k.value, k.label),
            "score": 0.97,
        }));
    }
    for i in 0..20usize {
        if out.len() >= 20 {
            break;
        }
        let site = &sites[i % sites.len()];
        let score = (0.9 - 0.04 * i as f64).max(0.05);
        out.push(json!({
            "title": format!("{query} – result {}", i + 1),
            "url": format!("https://{site}/{slug}/{}", i + 1),
            "content": format!("Overview and discussion of {query}. Background, context and related references (source {}).", i + 1),
            "score": (score * 1000.0).round() / 1000.0,
        }));
    }
    out
}
