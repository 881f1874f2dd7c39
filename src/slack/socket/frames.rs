//! Pure decoding of Socket Mode text frames (`reference/vendor-apis.md` §1.3) and building of
//! acks. Nothing here does I/O, so it can be fuzzed: any input yields a [`Frame`] or a
//! [`FrameError`], never a panic.
//!
//! slack-morphism's own frame types cannot be named from outside the crate (crates.md §1), so
//! the transport declares the few it needs. The envelope's `payload` stays raw JSON here;
//! [`decode_payload`] turns it into slack-morphism's payload types in a second step, so a
//! payload that fails to decode can still be acked by its `envelope_id`.

use serde::Deserialize;
use serde_json::{Value, json};
use slack_morphism::prelude::*;

/// The longest `retry_reason` kept (Slack's are short words like `timeout`).
const MAX_REASON_LEN: usize = 64;

/// One decoded server frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The first frame on a socket.
    Hello(Hello),
    /// Slack is about to close (or has stopped using) this socket.
    Disconnect(Disconnect),
    /// Work to ack.
    Envelope(Envelope),
}

/// `{"type":"hello",…}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hello {
    /// `num_connections`, 0 when absent.
    pub num_connections: u32,
    /// `connection_info.app_id`, empty when absent.
    pub app_id: String,
    /// `debug_info.host`, empty when absent.
    pub host: String,
    /// `debug_info.approximate_connection_time` in seconds, when given.
    pub approximate_connection_time: Option<u64>,
}

/// `{"type":"disconnect","reason":…}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// Why, as Slack said it.
    pub reason: DisconnectReason,
    /// `debug_info.host`, empty when absent.
    pub host: String,
}

/// The `disconnect` reasons Vigil treats differently (vendor-apis §1.3 item 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// About 10 s before Slack closes the socket; it keeps delivering until then.
    Warning,
    /// Routine recycling: no more envelopes on this socket.
    RefreshRequested,
    /// Socket Mode was turned off for the app: do not reconnect.
    LinkDisabled,
    /// Over the 10-connection cap.
    TooManyWebsockets,
    /// Anything else, kept verbatim (truncated).
    Other(String),
}

impl DisconnectReason {
    fn parse(reason: &str) -> Self {
        match reason {
            "warning" => DisconnectReason::Warning,
            "refresh_requested" => DisconnectReason::RefreshRequested,
            "link_disabled" => DisconnectReason::LinkDisabled,
            "too_many_websockets" => DisconnectReason::TooManyWebsockets,
            other => DisconnectReason::Other(truncate(other)),
        }
    }

    /// The reason as Slack spells it.
    pub fn as_str(&self) -> &str {
        match self {
            DisconnectReason::Warning => "warning",
            DisconnectReason::RefreshRequested => "refresh_requested",
            DisconnectReason::LinkDisabled => "link_disabled",
            DisconnectReason::TooManyWebsockets => "too_many_websockets",
            DisconnectReason::Other(s) => s,
        }
    }
}

/// An envelope's `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeType {
    /// `events_api`: an Events API event (DMs, `app_home_opened`).
    EventsApi,
    /// `slash_commands`: `/triage`.
    SlashCommands,
    /// `interactive`: button clicks and modal submissions.
    Interactive,
    /// A type Vigil does not know (acked and logged).
    Other(String),
}

impl EnvelopeType {
    /// The type as Slack spells it.
    pub fn as_str(&self) -> &str {
        match self {
            EnvelopeType::EventsApi => "events_api",
            EnvelopeType::SlashCommands => "slash_commands",
            EnvelopeType::Interactive => "interactive",
            EnvelopeType::Other(s) => s,
        }
    }
}

/// An envelope: what to ack and what to hand the inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `envelope_id`: the ack names it.
    pub envelope_id: String,
    /// The envelope's `type`: what its payload is.
    pub kind: EnvelopeType,
    /// `payload`, undecoded (null when absent).
    pub payload: Value,
    /// Whether the ack may carry a payload.
    pub accepts_response_payload: bool,
    /// `retry_attempt` (0 on the first delivery and when absent).
    pub retry_attempt: u32,
    /// `retry_reason` (empty on the first delivery and when absent).
    pub retry_reason: String,
}

/// Why a text frame is not something Vigil can act on or ack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not JSON, or not a JSON object.
    #[error("frame is not a JSON object: {0}")]
    NotJson(String),
    /// A JSON object whose `type` is missing and which has no `envelope_id`.
    #[error("frame has neither a known type nor an envelope_id (type {0:?})")]
    Unknown(String),
}

