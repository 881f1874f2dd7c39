//! Reading one Falcon request: headers, query, body bytes and the caller's address, plus the
//! JSON-body and query-number parsing every endpoint shares.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use serde_json::{Map, Value};

use super::super::args::MAX_BODY_BYTES;

/// A request read in full, so handlers can work synchronously (and never hold a lock across an
/// `.await`).
pub struct Incoming {
    /// Request headers (the bearer token is read from `Authorization`).
    pub headers: HeaderMap,
    /// Raw query string, undecoded: Falcon repeats keys (`ids=a&ids=b`), which a map would lose.
    pub query: Option<String>,
    /// Body bytes, at most `MAX_BODY_BYTES` (a larger body fails the read, so no handler sees it).
    pub body: Bytes,
    /// Caller's IP (rate limits for unauthenticated calls are per IP at Falcon).
    pub ip: String,
}

impl Incoming {
    /// Reads the request; a body over the sandbox's size cap is `Err` with the reason.
    pub async fn read(req: Request) -> Result<Incoming, String> {
        let (parts, body) = req.into_parts();
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|e| format!("request body too large: {e}"))?;
        Ok(Incoming {
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers,
            body,
            ip,
        })
    }

    /// The JSON object body. An empty body reads as `{}`; anything else that is not a JSON
    /// object is `Err` with a message for the 400.
    pub fn json_object(&self) -> Result<Map<String, Value>, String> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err("invalid request body: expected a JSON object".into()),
            Err(e) => Err(format!("invalid JSON in request body: {e}")),
        }
    }

    /// The first value of a query parameter.
    pub fn query_one(&self, name: &str) -> Option<String> {
        super::super::args::query_one(self.query.as_deref(), name)
    }

    /// Every value of a repeated query parameter.
    pub fn query_all(&self, name: &str) -> Vec<String> {
        super::super::args::query_all(self.query.as_deref(), name)
    }

    /// A non-negative integer query parameter; `Err` names the parameter when it is not one.
    pub fn query_uint(&self, name: &str) -> Result<Option<u64>, String> {
        match self.query_one(name) {
            None => Ok(None),
            Some(s) if s.trim().is_empty() => Ok(None),
            Some(s) => s.trim().parse::<u64>().map(Some).map_err(|_| {
                format!("invalid value for '{name}': expected a non-negative integer")
            }),
        }
    }

    /// A boolean query parameter (`true`/`false`), `default` when absent.
    pub fn query_bool(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.query_one(name).map(|s| s.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(s) if s.is_empty() => Ok(default),
            Some(s) if s == "true" || s == "1" => Ok(true),
            Some(s) if s == "false" || s == "0" => Ok(false),
            Some(_) => Err(format!(
                "invalid value for '{name}': expected true or false"
            )),
        }
    }
}

/// A string field of a JSON body; `Err` when present with another type.
pub fn body_str(body: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("invalid value for '{key}': expected a string")),
    }
}

/// A non-negative integer field of a JSON body (numbers or numeric strings).
pub fn body_uint(body: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    let bad = || format!("invalid value for '{key}': expected a non-negative integer");
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// A list of strings in a JSON body (`ids`, `composite_ids`); absent is an empty list.
pub fn body_ids(body: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    let bad = || format!("invalid value for '{key}': expected an array of strings");
    match body.get(key) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// Drops repeated ids, keeping the first occurrence's position.
pub fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect()
}
