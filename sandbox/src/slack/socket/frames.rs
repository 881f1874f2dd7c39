//! The JSON frames Slack sends over Socket Mode (`reference/vendor-apis.md` §1.3), built in one
//! place so every frame has exactly the fields the official SDKs require: `hello` needs
//! `connection_info.app_id`, `num_connections` and `debug_info.host`; every envelope needs
//! `envelope_id` and a boolean `accepts_response_payload`.

use serde_json::{Value, json};

use super::EnvelopeKind;

/// Seconds until Slack recycles a socket (about five hours).
pub const CONNECTION_TIME_SECS: u64 = 18_060;

/// Seconds until Slack recycles a socket opened with `debug_reconnects=true`.
pub const DEBUG_CONNECTION_TIME_SECS: u64 = 360;

/// The `debug_info.host` of connection `id`, as Slack names its link hosts.
pub fn host_name(id: u64) -> String {
    format!("applink-sandbox-{id}")
}

/// The first frame on every accepted socket.
pub fn hello(num_connections: usize, host: &str, connection_secs: u64, app_id: &str) -> Value {
    json!({
        "type": "hello",
        "num_connections": num_connections,
        "debug_info": {
            "host": host,
            "build_number": 1,
            "approximate_connection_time": connection_secs,
        },
        "connection_info": {"app_id": app_id},
    })
}

/// A `disconnect` frame (`warning`, `refresh_requested`, `too_many_websockets`, …).
pub fn disconnect(reason: &str, host: &str) -> Value {
    json!({
        "type": "disconnect",
        "reason": reason,
        "debug_info": {"host": host},
    })
}

/// Whether the app may answer this envelope with a payload in its ack: slash commands always,
/// interactive payloads only for `view_submission` and `block_suggestion`.
pub fn accepts_response_payload(kind: EnvelopeKind, payload: &Value) -> bool {
    match kind {
        EnvelopeKind::SlashCommands => true,
        EnvelopeKind::Interactive => matches!(
            payload.get("type").and_then(Value::as_str),
            Some("view_submission" | "block_suggestion")
        ),
        EnvelopeKind::EventsApi => false,
    }
}

/// Which delivery of an `events_api` envelope this is: 0 is the first, 1..3 the retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// `retry_attempt` in the envelope (0 to 3); `retry_reason` follows from it.
    pub number: u32,
}

impl Attempt {
    /// The first delivery (`retry_attempt: 0`, `retry_reason: ""`).
    pub const FIRST: Attempt = Attempt { number: 0 };

    /// `retry_reason`: empty on the first delivery, `timeout` on retries.
    pub fn reason(self) -> &'static str {
        if self.number == 0 { "" } else { "timeout" }
    }
}

/// An envelope with every field Slack sends; `retry_attempt` and `retry_reason` only for
/// `events_api`.
pub fn envelope(kind: EnvelopeKind, envelope_id: &str, payload: Value, attempt: Attempt) -> Value {
    let accepts = accepts_response_payload(kind, &payload);
    let mut frame = json!({
        "envelope_id": envelope_id,
        "type": kind.as_str(),
        "payload": payload,
        "accepts_response_payload": accepts,
    });
    if kind == EnvelopeKind::EventsApi {
        frame["retry_attempt"] = json!(attempt.number);
        frame["retry_reason"] = json!(attempt.reason());
    }
    frame
}

/// A fresh envelope id (Slack's are UUID v4 strings).
pub fn new_envelope_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_api_envelope_carries_retry_fields() {
        let env = envelope(
            EnvelopeKind::EventsApi,
            "e1",
            json!({"event_id": "Ev1"}),
            Attempt::FIRST,
        );
        assert_eq!(
            env,
            json!({
                "envelope_id": "e1",
                "type": "events_api",
                "payload": {"event_id": "Ev1"},
                "accepts_response_payload": false,
                "retry_attempt": 0,
                "retry_reason": "",
            })
        );
        let retry = envelope(
            EnvelopeKind::EventsApi,
            "e2",
            json!({}),
            Attempt { number: 2 },
        );
        assert_eq!(retry["retry_attempt"], 2);
        assert_eq!(retry["retry_reason"], "timeout");
    }

    #[test]
    fn other_envelopes_have_no_retry_fields() {
        let env = envelope(
            EnvelopeKind::SlashCommands,
            "e1",
            json!({"command": "/x"}),
            Attempt::FIRST,
        );
        assert_eq!(env["type"], "slash_commands");
        assert_eq!(env["accepts_response_payload"], true);
        assert!(env.get("retry_attempt").is_none());
        assert!(env.get("retry_reason").is_none());
    }

    #[test]
    fn only_some_interactions_accept_a_response_payload() {
        let kind = EnvelopeKind::Interactive;
        for (ty, expected) in [
            ("view_submission", true),
            ("block_suggestion", true),
            ("block_actions", false),
            ("view_closed", false),
            ("shortcut", false),
        ] {
            assert_eq!(
                accepts_response_payload(kind, &json!({"type": ty})),
                expected,
                "{ty}"
            );
        }
        assert!(!accepts_response_payload(kind, &json!("not an object")));
    }

    #[test]
    fn hello_has_the_fields_sdks_require() {
        let h = hello(2, "applink-sandbox-7", CONNECTION_TIME_SECS, "A1");
        assert_eq!(h["type"], "hello");
        assert_eq!(h["num_connections"], 2);
        assert_eq!(h["debug_info"]["host"], "applink-sandbox-7");
        assert_eq!(h["debug_info"]["approximate_connection_time"], 18_060);
        assert_eq!(h["connection_info"]["app_id"], "A1");
    }
}
