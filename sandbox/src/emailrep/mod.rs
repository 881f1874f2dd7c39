//! The EmailRep simulator (vendor-apis §10), mounted under `/emailrep`: base URL
//! `http://…/emailrep`, then `GET /{email}` as on `https://emailrep.io` (the python client
//! `emailrep` sets `base_url` and calls `GET {base}/{email}?summary=true`).
//!
//! - `GET /{email}` with `Key` and a `User-Agent` → `{"email","reputation","suspicious",
//!   "references","details":{…}}`, plus `summary` with `?summary=true`. The answer follows
//!   `sandbox::intel` for the address (the seeded phishing sender is blacklisted, on a new
//!   domain, `reputation: "low"`; Acme's people are `high`), with domain facts from the domain.
//! - Errors `{"status":"fail","reason"}`: 400 malformed address or no `User-Agent`, 401 wrong
//!   key. No key at all answers 429, as EmailRep does since its unauthenticated API was closed.
//! - Rate limit `emailrep`/`query` per key, off by default (`POST /_sandbox/limits`), 429 with
//!   EmailRep's "exceeded daily limit" reason.
//!
//! Control: `POST /_sandbox/emailrep/emails` `{"email", …fields, "details"?:{…}}` adds or
//! replaces one address's answer (top-level fields and `details` merged over the rendered
//! ones) → the stored answer.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

use super::args;
use super::control;
use super::intel::{self, Kind, Verdict};
use super::{Sandbox, Seed};

/// Free mail providers EmailRep flags as `free_provider`.
const FREE_PROVIDERS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "hotmail.com",
    "proton.me",
];

/// State of the EmailRep simulator: answers added by tests.
#[derive(Default)]
pub struct EmailRepSim {
    records: Mutex<HashMap<String, Map<String, Value>>>,
}

impl EmailRepSim {
    /// No records: every answer comes from [`intel`] until a test adds one.
    pub fn new(_seed: &Seed) -> Self {
        Self::default()
    }

    /// Back to the seed: records dropped.
    pub fn reset(&self, _seed: &Seed) {
        self.records.lock().clear();
    }
}

/// Vendor routes, mounted at `/emailrep`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/{email}", get(query))
        .fallback(unknown_path)
}

/// Control routes under `/_sandbox/emailrep`.
pub fn control_routes() -> Router<Sandbox> {
    Router::new().route("/emails", post(control_put))
}

/// EmailRep's error answer `{"status":"fail","reason"}`.
pub fn fail(status: StatusCode, reason: &str) -> Response {
    (status, Json(json!({"status": "fail", "reason": reason}))).into_response()
}

const DAILY_LIMIT: &str =
    "exceeded daily limit. please wait 24 hrs or visit emailrep.io/key for an api key.";

/// The answer to an injected fault: the `fail` body; `Retry-After` only when given.
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let reason = if status == StatusCode::TOO_MANY_REQUESTS {
        DAILY_LIMIT
    } else {
        status.canonical_reason().unwrap_or("error")
    };
    let mut resp = match body {
        Some(b) => (status, Json(b)).into_response(),
        None => fail(status, reason),
    };
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// `GET /{email}`.
async fn query(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(email): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let key = match args::header(&headers, "key").map(str::trim) {
        None | Some("") => return fail(StatusCode::TOO_MANY_REQUESTS, DAILY_LIMIT),
        Some(k) => k,
    };
    if key != sb.credentials.emailrep.api_key {
        return fail(StatusCode::UNAUTHORIZED, "invalid api key");
    }
    if args::header(&headers, "user-agent").is_none_or(|ua| ua.trim().is_empty()) {
        return fail(StatusCode::BAD_REQUEST, "missing User-Agent header");
    }
    if sb.limits.check("emailrep", "query", key).is_err() {
        return fail(StatusCode::TOO_MANY_REQUESTS, DAILY_LIMIT);
    }
    let Some(email) = intel::canonical(Kind::Email, &email) else {
        return fail(StatusCode::BAD_REQUEST, "invalid email");
    };
    let summary = args::query_one(q.as_deref(), "summary").is_some_and(|v| v == "true");
    Json(render(&sb, &email, summary)).into_response()
}

