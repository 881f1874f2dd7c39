//! Control routes under `/_sandbox/crowdstrike` (SPEC §7.3): inject alerts, read one back with
//! its comments, add or replace hosts, and turn the simulator's timing knobs.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::super::Sandbox;
use super::super::control::{bad_request, error, parse_body};
use super::KnobsPatch;
use super::alert_shape::{self, Context};

/// The routes, nested at `/_sandbox/crowdstrike`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/alerts", post(inject_alert))
        .route("/alerts/{composite_id}", get(get_alert))
        .route("/devices", post(upsert_device))
        .route("/settings", get(get_settings).post(set_settings))
}

fn object_body(bytes: &[u8]) -> Result<Map<String, Value>, Box<Response>> {
    match parse_body::<Value>(bytes).map_err(Box::new)? {
        Value::Object(m) => Ok(m),
        _ => Err(Box::new(bad_request(
            "invalid body: expected a JSON object",
        ))),
    }
}

/// `POST /alerts`: any subset of alert fields → `{"composite_id"}`.
async fn inject_alert(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    let input = match object_body(&body) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    if let Err(e) = alert_shape::validate(&input) {
        return bad_request(e);
    }
    let now = Utc::now();
    let devices = sb.crowdstrike.hosts.snapshot(now);
    let ctx = Context {
        devices: &devices,
        users: &sb.seed.oomnitza.users,
        now,
    };
    let id = sb.crowdstrike.alerts.inject(&input, &ctx);
    Json(json!({"composite_id": id})).into_response()
}

/// `GET /alerts/{composite_id}`: the stored alert plus its `comments`.
async fn get_alert(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    match sb.crowdstrike.alerts.with_comments(&id) {
        Some(alert) => Json(alert).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no alert {id}")),
    }
}

/// `POST /devices`: add or replace one host by `device_id` → the stored record.
async fn upsert_device(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    let input = match object_body(&body) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    if input.get("device_id").is_some_and(|v| !v.is_string()) {
        return bad_request("'device_id' must be a string");
    }
    Json(sb.crowdstrike.hosts.upsert(input, Utc::now())).into_response()
}

async fn get_settings(State(sb): State<Sandbox>) -> Response {
    let knobs = sb.crowdstrike.knobs.lock().clone();
    Json(serde_json::to_value(knobs).unwrap_or(Value::Null)).into_response()
}

/// `POST /settings` `{"token_lifetime_secs", "containment_delay_ms"}` (either) → the knobs.
async fn set_settings(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    let patch = match parse_body::<KnobsPatch>(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let knobs = {
        let mut knobs = sb.crowdstrike.knobs.lock();
        knobs.apply(patch);
        knobs.clone()
    };
    Json(serde_json::to_value(knobs).unwrap_or(Value::Null)).into_response()
}
