//! HTTP handlers of the Oomnitza simulator: the API v3 asset and user routes and the control
//! routes that add records.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::error;
use super::query::ListParams;
use super::state::{self, Collection, READ_ONLY};
use crate::Sandbox;
use crate::args::header;
use crate::control;

/// Fields besides the key that identify a user in `/api/v3/users/{ident}`.
const USER_ALIASES: &[&str] = &["user_id", "uid"];
/// Fields besides `equipment_id` that identify an asset in `/api/v3/assets/{ident}`.
const ASSET_ALIASES: &[&str] = &["uid"];

/// The 401 for a request whose `Authorization2` is not this sandbox's token, or `None` when it
/// is. Basic auth is a real Oomnitza option, but the sandbox has no user/password credential,
/// so it is refused too.
fn unauthorized(sb: &Sandbox, headers: &HeaderMap) -> Option<Response> {
    let deny = |at: &str, msg: &str| Some(error(StatusCode::UNAUTHORIZED, at, msg));
    match header(headers, "authorization2").map(str::trim) {
        Some(token) if token == sb.credentials.oomnitza.token => None,
        Some(_) => deny("Authorization2", "Invalid token"),
        None if header(headers, "authorization").is_some() => {
            deny("Authorization", "Invalid username or password")
        }
        None => deny(
            "Authorization2",
            "Authentication credentials were not provided",
        ),
    }
}

/// Filters, sorts, pages and projects `records` of `coll` for a list request.
fn list(coll: &Collection, records: &[Map<String, Value>], query: Option<&str>) -> Response {
    match ListParams::parse(query, &coll.known) {
        Ok(params) => Json(Value::Array(params.apply(records))).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.param, e.message),
    }
}

fn not_found(kind: &str, ident: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ident",
        format!("{kind} '{ident}' not found"),
    )
}

/// `GET /api/v3/assets`.
pub async fn list_assets(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(r) = unauthorized(&sb, &headers) {
        return r;
    }
    sb.oomnitza
        .with(|s| list(&s.assets, &s.assets.records, query.as_deref()))
}

/// `GET /api/v3/users`.
pub async fn list_users(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(r) = unauthorized(&sb, &headers) {
        return r;
    }
    sb.oomnitza
        .with(|s| list(&s.users, &s.users.records, query.as_deref()))
}

/// `GET /api/v3/assets/{equipment_id}`.
pub async fn get_asset(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(ident): Path<String>,
) -> Response {
    if let Some(r) = unauthorized(&sb, &headers) {
        return r;
    }
    match sb
        .oomnitza
        .with(|s| s.assets.find(&ident, ASSET_ALIASES).cloned())
    {
        Some(asset) => Json(Value::Object(asset)).into_response(),
        None => not_found("Asset", &ident),
    }
}

/// `GET /api/v3/users/{username or user_id}`.
pub async fn get_user(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(ident): Path<String>,
) -> Response {
    if let Some(r) = unauthorized(&sb, &headers) {
        return r;
    }
    match sb
        .oomnitza
        .with(|s| s.users.find(&ident, USER_ALIASES).cloned())
    {
        Some(user) => Json(Value::Object(user)).into_response(),
        None => not_found("User", &ident),
    }
}

/// `GET /api/v3/users/{ident}/assets`: assets whose `assigned_to` names that user (by
/// `username`, or by `user_id` in tenants that store ids), with the list parameters.
pub async fn user_assets(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(ident): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(r) = unauthorized(&sb, &headers) {
        return r;
    }
    sb.oomnitza.with(|s| {
        let Some(user) = s.users.find(&ident, USER_ALIASES) else {
            return not_found("User", &ident);
        };
        let names: Vec<&Value> = ["username", "user_id"]
            .iter()
            .filter_map(|f| user.get(*f))
            .filter(|v| v.is_string())
            .collect();
        let owned: Vec<Map<String, Value>> = s
            .assets
            .records
            .iter()
            .filter(|a| a.get("assigned_to").is_some_and(|v| names.contains(&v)))
            .cloned()
            .collect();
        list(&s.assets, &owned, query.as_deref())
    })
}

