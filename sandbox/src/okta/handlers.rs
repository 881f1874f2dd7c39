//! HTTP handlers of the Okta simulator: auth and the rate window first, then the users,
//! sessions, lifecycle and factor routes, then the control routes. Every vendor answer goes
//! through [`Call::finish`], so each one carries the `X-Rate-Limit-*` headers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error;
use super::expr;
use super::state::{PushScript, Store, Transaction};
use crate::Sandbox;
use crate::args::{header, query_one};
use crate::control;

/// Okta's default and largest page of `GET /api/v1/users`.
const MAX_LIMIT: usize = 200;

/// One authorized request: its rate window, for the headers of its answer.
struct Call {
    limit: Option<(u32, u32, i64)>,
}

impl Call {
    /// Adds `X-Rate-Limit-Limit`, `-Remaining` and `-Reset` to an answer.
    fn finish(&self, mut resp: Response) -> Response {
        if let Some((limit, remaining, reset)) = self.limit {
            let h = resp.headers_mut();
            h.insert("x-rate-limit-limit", HeaderValue::from(limit));
            h.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
            h.insert("x-rate-limit-reset", HeaderValue::from(reset));
        }
        resp
    }
}

/// `value` without a leading `scheme` (case-insensitive), if it starts with it.
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let head = value.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| &value[scheme.len()..])
}

/// Checks `SSWS <token>` and counts the request in the current one-minute window. The error
/// is the HTTP answer itself, hence its size.
#[allow(clippy::result_large_err)]
fn begin(sb: &Sandbox, headers: &HeaderMap) -> Result<Call, Response> {
    // okta-sdk-python 3.x sends `SSWS<token>` with no space (it concatenates the mode and the
    // token), so the space after the scheme is optional here.
    let token = header(headers, "authorization")
        .map(str::trim)
        .and_then(|v| strip_scheme(v, "SSWS").or_else(|| strip_scheme(v, "Bearer")))
        .map(str::trim);
    if token != Some(sb.credentials.okta.api_token.as_str()) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
            &[],
        ));
    }
    let Some(limit) = sb
        .limits
        .list()
        .into_iter()
        .find(|l| l.service == "okta" && l.method == "api")
        .map(|l| l.per_minute)
    else {
        return Ok(Call { limit: None });
    };
    let now = Utc::now().timestamp();
    let minute = now.div_euclid(60);
    let count = sb.okta.with(|s| {
        if s.window.0 != minute {
            s.window = (minute, 0);
        }
        s.window.1 = s.window.1.saturating_add(1);
        s.window.1
    });
    let reset = (minute + 1) * 60;
    let call = Call {
        limit: Some((limit, limit.saturating_sub(count), reset)),
    };
    if count > limit {
        let resp = error(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
            &[],
        );
        return Err(call.finish(resp));
    }
    Ok(call)
}

/// `http://<Host>/okta`.
fn base_url(headers: &HeaderMap) -> String {
    format!(
        "http://{}/okta",
        header(headers, "host").unwrap_or("127.0.0.1")
    )
}

fn user_not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {id} (User)"),
        &[],
    )
}

fn not_found(what: &str, id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {id} ({what})"),
        &[],
    )
}

fn invalid_search(msg: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "E0000031",
        "Invalid search criteria.",
        &[msg.to_string()],
    )
}

fn link(url: &str, rel: &str) -> String {
    format!("<{url}>; rel=\"{rel}\"")
}

