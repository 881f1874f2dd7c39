//! Events API v2 (`POST /v2/enqueue`): validation exactly as PagerDuty documents it, then the
//! event is applied to the incident store.
//!
//! Error bodies are PagerDuty's `{"status":"invalid event","message":"Event object is
//! invalid","errors":[…]}` (shape confirmed, wording of the individual errors modelled on PD's
//! answers). Every problem found is listed, as PD does.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::Sandbox;

/// Largest event PagerDuty accepts (512 KB).
pub const MAX_EVENT_BYTES: usize = 512 * 1024;
/// Longest `payload.summary`.
pub const MAX_SUMMARY_CHARS: usize = 1024;
/// Longest `dedup_key`.
pub const MAX_DEDUP_KEY_CHARS: usize = 255;
/// Severities PagerDuty knows.
pub const SEVERITIES: &[&str] = &["critical", "error", "warning", "info"];

/// What an event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open an alert (or merge into the open one with the same dedup key).
    Trigger,
    /// Acknowledge the open alert with the dedup key.
    Acknowledge,
    /// Resolve the open alert with the dedup key.
    Resolve,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        match s {
            "trigger" => Some(Action::Trigger),
            "acknowledge" => Some(Action::Acknowledge),
            "resolve" => Some(Action::Resolve),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Trigger => "trigger",
            Action::Acknowledge => "acknowledge",
            Action::Resolve => "resolve",
        }
    }
}

/// A valid event, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `event_action`: trigger, acknowledge or resolve.
    pub action: Action,
    /// The dedup key sent, if any (a trigger without one gets a generated key).
    pub dedup_key: Option<String>,
    /// The whole event as sent, `routing_key` removed (kept as the incident's log).
    pub raw: Map<String, Value>,
}

/// A rejected event: the `errors` list PD answers with a 400.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid(pub Vec<String>);

/// The Events API error answer for `errors`.
pub fn invalid_event(errors: Vec<String>) -> Response {
    let body = json!({
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": errors,
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// PagerDuty's throttle answer (429). PD documents no `Retry-After` for events.
pub fn throttled() -> Response {
    let body = json!({
        "status": "throttle event",
        "message": "Requests for this service are arriving too quickly.  Please retry later.",
        "errors": ["Too many requests"],
    });
    (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
}

/// Parses the body into a JSON object, or the error list PD would answer.
pub fn parse_body(body: &[u8]) -> Result<Map<String, Value>, Invalid> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(Invalid(vec![format!(
            "Event object is too large (maximum is {} KB)",
            MAX_EVENT_BYTES / 1024
        )]));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Invalid(vec!["Event object must be a JSON object".into()])),
        Err(e) => Err(Invalid(vec![format!("Malformed JSON: {e}")])),
    }
}

/// Checks `routing_key`: present, 32 characters, and this sandbox's integration key.
pub fn check_routing_key(event: &Map<String, Value>, expected: &str) -> Result<String, Invalid> {
    let key = match event.get("routing_key") {
        Some(Value::String(k)) if !k.is_empty() => k.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(Invalid(vec!["'routing_key' is missing or blank".into()]));
        }
        Some(_) => return Err(Invalid(vec!["'routing_key' must be a string".into()])),
    };
    if key.chars().count() != 32 {
        return Err(Invalid(vec![
            "Length of 'routing_key' is incorrect (should be 32 characters)".into(),
        ]));
    }
    if key != expected {
        return Err(Invalid(vec!["Invalid routing key".into()]));
    }
    Ok(key)
}

/// Validates everything but the routing key, collecting every problem.
pub fn validate(event: &Map<String, Value>) -> Result<Event, Invalid> {
    let mut errors = Vec::new();
    let action = match event.get("event_action") {
        Some(Value::String(a)) if !a.is_empty() => Action::parse(a).or_else(|| {
            errors.push(
                "'event_action' is invalid (must be one of the following: 'trigger', \
                 'acknowledge' or 'resolve')"
                    .into(),
            );
            None
        }),
        _ => {
            errors.push("'event_action' is missing or blank".into());
            None
        }
    };
    let dedup_key = check_dedup_key(event, action, &mut errors);
    if action == Some(Action::Trigger) {
        check_payload(event.get("payload"), &mut errors);
    }
    check_links(event, &mut errors);
    check_images(event, &mut errors);
    match action {
        Some(action) if errors.is_empty() => {
            let mut raw = event.clone();
            raw.remove("routing_key");
            Ok(Event {
                action,
                dedup_key,
                raw,
            })
        }
        _ => Err(Invalid(errors)),
    }
}

fn check_dedup_key(
    event: &Map<String, Value>,
    action: Option<Action>,
    errors: &mut Vec<String>,
) -> Option<String> {
    let key = match event.get("dedup_key") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) if k.is_empty() => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => {
            errors.push("'dedup_key' must be a string".into());
            return None;
        }
    };
    if key
        .as_ref()
        .is_some_and(|k| k.chars().count() > MAX_DEDUP_KEY_CHARS)
    {
        errors.push(format!(
            "Length of 'dedup_key' is too long (maximum is {MAX_DEDUP_KEY_CHARS} characters)"
        ));
    }
    if key.is_none() && matches!(action, Some(Action::Acknowledge | Action::Resolve)) {
        errors
            .push("'dedup_key' is missing or blank (required for acknowledge and resolve)".into());
    }
    key
}

