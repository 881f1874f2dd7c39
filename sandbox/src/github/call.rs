//! What every GitHub request goes through before and after its handler: the `User-Agent`
//! check, the API version header, the token, the primary rate limit, and GitHub's response
//! headers (`x-ratelimit-*`, `x-github-request-id`, JSON content type).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::error::{DOC_VERSIONS, GhError, USER_AGENT_MESSAGE};
use super::rate::RateInfo;
use super::render::{BOT_ID, Urls};
use crate::Sandbox;
use crate::args::header as header_str;
use crate::limits::retry_after_secs;

/// API versions GitHub accepts in `X-GitHub-Api-Version`.
pub const API_VERSIONS: &[&str] = &["2022-11-28", "2026-03-10"];
/// The version answered when the header is absent.
const DEFAULT_API_VERSION: &str = "2022-11-28";
/// Rate-limit key of requests without a token.
const ANONYMOUS_KEY: &str = "anonymous";

/// Which budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// The hourly `core` budget (everything but search).
    Core,
    /// The per-minute `search` budget.
    Search,
    /// Nothing (`GET /rate_limit`), reported as `core`.
    Free,
}

/// An authenticated-or-not request, after the front checks.
#[derive(Debug, Clone)]
pub struct Call {
    /// The valid token, or `None` for an anonymous request.
    pub token: Option<String>,
    /// URL roots built from the request's `Host`.
    pub urls: Urls,
    /// The `x-github-request-id` every answer and error carries, so a log line can name it.
    pub request_id: String,
    /// The API version answered in `x-github-api-version-selected` (`2022-11-28` when the request
    /// named none).
    pub api_version: String,
    rate: RateInfo,
}

impl Call {
    /// The rate-limit key: the token, or one shared key for anonymous callers.
    pub fn key(&self) -> &str {
        self.token.as_deref().unwrap_or(ANONYMOUS_KEY)
    }
}

/// A successful answer; the response layer adds the rate-limit and version headers.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status: 200, or 201 for a creation.
    pub status: StatusCode,
    /// JSON body, as GitHub would render the object or list.
    pub body: Value,
    /// `Link` header for paginated lists.
    pub link: Option<String>,
}

impl Answer {
    /// 200 with `body`.
    pub fn ok(body: Value) -> Self {
        Answer {
            status: StatusCode::OK,
            body,
            link: None,
        }
    }

    /// 201 with `body`.
    pub fn created(body: Value) -> Self {
        Answer {
            status: StatusCode::CREATED,
            body,
            link: None,
        }
    }
}

/// What a handler returns.
pub type Reply = Result<Answer, GhError>;

/// Runs `handler` behind GitHub's checks and answers with GitHub's headers.
pub fn serve(
    sb: &Sandbox,
    headers: &HeaderMap,
    resource: Resource,
    handler: impl FnOnce(&Call) -> Reply,
) -> Response {
    let request_id = request_id();
    if header_str(headers, "user-agent").is_none_or(|ua| ua.trim().is_empty()) {
        let body = serde_json::json!({ "message": USER_AGENT_MESSAGE });
        return respond(StatusCode::FORBIDDEN, &body, None, None, &request_id, None);
    }
    let api_version = match api_version(headers) {
        Ok(v) => v,
        Err(e) => return respond(e.status, &e.body, None, None, &request_id, None),
    };
    let token = match authenticate(sb, headers) {
        Ok(t) => t,
        Err(e) => {
            let rate = sb.github.rate.peek_core(ANONYMOUS_KEY, false);
            return respond(e.status, &e.body, None, None, &request_id, Some(&rate));
        }
    };
    let urls = Urls::new(&host(headers), &sb.credentials.github.repo);
    let mut call = Call {
        token,
        urls,
        request_id,
        api_version,
        rate: RateInfo {
            limit: 0,
            remaining: 0,
            used: 0,
            reset: 0,
            resource: "core",
        },
    };
    match spend(sb, &call, resource) {
        Ok(rate) => call.rate = rate,
        Err((e, rate)) => return error_response(&call, e, rate),
    }
    match handler(&call) {
        Ok(a) => respond(
            a.status,
            &a.body,
            a.link.as_deref(),
            None,
            &call.request_id,
            Some(&call.rate),
        )
        .with_version(&call.api_version),
        Err(e) => {
            let rate = call.rate.clone();
            error_response(&call, e, rate)
        }
    }
}

/// An error with the call's headers; a primary-limit error reports the budget as spent.
fn error_response(call: &Call, e: GhError, rate: RateInfo) -> Response {
    let rate = if e.exhausted { rate.exhausted() } else { rate };
    respond(
        e.status,
        &e.body,
        None,
        e.retry_after,
        &call.request_id,
        Some(&rate),
    )
    .with_version(&call.api_version)
}

