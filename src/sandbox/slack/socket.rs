//! Slack Socket Mode server (placeholder: the interface the rest of the Slack simulator uses).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::sandbox::Sandbox;

/// The three envelope types Slack sends over Socket Mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    /// `events_api` (redelivered when not acked).
    EventsApi,
    /// `slash_commands` (`accepts_response_payload: true`).
    SlashCommands,
    /// `interactive`.
    Interactive,
}

/// What a push call answers (SPEC §7.4).
#[derive(Debug, Clone, Serialize)]
pub struct PushOutcome {
    /// The envelope's id.
    pub envelope_id: String,
    /// Whether an ack arrived before the ack timeout.
    pub acked: bool,
    /// Milliseconds from send to ack; null when not acked.
    pub ack_ms: Option<u64>,
    /// The ack's payload, or null.
    pub response: Option<Value>,
}

/// No socket is connected (the push call answers 409 `no_socket`).
#[derive(Debug, Clone, Copy)]
pub struct NoSocket;

/// Socket Mode connections, tickets and pending acks.
#[derive(Default)]
pub struct Hub;

impl Hub {
    /// Forgets pending redeliveries; connections stay open.
    pub fn reset(&self) {}

    /// A single-use ticket for the URL `apps.connections.open` returns.
    pub fn issue_ticket(&self) -> String {
        String::new()
    }

    /// Sends an envelope to one connection (round robin) and waits for its ack or the ack
    /// timeout; unacked `events_api` envelopes are redelivered in the background.
    pub async fn push(
        &self,
        _sb: &Sandbox,
        _kind: EnvelopeKind,
        _payload: Value,
    ) -> Result<PushOutcome, NoSocket> {
        Err(NoSocket)
    }

    /// Sends a raw frame as given (for malformed-envelope tests) and waits like `push`.
    pub async fn push_raw(&self, _sb: &Sandbox, _frame: Value) -> Result<PushOutcome, NoSocket> {
        Err(NoSocket)
    }

    /// Sends `{"type":"disconnect","reason":…}` to every socket; `"drop"` closes them abruptly.
    pub fn disconnect_all(&self, _reason: &str) {}

    /// How many sockets are open.
    pub fn connections(&self) -> usize {
        0
    }
}

/// `GET /slack/socket`: the WebSocket upgrade.
pub async fn upgrade(State(_sb): State<Sandbox>) -> Response {
    StatusCode::NOT_FOUND.into_response()
}
