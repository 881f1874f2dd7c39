//! Reading request arguments the way vendors accept them: query string, form body, JSON body,
//! any mix of those, or nothing at all (Slack's Web API takes all of these; SPEC §7.1).

use serde_json::{Map, Value};

/// Largest request body any simulator reads (Slack caps payloads well below this).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// What a request body turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No bytes at all.
    Empty,
    /// A JSON document (any JSON value).
    Json(Value),
    /// `application/x-www-form-urlencoded` fields, values as strings.
    Form(Map<String, Value>),
    /// Anything else, kept as (lossy) text.
    Text(String),
    /// The body claimed to be JSON but did not parse; the parser's message.
    BadJson(String),
}

impl Body {
    /// Parses `bytes` using the `Content-Type` hint; without a hint, JSON is tried, then form.
    pub fn parse(content_type: Option<&str>, bytes: &[u8]) -> Body {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Body::Empty;
        }
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if ct.contains("json") {
            return match serde_json::from_slice(bytes) {
                Ok(v) => Body::Json(v),
                Err(e) => Body::BadJson(e.to_string()),
            };
        }
        if ct.contains("x-www-form-urlencoded") {
            return Body::Form(form_fields(bytes));
        }
        if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
            return Body::Json(v);
        }
        let text = String::from_utf8_lossy(bytes).into_owned();
        if !text.contains(' ') && text.contains('=') {
            return Body::Form(form_fields(bytes));
        }
        Body::Text(text)
    }

    /// The body as a JSON value for recording (SPEC §7.5: JSON as sent, form as an object,
    /// otherwise a string; empty is null).
    pub fn to_record(&self) -> Value {
        match self {
            Body::Empty => Value::Null,
            Body::Json(v) => v.clone(),
            Body::Form(m) => Value::Object(m.clone()),
            Body::Text(s) | Body::BadJson(s) => Value::String(s.clone()),
        }
    }
}

/// Decodes `a=1&b=2` into an object of strings. A repeated key keeps its last value, except keys
/// ending in `[]`, which collect into an array under the bare name.
pub fn form_fields(bytes: &[u8]) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in url::form_urlencoded::parse(bytes) {
        if let Some(base) = k.strip_suffix("[]") {
            let entry = out
                .entry(base.to_string())
                .or_insert_with(|| Value::Array(vec![]));
            if let Value::Array(items) = entry {
                items.push(Value::String(v.into_owned()));
            }
        } else {
            out.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    out
}

/// Every value of a repeated query parameter (`ids=a&ids=b`, also `ids[]=a`).
pub fn query_all(query: Option<&str>, name: &str) -> Vec<String> {
    let Some(q) = query else { return vec![] };
    let bracketed = format!("{name}[]");
    url::form_urlencoded::parse(q.as_bytes())
        .filter(|(k, _)| k == name || *k == bracketed)
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// The first value of a query parameter.
pub fn query_one(query: Option<&str>, name: &str) -> Option<String> {
    query_all(query, name).into_iter().next()
}

/// Query, form and JSON arguments merged into one object (body wins over query), as Slack
/// reads them. Returns the parse error text for a body that claims JSON and is not.
pub fn merged(query: Option<&str>, body: &Body) -> Result<Map<String, Value>, String> {
    let mut out = query.map(|q| form_fields(q.as_bytes())).unwrap_or_default();
    match body {
        Body::Empty | Body::Text(_) => {}
        Body::Form(m) => out.extend(m.clone()),
        Body::Json(Value::Object(m)) => out.extend(m.clone()),
        Body::Json(_) => return Err("JSON body is not an object".into()),
        Body::BadJson(e) => return Err(e.clone()),
    }
    Ok(out)
}

/// Reads a string argument that may also arrive as a JSON number or bool.
pub fn str_arg(args: &Map<String, Value>, key: &str) -> Option<String> {
    match args.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads a boolean argument the way Slack does: `true`/`1` (forms send `1`/`0`) or JSON bools.
pub fn bool_arg(args: &Map<String, Value>, key: &str) -> bool {
    match args.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.as_str(), "1" | "true" | "TRUE" | "True"),
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

/// Reads an argument that holds JSON, either inline (JSON body) or as a JSON string (form
/// bodies send `blocks=[...]` as text). `Err` carries the parse message.
pub fn json_arg(args: &Map<String, Value>, key: &str) -> Result<Option<Value>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|e| e.to_string()),
        Some(v) => Ok(Some(v.clone())),
    }
}

/// A request header as text, if present and valid UTF-8.
pub fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The token of an `Authorization: Bearer …` header (also accepts `token …`, as GitHub does
/// when `accept_token_scheme` is set by the caller).
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = header(headers, "authorization")?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_each_body_kind() {
        assert_eq!(Body::parse(None, b""), Body::Empty);
        assert_eq!(
            Body::parse(Some("application/json"), br#"{"a":1}"#),
            Body::Json(json!({"a":1}))
        );
        assert!(matches!(
            Body::parse(Some("application/json"), b"{nope"),
            Body::BadJson(_)
        ));
        let Body::Form(m) = Body::parse(Some("application/x-www-form-urlencoded"), b"a=1&b=x%20y")
        else {
            panic!("not a form")
        };
        assert_eq!(m["b"], json!("x y"));
    }

    #[test]
    fn merges_query_and_body() {
        let body = Body::Json(json!({"channel": "C1"}));
        let m = merged(Some("channel=C0&limit=5"), &body).unwrap();
        assert_eq!(m["channel"], json!("C1"));
        assert_eq!(m["limit"], json!("5"));
    }

    #[test]
    fn collects_repeated_query_values() {
        assert_eq!(
            query_all(Some("ids=a&ids=b&statuses[]=x"), "ids"),
            vec!["a", "b"]
        );
        assert_eq!(query_all(Some("statuses[]=x"), "statuses"), vec!["x"]);
    }
}
