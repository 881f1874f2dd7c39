//! Request recording (SPEC §7.5): every vendor request and its answer, so tests read what Vigil
//! sent the way a vendor would have seen it.
//!
//! Invariant: no secret is stored, on either side. Request bodies, answers and the recorded
//! path go through the same `redact` before they are kept: any object key that names a
//! secret (`token`, `access_token`, any `*_token`, anything with `secret`, `password`,
//! `ticket`, …) at any depth, and secret query parameters inside string values (the
//! `ticket=` of a Socket Mode URL, a `?token=` on a link).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body as AxumBody;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Sandbox;
use super::args::{Body, MAX_BODY_BYTES};

/// Most requests kept; older ones are dropped so a long benchmark cannot exhaust memory.
const MAX_RECORDS: usize = 100_000;

/// Keys whose values are secrets wherever they appear; besides these, any key ending in
/// `_token` or containing `secret` is one too (see [`is_secret_key`]).
const SECRET_FIELDS: &[&str] = &[
    "token",
    "client_secret",
    "routing_key",
    "api_key",
    "password",
    "ticket",
    "authorization",
];

/// What a secret is replaced with.
const REDACTED: &str = "[redacted]";

/// One recorded request, shaped as `GET /_sandbox/requests` answers it; the same type is read
/// back by [`crate::client::SandboxClient`], so the wire shape has one definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// Monotonic sequence number, for `since=`.
    pub seq: u64,
    /// When it arrived, before any injected delay (RFC 3339 with milliseconds on the wire).
    #[serde(with = "rfc3339_millis")]
    pub time: DateTime<Utc>,
    /// First path segment: `slack`, `github`, …
    pub service: String,
    /// HTTP method, upper-case (`POST`).
    pub method: String,
    /// What follows `/<service>`, with the query string.
    pub path: String,
    /// Status the sandbox answered, injected faults and 429s included.
    pub status: u16,
    /// The JSON sent, form fields as an object, or a string; null when empty.
    pub body: Value,
    /// The JSON answered, or null.
    pub response: Value,
}

impl Recorded {
    /// The path without its query string.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or(&self.path)
    }
}

/// `time` as `2025-01-02T03:04:05.678Z`, the format the control API has always answered.
mod rfc3339_millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
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

/// Whether an object key or query parameter names a secret.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_FIELDS.contains(&k.as_str()) || k.ends_with("_token") || k.contains("secret")
}

/// `text` with the values of secret query parameters (`…?ticket=abc&app_id=A1` →
/// `…?ticket=[redacted]&app_id=A1`) replaced; anything without one is returned unchanged.
fn redact_query(text: &str) -> String {
    let Some(q) = text.find('?') else {
        return text.to_string();
    };
    let (head, query) = text.split_at(q + 1);
    let params: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret_key(k) => format!("{k}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{head}{}", params.join("&"))
}

/// `v` with every secret replaced, at any depth (see the module invariant).
fn redact(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(&k) && !v.is_null() {
                        Value::String(REDACTED.into())
                    } else {
                        redact(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(redact).collect()),
        Value::String(s) if s.contains('?') && s.contains('=') => Value::String(redact_query(&s)),
        other => other,
    }
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
    let path = redact_query(&path);
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
    let time = Utc::now();
    let resp = next
        .run(Request::from_parts(parts, AxumBody::from(bytes)))
        .await;
    let (rparts, rbody) = resp.into_parts();
    let rbytes = axum::body::to_bytes(rbody, usize::MAX)
        .await
        .unwrap_or_default();
    let response = redact(serde_json::from_slice(&rbytes).unwrap_or(Value::Null));
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

    #[test]
    fn secrets_are_redacted_at_any_depth_and_in_urls() {
        let v = redact(serde_json::json!({
            "access_token": "cs-1", "token_type": "bearer", "expires_in": 1799,
            "ok": true, "url": "ws://h/slack/socket?ticket=t-1&app_id=A1",
            "nested": [{"refresh_token": "r", "client_secret": "s", "id": "keep"}],
            "link": "https://x/y?a=1&token=t&b=2", "plain": "a=b?c"
        }));
        assert_eq!(v["access_token"], "[redacted]");
        assert_eq!(v["token_type"], "bearer");
        assert_eq!(v["expires_in"], 1799);
        assert_eq!(v["url"], "ws://h/slack/socket?ticket=[redacted]&app_id=A1");
        assert_eq!(v["nested"][0]["refresh_token"], "[redacted]");
        assert_eq!(v["nested"][0]["client_secret"], "[redacted]");
        assert_eq!(v["nested"][0]["id"], "keep");
        assert_eq!(v["link"], "https://x/y?a=1&token=[redacted]&b=2");
        assert_eq!(v["plain"], "a=b?c");
        assert_eq!(redact_query("/api/x?token=abc"), "/api/x?token=[redacted]");
    }

    #[test]
    fn recorded_round_trips_with_millisecond_times() {
        let v = serde_json::json!({"seq": 3, "time": "2025-01-02T03:04:05.678Z", "service": "slack",
            "method": "POST", "path": "/api/chat.postMessage?x=1", "status": 200,
            "body": {"channel": "C1"}, "response": {"ok": true}});
        let r: Recorded = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(r.route(), "/api/chat.postMessage");
        assert_eq!(r.time.timestamp_subsec_millis(), 678);
        assert_eq!(serde_json::to_value(&r).unwrap(), v);
    }
}