/// `GET /api/v1/users?q=&filter=&search=&limit=&after=`.
pub async fn list_users(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let call = match begin(&sb, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let q = q.as_deref();
    let resp = (|| {
        let limit = match query_one(q, "limit").filter(|s| !s.is_empty()) {
            Some(s) => match s.parse::<usize>() {
                Ok(n) if n >= 1 => n.min(MAX_LIMIT),
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "E0000001",
                        "Api validation failed: limit",
                        &[format!("limit: '{s}' is not a positive number")],
                    );
                }
            },
            None => MAX_LIMIT,
        };
        let mut conditions = Vec::new();
        for name in ["filter", "search"] {
            if let Some(text) = query_one(q, name).filter(|s| !s.trim().is_empty()) {
                match expr::parse(&text) {
                    Ok(e) => conditions.push(e),
                    Err(e) => return invalid_search(&format!("{name}: {e}")),
                }
            }
        }
        let term = query_one(q, "q")
            .map(|s| s.to_lowercase())
            .filter(|s| !s.is_empty());
        let after = query_one(q, "after").filter(|s| !s.is_empty());
        let base = base_url(&headers);
        sb.okta.with(|s| {
            let all: Vec<Value> = s
                .users
                .iter()
                .map(|u| u.to_json(&base))
                .filter(|u| conditions.iter().all(|c| c.matches(u)))
                .filter(|u| {
                    term.as_ref().is_none_or(|t| {
                        ["firstName", "lastName", "email", "login"].iter().any(|f| {
                            u["profile"][f]
                                .as_str()
                                .is_some_and(|v| v.to_lowercase().starts_with(t.as_str()))
                        })
                    })
                })
                .collect();
            let start = match &after {
                Some(id) => all
                    .iter()
                    .position(|u| u["id"] == id.as_str())
                    .map(|i| i + 1)
                    .unwrap_or(all.len()),
                None => 0,
            };
            let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
            let mut links = vec![link(&format!("{base}/api/v1/users?limit={limit}"), "self")];
            if start + page.len() < all.len()
                && let Some(last) = page.last().and_then(|u| u["id"].as_str())
            {
                links.push(link(
                    &format!("{base}/api/v1/users?after={last}&limit={limit}"),
                    "next",
                ));
            }
            let mut resp = Json(Value::Array(page)).into_response();
            for l in links {
                if let Ok(v) = HeaderValue::from_str(&l) {
                    resp.headers_mut().append("link", v);
                }
            }
            resp
        })
    })();
    call.finish(resp)
}

