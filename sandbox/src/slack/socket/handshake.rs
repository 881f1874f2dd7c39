//! The HTTP half of the WebSocket opening handshake (RFC 6455 §4.2), done by hand with hyper so
//! the crate needs no second tungstenite version (axum's `ws` feature would pull one in).
//!
//! Lenient where the official SDKs need it: the `Host` header is never checked (slack_sdk may
//! send it without the port) and the query may be a bare `?` or carry extra parameters.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::args;

/// The only WebSocket protocol version there is.
const WS_VERSION: &str = "13";

/// Why a request is not a valid opening handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Missing `Upgrade: websocket`, `Connection: Upgrade` or `Sec-WebSocket-Key`.
    NotAHandshake,
    /// `Sec-WebSocket-Version` is not 13.
    WrongVersion,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotAHandshake => slack_error(StatusCode::BAD_REQUEST, "invalid_request"),
            Refusal::WrongVersion => version_required(),
        }
    }
}

/// Checks the upgrade headers and answers the `Sec-WebSocket-Accept` value, or why the
/// request is not a valid opening handshake.
pub fn accept_key(headers: &HeaderMap) -> Result<String, Refusal> {
    if !has_token(headers, header::UPGRADE, "websocket")
        || !has_token(headers, header::CONNECTION, "upgrade")
    {
        return Err(Refusal::NotAHandshake);
    }
    if args::header(headers, "sec-websocket-version").map(str::trim) != Some(WS_VERSION) {
        return Err(Refusal::WrongVersion);
    }
    match args::header(headers, "sec-websocket-key").map(str::trim) {
        Some(key) if !key.is_empty() => Ok(derive_accept_key(key.as_bytes())),
        _ => Err(Refusal::NotAHandshake),
    }
}

/// Whether a comma-separated header lists `token` (case-insensitive), as `Connection:
/// keep-alive, Upgrade` does.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// 426 with the version this server speaks (RFC 6455 §4.4).
fn version_required() -> Response {
    let mut resp = slack_error(StatusCode::UPGRADE_REQUIRED, "invalid_request");
    resp.headers_mut().insert(
        header::SEC_WEBSOCKET_VERSION,
        HeaderValue::from_static(WS_VERSION),
    );
    resp
}

/// The answer to a missing, unknown or already used ticket.
pub fn invalid_ticket() -> Response {
    slack_error(StatusCode::UNAUTHORIZED, "invalid_auth")
}

/// `{"ok":false,"error":…}` with `status`, Slack's error shape.
fn slack_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({"ok": false, "error": error}))).into_response()
}

/// The 101 answer that completes the handshake.
pub fn switching_protocols(accept: &str) -> Response {
    let Ok(accept) = HeaderValue::from_str(accept) else {
        return slack_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = resp.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    const GOOD: &[(&str, &str)] = &[
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn derives_the_rfc_accept_key() {
        let key = accept_key(&headers(GOOD)).ok();
        assert_eq!(key.as_deref(), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }

    #[test]
    fn rejects_requests_that_are_not_handshakes() {
        let no_upgrade = headers(&GOOD[1..]);
        assert_eq!(accept_key(&no_upgrade), Err(Refusal::NotAHandshake));
        assert_eq!(
            Refusal::NotAHandshake.into_response().status(),
            StatusCode::BAD_REQUEST
        );
        let old = headers(&[
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-version", "8"),
            ("sec-websocket-key", "x"),
        ]);
        assert_eq!(accept_key(&old), Err(Refusal::WrongVersion));
        let resp = accept_key(&old).err().map(IntoResponse::into_response);
        assert_eq!(
            resp.as_ref().map(|r| r.status()),
            Some(StatusCode::UPGRADE_REQUIRED)
        );
        assert_eq!(
            resp.as_ref()
                .and_then(|r| r.headers().get("sec-websocket-version")),
            Some(&HeaderValue::from_static("13"))
        );
        let no_key = headers(&GOOD[..3]);
        assert_eq!(accept_key(&no_key), Err(Refusal::NotAHandshake));
    }
}