/// The fields read from any frame; everything optional so that shape errors become
/// [`FrameError`]s or defaults, never panics.
#[derive(Deserialize)]
struct RawFrame {
    #[serde(rename = "type", default)]
    kind: Option<Value>,
    #[serde(default)]
    envelope_id: Option<Value>,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    accepts_response_payload: Option<Value>,
    #[serde(default)]
    retry_attempt: Option<Value>,
    #[serde(default)]
    retry_reason: Option<Value>,
    #[serde(default)]
    reason: Option<Value>,
    #[serde(default)]
    num_connections: Option<Value>,
    #[serde(default)]
    debug_info: Option<Value>,
    #[serde(default)]
    connection_info: Option<Value>,
}

fn as_string(v: &Option<Value>) -> Option<String> {
    v.as_ref().and_then(Value::as_str).map(str::to_string)
}

fn truncate(s: &str) -> String {
    s.chars().take(MAX_REASON_LEN).collect()
}

fn debug_host(raw: &RawFrame) -> String {
    raw.debug_info
        .as_ref()
        .and_then(|d| d.get("host"))
        .and_then(Value::as_str)
        .map(truncate)
        .unwrap_or_default()
}

/// Decodes one text frame from Slack.
///
/// Any frame with a string `envelope_id` is an [`Envelope`] (whatever its `type`), so that it
/// can be acked even when its payload is unusable.
pub fn decode(text: &str) -> Result<Frame, FrameError> {
    let raw: RawFrame =
        serde_json::from_str(text).map_err(|e| FrameError::NotJson(e.to_string()))?;
    let kind = as_string(&raw.kind).unwrap_or_default();
    if let Some(envelope_id) = as_string(&raw.envelope_id) {
        let kind = match kind.as_str() {
            "events_api" => EnvelopeType::EventsApi,
            "slash_commands" => EnvelopeType::SlashCommands,
            "interactive" => EnvelopeType::Interactive,
            other => EnvelopeType::Other(truncate(other)),
        };
        let retry_attempt = raw
            .retry_attempt
            .as_ref()
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            .unwrap_or(0);
        return Ok(Frame::Envelope(Envelope {
            envelope_id,
            kind,
            payload: raw.payload.clone().unwrap_or(Value::Null),
            accepts_response_payload: raw
                .accepts_response_payload
                .as_ref()
                .and_then(Value::as_bool)
                .unwrap_or(false),
            retry_attempt,
            retry_reason: as_string(&raw.retry_reason)
                .map(|r| truncate(&r))
                .unwrap_or_default(),
        }));
    }
    match kind.as_str() {
        "hello" => Ok(Frame::Hello(Hello {
            num_connections: raw
                .num_connections
                .as_ref()
                .and_then(Value::as_u64)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                .unwrap_or(0),
            app_id: raw
                .connection_info
                .as_ref()
                .and_then(|c| c.get("app_id"))
                .and_then(Value::as_str)
                .map(truncate)
                .unwrap_or_default(),
            host: debug_host(&raw),
            approximate_connection_time: raw
                .debug_info
                .as_ref()
                .and_then(|d| d.get("approximate_connection_time"))
                .and_then(Value::as_u64),
        })),
        "disconnect" => Ok(Frame::Disconnect(Disconnect {
            reason: DisconnectReason::parse(&as_string(&raw.reason).unwrap_or_default()),
            host: debug_host(&raw),
        })),
        other => Err(FrameError::Unknown(truncate(other))),
    }
}

/// An envelope's payload as slack-morphism's types.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A slash command.
    Command(Box<SlackCommandEvent>),
    /// A button, modal submission or other interaction.
    Interaction(Box<SlackInteractionEvent>),
    /// An Events API `event_callback`.
    Push(Box<SlackPushEventCallback>),
}

/// Why a payload could not be decoded (the envelope is acked and logged, not redelivered).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} payload does not decode: {reason}")]
pub struct PayloadError {
    /// The envelope type.
    pub kind: String,
    /// The decoder's message.
    pub reason: String,
}

