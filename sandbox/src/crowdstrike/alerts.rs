//! The Alerts API v2/v3 (vendor-apis §2.4): combined search with `after` paging, id queries
//! with offset paging, details by composite id, and status/comment/assignment/tag updates.
//!
//! The `after` token is opaque to clients: URL-safe base64 of the sort it was made for plus
//! the last row's sort value and `composite_id`. The next page starts strictly after that
//! position (keyset paging), so alerts inserted meanwhile neither repeat nor shift a page when
//! the sort field is immutable, as Falcon documents.

use std::cmp::Ordering;
use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::super::Sandbox;
use super::alert_shape::{self, Context, timestamp};
use super::auth::authorize;
use super::envelope::{ALERTS, Call, RateInfo, error_for_id};
use super::fql::{self, Filter, Sort};
use super::request::{Incoming, body_ids, body_str, body_uint, dedup};

/// Largest `limit` of the combined search.
const MAX_COMBINED_LIMIT: u64 = 1000;
/// Largest `limit` (and `offset + limit`) of the id query.
const MAX_QUERY_WINDOW: u64 = 10_000;
/// Most composite ids one details or update request takes.
const MAX_IDS: usize = 1000;
/// Falcon's default order.
const DEFAULT_SORT: &str = "created_timestamp|desc";

#[derive(Debug, Clone)]
struct Stored {
    alert: Value,
    comments: Vec<Value>,
}

/// Every alert of the simulator by `composite_id`, with the comments appended to each.
#[derive(Debug, Default)]
pub struct Alerts(Mutex<HashMap<String, Stored>>);

impl Alerts {
    /// Drops every alert (the seed has none).
    pub fn clear(&self) {
        self.0.lock().clear();
    }

    /// Adds an alert or merges into the one with the same `composite_id`; answers the id.
    pub fn inject(&self, input: &Map<String, Value>, ctx: &Context) -> String {
        let mut all = self.0.lock();
        let existing = input
            .get("composite_id")
            .and_then(Value::as_str)
            .and_then(|id| all.get(id))
            .map(|s| s.alert.clone());
        let alert = alert_shape::complete(input, existing.as_ref(), ctx);
        let id = composite_id(&alert).to_string();
        match all.get_mut(&id) {
            Some(stored) => stored.alert = alert,
            None => {
                all.insert(
                    id.clone(),
                    Stored {
                        alert,
                        comments: vec![],
                    },
                );
            }
        }
        id
    }

    /// The stored alert with its comments under `comments` (control API only: Falcon does not
    /// return comments on the alert object).
    pub fn with_comments(&self, id: &str) -> Option<Value> {
        let all = self.0.lock();
        let stored = all.get(id)?;
        let mut alert = stored.alert.clone();
        if let Value::Object(m) = &mut alert {
            m.insert("comments".into(), json!(stored.comments));
        }
        Some(alert)
    }

    fn matching(
        &self,
        filter: &Filter,
        now: DateTime<Utc>,
        include_hidden: bool,
        q: &str,
    ) -> Vec<Value> {
        let needle = q.trim().to_lowercase();
        self.0
            .lock()
            .values()
            .map(|s| &s.alert)
            .filter(|a| include_hidden || a.get("show_in_ui") != Some(&json!(false)))
            .filter(|a| needle.is_empty() || contains_text(a, &needle))
            .filter(|a| filter.matches(a, now))
            .cloned()
            .collect()
    }

    fn lookup(&self, ids: &[String], include_hidden: bool) -> (Vec<Value>, Vec<String>) {
        let all = self.0.lock();
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for id in ids {
            match all.get(id).map(|s| &s.alert) {
                Some(a) if include_hidden || a.get("show_in_ui") != Some(&json!(false)) => {
                    found.push(a.clone())
                }
                _ => missing.push(id.clone()),
            }
        }
        (found, missing)
    }

    fn update(
        &self,
        ids: &[String],
        actions: &[AlertAction],
        now: DateTime<Utc>,
    ) -> (usize, Vec<String>) {
        let mut all = self.0.lock();
        let mut affected = 0;
        let mut missing = Vec::new();
        for id in ids {
            match all.get_mut(id) {
                Some(stored) => {
                    apply_all(stored, actions, now);
                    affected += 1;
                }
                None => missing.push(id.clone()),
            }
        }
        (affected, missing)
    }
}

