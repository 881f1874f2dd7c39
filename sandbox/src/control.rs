//! The control API under `/_sandbox` (SPEC §7.2–7.5): credentials, seed, reset, settings,
//! recorded requests, faults and limits; each vendor adds its own injection routes under
//! `/_sandbox/<vendor>`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Sandbox;
use super::faults::FaultSpec;
use super::limits::LimitSpec;
use super::settings::SettingsPatch;

/// Routes mounted at `/_sandbox`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/credentials", get(credentials))
        .route("/seed", get(seed))
        .route("/reset", post(reset))
        .route("/settings", get(get_settings).post(set_settings))
        .route("/requests", get(requests))
        .route("/faults", post(add_fault).delete(clear_faults))
        .route("/faults/{id}", delete(remove_fault))
        .route("/limits", get(list_limits).post(set_limit))
        .nest("/slack", super::slack::control_routes())
        .nest("/crowdstrike", super::crowdstrike::control_routes())
        .nest("/oomnitza", super::oomnitza::control_routes())
        .nest("/github", super::github::control_routes())
        .nest("/pagerduty", super::pagerduty::control_routes())
        .nest("/virustotal", super::virustotal::control_routes())
        .nest("/abuseipdb", super::abuseipdb::control_routes())
        .nest("/emailrep", super::emailrep::control_routes())
        .nest("/urlscan", super::urlscan::control_routes())
        .nest("/confluence", super::confluence::control_routes())
        .nest("/okta", super::okta::control_routes())
        .nest("/llm", super::llm::control_routes())
}

/// A control-API error: 400 (or the given status) with `{"error": …}`.
pub fn bad_request(msg: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, msg)
}

/// A control-API error with any status.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

/// Parses a control-API JSON body, answering 400 with the parser's words when it is not valid.
/// The error is the HTTP answer itself, hence its size.
#[allow(clippy::result_large_err)]
pub fn parse_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Response> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| bad_request(format!("invalid body: {e}")))
}

async fn credentials(State(sb): State<Sandbox>) -> Json<Value> {
    Json(serde_json::to_value(&sb.credentials).unwrap_or(Value::Null))
}

async fn seed(State(sb): State<Sandbox>) -> Json<Value> {
    Json(sb.seed.to_json())
}

async fn reset(State(sb): State<Sandbox>) -> Json<Value> {
    sb.reset();
    Json(json!({"ok": true}))
}

async fn get_settings(State(sb): State<Sandbox>) -> Json<Value> {
    Json(serde_json::to_value(sb.settings.get()).unwrap_or(Value::Null))
}

async fn set_settings(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    match parse_body::<SettingsPatch>(&body) {
        Ok(patch) => Json(serde_json::to_value(sb.settings.apply(patch)).unwrap_or(Value::Null))
            .into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct RequestsQuery {
    service: Option<String>,
    #[serde(default)]
    since: u64,
}

async fn requests(State(sb): State<Sandbox>, Query(q): Query<RequestsQuery>) -> Json<Value> {
    let list = sb.recorder.list(q.service.as_deref(), q.since);
    Json(json!({ "requests": list }))
}

async fn add_fault(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    match parse_body::<FaultSpec>(&body) {
        Ok(spec) => Json(json!({"id": sb.faults.add(spec)})).into_response(),
        Err(r) => r,
    }
}

async fn clear_faults(State(sb): State<Sandbox>) -> Json<Value> {
    sb.faults.clear();
    Json(json!({"ok": true}))
}

async fn remove_fault(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    if sb.faults.remove(&id) {
        Json(json!({"ok": true})).into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no fault {id}"))
    }
}

async fn list_limits(State(sb): State<Sandbox>) -> Json<Value> {
    Json(json!({"limits": sb.limits.list()}))
}

async fn set_limit(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    match parse_body::<LimitSpec>(&body) {
        Ok(spec) => {
            sb.limits.set(spec);
            Json(json!({"limits": sb.limits.list()})).into_response()
        }
        Err(r) => r,
    }
}