/// `PATCH /api/v3/assets/{equipment_id}`: changes the given fields, answers the asset.
pub async fn patch_asset(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(ident): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(r) = unauthorized(&sb, &headers) {
        return r;
    }
    let changes = match json_object(&body) {
        Ok(m) => m,
        Err(msg) => return error(StatusCode::BAD_REQUEST, "body", msg),
    };
    sb.oomnitza.with(|s| {
        let Some(i) = s.assets.position(&ident, ASSET_ALIASES) else {
            return not_found("Asset", &ident);
        };
        if let Some((field, msg)) = patch_problem(s, &s.assets.records[i], &changes) {
            return error(StatusCode::BAD_REQUEST, &field, msg);
        }
        let asset = &mut s.assets.records[i];
        asset.extend(changes);
        asset.insert("change_date".into(), Value::from(state::now()));
        Json(Value::Object(asset.clone())).into_response()
    })
}

/// Parses a request body that must be a JSON object; `Err` says why it is not.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("Request body must be a JSON object".into()),
        Err(e) => Err(format!("Malformed JSON: {e}")),
    }
}

/// The first problem with a PATCH, as (field, message): an unknown or read-only field, a
/// changed `equipment_id`, or an `assigned_to` that names no user.
fn patch_problem(
    s: &state::State,
    asset: &Map<String, Value>,
    changes: &Map<String, Value>,
) -> Option<(String, String)> {
    changes.iter().find_map(|(field, value)| {
        let msg = if !s.assets.known.contains(field) {
            format!("Unknown field '{field}'")
        } else if READ_ONLY.contains(&field.as_str()) {
            format!("Field '{field}' is read-only")
        } else if field == "equipment_id" && asset.get(field) != Some(value) {
            "equipment_id cannot be changed".into()
        } else if field == "assigned_to" && !assignable(s, value) {
            format!("User {value} does not exist")
        } else {
            return None;
        };
        Some((field.clone(), msg))
    })
}

/// Whether `value` may go in `assigned_to`: null, or a stored user's username or user_id.
fn assignable(s: &state::State, value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(name) => s.users.find(name, &["user_id"]).is_some(),
        _ => false,
    }
}

/// Any path under `/oomnitza` that is not an API route.
pub async fn unknown_path(uri: axum::http::Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "path",
        format!("{} not found", uri.path()),
    )
}

/// `POST /_sandbox/oomnitza/assets`: add or replace one asset by `equipment_id`.
pub async fn control_put_asset(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let mut record = match control::parse_body::<Map<String, Value>>(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    sb.oomnitza.with(|s| {
        if !record.get("equipment_id").is_some_and(non_empty_string) {
            let id = s.new_equipment_id();
            record.insert("equipment_id".into(), Value::String(id));
        }
        Json(Value::Object(s.assets.upsert(record, state::now()))).into_response()
    })
}

/// `POST /_sandbox/oomnitza/users`: add or replace one user by `username`.
pub async fn control_put_user(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let mut record = match control::parse_body::<Map<String, Value>>(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if !record.get("username").is_some_and(non_empty_string) {
        return control::bad_request("username (a non-empty string) is required");
    }
    sb.oomnitza.with(|s| {
        if !record.get("user_id").is_some_and(non_empty_string) {
            let existing = record
                .get("username")
                .and_then(Value::as_str)
                .and_then(|u| s.users.find(u, &[]))
                .and_then(|u| u.get("user_id").cloned())
                .filter(non_empty_string);
            let id = existing.unwrap_or_else(|| Value::String(s.new_user_id()));
            record.insert("user_id".into(), id);
        }
        Json(Value::Object(s.users.upsert(record, state::now()))).into_response()
    })
}

/// `GET /_sandbox/oomnitza/assets`: every stored asset.
pub async fn control_list_assets(State(sb): State<Sandbox>) -> Response {
    let all = sb.oomnitza.with(|s| s.assets.records.clone());
    Json(all).into_response()
}

/// `GET /_sandbox/oomnitza/users`: every stored user.
pub async fn control_list_users(State(sb): State<Sandbox>) -> Response {
    let all = sb.oomnitza.with(|s| s.users.records.clone());
    Json(all).into_response()
}

fn non_empty_string(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.trim().is_empty())
}
