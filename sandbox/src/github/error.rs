//! GitHub's error answers: `{"message","documentation_url","status"}` (plus `errors` for
//! validation), with the status codes and rate-limit signals the real REST API uses.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// Generic documentation link GitHub puts on auth and not-found errors.
pub const DOC_REST: &str = "https://docs.github.com/rest";
/// Documentation link of rate-limit errors.
pub const DOC_RATE: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
/// Documentation link of secondary rate-limit errors.
pub const DOC_SECONDARY: &str = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";
/// Documentation link of issue endpoints.
pub const DOC_ISSUES: &str = "https://docs.github.com/rest/issues/issues";
/// Documentation link of issue comment endpoints.
pub const DOC_COMMENTS: &str = "https://docs.github.com/rest/issues/comments";
/// Documentation link of label endpoints.
pub const DOC_LABELS: &str = "https://docs.github.com/rest/issues/labels";
/// Documentation link of the search endpoint.
pub const DOC_SEARCH: &str =
    "https://docs.github.com/rest/search/search#search-issues-and-pull-requests";
/// Documentation link of API versions.
pub const DOC_VERSIONS: &str = "https://docs.github.com/rest/overview/api-versions";

/// The message GitHub's front end answers (as a 403) to a request without `User-Agent`.
pub const USER_AGENT_MESSAGE: &str = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.";

/// An error answer on its way out; the response layer adds GitHub's headers.
#[derive(Debug, Clone)]
pub struct GhError {
    /// HTTP status GitHub uses for the case (400, 401, 403, 404, 422, …).
    pub status: StatusCode,
    /// GitHub's error JSON: `{"message","documentation_url","status"}`, with `errors` on a 422.
    pub body: Value,
    /// `retry-after` seconds, for secondary and search limits.
    pub retry_after: Option<u64>,
    /// The request hit its primary budget: `x-ratelimit-remaining` must read 0.
    pub exhausted: bool,
}

impl GhError {
    /// The standard shape: message, documentation link and the status as a string.
    pub fn new(status: StatusCode, message: &str, doc: &str) -> Self {
        GhError {
            status,
            body: json!({
                "message": message,
                "documentation_url": doc,
                "status": status.as_u16().to_string(),
            }),
            retry_after: None,
            exhausted: false,
        }
    }

    /// 404 `Not Found`: unknown resources and private ones the caller cannot see.
    pub fn not_found(doc: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found", doc)
    }

    /// 401 `Bad credentials`: a token GitHub does not know.
    pub fn bad_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Bad credentials", DOC_REST)
    }

    /// 401 `Requires authentication`: an endpoint that needs a token got none.
    pub fn requires_auth() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Requires authentication",
            DOC_REST,
        )
    }

    /// 400 `Problems parsing JSON`: a body that is not JSON.
    pub fn parse_json(doc: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Problems parsing JSON", doc)
    }

    /// 422 `Validation Failed` with GitHub's `errors` list.
    pub fn validation(errors: Vec<Value>, doc: &str) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed", doc);
        if let Value::Object(m) = &mut e.body {
            m.insert("errors".into(), Value::Array(errors));
        }
        e
    }

    /// 422 with one `Validation Failed` entry.
    pub fn invalid_field(resource: &str, field: &str, code: &str, doc: &str) -> Self {
        Self::validation(
            vec![json!({"resource": resource, "field": field, "code": code})],
            doc,
        )
    }

    /// 422 `Invalid request.` from GitHub's JSON-schema check of a body (wrong types).
    pub fn invalid_request(detail: &str, doc: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Invalid request.\n\n{detail}"),
            doc,
        )
    }

    /// 403 primary limit: `x-ratelimit-remaining: 0`, wait for `x-ratelimit-reset`.
    pub fn primary_limit(user_id: u64, request_id: &str, retry_after: Option<u64>) -> Self {
        let message = format!(
            "API rate limit exceeded for user ID {user_id}. If you reach out to GitHub Support for help, please include the request ID {request_id}."
        );
        let mut e = Self::new(StatusCode::FORBIDDEN, &message, DOC_RATE);
        e.exhausted = true;
        e.retry_after = retry_after;
        e
    }

    /// 403 secondary limit with `retry-after`.
    pub fn secondary_limit(request_id: &str, retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            &secondary_message(request_id),
            DOC_SECONDARY,
        );
        e.retry_after = Some(retry_after);
        e
    }
}

/// The secondary-limit message, naming the request id as GitHub does.
pub fn secondary_message(request_id: &str) -> String {
    format!(
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID {request_id}."
    )
}

/// The default body of an injected fault with `status` (SPEC §7.5: the vendor's own shape).
pub fn fault_body(status: StatusCode, retry_after: Option<u64>) -> Value {
    let (message, doc) = match status.as_u16() {
        400 => ("Problems parsing JSON".to_string(), DOC_REST),
        401 => ("Bad credentials".to_string(), DOC_REST),
        403 | 429 if retry_after.is_some() || status.as_u16() == 429 => {
            (secondary_message("0000:0000:0000000:0000000:00000000"), DOC_SECONDARY)
        }
        403 => ("Resource not accessible by personal access token".to_string(), DOC_REST),
        404 => ("Not Found".to_string(), DOC_REST),
        410 => ("Issues are disabled for this repo".to_string(), DOC_ISSUES),
        422 => ("Validation Failed".to_string(), DOC_REST),
        503 => ("Service Unavailable".to_string(), DOC_REST),
        504 => ("We couldn't respond to your request in time. Sorry about that. Please try resubmitting your request and contact us if the problem persists.".to_string(), DOC_REST),
        s if s >= 500 => ("Server Error".to_string(), DOC_REST),
        _ => (
            status.canonical_reason().unwrap_or("Error").to_string(),
            DOC_REST,
        ),
    };
    let mut body = json!({
        "message": message,
        "documentation_url": doc,
        "status": status.as_u16().to_string(),
    });
    if status.as_u16() == 422 {
        body["errors"] = json!([]);
    }
    body
}