/// The answer for a canonical address, records applied.
fn render(sb: &Sandbox, email: &str, summary: bool) -> Value {
    let p = intel::profile(Kind::Email, email);
    let b = p.bytes;
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let dp = intel::profile(Kind::Domain, domain);
    let own = domain == intel::OWN_DOMAIN || domain.ends_with(&format!(".{}", intel::OWN_DOMAIN));
    let free = FREE_PROVIDERS.contains(&domain);
    let bad = p.verdict == Verdict::Malicious;
    let shady = p.verdict != Verdict::Harmless || dp.verdict == Verdict::Malicious;
    let reputation = match (p.verdict, own) {
        (_, true) => "high",
        (Verdict::Malicious, _) => "low",
        (Verdict::Suspicious, _) => "low",
        _ if dp.verdict == Verdict::Malicious => "low",
        _ if b[27] < 80 => "medium",
        _ => "high",
    };
    let new_domain = dp.verdict == Verdict::Malicious || (!own && !free && b[28] < 30);
    let days = if new_domain {
        3 + i64::from(b[29] % 20)
    } else {
        1_500 + i64::from(b[29]) * 20
    };
    let references = if bad {
        2 + u64::from(b[30] % 5)
    } else {
        10 + u64::from(b[30])
    };
    let profiles: Vec<&str> = if shady {
        vec![]
    } else {
        vec!["linkedin", "twitter"]
    };
    let details = json!({
        "blacklisted": bad,
        "malicious_activity": bad,
        "malicious_activity_recent": bad,
        "credentials_leaked": !bad && b[31] < 100,
        "credentials_leaked_recent": false,
        "data_breach": !bad && b[31] < 100,
        "first_seen": if new_domain { "never".to_string() } else { "07/01/2019".to_string() },
        "last_seen": if new_domain { "never".to_string() } else { "01/03/2026".to_string() },
        "domain_exists": true,
        "domain_reputation": if free { "n/a" } else if dp.verdict == Verdict::Malicious { "low" } else if own { "high" } else { "medium" },
        "new_domain": new_domain,
        "days_since_domain_creation": days,
        "suspicious_tld": false,
        "spam": bad,
        "free_provider": free,
        "disposable": false,
        "deliverable": true,
        "accept_all": false,
        "valid_mx": true,
        "primary_mx": format!("mx1.{domain}"),
        "spoofable": shady,
        "spf_strict": !shady,
        "dmarc_enforced": !shady,
        "profiles": profiles,
    });
    let mut out = json!({
        "email": email,
        "reputation": reputation,
        "suspicious": shady && !own,
        "references": references,
        "details": details,
    });
    if let Some(rec) = sb.emailrep.records.lock().get(email) {
        for (k, v) in rec {
            match (k.as_str(), v, out.get_mut("details")) {
                ("details", Value::Object(d), Some(Value::Object(target))) => {
                    target.extend(d.clone());
                }
                _ => out[k.as_str()] = v.clone(),
            }
        }
    }
    if summary {
        let text = summary_text(&out);
        out["summary"] = json!(text);
    }
    out
}

fn summary_text(out: &Value) -> String {
    let email = out["email"].as_str().unwrap_or_default();
    let rep = out["reputation"].as_str().unwrap_or("none");
    let d = &out["details"];
    let mut s = format!("{email} has {rep} reputation");
    if out["suspicious"] == json!(true) {
        s.push_str(" and is suspicious");
    }
    s.push('.');
    if d["blacklisted"] == json!(true) {
        s.push_str(" It has been blacklisted for malicious activity.");
    }
    if d["new_domain"] == json!(true) {
        s.push_str(" The domain was created recently.");
    }
    s
}

/// Any other path under `/emailrep` (e.g. a second path segment).
async fn unknown_path() -> Response {
    fail(StatusCode::NOT_FOUND, "not found")
}

/// `POST /_sandbox/emailrep/emails`: adds or replaces one address's answer.
async fn control_put(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let mut rec = match control::parse_body::<Map<String, Value>>(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Some(email) = rec
        .get("email")
        .and_then(Value::as_str)
        .and_then(|e| intel::canonical(Kind::Email, e))
    else {
        return control::bad_request("email (a valid address) is required");
    };
    if rec.get("details").is_some_and(|d| !d.is_object()) {
        return control::bad_request("details must be an object");
    }
    rec.remove("email");
    sb.emailrep.records.lock().insert(email.clone(), rec);
    Json(render(&sb, &email, false)).into_response()
}
