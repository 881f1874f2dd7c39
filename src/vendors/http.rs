//! The HTTP client every vendor client shares, and the one place that turns a response into
//! either decoded JSON or a [`VendorError`].

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;

use super::VendorError;

/// `User-Agent` sent to every vendor (GitHub refuses requests without one).
pub const USER_AGENT: &str = concat!("vigil/", env!("CARGO_PKG_VERSION"));

/// A client with sane timeouts and the TLS provider installed.
pub fn client() -> Result<reqwest::Client, VendorError> {
    crate::tls::init();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| VendorError::Transport {
            vendor: "http",
            call: "build client",
            message: e.to_string(),
        })
}

/// Turns a `send()` failure (connect, TLS, timeout) into [`VendorError::Transport`],
/// without the URL: a query string may carry an indicator or a key.
pub fn transport(vendor: &'static str, call: &'static str, e: reqwest::Error) -> VendorError {
    VendorError::Transport {
        vendor,
        call,
        message: e.without_url().to_string(),
    }
}

/// How a vendor says "wait": its header name and whether it holds seconds or an epoch time.
#[derive(Debug, Clone, Copy)]
pub enum RetrySignal {
    /// `Retry-After: <seconds>` (VirusTotal, AbuseIPDB, EmailRep, urlscan's fallback, Tavily,
    /// Oomnitza, Confluence, PagerDuty, the LLM endpoint, Okta on any status but 429).
    RetryAfterSeconds,
    /// A header holding the Unix epoch second a retry is allowed at: CrowdStrike's
    /// `X-RateLimit-RetryAfter`, Okta's `X-Rate-Limit-Reset` on a 429.
    EpochHeader(&'static str),
}

/// Reads the wait a response asks for.
pub fn retry_after(resp: &Response, signal: RetrySignal) -> Option<Duration> {
    match signal {
        RetrySignal::RetryAfterSeconds => {
            let v = resp.headers().get("retry-after")?.to_str().ok()?;
            v.trim().parse::<u64>().ok().map(Duration::from_secs)
        }
        RetrySignal::EpochHeader(name) => {
            let v = resp.headers().get(name)?.to_str().ok()?;
            let at = v.trim().parse::<i64>().ok()?;
            let now = chrono::Utc::now().timestamp();
            Some(Duration::from_secs(
                u64::try_from(at.saturating_sub(now)).unwrap_or(0).max(1),
            ))
        }
    }
}

/// Sends a request and decodes its 2xx JSON answer into `T`; a failure names the call and says
/// whether it was the connection, the vendor's status (with its message and wait) or the body.
pub async fn send<T: DeserializeOwned>(
    vendor: &'static str,
    call: &'static str,
    request: reqwest::RequestBuilder,
    signal: RetrySignal,
    message_of: fn(&serde_json::Value) -> Option<String>,
) -> Result<T, VendorError> {
    let resp = request
        .send()
        .await
        .map_err(|e| transport(vendor, call, e))?;
    decode(vendor, call, resp, signal, message_of).await
}

/// Decodes a 2xx JSON body into `T`, or builds the error with the vendor's message, taken
/// from the body by `message_of`.
pub async fn decode<T: DeserializeOwned>(
    vendor: &'static str,
    call: &'static str,
    resp: Response,
    signal: RetrySignal,
    message_of: fn(&serde_json::Value) -> Option<String>,
) -> Result<T, VendorError> {
    let status = resp.status();
    if !status.is_success() {
        return Err(status_error(vendor, call, resp, signal, message_of).await);
    }
    let bytes = resp.bytes().await.map_err(|e| transport(vendor, call, e))?;
    serde_json::from_slice(&bytes).map_err(|e| VendorError::Decode {
        vendor,
        call,
        message: e.to_string(),
    })
}

/// Builds the error for a non-2xx response.
pub async fn status_error(
    vendor: &'static str,
    call: &'static str,
    resp: Response,
    signal: RetrySignal,
    message_of: fn(&serde_json::Value) -> Option<String>,
) -> VendorError {
    let status = resp.status();
    let wait = retry_after(&resp, signal);
    let text = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| message_of(&v))
        .unwrap_or_else(|| fallback_message(status, &text));
    VendorError::Status {
        vendor,
        call,
        status: status.as_u16(),
        message,
        retry_after: wait,
    }
}

fn fallback_message(status: StatusCode, text: &str) -> String {
    let snippet: String = text.chars().take(200).collect();
    if snippet.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        snippet
    }
}

/// Text from a JSON scalar a vendor may send as a string, a number or a bool; `None` for null,
/// arrays and objects. Vendors differ by tenant and version in how they type the same field.
pub fn text_of(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Serde `deserialize_with` for optional text fields that must never fail the whole record:
/// a string, number or bool becomes text; anything else (null, array, object) becomes `None`.
pub fn lenient_text<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let v = <Option<serde_json::Value> as serde::Deserialize>::deserialize(d)?;
    Ok(v.as_ref().and_then(text_of))
}

/// Serde `deserialize_with` for list-of-text fields (`tags`, `ou`): an array keeps its scalar
/// items as text, a lone scalar becomes a one-item list, null or an object an empty list.
pub fn lenient_list<'de, D>(d: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let v = <Option<serde_json::Value> as serde::Deserialize>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(text_of).collect(),
        Some(other) => text_of(&other).into_iter().collect(),
        None => Vec::new(),
    })
}
