//! Fault injection (SPEC §7.5 `POST /_sandbox/faults`): make a vendor path slow or fail with the
//! vendor's own error shape and rate-limit signal, a set number of times or until removed.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Sandbox;
use super::record::split_service;

/// A fault as posted to the control API.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Service prefix: `slack`, `github`, …
    pub service: String,
    /// HTTP method; omitted means any.
    #[serde(default)]
    pub method: Option<String>,
    /// Path after the service prefix, without query; `*` matches exactly one segment, and a
    /// final `/**` matches whatever follows, zero or more segments (`"/**"` is every path of the
    /// service, `"/api/**"` every Slack Web API method). `**` anywhere else is literal.
    pub path: String,
    /// Status to answer; omitted means delay only.
    #[serde(default)]
    pub status: Option<u16>,
    /// How many requests it hits (default 1); 0 means until removed.
    #[serde(default = "one")]
    pub times: u32,
    /// `Retry-After` (or the vendor's equivalent) in seconds for 429s and the like.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Delay before answering (or before passing the request on).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Body to answer instead of the vendor's own error shape.
    #[serde(default)]
    pub body: Option<Value>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone)]
struct Fault {
    id: String,
    spec: FaultSpec,
    hits: u32,
}

/// The active faults of one sandbox.
#[derive(Debug, Default)]
pub struct Faults(Mutex<Vec<Fault>>);

impl Faults {
    /// Adds a fault and returns its id.
    pub fn add(&self, spec: FaultSpec) -> String {
        let id = format!("flt_{}", uuid::Uuid::new_v4().simple());
        self.0.lock().push(Fault {
            id: id.clone(),
            spec,
            hits: 0,
        });
        id
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.0.lock().clear();
    }

    /// Removes one fault; false if it did not exist.
    pub fn remove(&self, id: &str) -> bool {
        let mut all = self.0.lock();
        let before = all.len();
        all.retain(|f| f.id != id);
        all.len() != before
    }

    /// Finds the first live fault for this request and counts the hit.
    fn take(&self, service: &str, method: &str, path: &str) -> Option<FaultSpec> {
        let mut all = self.0.lock();
        let idx = all.iter().position(|f| {
            f.spec.service == service
                && f.spec
                    .method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && path_matches(&f.spec.path, path)
        })?;
        let fault = &mut all[idx];
        fault.hits += 1;
        let spec = fault.spec.clone();
        if spec.times != 0 && fault.hits >= spec.times {
            all.remove(idx);
        }
        Some(spec)
    }
}

/// Whether a fault's `path` pattern covers a request path.
///
/// `*` matches exactly one segment; a final `**` segment matches the rest of the path, zero or
/// more segments; everything else must be equal. A trailing slash is ignored on both sides.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let a: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match p.split_last() {
        Some((&"**", prefix)) => a.len() >= prefix.len() && segments_match(prefix, &a),
        _ => p.len() == a.len() && segments_match(&p, &a),
    }
}

/// Pairwise segment match over the pattern's length (`*` = any one segment).
fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    pattern.iter().zip(path).all(|(x, y)| *x == "*" || x == y)
}