fn composite_id(alert: &Value) -> &str {
    alert
        .get("composite_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Free-text `q`: any string or number anywhere in the alert contains the needle.
fn contains_text(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.to_lowercase().contains(needle),
        Value::Number(n) => n.to_string().contains(needle),
        Value::Array(items) => items.iter().any(|i| contains_text(i, needle)),
        Value::Object(m) => m.values().any(|i| contains_text(i, needle)),
        _ => false,
    }
}

/// The sort order plus `composite_id` ascending as the tie-breaker, so the order is total.
fn order(sort: &Sort, a: &Value, b: &Value) -> Ordering {
    sort.compare(a, b)
        .then_with(|| composite_id(a).cmp(composite_id(b)))
}

/// Where a page ends: the sort it was made for and the last row's position in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Cursor {
    s: String,
    v: Value,
    id: String,
}

fn sort_key(sort: &Sort) -> String {
    format!("{}|{}", sort.field, if sort.desc { "desc" } else { "asc" })
}

fn encode_cursor(sort: &Sort, last: &Value) -> String {
    let cursor = Cursor {
        s: sort_key(sort),
        v: fql::lookup(last, &sort.field)
            .cloned()
            .unwrap_or(Value::Null),
        id: composite_id(last).to_string(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

fn decode_cursor(token: &str, sort: &Sort) -> Result<Cursor, String> {
    let invalid = || "invalid after token".to_string();
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if cursor.s != sort_key(sort) {
        return Err("the after token was made for another sort: start again without after".into());
    }
    Ok(cursor)
}

/// A record holding just the cursor's position, to compare rows against.
fn probe(cursor: &Cursor, field: &str) -> Value {
    let mut value = cursor.v.clone();
    for key in field.rsplit('.') {
        let mut m = Map::new();
        if !value.is_null() {
            m.insert(key.to_string(), value);
        }
        value = Value::Object(m);
    }
    if let Value::Object(m) = &mut value {
        m.insert("composite_id".into(), json!(cursor.id));
    }
    value
}

/// Reads the request and authorizes it for the Alerts API.
async fn begin(sb: &Sandbox, req: Request) -> Result<(Incoming, Call), Box<Response>> {
    let inc = Incoming::read(req).await.map_err(|e| {
        Box::new(Call::new(ALERTS, RateInfo::unmetered()).error(StatusCode::PAYLOAD_TOO_LARGE, e))
    })?;
    let call = authorize(sb, &inc, ALERTS)?;
    Ok((inc, call))
}

fn parse_sort(text: Option<String>) -> Result<Sort, String> {
    let text = text.filter(|s| !s.trim().is_empty());
    Sort::parse(text.as_deref().unwrap_or(DEFAULT_SORT)).map_err(|e| e.0)
}

/// `POST /alerts/combined/alerts/v1` `{filter, sort, limit, after}` → full alerts.
pub async fn combined(State(sb): State<Sandbox>, req: Request) -> Response {
    let (inc, call) = match begin(&sb, req).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match combined_page(&sb, &inc) {
        Ok((rows, meta)) => call.ok(StatusCode::OK, json!(rows), meta),
        Err(e) => call.error(StatusCode::BAD_REQUEST, e),
    }
}

fn combined_page(sb: &Sandbox, inc: &Incoming) -> Result<(Vec<Value>, Map<String, Value>), String> {
    let body = inc.json_object()?;
    let filter = fql::parse(&body_str(&body, "filter")?.unwrap_or_default()).map_err(|e| e.0)?;
    let sort = parse_sort(body_str(&body, "sort")?)?;
    let limit = body_uint(&body, "limit")?.unwrap_or(100);
    if !(1..=MAX_COMBINED_LIMIT).contains(&limit) {
        return Err(format!("limit must be between 1 and {MAX_COMBINED_LIMIT}"));
    }
    let after = match body_str(&body, "after")?.filter(|a| !a.trim().is_empty()) {
        Some(token) => Some(decode_cursor(&token, &sort)?),
        None => None,
    };
    let mut rows = sb
        .crowdstrike
        .alerts
        .matching(&filter, Utc::now(), true, "");
    rows.sort_by(|a, b| order(&sort, a, b));
    let total = rows.len();
    let start = match &after {
        Some(c) => {
            let p = probe(c, &sort.field);
            rows.iter()
                .position(|r| order(&sort, r, &p) == Ordering::Greater)
                .unwrap_or(rows.len())
        }
        None => 0,
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let page: Vec<Value> = rows.iter().skip(start).take(limit).cloned().collect();
    let more = start + page.len() < rows.len();
    let mut pagination = json!({"total": total, "limit": limit});
    if more && let Some(last) = page.last() {
        pagination["after"] = json!(encode_cursor(&sort, last));
    }
    let mut meta = Map::new();
    meta.insert("pagination".into(), pagination);
    Ok((page, meta))
}

/// `GET /alerts/queries/alerts/v2?filter&sort&limit&offset&q&include_hidden` → composite ids.
pub async fn query(State(sb): State<Sandbox>, req: Request) -> Response {
    let (inc, call) = match begin(&sb, req).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match query_ids(&sb, &inc) {
        Ok((ids, meta)) => call.ok(StatusCode::OK, json!(ids), meta),
        Err(e) => call.error(StatusCode::BAD_REQUEST, e),
    }
}

fn query_ids(sb: &Sandbox, inc: &Incoming) -> Result<(Vec<Value>, Map<String, Value>), String> {
    let filter = fql::parse(&inc.query_one("filter").unwrap_or_default()).map_err(|e| e.0)?;
    let sort = parse_sort(inc.query_one("sort"))?;
    let limit = inc.query_uint("limit")?.unwrap_or(100);
    let offset = inc.query_uint("offset")?.unwrap_or(0);
    if limit > MAX_QUERY_WINDOW {
        return Err(format!("limit must be between 0 and {MAX_QUERY_WINDOW}"));
    }
    if offset.saturating_add(limit) > MAX_QUERY_WINDOW {
        return Err(format!(
            "offset + limit must not exceed {MAX_QUERY_WINDOW}: use POST /alerts/combined/alerts/v1 with after"
        ));
    }
    let include_hidden = inc.query_bool("include_hidden", true)?;
    let q = inc.query_one("q").unwrap_or_default();
    let mut rows = sb
        .crowdstrike
        .alerts
        .matching(&filter, Utc::now(), include_hidden, &q);
    rows.sort_by(|a, b| order(&sort, a, b));
    let total = rows.len();
    let ids: Vec<Value> = rows
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|a| json!(composite_id(a)))
        .collect();
    let mut meta = Map::new();
    meta.insert(
        "pagination".into(),
        json!({"offset": offset, "limit": limit, "total": total}),
    );
    Ok((ids, meta))
}

/// The `composite_ids` of a body, checked for presence and the per-request maximum.
fn composite_ids(body: &Map<String, Value>) -> Result<Vec<String>, String> {
    let ids = dedup(body_ids(body, "composite_ids")?);
    if ids.is_empty() {
        return Err("composite_ids: at least one composite id is required".into());
    }
    if ids.len() > MAX_IDS {
        return Err(format!(
            "composite_ids: a maximum of {MAX_IDS} ids may be sent at once"
        ));
    }
    Ok(ids)
}

fn not_found_errors(missing: &[String]) -> Vec<Value> {
    missing
        .iter()
        .map(|id| error_for_id(404, format!("alert {id} not found"), id))
        .collect()
}

/// `POST /alerts/entities/alerts/v2` `{"composite_ids":[…]}` → those alerts; unknown ids give
/// 404 with an error each, the found alerts still in `resources`.
pub async fn details(State(sb): State<Sandbox>, req: Request) -> Response {
    let (inc, call) = match begin(&sb, req).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let parsed = inc
        .json_object()
        .and_then(|b| composite_ids(&b))
        .and_then(|ids| Ok((ids, inc.query_bool("include_hidden", true)?)));
    let (ids, include_hidden) = match parsed {
        Ok(x) => x,
        Err(e) => return call.error(StatusCode::BAD_REQUEST, e),
    };
    let (found, missing) = sb.crowdstrike.alerts.lookup(&ids, include_hidden);
    if missing.is_empty() {
        call.ok(StatusCode::OK, json!(found), Map::new())
    } else {
        call.partial(
            StatusCode::NOT_FOUND,
            json!(found),
            not_found_errors(&missing),
        )
    }
}

/// One validated `action_parameters` entry.
#[derive(Debug, Clone, PartialEq)]
enum AlertAction {
    UpdateStatus(String),
    AppendComment(String),
    AssignUuid(String),
    AssignUserId(String),
    AssignName(String),
    Unassign,
    AddTag(String),
    RemoveTag(String),
    RemoveTagsByPrefix(String),
    ShowInUi(bool),
    NewBehaviorProcessed,
}

const STATUSES: &[&str] = &["new", "in_progress", "reopened", "closed"];

fn action_value(entry: &Value) -> String {
    match entry.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn parse_action(entry: &Value) -> Result<AlertAction, String> {
    let name = entry
        .get("name")
        .and_then(Value::as_str)
        .ok_or("action_parameters: every entry needs a string 'name'")?;
    let value = action_value(entry);
    let required = |v: String| {
        if v.trim().is_empty() {
            Err(format!("action '{name}' requires a value"))
        } else {
            Ok(v)
        }
    };
    Ok(match name {
        "update_status" if STATUSES.contains(&value.as_str()) => AlertAction::UpdateStatus(value),
        "update_status" => {
            return Err(format!(
                "invalid value '{value}' for update_status: use new, in_progress, reopened or closed"
            ));
        }
        "append_comment" => AlertAction::AppendComment(required(value)?),
        "assign_to_uuid" => AlertAction::AssignUuid(required(value)?),
        "assign_to_user_id" => AlertAction::AssignUserId(required(value)?),
        "assign_to_name" => AlertAction::AssignName(required(value)?),
        "unassign" => AlertAction::Unassign,
        "add_tag" => AlertAction::AddTag(required(value)?),
        "remove_tag" => AlertAction::RemoveTag(required(value)?),
        "remove_tags_by_prefix" => AlertAction::RemoveTagsByPrefix(required(value)?),
        "show_in_ui" => match value.trim().to_ascii_lowercase().as_str() {
            "" | "true" => AlertAction::ShowInUi(true),
            "false" => AlertAction::ShowInUi(false),
            _ => {
                return Err(format!(
                    "invalid value '{value}' for show_in_ui: use true or false"
                ));
            }
        },
        "new_behavior_processed" => AlertAction::NewBehaviorProcessed,
        other => return Err(format!("invalid action name '{other}'")),
    })
}

fn parse_actions(body: &Map<String, Value>) -> Result<Vec<AlertAction>, String> {
    let entries = match body.get("action_parameters") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => &Vec::new(),
        Some(_) => return Err("action_parameters must be an array of {name, value}".into()),
    };
    if entries.is_empty() {
        return Err("action_parameters: at least one action is required".into());
    }
    entries.iter().map(parse_action).collect()
}

/// Applies every action to one alert (tag removals before additions, as Falcon documents)
/// and moves `updated_timestamp` forward.
fn apply_all(stored: &mut Stored, actions: &[AlertAction], now: DateTime<Utc>) {
    let (adds, others): (Vec<&AlertAction>, Vec<&AlertAction>) = actions
        .iter()
        .partition(|a| matches!(a, AlertAction::AddTag(_)));
    for action in others.into_iter().chain(adds) {
        apply(stored, action, now);
    }
    if let Value::Object(alert) = &mut stored.alert {
        let next = alert_shape::bump(alert.get("updated_timestamp"), now);
        alert.insert("updated_timestamp".into(), json!(next));
    }
}

fn apply(stored: &mut Stored, action: &AlertAction, now: DateTime<Utc>) {
    if let AlertAction::AppendComment(text) = action {
        stored
            .comments
            .push(json!({"comment": text, "timestamp": timestamp(now)}));
        return;
    }
    let Value::Object(alert) = &mut stored.alert else {
        return;
    };
    match action {
        AlertAction::UpdateStatus(status) => set_status(alert, status, now),
        AlertAction::AssignUuid(v) => {
            alert.insert("assigned_to_uuid".into(), json!(v));
        }
        AlertAction::AssignUserId(v) => {
            alert.insert("assigned_to_uid".into(), json!(v));
        }
        AlertAction::AssignName(v) => {
            alert.insert("assigned_to_name".into(), json!(v));
        }
        AlertAction::Unassign => {
            for k in ["assigned_to_uuid", "assigned_to_uid", "assigned_to_name"] {
                alert.remove(k);
            }
        }
        AlertAction::AddTag(tag) => edit_tags(alert, |tags| {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }),
        AlertAction::RemoveTag(tag) => edit_tags(alert, |tags| tags.retain(|t| t != tag)),
        AlertAction::RemoveTagsByPrefix(prefix) => edit_tags(alert, |tags| {
            tags.retain(|t| !t.starts_with(prefix.as_str()))
        }),
        AlertAction::ShowInUi(show) => {
            alert.insert("show_in_ui".into(), json!(show));
        }
        AlertAction::AppendComment(_) | AlertAction::NewBehaviorProcessed => {}
    }
}

fn edit_tags(alert: &mut Map<String, Value>, edit: impl FnOnce(&mut Vec<String>)) {
    let mut tags: Vec<String> = alert
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    edit(&mut tags);
    alert.insert("tags".into(), json!(tags));
}

/// Sets the status and the triage/resolution clocks Falcon keeps on closed or worked alerts.
fn set_status(alert: &mut Map<String, Value>, status: &str, now: DateTime<Utc>) {
    let since_created = alert
        .get("created_timestamp")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|c| (now - c.with_timezone(&Utc)).num_seconds().max(0));
    if let Some(secs) = since_created {
        if status != "new" && !alert.contains_key("seconds_to_triaged") {
            alert.insert("seconds_to_triaged".into(), json!(secs));
        }
        if status == "closed" {
            alert.insert("seconds_to_resolved".into(), json!(secs));
        }
    }
    alert.insert("status".into(), json!(status));
}

/// `PATCH /alerts/entities/alerts/v3` `{"composite_ids","action_parameters"}` → 200 with
/// `meta.writes.resources_affected`; unknown ids 404 (the known ones are still updated).
pub async fn update(State(sb): State<Sandbox>, req: Request) -> Response {
    let (inc, call) = match begin(&sb, req).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let parsed = inc
        .json_object()
        .and_then(|b| Ok((composite_ids(&b)?, parse_actions(&b)?)));
    let (ids, actions) = match parsed {
        Ok(x) => x,
        Err(e) => return call.error(StatusCode::BAD_REQUEST, e),
    };
    let (affected, missing) = sb.crowdstrike.alerts.update(&ids, &actions, Utc::now());
    if missing.is_empty() {
        call.writes(StatusCode::OK, affected, vec![])
    } else {
        call.writes(StatusCode::NOT_FOUND, affected, not_found_errors(&missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_is_tied_to_its_sort() {
        let sort = Sort::parse("created_timestamp|desc").unwrap();
        let row = json!({"composite_id": "c1", "created_timestamp": "2024-01-01T00:00:00.000Z"});
        let token = encode_cursor(&sort, &row);
        let cursor = decode_cursor(&token, &sort).unwrap();
        assert_eq!(cursor.id, "c1");
        let other = Sort::parse("severity|asc").unwrap();
        assert!(decode_cursor(&token, &other).is_err());
        assert!(decode_cursor("!!!", &sort).is_err());
    }

    #[test]
    fn probe_rebuilds_nested_fields() {
        let c = Cursor {
            s: "device.hostname|asc".into(),
            v: json!("WS-1"),
            id: "c9".into(),
        };
        assert_eq!(
            probe(&c, "device.hostname"),
            json!({"device": {"hostname": "WS-1"}, "composite_id": "c9"})
        );
    }

    #[test]
    fn actions_validate_names_and_values() {
        let ok = |n: &str, v: Value| parse_action(&json!({"name": n, "value": v}));
        assert_eq!(
            ok("update_status", json!("closed")),
            Ok(AlertAction::UpdateStatus("closed".into()))
        );
        assert!(ok("update_status", json!("done")).is_err());
        assert!(ok("frobnicate", json!("x")).is_err());
        assert_eq!(
            ok("show_in_ui", json!(false)),
            Ok(AlertAction::ShowInUi(false))
        );
        assert!(ok("append_comment", json!("")).is_err());
        assert_eq!(ok("unassign", Value::Null), Ok(AlertAction::Unassign));
    }

    #[test]
    fn tag_removals_run_before_additions() {
        let mut stored = Stored {
            alert: json!({"tags": ["a"], "created_timestamp": "2024-01-01T00:00:00Z"}),
            comments: vec![],
        };
        let actions = vec![
            AlertAction::AddTag("b".into()),
            AlertAction::RemoveTag("b".into()),
            AlertAction::UpdateStatus("closed".into()),
            AlertAction::AppendComment("done".into()),
        ];
        apply_all(&mut stored, &actions, Utc::now());
        assert_eq!(stored.alert["tags"], json!(["a", "b"]));
        assert_eq!(stored.alert["status"], "closed");
        assert!(stored.alert["seconds_to_resolved"].as_i64().unwrap_or(0) > 0);
        assert_eq!(stored.comments.len(), 1);
    }
}
