//! Request recording (SPEC §7.5): every vendor request and its answer, so tests read what Vigil
//! sent the way a vendor would have seen it. Secrets are never stored.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body as AxumBody;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;

use super::Sandbox;
use super::args::{Body, MAX_BODY_BYTES};

/// Most requests kept; older ones are dropped so a long benchmark cannot exhaust memory.
const MAX_RECORDS: usize = 100_000;

/// Body fields that carry secrets and are replaced before storing.
const SECRET_FIELDS: &[&str] = &[
    "token",
    "client_secret",
    "routing_key",
    "api_key",
    "password",
];

/// One recorded request, shaped as `GET /_sandbox/requests` answers it.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// Monotonic sequence number, for `since=`.
    pub seq: u64,
    /// When it arrived (RFC 3339).
    pub time: String,
    /// First path segment: `slack`, `github`, …
    pub service: String,
    /// HTTP method.
    pub method: String,
    /// What follows `/<service>`, with the query string.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// The JSON sent, form fields as an object, or a string; null when empty.
    pub body: Value,
    /// The JSON answered, or null.
    pub response: Value,
}

/// The store of recorded requests.
#[derive(Debug, Default)]
pub struct Recorder {
    seq: AtomicU64,
    items: Mutex<VecDeque<Recorded>>,
}

impl Recorder {
    /// Drops every record (sequence numbers keep growing).
    pub fn clear(&self) {
        self.items.lock().clear();
    }

    /// Records of `service` (all when `None`) with `seq > since`, oldest first.
    pub fn list(&self, service: Option<&str>, since: u64) -> Vec<Recorded> {
        self.items
            .lock()
            .iter()
            .filter(|r| r.seq > since && service.is_none_or(|s| r.service == s))
            .cloned()
            .collect()
    }

    fn push(&self, mut rec: Recorded) {
        rec.seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let mut items = self.items.lock();
        if items.len() >= MAX_RECORDS {
            items.pop_front();
        }
        items.push_back(rec);
    }
}

/// Splits `/github/repos/x?y` into (`github`, `/repos/x?y`).
pub fn split_service(path_and_query: &str) -> (String, String) {
    let trimmed = path_and_query.trim_start_matches('/');
    match trimmed.find(['/', '?']) {
        Some(i) => (trimmed[..i].to_string(), trimmed[i..].to_string()),
        None => (trimmed.to_string(), String::new()),
    }
}

fn redact(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        for k in SECRET_FIELDS {
            if let Some(field) = m.get_mut(*k) {
                *field = Value::String("[redacted]".into());
            }
        }
    }
    v
}

/// Middleware on every vendor route: buffers the body, runs the handler, records both sides.
pub async fn record(State(sb): State<Sandbox>, req: Request, next: Next) -> Response {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let (service, path) = split_service(&pq);
    if service == "slack" && path.starts_with("/socket") {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let body_value = redact(Body::parse(content_type.as_deref(), &bytes).to_record());
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let resp = next
        .run(Request::from_parts(parts, AxumBody::from(bytes)))
        .await;
    let (rparts, rbody) = resp.into_parts();
    let rbytes = axum::body::to_bytes(rbody, usize::MAX)
        .await
        .unwrap_or_default();
    let response = serde_json::from_slice(&rbytes).unwrap_or(Value::Null);
    sb.recorder.push(Recorded {
        seq: 0,
        time,
        service,
        method,
        path,
        status: rparts.status.as_u16(),
        body: body_value,
        response,
    });
    Response::from_parts(rparts, AxumBody::from(rbytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_service_and_path() {
        assert_eq!(
            split_service("/github/repos/a/b/issues?state=all"),
            ("github".into(), "/repos/a/b/issues?state=all".into())
        );
        assert_eq!(split_service("/slack"), ("slack".into(), String::new()));
    }

    #[test]
    fn secrets_are_redacted() {
        let v = redact(serde_json::json!({"token": "xoxb-1", "channel": "C1"}));
        assert_eq!(v["token"], "[redacted]");
        assert_eq!(v["channel"], "C1");
    }
}
