//! PagerDuty REST API v2 (read side): `GET /incidents`, `GET /incidents/{id}`,
//! `GET /incidents/{id}/alerts`, `GET /incidents/{id}/log_entries`, with classic
//! `limit`/`offset`/`more`/`total` paging as the `pagerduty` python client's `list_all` reads it.
//!
//! Auth: `Authorization: Token token=<api token>`; missing or wrong → 401
//! `{"error":{"message":"Authentication required","code":2006}}`. Errors use PD's REST shape
//! `{"error":{"message","code","errors"?}}`: 400 `Invalid Input Provided` (2001) for bad
//! parameters, 404 `Not Found` (2100). No REST rate limit by default; `POST /_sandbox/limits`
//! `{"service":"pagerduty","method":"rest",…}` turns one on (429, code 2020).
//!
//! Not modelled: PD's default one-month window when neither `since` nor `until` is given (every
//! sandbox incident is recent anyway); `date_range=all` is accepted.

use axum::Json;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use super::render;
use super::state::{Incident, Status};
use crate::Sandbox;
use crate::args::{header, query_all, query_one};
use crate::limits::retry_after_secs;

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 25;
/// Largest page PD serves with classic pagination.
pub const MAX_LIMIT: usize = 100;

/// PD's REST error answer.
pub fn rest_error(status: StatusCode, message: &str, code: u32, errors: &[String]) -> Response {
    let mut error = json!({"message": message, "code": code});
    if !errors.is_empty() {
        error["errors"] = json!(errors);
    }
    (status, Json(json!({ "error": error }))).into_response()
}

fn invalid(errors: &[String]) -> Response {
    rest_error(
        StatusCode::BAD_REQUEST,
        "Invalid Input Provided",
        2001,
        errors,
    )
}

fn not_found() -> Response {
    rest_error(StatusCode::NOT_FOUND, "Not Found", 2100, &[])
}

/// The token of `Authorization: Token token=<t>` (the quoted form `token="<t>"` too).
fn api_token(headers: &HeaderMap) -> Option<&str> {
    let value = header(headers, "authorization")?.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("token") {
        return None;
    }
    let token = rest.trim().strip_prefix("token=")?;
    Some(token.trim_matches('"'))
}

/// The 401 (bad token) or 429 (opt-in REST rate limit) a request gets, or `None` to go on.
fn rejection(sb: &Sandbox, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = api_token(headers).filter(|t| *t == sb.credentials.pagerduty.api_token)
    else {
        return Some(rest_error(
            StatusCode::UNAUTHORIZED,
            "Authentication required",
            2006,
            &[],
        ));
    };
    let wait = sb.limits.check("pagerduty", "rest", token).err()?;
    let mut resp = rest_error(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate Limit Exceeded",
        2020,
        &[],
    );
    resp.headers_mut()
        .insert("ratelimit-reset", HeaderValue::from(retry_after_secs(wait)));
    Some(resp)
}

/// `http://<Host>/pagerduty`, the root every URL in an answer hangs off.
fn base_url(headers: &HeaderMap) -> String {
    let host = header(headers, "host").unwrap_or("127.0.0.1");
    format!("http://{host}/pagerduty")
}

/// Classic pagination parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paging {
    /// Page size (1..=100).
    pub limit: usize,
    /// Items skipped.
    pub offset: usize,
    /// Whether to count all matches into `total`.
    pub total: bool,
}

impl Paging {
    /// Reads `limit`, `offset` and `total`.
    pub fn parse(query: Option<&str>) -> Result<Paging, Vec<String>> {
        let number = |name: &str, default: usize| match query_one(query, name) {
            None => Ok(default),
            Some(s) if s.is_empty() => Ok(default),
            Some(s) => s
                .parse::<usize>()
                .map_err(|_| format!("{name} must be a non-negative integer")),
        };
        let limit = number("limit", DEFAULT_LIMIT).map_err(|e| vec![e])?;
        let offset = number("offset", 0).map_err(|e| vec![e])?;
        let total = query_one(query, "total").is_some_and(|t| t.eq_ignore_ascii_case("true"));
        Ok(Paging {
            limit: limit.clamp(1, MAX_LIMIT),
            offset,
            total,
        })
    }

    /// `{"<key>":[…page…],"limit","offset","more","total"}`.
    pub fn answer(&self, key: &str, all: Vec<Value>) -> Value {
        let count = all.len();
        let page: Vec<Value> = all.into_iter().skip(self.offset).take(self.limit).collect();
        let more = self.offset.saturating_add(page.len()) < count;
        json!({
            key: page,
            "limit": self.limit,
            "offset": self.offset,
            "more": more,
            "total": if self.total { Value::from(count) } else { Value::Null },
        })
    }
}