/// `GET /api/v1/users/{id or login}`.
pub async fn get_user(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let call = match begin(&sb, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let base = base_url(&headers);
    let resp = sb.okta.with(|s| match s.find(&id) {
        Some(i) => Json(s.users[i].to_json(&base)).into_response(),
        None => user_not_found(&id),
    });
    call.finish(resp)
}

/// `DELETE /api/v1/users/{id}/sessions?oauthTokens=` → 204.
pub async fn clear_sessions(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let call = match begin(&sb, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let oauth = query_one(q.as_deref(), "oauthTokens").is_some_and(|v| v == "true");
    let resp = sb.okta.with(|s| match s.find(&id) {
        Some(i) => {
            let u = &mut s.users[i];
            u.sessions = 0;
            u.sessions_cleared += 1;
            u.oauth_tokens_revoked = oauth;
            StatusCode::NO_CONTENT.into_response()
        }
        None => user_not_found(&id),
    });
    call.finish(resp)
}

/// `POST /api/v1/users/{id}/lifecycle/{suspend|unsuspend}` → 200 `{}`.
pub async fn lifecycle(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let call = match begin(&sb, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let resp = sb.okta.with(|s| {
        let Some(i) = s.find(&id) else {
            return user_not_found(&id);
        };
        let (from, to, refusal) = match action.as_str() {
            "suspend" => (
                "ACTIVE",
                "SUSPENDED",
                "Cannot suspend a user that is not active",
            ),
            "unsuspend" => (
                "SUSPENDED",
                "ACTIVE",
                "Cannot unsuspend a user that is not suspended",
            ),
            _ => return not_found("Lifecycle operation", &action),
        };
        let u = &mut s.users[i];
        if u.status != from {
            return error(
                StatusCode::BAD_REQUEST,
                "E0000001",
                &format!("Api validation failed: {action}"),
                &[format!("{refusal} (status is {})", u.status)],
            );
        }
        let now = Utc::now();
        u.status = to.into();
        u.status_changed = now;
        u.last_updated = now;
        Json(json!({})).into_response()
    });
    call.finish(resp)
}

/// `GET /api/v1/users/{id}/factors`.
pub async fn list_factors(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let call = match begin(&sb, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let base = base_url(&headers);
    let resp = sb.okta.with(|s| match s.find(&id) {
        Some(i) => Json(json!([s.users[i].push_factor(&base)])).into_response(),
        None => user_not_found(&id),
    });
    call.finish(resp)
}

/// `GET /api/v1/users/{id}/factors/{fid}`.
pub async fn get_factor(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((id, fid)): Path<(String, String)>,
) -> Response {
    let call = match begin(&sb, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let base = base_url(&headers);
    let resp = sb.okta.with(|s| match s.find(&id) {
        Some(i) if s.users[i].push_factor_id == fid => {
            Json(s.users[i].push_factor(&base)).into_response()
        }
        Some(_) => not_found("UserFactor", &fid),
        None => user_not_found(&id),
    });
    call.finish(resp)
}

fn tx_json(s: &Store, tx: &Transaction, result: &str, base: &str) -> Value {
    let login = s
        .users
        .iter()
        .find(|u| u.id == tx.user_id)
        .map(|u| u.login().to_string())
        .unwrap_or_default();
    let factor = format!(
        "{base}/api/v1/users/{}/factors/{}",
        tx.user_id, tx.factor_id
    );
    let poll = format!("{factor}/transactions/{}", tx.id);
    let links = match result {
        "WAITING" => json!({
            "poll": {"href": poll, "hints": {"allow": ["GET"]}},
            "cancel": {"href": poll, "hints": {"allow": ["DELETE"]}},
        }),
        "SUCCESS" => json!({"factor": {"href": factor, "hints": {"allow": ["GET", "DELETE"]}}}),
        _ => json!({
            "verify": {"href": format!("{factor}/verify"), "hints": {"allow": ["POST"]}},
            "factor": {"href": factor, "hints": {"allow": ["GET", "DELETE"]}},
        }),
    };
    json!({
        "factorResult": result,
        "profile": {"credentialId": login},
        "expiresAt": tx.expires_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "_links": links,
    })
}

/// `POST /api/v1/users/{id}/factors/{fid}/verify` → 201 `WAITING` with a poll link.
pub async fn verify(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((id, fid)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let call = match begin(&sb, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !body.iter().all(u8::is_ascii_whitespace) && serde_json::from_slice::<Value>(&body).is_err()
    {
        return call.finish(error(
            StatusCode::BAD_REQUEST,
            "E0000003",
            "The request body was not well-formed.",
            &[],
        ));
    }
    let base = base_url(&headers);
    let resp = sb.okta.with(|s| {
        let Some(i) = s.find(&id) else {
            return user_not_found(&id);
        };
        if s.users[i].push_factor_id != fid {
            return not_found("UserFactor", &fid);
        }
        if s.users[i].status != "ACTIVE" {
            return error(
                StatusCode::FORBIDDEN,
                "E0000006",
                "You do not have permission to perform the requested action",
                &[format!("user status is {}", s.users[i].status)],
            );
        }
        let tx = s.push(i, Utc::now());
        // Okta's verify answer has no `profile` (the SDK's model types it as a map of maps).
        let mut answer = tx_json(s, &tx, "WAITING", &base);
        if let Some(m) = answer.as_object_mut() {
            m.remove("profile");
        }
        (StatusCode::CREATED, Json(answer)).into_response()
    });
    call.finish(resp)
}

/// `GET /api/v1/users/{id}/factors/{fid}/transactions/{tid}`: the push's state now.
pub async fn transaction(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((id, fid, tid)): Path<(String, String, String)>,
) -> Response {
    let call = match begin(&sb, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let base = base_url(&headers);
    let resp = sb.okta.with(|s| {
        let Some(i) = s.find(&id) else {
            return user_not_found(&id);
        };
        let uid = s.users[i].id.clone();
        let Some(t) = s
            .transactions
            .iter()
            .position(|t| t.id == tid && t.user_id == uid && t.factor_id == fid)
        else {
            return not_found("Transaction", &tid);
        };
        let result = s.transactions[t].poll(Utc::now());
        let tx = s.transactions[t].clone();
        Json(tx_json(s, &tx, &result, &base)).into_response()
    });
    call.finish(resp)
}

/// Any other path: Okta's 404.
pub async fn unknown_path(uri: Uri) -> Response {
    not_found("Resource", uri.path())
}

/// What `POST /_sandbox/okta/users` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    profile: Map<String, Value>,
    #[serde(default)]
    status: Option<String>,
}

fn control_view(s: &Store, i: usize, base: &str) -> Value {
    let u = &s.users[i];
    let mut v = u.to_json(base);
    v["sessions"] = json!(u.sessions);
    v["sessions_cleared"] = json!(u.sessions_cleared);
    v["oauth_tokens_revoked"] = json!(u.oauth_tokens_revoked);
    v["push_factor_id"] = json!(u.push_factor_id);
    v
}

/// `POST /_sandbox/okta/users`: add or replace (by `profile.login`) one user.
pub async fn control_put_user(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut input = match control::parse_body::<UserBody>(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(login) = input
        .profile
        .get("login")
        .and_then(Value::as_str)
        .map(str::to_string)
        .filter(|l| !l.is_empty())
    else {
        return control::bad_request("profile.login (a non-empty string) is required");
    };
    const STATUSES: &[&str] = &[
        "ACTIVE",
        "DEPROVISIONED",
        "LOCKED_OUT",
        "PASSWORD_EXPIRED",
        "PROVISIONED",
        "RECOVERY",
        "STAGED",
        "SUSPENDED",
    ];
    if let Some(s) = &input.status
        && !STATUSES.contains(&s.as_str())
    {
        return control::bad_request(format!("status must be one of {}", STATUSES.join(", ")));
    }
    input.profile.entry("email").or_insert_with(|| json!(login));
    let base = base_url(&headers);
    sb.okta.with(|s| {
        let i = s.upsert(input.profile, input.status, Utc::now());
        Json(control_view(s, i, &base)).into_response()
    })
}

/// `GET /_sandbox/okta/users`: every user with its sessions.
pub async fn control_users(State(sb): State<Sandbox>, headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    Json(
        json!({"users": sb.okta.with(|s| (0..s.users.len()).map(|i| control_view(s, i, &base)).collect::<Vec<_>>())}),
    )
}

const RESULTS: &[&str] = &["WAITING", "SUCCESS", "REJECTED", "TIMEOUT"];

/// What `POST /_sandbox/okta/push` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushBody {
    user: String,
    result: String,
    #[serde(default)]
    after_polls: u32,
    #[serde(default = "one")]
    times: u32,
}

fn one() -> u32 {
    1
}

/// `POST /_sandbox/okta/push`: how that user's next push(es) resolve.
pub async fn control_push(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let input = match control::parse_body::<PushBody>(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !RESULTS.contains(&input.result.as_str()) {
        return control::bad_request(format!("result must be one of {}", RESULTS.join(", ")));
    }
    sb.okta.with(|s| {
        let Some(i) = s.find(&input.user) else {
            return control::error(StatusCode::NOT_FOUND, format!("no Okta user {}", input.user));
        };
        let uid = s.users[i].id.clone();
        s.scripts.retain(|(u, _)| *u != uid);
        s.scripts.push((uid.clone(), PushScript { result: input.result.clone(), after_polls: input.after_polls, times: input.times }));
        Json(json!({"user_id": uid, "result": input.result, "after_polls": input.after_polls, "times": input.times})).into_response()
    })
}

fn tx_view(t: &Transaction) -> Value {
    json!({
        "id": t.id,
        "user_id": t.user_id,
        "factor_id": t.factor_id,
        "created": t.created.to_rfc3339_opts(SecondsFormat::Millis, true),
        "result": t.result.clone().unwrap_or_else(|| "WAITING".into()),
        "polls": t.polls,
    })
}

/// `GET /_sandbox/okta/transactions`: every push sent, oldest first.
pub async fn control_transactions(State(sb): State<Sandbox>) -> Json<Value> {
    Json(
        json!({"transactions": sb.okta.with(|s| s.transactions.iter().map(tx_view).collect::<Vec<_>>())}),
    )
}

/// What `POST /_sandbox/okta/transactions/{tid}` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideBody {
    result: String,
}

/// `POST /_sandbox/okta/transactions/{tid}`: decide a waiting push now (the person tapped).
pub async fn control_decide(
    State(sb): State<Sandbox>,
    Path(tid): Path<String>,
    body: Bytes,
) -> Response {
    let input = match control::parse_body::<DecideBody>(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !RESULTS[1..].contains(&input.result.as_str()) {
        return control::bad_request("result must be SUCCESS, REJECTED or TIMEOUT");
    }
    sb.okta.with(|s| {
        let Some(t) = s.transactions.iter_mut().find(|t| t.id == tid) else {
            return control::error(StatusCode::NOT_FOUND, format!("no transaction {tid}"));
        };
        if let Some(done) = &t.result {
            return control::error(
                StatusCode::CONFLICT,
                format!("transaction {tid} is already {done}"),
            );
        }
        t.result = Some(input.result);
        Json(tx_view(t)).into_response()
    })
}
