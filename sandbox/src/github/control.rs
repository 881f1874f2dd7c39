//! Control routes under `/_sandbox/github`: read every issue with its comments (tests and the
//! demo), set the core rate budget (reach the limit without thousands of requests), and add
//! assignable collaborators.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::render::{self, Urls};
use crate::Sandbox;
use crate::args::header;
use crate::control::{bad_request, parse_body};

/// `GET /_sandbox/github/issues` → `{"issues":[{"issue":{…},"comments":[…]}]}`, by number.
pub async fn issues(State(sb): State<Sandbox>, headers: HeaderMap) -> Json<Value> {
    let host = header(&headers, "host").unwrap_or("127.0.0.1");
    let urls = Urls::new(host, &sb.credentials.github.repo);
    let repo = sb.github.repo.lock();
    let all: Vec<Value> = repo
        .issues()
        .map(|d| {
            let comments: Vec<Value> = repo
                .comments_of(d.number)
                .into_iter()
                .map(|c| render::comment(&urls, c))
                .collect();
            json!({"issue": render::issue(&urls, &repo, d), "comments": comments})
        })
        .collect();
    Json(json!({ "issues": all }))
}

/// Body of `POST /_sandbox/github/rate_limit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitBody {
    /// Requests per hour a token gets (default 5000).
    #[serde(default)]
    limit: Option<u64>,
    /// What the sandbox token has left in its current hour.
    #[serde(default)]
    remaining: Option<u64>,
}

/// `POST /_sandbox/github/rate_limit` `{"limit"?, "remaining"?}` → the token's core budget.
pub async fn set_rate_limit(State(sb): State<Sandbox>, body: Bytes) -> Response {
    match parse_body::<RateLimitBody>(&body) {
        Ok(b) => {
            let info = sb
                .github
                .rate
                .configure(&sb.credentials.github.token, b.limit, b.remaining);
            Json(json!({ "core": info.to_json() })).into_response()
        }
        Err(r) => r,
    }
}

/// Body of `POST /_sandbox/github/collaborators`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CollaboratorBody {
    /// GitHub login that may be assigned issues.
    login: String,
}

/// `POST /_sandbox/github/collaborators` `{"login"}`: makes a user assignable.
pub async fn add_collaborator(State(sb): State<Sandbox>, body: Bytes) -> Response {
    match parse_body::<CollaboratorBody>(&body) {
        Ok(b) if valid_login(&b.login) => {
            sb.github.repo.lock().add_collaborator(&b.login);
            Json(json!({"ok": true, "login": b.login})).into_response()
        }
        Ok(b) => bad_request(format!("not a GitHub login: {:?}", b.login)),
        Err(r) => r,
    }
}

/// GitHub logins: 1–39 letters, digits or single inner hyphens.
fn valid_login(login: &str) -> bool {
    (1..=39).contains(&login.len())
        && login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !login.starts_with('-')
        && !login.ends_with('-')
        && !login.contains("--")
}