/// Spends one request of `resource`; `Err` is the 403 to answer and the budget to report.
fn spend(sb: &Sandbox, call: &Call, resource: Resource) -> Result<RateInfo, (GhError, RateInfo)> {
    let key = call.key();
    let authed = call.token.is_some();
    match resource {
        Resource::Free => Ok(sb.github.rate.peek_core(key, authed)),
        Resource::Core => sb
            .github
            .rate
            .take_core(key, authed)
            .map_err(|rate| (GhError::primary_limit(BOT_ID, &call.request_id, None), rate)),
        Resource::Search => {
            let limit = search_limit(sb);
            match sb.limits.check("github", "search", key) {
                Ok(()) => Ok(sb.github.rate.count_search(key, limit)),
                Err(wait) => {
                    let e = GhError::primary_limit(
                        BOT_ID,
                        &call.request_id,
                        Some(retry_after_secs(wait)),
                    );
                    Err((e, sb.github.rate.peek_search(key, limit)))
                }
            }
        }
    }
}

/// The search budget per minute currently configured (30 by default).
pub fn search_limit(sb: &Sandbox) -> u64 {
    sb.limits
        .list()
        .into_iter()
        .find(|l| l.service == "github" && l.method == "search")
        .map_or(30, |l| u64::from(l.per_minute))
}

/// `X-GitHub-Api-Version`: absent means the default; an unknown value is a 400.
fn api_version(headers: &HeaderMap) -> Result<String, GhError> {
    let Some(v) = header_str(headers, "x-github-api-version") else {
        return Ok(DEFAULT_API_VERSION.to_string());
    };
    let v = v.trim();
    if API_VERSIONS.contains(&v) {
        return Ok(v.to_string());
    }
    let msg = format!(
        "Unsupported 'X-GitHub-Api-Version' header: {v}. The supported versions are {}.",
        API_VERSIONS.join(", ")
    );
    Err(GhError::new(StatusCode::BAD_REQUEST, &msg, DOC_VERSIONS))
}

/// `Authorization: Bearer|token <t>`: `Ok(None)` without a header, 401 for a wrong token or
/// an unknown scheme.
fn authenticate(sb: &Sandbox, headers: &HeaderMap) -> Result<Option<String>, GhError> {
    let Some(value) = header_str(headers, "authorization") else {
        return if headers.contains_key(header::AUTHORIZATION) {
            Err(GhError::bad_credentials())
        } else {
            Ok(None)
        };
    };
    let (scheme, token) = value.trim().split_once(' ').unwrap_or(("", ""));
    let scheme_ok = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    let token = token.trim();
    if scheme_ok && token == sb.credentials.github.token {
        Ok(Some(token.to_string()))
    } else {
        Err(GhError::bad_credentials())
    }
}

/// The `Host` the request was sent to (what URLs in answers must start with).
fn host(headers: &HeaderMap) -> String {
    header_str(headers, "host")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .unwrap_or("127.0.0.1")
        .to_string()
}

/// A GitHub-style request id: `XXXX:XXXX:XXXXXX:XXXXXX:XXXXXXXX`.
pub fn request_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    format!(
        "{}:{}:{}:{}:{}",
        &hex[0..4],
        &hex[4..8],
        &hex[8..15],
        &hex[15..22],
        &hex[22..30]
    )
}

/// Builds a JSON response with GitHub's headers.
pub fn respond(
    status: StatusCode,
    body: &Value,
    link: Option<&str>,
    retry_after: Option<u64>,
    request_id: &str,
    rate: Option<&RateInfo>,
) -> Response {
    let bytes = if status == StatusCode::NO_CONTENT {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap_or_default()
    };
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    put(h, "x-github-request-id", request_id);
    put(h, "x-github-media-type", "github.v3; format=json");
    if let Some(r) = rate {
        put_rate(h, r);
    }
    if let Some(l) = link {
        put(h, "link", l);
    }
    if let Some(s) = retry_after {
        put(h, "retry-after", &s.to_string());
    }
    resp
}

/// Adds the five `x-ratelimit-*` headers.
pub fn put_rate(h: &mut HeaderMap, r: &RateInfo) {
    put(h, "x-ratelimit-limit", &r.limit.to_string());
    put(h, "x-ratelimit-remaining", &r.remaining.to_string());
    put(h, "x-ratelimit-used", &r.used.to_string());
    put(h, "x-ratelimit-reset", &r.reset.to_string());
    put(h, "x-ratelimit-resource", r.resource);
}

/// Inserts a header, skipping values that are not valid header text.
pub fn put(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

/// Adds `x-github-api-version-selected` to a response.
trait WithVersion {
    fn with_version(self, version: &str) -> Self;
}

impl WithVersion for Response {
    fn with_version(mut self, version: &str) -> Self {
        put(self.headers_mut(), "x-github-api-version-selected", version);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_githubs() {
        let id = request_id();
        assert_eq!(id.split(':').count(), 5);
        assert_eq!(id.len(), 4 + 4 + 7 + 7 + 8 + 4);
    }

    #[test]
    fn unknown_api_version_is_refused() {
        let mut h = HeaderMap::new();
        assert_eq!(api_version(&h).ok().as_deref(), Some("2022-11-28"));
        h.insert(
            "x-github-api-version",
            HeaderValue::from_static("1999-01-01"),
        );
        assert_eq!(
            api_version(&h).map_err(|e| e.status),
            Err(StatusCode::BAD_REQUEST)
        );
    }
}