fn check_payload(payload: Option<&Value>, errors: &mut Vec<String>) {
    let Some(Value::Object(p)) = payload else {
        errors.push("'payload' is missing or blank".into());
        return;
    };
    let text = |field: &str| match p.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    };
    match text("summary") {
        None => errors.push("'payload.summary' is missing or blank".into()),
        Some(s) if s.chars().count() > MAX_SUMMARY_CHARS => errors.push(format!(
            "Length of 'payload.summary' is too long (maximum is {MAX_SUMMARY_CHARS} characters)"
        )),
        Some(_) => {}
    }
    if text("source").is_none() {
        errors.push("'payload.source' is missing or blank".into());
    }
    match text("severity") {
        None => errors.push("'payload.severity' is missing or blank".into()),
        Some(s) if !SEVERITIES.contains(&s.as_str()) => errors.push(
            "'payload.severity' is invalid (must be one of the following: 'critical', \
             'warning', 'error' or 'info')"
                .into(),
        ),
        Some(_) => {}
    }
}

fn check_links(event: &Map<String, Value>, errors: &mut Vec<String>) {
    let Some(links) = event.get("links").filter(|v| !v.is_null()) else {
        return;
    };
    let Some(list) = links.as_array() else {
        errors.push("'links' must be an array".into());
        return;
    };
    for (i, link) in list.iter().enumerate() {
        if !link.get("href").is_some_and(Value::is_string) {
            errors.push(format!("'links[{i}].href' is missing or blank"));
        }
    }
}

fn check_images(event: &Map<String, Value>, errors: &mut Vec<String>) {
    let Some(images) = event.get("images").filter(|v| !v.is_null()) else {
        return;
    };
    let Some(list) = images.as_array() else {
        errors.push("'images' must be an array".into());
        return;
    };
    for (i, image) in list.iter().enumerate() {
        match image.get("src").and_then(Value::as_str) {
            None => errors.push(format!("'images[{i}].src' is missing or blank")),
            Some(src) if !src.to_ascii_lowercase().starts_with("https://") => {
                errors.push(format!("'images[{i}].src' must be an HTTPS URL"));
            }
            Some(_) => {}
        }
    }
}

/// `POST /v2/enqueue`: validate, throttle per routing key, apply, answer 202 with the dedup key.
pub async fn enqueue(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let event = match parse_body(&body) {
        Ok(e) => e,
        Err(Invalid(errors)) => return invalid_event(errors),
    };
    let key = match check_routing_key(&event, &sb.credentials.pagerduty.routing_key) {
        Ok(k) => k,
        Err(Invalid(errors)) => return invalid_event(errors),
    };
    if sb.limits.check("pagerduty", "enqueue", &key).is_err() {
        return throttled();
    }
    let event = match validate(&event) {
        Ok(e) => e,
        Err(Invalid(errors)) => return invalid_event(errors),
    };
    let dedup_key = sb.pagerduty.apply(event);
    let body = json!({
        "status": "success",
        "message": "Event processed",
        "dedup_key": dedup_key,
    });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn trigger() -> Value {
        json!({
            "event_action": "trigger",
            "payload": {"summary": "s", "source": "h", "severity": "critical"},
        })
    }

    #[test]
    fn accepts_a_minimal_trigger_and_ack() {
        let e = validate(&obj(trigger())).unwrap();
        assert_eq!(e.action, Action::Trigger);
        assert_eq!(e.dedup_key, None);
        let ack = json!({"event_action": "acknowledge", "dedup_key": "k"});
        assert_eq!(validate(&obj(ack)).unwrap().dedup_key.as_deref(), Some("k"));
    }

    #[test]
    fn routing_key_checks() {
        let good = "0123456789abcdef0123456789abcdef";
        let ev = |k: &str| obj(json!({"routing_key": k}));
        assert!(check_routing_key(&ev(good), good).is_ok());
        let short = check_routing_key(&ev("abc"), good).unwrap_err();
        assert_eq!(
            short.0,
            vec!["Length of 'routing_key' is incorrect (should be 32 characters)"]
        );
        let other = "ffffffffffffffffffffffffffffffff";
        assert_eq!(
            check_routing_key(&ev(other), good).unwrap_err().0,
            vec!["Invalid routing key"]
        );
        assert!(check_routing_key(&obj(json!({})), good).is_err());
    }

    #[test]
    fn lists_every_problem() {
        let bad = json!({
            "event_action": "trigger",
            "dedup_key": "x".repeat(256),
            "payload": {"summary": "s".repeat(1025), "severity": "fatal"},
            "images": [{"src": "http://insecure/img.png"}],
        });
        let errs = validate(&obj(bad)).unwrap_err().0;
        assert_eq!(errs.len(), 5, "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("'payload.source'")));
        assert!(errs.iter().any(|e| e.contains("'images[0].src'")));
    }

    #[test]
    fn action_and_dedup_key_rules() {
        let e = validate(&obj(json!({"event_action": "page"})))
            .unwrap_err()
            .0;
        assert!(e[0].contains("'event_action' is invalid"));
        let e = validate(&obj(json!({"event_action": "resolve"})))
            .unwrap_err()
            .0;
        assert!(e[0].contains("'dedup_key' is missing"));
        let e = validate(&obj(json!({"event_action": "trigger"})))
            .unwrap_err()
            .0;
        assert_eq!(e, vec!["'payload' is missing or blank"]);
    }

    #[test]
    fn body_must_be_a_small_json_object() {
        assert!(parse_body(b"{nope").unwrap_err().0[0].starts_with("Malformed JSON"));
        assert!(parse_body(b"[1]").is_err());
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_EVENT_BYTES));
        assert!(parse_body(big.as_bytes()).unwrap_err().0[0].contains("too large"));
    }
}