/// Decodes an envelope's payload by its type.
pub fn decode_payload(envelope: &Envelope) -> Result<Payload, PayloadError> {
    let err = |e: serde_json::Error| PayloadError {
        kind: envelope.kind.as_str().to_string(),
        reason: e.to_string(),
    };
    let payload = envelope.payload.clone();
    match &envelope.kind {
        EnvelopeType::SlashCommands => serde_json::from_value(payload)
            .map(|c| Payload::Command(Box::new(c)))
            .map_err(err),
        EnvelopeType::Interactive => serde_json::from_value(payload)
            .map(|i| Payload::Interaction(Box::new(i)))
            .map_err(err),
        EnvelopeType::EventsApi => serde_json::from_value(payload)
            .map(|p| Payload::Push(Box::new(p)))
            .map_err(err),
        EnvelopeType::Other(kind) => Err(PayloadError {
            kind: kind.clone(),
            reason: "unknown envelope type".into(),
        }),
    }
}

/// The ack frame: `{"envelope_id":…}`, with `payload` when there is one.
pub fn ack(envelope_id: &str, payload: Option<Value>) -> String {
    match payload {
        Some(p) => json!({"envelope_id": envelope_id, "payload": p}).to_string(),
        None => json!({"envelope_id": envelope_id}).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_and_disconnect_decode() {
        let hello = decode(
            r#"{"type":"hello","num_connections":2,"debug_info":{"host":"h1","approximate_connection_time":360},"connection_info":{"app_id":"A1"}}"#,
        );
        assert_eq!(
            hello,
            Ok(Frame::Hello(Hello {
                num_connections: 2,
                app_id: "A1".into(),
                host: "h1".into(),
                approximate_connection_time: Some(360),
            }))
        );
        for (reason, expected) in [
            ("warning", DisconnectReason::Warning),
            ("refresh_requested", DisconnectReason::RefreshRequested),
            ("link_disabled", DisconnectReason::LinkDisabled),
            ("too_many_websockets", DisconnectReason::TooManyWebsockets),
            ("mystery", DisconnectReason::Other("mystery".into())),
        ] {
            let text = json!({"type":"disconnect","reason":reason,"debug_info":{"host":"h"}});
            assert_eq!(
                decode(&text.to_string()),
                Ok(Frame::Disconnect(Disconnect {
                    reason: expected,
                    host: "h".into()
                }))
            );
        }
    }

    #[test]
    fn envelopes_keep_their_delivery_facts() {
        let text = r#"{"envelope_id":"e1","type":"events_api","payload":{"event_id":"Ev1"},"accepts_response_payload":false,"retry_attempt":2,"retry_reason":"timeout"}"#;
        let Ok(Frame::Envelope(env)) = decode(text) else {
            panic!("an envelope");
        };
        assert_eq!(env.envelope_id, "e1");
        assert_eq!(env.kind, EnvelopeType::EventsApi);
        assert_eq!(env.retry_attempt, 2);
        assert_eq!(env.retry_reason, "timeout");
        assert!(!env.accepts_response_payload);
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        for text in [
            "",
            "not json",
            "[]",
            "42",
            r#"{"type":7}"#,
            r#"{"type":"nope"}"#,
            r#"{"envelope_id":5}"#,
        ] {
            assert!(decode(text).is_err(), "{text}");
        }
        // An envelope with an unknown type and junk fields still decodes, so it can be acked.
        let Ok(Frame::Envelope(env)) = decode(
            r#"{"envelope_id":"x","type":["odd"],"retry_attempt":-1,"accepts_response_payload":"yes"}"#,
        ) else {
            panic!("ackable");
        };
        assert_eq!(env.kind, EnvelopeType::Other(String::new()));
        assert_eq!(env.retry_attempt, 0);
        assert!(decode_payload(&env).is_err());
    }

    #[test]
    fn payloads_decode_by_type() {
        let env = Envelope {
            envelope_id: "e".into(),
            kind: EnvelopeType::Interactive,
            payload: json!({"type": "no_such_interaction"}),
            accepts_response_payload: false,
            retry_attempt: 0,
            retry_reason: String::new(),
        };
        let e = decode_payload(&env).err().map(|e| e.kind);
        assert_eq!(e.as_deref(), Some("interactive"));
    }

    #[test]
    fn acks_name_the_envelope() {
        assert_eq!(ack("e1", None), r#"{"envelope_id":"e1"}"#);
        let with = ack("e1", Some(json!({"text": "hi"})));
        let v: Value = serde_json::from_str(&with).unwrap_or_default();
        assert_eq!(v, json!({"envelope_id": "e1", "payload": {"text": "hi"}}));
    }
}
