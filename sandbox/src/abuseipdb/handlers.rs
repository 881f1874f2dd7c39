//! HTTP handlers of the AbuseIPDB simulator: `check`, and the control record call.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::{error, error_body};
use crate::Sandbox;
use crate::args;
use crate::control;
use crate::intel::{self, Kind, Verdict};

/// Report categories AbuseIPDB numbers (a subset): 14 port scan, 15 hacking, 18 brute-force,
/// 19 bad web bot, 20 exploited host, 21 web app attack, 22 SSH.
const CATEGORIES: &[u8] = &[14, 15, 18, 19, 20, 21, 22];

fn wants_json(headers: &HeaderMap) -> bool {
    args::header(headers, "accept").is_some_and(|a| a.to_ascii_lowercase().contains("json"))
}

fn rate_headers(resp: &mut Response, limit: u64, remaining: u64) {
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
}

/// `GET /api/v2/check`.
pub async fn check(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let json_ok = wants_json(&headers);
    let key = args::header(&headers, "key").map(str::trim).unwrap_or("");
    if key != sb.credentials.abuseipdb.api_key {
        let detail = "Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.";
        return error(
            StatusCode::UNAUTHORIZED,
            error_body(StatusCode::UNAUTHORIZED, detail, None),
            json_ok,
        );
    }
    let q = query.as_deref();
    let invalid = |detail: &str, param: &str| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            error_body(StatusCode::UNPROCESSABLE_ENTITY, detail, Some(param)),
            json_ok,
        )
    };
    let ip = match args::query_one(q, "ipAddress").filter(|s| !s.trim().is_empty()) {
        None => return invalid("The ip address field is required.", "ipAddress"),
        Some(raw) => match intel::canonical(Kind::Ip, &raw) {
            Some(ip) => ip,
            None => {
                return invalid(
                    "The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).",
                    "ipAddress",
                );
            }
        },
    };
    let max_age = match args::query_one(q, "maxAgeInDays").filter(|s| !s.is_empty()) {
        None => 30,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=365).contains(&n) => n,
            _ => {
                return invalid(
                    "The max age in days must be between 1 and 365.",
                    "maxAgeInDays",
                );
            }
        },
    };
    let verbose = args::query_all(q, "verbose")
        .iter()
        .all(|v| !matches!(v.as_str(), "false" | "0"))
        && q.is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "verbose")
        });
    let limit = sb.settings.get().abuseipdb_daily_limit;
    let now = Utc::now();
    let window = sb.abuseipdb.daily.take(key, limit, now);
    if !window.allowed {
        let detail = format!(
            "Daily rate limit of {limit} requests exceeded for this endpoint. See headers for additional details."
        );
        let mut resp = error(
            StatusCode::TOO_MANY_REQUESTS,
            error_body(StatusCode::TOO_MANY_REQUESTS, &detail, None),
            json_ok,
        );
        rate_headers(&mut resp, limit, 0);
        let h = resp.headers_mut();
        h.insert(
            "retry-after",
            HeaderValue::from(window.reset_after_secs(now)),
        );
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from(window.reset.timestamp()),
        );
        return resp;
    }
    let data = render(&sb, &ip, max_age, verbose, now);
    let mut resp = Json(json!({ "data": data })).into_response();
    rate_headers(&mut resp, limit, window.remaining);
    resp
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The `data` object for an IP at `now`, records applied.
fn render(sb: &Sandbox, ip: &str, max_age: i64, verbose: bool, now: DateTime<Utc>) -> Value {
    let p = intel::profile(Kind::Ip, ip);
    let b = p.bytes;
    let public = intel::is_public(ip);
    let all_reports = match p.verdict {
        Verdict::Malicious => 20 + u64::from(b[26] % 80),
        Verdict::Suspicious => 1 + u64::from(b[26] % 5),
        Verdict::Harmless => 0,
    };
    let all_reports = if public { all_reports } else { 0 };
    // Report i is i * spacing hours old; spacing spreads them over about 120 days.
    let spacing = 2_880 / all_reports.max(1);
    let in_window: Vec<u64> = (0..all_reports)
        .filter(|i| i64::try_from(i * spacing).unwrap_or(i64::MAX) < max_age * 24)
        .collect();
    let total = in_window.len() as u64;
    let known = intel::known(Kind::Ip, ip);
    let (country, country_name) = match (public, ip) {
        (false, _) => (Value::Null, Value::Null),
        (_, "203.0.113.10") => (json!("US"), json!("United States of America")),
        _ => {
            let c = [
                ("NL", "Netherlands"),
                ("RU", "Russian Federation"),
                ("US", "United States of America"),
                ("SG", "Singapore"),
            ][usize::from(b[24] % 4)];
            (json!(c.0), json!(c.1))
        }
    };
    let isp = match known {
        Some(k) => k.label.to_string(),
        None if !public => "Private network".into(),
        None => ["Example Hosting Ltd", "DigitalCloud Inc.", "Tele Net AS"][usize::from(b[23] % 3)]
            .into(),
    };
    let tor = known.is_some_and(|k| k.label.contains("Tor"));
    let mut data = json!({
        "ipAddress": ip,
        "isPublic": public,
        "ipVersion": if ip.contains(':') { 6 } else { 4 },
        "isWhitelisted": if public { json!(ip == "203.0.113.10") } else { Value::Null },
        "abuseConfidenceScore": if total > 0 { p.score } else { 0 },
        "countryCode": country,
        "usageType": if public { json!("Data Center/Web Hosting/Transit") } else { json!("Reserved") },
        "isp": isp,
        "domain": if public { json!(format!("{}.example", isp.to_ascii_lowercase().split_whitespace().next().unwrap_or("isp"))) } else { Value::Null },
        "hostnames": [],
        "isTor": tor,
        "totalReports": total,
        "numDistinctUsers": total.div_ceil(2),
        "lastReportedAt": if total > 0 { json!(stamp(now - Duration::hours(1))) } else { Value::Null },
    });
    if verbose {
        let reports: Vec<Value> = in_window
            .iter()
            .take(25)
            .map(|i| {
                let age = i64::try_from(i * spacing).unwrap_or(0);
                let c1 = CATEGORIES[usize::from(b[(*i as usize) % 32]) % CATEGORIES.len()];
                json!({
                    "reportedAt": stamp(now - Duration::hours(age + 1)),
                    "comment": if tor { "SSH brute force / password spraying" } else { "Port scan and exploit attempts" },
                    "categories": [c1, 18],
                    "reporterId": 1_000 + i,
                    "reporterCountryCode": "US",
                    "reporterCountryName": "United States of America",
                })
            })
            .collect();
        data["countryName"] = country_name;
        data["reports"] = json!(reports);
    }
    if let Some(rec) = sb.abuseipdb.records.lock().get(ip)
        && let Value::Object(m) = &mut data
    {
        m.extend(rec.clone());
    }
    data
}

/// Any other path under `/abuseipdb`.
pub async fn unknown_path(headers: HeaderMap) -> Response {
    error(
        StatusCode::NOT_FOUND,
        error_body(
            StatusCode::NOT_FOUND,
            "The requested endpoint does not exist.",
            None,
        ),
        wants_json(&headers),
    )
}

/// `POST /_sandbox/abuseipdb/ips`: adds or replaces one IP's answer.
pub async fn control_put(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let mut rec = match control::parse_body::<Map<String, Value>>(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Some(ip) = rec
        .get("ipAddress")
        .and_then(Value::as_str)
        .and_then(|s| intel::canonical(Kind::Ip, s))
    else {
        return control::bad_request("ipAddress (a valid IP address) is required");
    };
    rec.insert("ipAddress".into(), json!(ip));
    sb.abuseipdb.records.lock().insert(ip.clone(), rec);
    Json(render(&sb, &ip, 365, false, Utc::now())).into_response()
}