/// Middleware: applies the first matching fault, answering with the vendor's own error shape.
pub async fn inject(State(sb): State<Sandbox>, req: Request, next: Next) -> Response {
    let (service, path) = split_service(req.uri().path());
    let Some(spec) = sb.faults.take(&service, req.method().as_str(), &path) else {
        return next.run(req).await;
    };
    if let Some(ms) = spec.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let Some(status) = spec.status else {
        return next.run(req).await;
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    fault_response(&service, status, spec.retry_after, spec.body)
}

/// The vendor's own error answer for `status`, with its rate-limit signal when `status` is 429.
pub fn fault_response(
    service: &str,
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    match service {
        "slack" => super::slack::fault_response(status, retry_after, body),
        "crowdstrike" => super::crowdstrike::fault_response(status, retry_after, body),
        "oomnitza" => super::oomnitza::fault_response(status, retry_after, body),
        "github" => super::github::fault_response(status, retry_after, body),
        "pagerduty" => super::pagerduty::fault_response(status, retry_after, body),
        "virustotal" => super::virustotal::fault_response(status, retry_after, body),
        "abuseipdb" => super::abuseipdb::fault_response(status, retry_after, body),
        "emailrep" => super::emailrep::fault_response(status, retry_after, body),
        "urlscan" => super::urlscan::fault_response(status, retry_after, body),
        "tavily" => super::tavily::fault_response(status, retry_after, body),
        "confluence" => super::confluence::fault_response(status, retry_after, body),
        "okta" => super::okta::fault_response(status, retry_after, body),
        "llm" => super::llm::fault_response(status, retry_after, body),
        _ => {
            let body = body.unwrap_or_else(|| serde_json::json!({"error": status.as_str()}));
            (status, axum::Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_one_segment() {
        assert!(path_matches(
            "/repos/*/*/issues",
            "/repos/acme/security/issues"
        ));
        assert!(!path_matches(
            "/repos/*/issues",
            "/repos/acme/security/issues"
        ));
        assert!(path_matches(
            "/api/chat.postMessage",
            "/api/chat.postMessage/"
        ));
    }

    #[test]
    fn double_star_at_the_end_matches_any_remainder() {
        assert!(path_matches("/**", "/api/chat.postMessage"));
        assert!(path_matches(
            "/**",
            "/repos/acme/security/issues/1/comments"
        ));
        assert!(path_matches("/**", "/"));
        assert!(path_matches("/**", ""));
        assert!(path_matches("/api/**", "/api/chat.postMessage"));
        assert!(path_matches("/api/**", "/api"));
        assert!(path_matches(
            "/repos/*/*/**",
            "/repos/acme/security/issues/7"
        ));
        assert!(!path_matches("/api/**", "/socket"));
        assert!(!path_matches("/repos/*/*/**", "/repos/acme"));
        assert!(!path_matches("/repos/*/issues/**", "/repos/acme/pulls/1"));
    }

    #[test]
    fn double_star_elsewhere_is_literal_and_star_stays_one_segment() {
        assert!(!path_matches("/**/issues", "/repos/acme/issues"));
        assert!(path_matches("/**/issues", "/**/issues"));
        assert!(!path_matches("/*", "/api/chat.postMessage"));
        assert!(path_matches("/*", "/api"));
    }

    #[test]
    fn delay_only_fault_on_every_path_stays_until_removed() {
        let f = Faults::default();
        let id = f.add(FaultSpec {
            service: "slack".into(),
            method: None,
            path: "/**".into(),
            status: None,
            times: 0,
            retry_after: None,
            delay_ms: Some(500),
            body: None,
        });
        for path in ["/api/chat.postMessage", "/api/auth.test", "/response/abc"] {
            let hit = f.take("slack", "POST", path);
            assert_eq!(hit.and_then(|s| s.delay_ms), Some(500), "{path}");
        }
        assert!(f.take("github", "POST", "/repos/a/b/issues").is_none());
        assert!(f.remove(&id));
        assert!(f.take("slack", "POST", "/api/auth.test").is_none());
    }

    #[test]
    fn times_counts_down_and_zero_is_forever() {
        let f = Faults::default();
        f.add(FaultSpec {
            service: "github".into(),
            method: Some("POST".into()),
            path: "/repos/*/*/issues".into(),
            status: Some(502),
            times: 2,
            retry_after: None,
            delay_ms: None,
            body: None,
        });
        assert!(f.take("github", "post", "/repos/a/b/issues").is_some());
        assert!(f.take("github", "GET", "/repos/a/b/issues").is_none());
        assert!(f.take("github", "POST", "/repos/a/b/issues").is_some());
        assert!(f.take("github", "POST", "/repos/a/b/issues").is_none());
    }
}