/// Filters of `GET /incidents`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentQuery {
    statuses: Vec<Status>,
    urgencies: Vec<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    incident_key: Option<String>,
    service_ids: Vec<String>,
    sort: (SortField, bool),
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum SortField {
    #[default]
    Number,
    Created,
    Resolved,
    Urgency,
}

impl IncidentQuery {
    /// Reads and validates the filters; `Err` lists every bad parameter.
    pub fn parse(query: Option<&str>) -> Result<IncidentQuery, Vec<String>> {
        let mut errors = Vec::new();
        let statuses = query_all(query, "statuses")
            .iter()
            .filter_map(|s| {
                let st = Status::parse(s);
                if st.is_none() && errors.is_empty() {
                    errors.push(
                        "Statuses must be a list of triggered, acknowledged, or resolved.".into(),
                    );
                }
                st
            })
            .collect();
        let urgencies = query_all(query, "urgencies");
        if urgencies.iter().any(|u| u != "high" && u != "low") {
            errors.push("Urgencies must be a list of high or low.".into());
        }
        let all_dates = query_one(query, "date_range").as_deref() == Some("all");
        let mut date = |name: &str| {
            let raw = query_one(query, name).filter(|s| !s.is_empty() && !all_dates)?;
            let parsed = parse_date(&raw);
            if parsed.is_none() {
                errors.push(format!("{name} must be a valid ISO 8601 date"));
            }
            parsed
        };
        let since = date("since");
        let until = date("until");
        let sort = parse_sort(query_one(query, "sort_by").as_deref(), &mut errors);
        let q = IncidentQuery {
            statuses,
            urgencies,
            since,
            until,
            incident_key: query_one(query, "incident_key"),
            service_ids: query_all(query, "service_ids"),
            sort,
        };
        if errors.is_empty() {
            Ok(q)
        } else {
            Err(errors)
        }
    }

    fn matches(&self, inc: &Incident) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&inc.status))
            && (self.urgencies.is_empty() || self.urgencies.iter().any(|u| u == inc.urgency()))
            && self.since.is_none_or(|t| inc.created_at >= t)
            && self.until.is_none_or(|t| inc.created_at < t)
            && self.incident_key.as_ref().is_none_or(|k| *k == inc.key)
            && (self.service_ids.is_empty()
                || self.service_ids.iter().any(|s| s == render::SERVICE_ID))
    }

    fn order(&self, a: &Incident, b: &Incident) -> std::cmp::Ordering {
        let (field, desc) = self.sort;
        let ord = match field {
            SortField::Number => a.number.cmp(&b.number),
            SortField::Created => a.created_at.cmp(&b.created_at),
            SortField::Resolved => a.resolved_at.cmp(&b.resolved_at),
            SortField::Urgency => a.urgency().cmp(b.urgency()),
        };
        let ord = ord.then(a.number.cmp(&b.number));
        if desc { ord.reverse() } else { ord }
    }
}

fn parse_sort(raw: Option<&str>, errors: &mut Vec<String>) -> (SortField, bool) {
    let Some(raw) = raw.filter(|s| !s.is_empty()) else {
        return (SortField::Number, false);
    };
    let (field, dir) = raw.split_once(':').unwrap_or((raw, "asc"));
    let field = match field {
        "incident_number" => Some(SortField::Number),
        "created_at" => Some(SortField::Created),
        "resolved_at" => Some(SortField::Resolved),
        "urgency" => Some(SortField::Urgency),
        _ => None,
    };
    match (field, dir) {
        (Some(f), "asc") => (f, false),
        (Some(f), "desc") => (f, true),
        _ => {
            errors.push(
                "Sort by must be incident_number, created_at, resolved_at or urgency, \
                 optionally followed by :asc or :desc."
                    .into(),
            );
            (SortField::Number, false)
        }
    }
}

/// ISO 8601 as PD accepts it: full timestamps with offset (`Z`, `+00:00`, `+0000`) or dates.
fn parse_date(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(t) = DateTime::parse_from_str(raw, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

/// `GET /incidents`.
pub async fn list_incidents(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(r) = rejection(&sb, &headers) {
        return r;
    }
    let query = query.as_deref();
    let (paging, filters) = match (Paging::parse(query), IncidentQuery::parse(query)) {
        (Ok(p), Ok(f)) => (p, f),
        (Err(e), _) | (_, Err(e)) => return invalid(&e),
    };
    let base = base_url(&headers);
    let all = sb.pagerduty.with(|s| {
        let mut hits: Vec<&Incident> = s.incidents.iter().filter(|i| filters.matches(i)).collect();
        hits.sort_by(|a, b| filters.order(a, b));
        hits.into_iter()
            .map(|i| render::incident(i, &base))
            .collect::<Vec<_>>()
    });
    Json(paging.answer("incidents", all)).into_response()
}

/// `GET /incidents/{id}` (id or incident number) → `{"incident":{…}}`.
pub async fn get_incident(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = rejection(&sb, &headers) {
        return r;
    }
    let base = base_url(&headers);
    match sb
        .pagerduty
        .with(|s| s.find(&id).map(|i| render::incident_detail(i, &base)))
    {
        Some(inc) => Json(json!({ "incident": inc })).into_response(),
        None => not_found(),
    }
}

/// `GET /incidents/{id}/alerts` (`statuses[]` triggered|resolved, `alert_key`, paging).
pub async fn list_alerts(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(r) = rejection(&sb, &headers) {
        return r;
    }
    let query = query.as_deref();
    let paging = match Paging::parse(query) {
        Ok(p) => p,
        Err(e) => return invalid(&e),
    };
    let statuses = query_all(query, "statuses");
    if statuses.iter().any(|s| s != "triggered" && s != "resolved") {
        return invalid(&["Statuses must be a list of triggered or resolved.".into()]);
    }
    let alert_key = query_one(query, "alert_key");
    let base = base_url(&headers);
    let alerts = sb.pagerduty.with(|s| {
        let inc = s.find(&id)?;
        let alert = render::alert(inc, &base);
        let status_ok =
            statuses.is_empty() || statuses.iter().any(|st| alert["status"] == st.as_str());
        let key_ok = alert_key.as_ref().is_none_or(|k| *k == inc.key);
        Some(if status_ok && key_ok {
            vec![alert]
        } else {
            vec![]
        })
    });
    match alerts {
        Some(list) => Json(paging.answer("alerts", list)).into_response(),
        None => not_found(),
    }
}

/// `GET /incidents/{id}/log_entries`: every event the incident received, newest first as PD
/// lists them.
pub async fn list_log_entries(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(r) = rejection(&sb, &headers) {
        return r;
    }
    let paging = match Paging::parse(query.as_deref()) {
        Ok(p) => p,
        Err(e) => return invalid(&e),
    };
    let base = base_url(&headers);
    let entries = sb.pagerduty.with(|s| {
        let inc = s.find(&id)?;
        Some(
            inc.log
                .iter()
                .rev()
                .map(|e| render::log_entry(inc, e, &base))
                .collect::<Vec<_>>(),
        )
    });
    match entries {
        Some(list) => Json(paging.answer("log_entries", list)).into_response(),
        None => not_found(),
    }
}

/// `GET /_sandbox/pagerduty/incidents`: every incident with its alert and every event it
/// received, plus acknowledge/resolve events that matched nothing.
pub async fn control_incidents(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let body = sb.pagerduty.with(|s| {
        json!({
            "incidents": s.incidents.iter().map(|i| render::control_incident(i, &base)).collect::<Vec<_>>(),
            "dropped_events": s.dropped.iter().map(render::received_event).collect::<Vec<_>>(),
        })
    });
    Json(body).into_response()
}

/// Any other path under `/pagerduty`: the REST 404 under `/api`, the Events shape elsewhere.
pub async fn unknown_path(OriginalUri(uri): OriginalUri) -> Response {
    if uri.path().starts_with("/pagerduty/api") {
        return not_found();
    }
    let body = json!({
        "status": "not found",
        "message": "Not Found",
        "errors": [format!("{} not found", uri.path())],
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_caps_and_more() {
        let p = Paging::parse(None).unwrap();
        assert_eq!((p.limit, p.offset, p.total), (25, 0, false));
        let p = Paging::parse(Some("limit=500&offset=1&total=true")).unwrap();
        assert_eq!((p.limit, p.offset, p.total), (100, 1, true));
        assert!(Paging::parse(Some("offset=-1")).is_err());
        let p = Paging::parse(Some("limit=2&offset=1&total=true")).unwrap();
        let v = p.answer("x", (0..4).map(Value::from).collect());
        assert_eq!(v["x"], json!([1, 2]));
        assert_eq!(v["more"], true);
        assert_eq!(v["total"], 4);
    }

    #[test]
    fn incident_filters_validate() {
        assert!(IncidentQuery::parse(Some("statuses[]=triggered&statuses[]=resolved")).is_ok());
        assert!(IncidentQuery::parse(Some("statuses[]=open")).is_err());
        assert!(IncidentQuery::parse(Some("since=yesterday")).is_err());
        assert!(IncidentQuery::parse(Some("since=yesterday&date_range=all")).is_ok());
        assert!(IncidentQuery::parse(Some("sort_by=created_at:desc")).is_ok());
        assert!(IncidentQuery::parse(Some("sort_by=title")).is_err());
        assert!(parse_date("2015-07-17T08:42:58.315+0000").is_some());
        assert!(parse_date("2024-01-02").is_some());
    }

    #[test]
    fn token_header_forms() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Token token=abc"));
        assert_eq!(api_token(&h), Some("abc"));
        h.insert("authorization", HeaderValue::from_static("Bearer abc"));
        assert_eq!(api_token(&h), None);
    }
}
