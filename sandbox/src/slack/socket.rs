//! Slack Socket Mode server (`reference/vendor-apis.md` §1.3, SPEC §7.4): the WebSocket at
//! `/slack/socket` that `apps.connections.open` points apps at.
//!
//! It behaves like Slack's link servers: a single-use ticket opens a socket, the first frame
//! is `hello`, at most 10 sockets per app, envelopes go round robin to one socket each and must
//! be acked on that socket, unacked `events_api` envelopes are delivered again with
//! `retry_attempt` 1..3, `disconnect` frames recycle sockets, and ping/pong keeps them alive.
//! As on Slack, a socket told `warning` keeps receiving envelopes until its `refresh_requested`
//! arrives (`slack_refresh_after_warning_ms` later); after `refresh_requested` or any other
//! reason it gets no more envelopes and closes after a short grace.
//!
//! `handshake` answers the HTTP upgrade, `conn` runs one socket, `redeliver` retries unacked
//! events and `frames` builds the JSON Slack sends.

mod conn;
mod frames;
mod handshake;
mod redeliver;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

use crate::{Sandbox, args};

use frames::Attempt;

/// Slack's cap on concurrent sockets per app.
const MAX_CONNECTIONS: usize = 10;

/// Tickets kept before the oldest unused ones are forgotten.
const MAX_TICKETS: usize = 1_000;

/// Deliveries kept for [`Hub::status`].
const MAX_DELIVERIES: usize = 100;

/// The three envelope types Slack sends over Socket Mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    /// `events_api` (redelivered when not acked).
    EventsApi,
    /// `slash_commands` (`accepts_response_payload: true`).
    SlashCommands,
    /// `interactive`: block actions and view submissions (`accepts_response_payload` only for
    /// `view_submission` and `block_suggestion`).
    Interactive,
}

impl EnvelopeKind {
    /// The envelope's `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeKind::EventsApi => "events_api",
            EnvelopeKind::SlashCommands => "slash_commands",
            EnvelopeKind::Interactive => "interactive",
        }
    }
}

/// What a push call answers (SPEC §7.4).
#[derive(Debug, Clone, Serialize)]
pub struct PushOutcome {
    /// The envelope's `envelope_id`, which the app's ack must echo.
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

/// How often the server pings each socket and how long a silent socket lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Interval between server pings (Slack-like default: 10 s).
    pub ping_every: Duration,
    /// A socket that sent nothing (no frame, no pong) for this long is closed (default: 60 s).
    pub idle_after: Duration,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            ping_every: Duration::from_secs(10),
            idle_after: Duration::from_secs(60),
        }
    }
}

/// Socket Mode connections, tickets and pending acks.
pub struct Hub {
    shared: Arc<Shared>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            shared: Arc::new(Shared::new()),
        }
    }
}

impl Hub {
    /// Forgets pending redeliveries and the delivery log; connections and tickets stay.
    pub fn reset(&self) {
        self.shared.generation.send_modify(|g| *g += 1);
        self.shared.state.lock().deliveries.clear();
    }

    /// A single-use ticket for the URL `apps.connections.open` returns.
    pub fn issue_ticket(&self) -> String {
        let ticket = uuid::Uuid::new_v4().to_string();
        let mut st = self.shared.state.lock();
        if st.tickets.len() >= MAX_TICKETS {
            st.tickets.pop_front();
        }
        st.tickets.push_back(ticket.clone());
        ticket
    }

    /// Sends an envelope to one connection (round robin) and waits for its ack or the ack
    /// timeout; unacked `events_api` envelopes are redelivered in the background.
    pub async fn push(
        &self,
        sb: &Sandbox,
        kind: EnvelopeKind,
        payload: Value,
    ) -> Result<PushOutcome, NoSocket> {
        let envelope_id = frames::new_envelope_id();
        let frame = frames::envelope(kind, &envelope_id, payload.clone(), Attempt::FIRST);
        let outgoing = Outgoing {
            envelope_id: Some(envelope_id),
            text: frame.to_string(),
            kind: kind.as_str().to_string(),
            retry_attempt: (kind == EnvelopeKind::EventsApi).then_some(0),
        };
        let outcome = self.shared.deliver(ack_timeout(sb), outgoing).await?;
        if kind == EnvelopeKind::EventsApi && !outcome.acked {
            redeliver::spawn(self.shared.clone(), sb.clone(), payload);
        }
        Ok(outcome)
    }

    /// Sends a raw frame as given (for malformed-envelope tests) and waits like `push` when it
    /// has a string `envelope_id`; otherwise answers at once with `acked: false`. A JSON string
    /// is sent as its bare text, so tests can send frames that are not JSON at all. Raw frames
    /// are never redelivered.
    pub async fn push_raw(&self, sb: &Sandbox, frame: Value) -> Result<PushOutcome, NoSocket> {
        let envelope_id = frame
            .get("envelope_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let outgoing = Outgoing {
            envelope_id,
            text: match &frame {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            kind: frame
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("raw")
                .to_string(),
            retry_attempt: frame.get("retry_attempt").and_then(Value::as_u64),
        };
        self.shared.deliver(ack_timeout(sb), outgoing).await
    }

    /// [`Hub::disconnect`] to every open socket.
    pub fn disconnect_all(&self, reason: &str) {
        self.disconnect(reason, None, Duration::from_millis(10_000));
    }

    /// Sends `{"type":"disconnect","reason":…}` to the socket with id `socket`, or to every
    /// open socket; answers how many were told. `"warning"`: the socket keeps receiving and
    /// gets `refresh_requested` after `refresh_after`. `"drop"` closes abruptly (no frame);
    /// `"hang"` makes the socket go silent both ways (no frames, no pongs, as a dead network
    /// path would) until its idle timeout; it gets no more envelopes. Any other reason: no
    /// more envelopes, then a normal close after a short grace.
    pub fn disconnect(&self, reason: &str, socket: Option<u64>, refresh_after: Duration) -> usize {
        let mut st = self.shared.state.lock();
        let mut told = 0;
        for conn in st
            .conns
            .iter_mut()
            .filter(|c| !c.closing && socket.is_none_or(|id| id == c.id))
        {
            let cmd = match reason {
                "drop" => Command::Drop,
                "hang" => Command::Hang,
                "warning" => Command::Warn(refresh_after),
                other => Command::Disconnect(other.to_string()),
            };
            if !matches!(cmd, Command::Warn(_)) {
                conn.closing = true;
            }
            let _ = conn.tx.send(cmd);
            told += 1;
        }
        told
    }

    /// How many sockets are open (those already told to disconnect are not counted).
    pub fn connections(&self) -> usize {
        self.shared.state.lock().open_count()
    }

    /// Changes the server's ping interval and idle timeout for sockets opened from now on
    /// (tests shorten them; the defaults are Slack-like).
    pub fn set_keepalive(&self, keepalive: Keepalive) {
        self.shared.state.lock().keepalive = keepalive;
    }

    /// How many `events_api` envelopes are waiting to be delivered again.
    pub fn pending_redeliveries(&self) -> usize {
        self.shared.redeliveries.load(Ordering::SeqCst)
    }

    /// A view for tests and `GET /_sandbox/slack/sockets`: open sockets, the last deliveries
    /// (with ack timings) and how many redeliveries are pending.
    pub fn status(&self) -> Value {
        let st = self.shared.state.lock();
        let connections: Vec<Value> = st
            .conns
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "host": c.host,
                    "connected_at": c.connected_at,
                    "closing": c.closing,
                })
            })
            .collect();
        let acks: Vec<&Delivery> = st.deliveries.iter().filter(|d| d.acked).collect();
        json!({
            "open": st.open_count(),
            "connections": connections,
            "acks": acks,
            "deliveries": st.deliveries,
            "pending_redeliveries": self.pending_redeliveries(),
        })
    }
}

/// The ack timeout from the live settings.
fn ack_timeout(sb: &Sandbox) -> Duration {
    Duration::from_millis(sb.settings.get().slack_ack_timeout_ms)
}

/// `GET /slack/socket`: checks the handshake and the ticket, answers 101 and hands the socket
/// to its own task. Errors are plain HTTP answers given before any upgrade.
pub async fn upgrade(State(sb): State<Sandbox>, mut req: Request) -> Response {
    let accept = match handshake::accept_key(req.headers()) {
        Ok(accept) => accept,
        Err(refusal) => return refusal.into_response(),
    };
    let query = req.uri().query();
    let ticket = args::query_one(query, "ticket").unwrap_or_default();
    if !sb.slack.socket.shared.take_ticket(&ticket) {
        return handshake::invalid_ticket();
    }
    let lifetime_secs = match args::query_one(query, "debug_reconnects").as_deref() {
        Some("true") => frames::DEBUG_CONNECTION_TIME_SECS,
        _ => frames::CONNECTION_TIME_SECS,
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(conn::serve(
        sb.slack.socket.shared.clone(),
        sb.credentials.slack.app_id.clone(),
        on_upgrade,
        Duration::from_secs(lifetime_secs),
    ));
    handshake::switching_protocols(&accept)
}

/// What the hub tells a connection task to do.
enum Command {
    /// Send this text frame.
    Frame(String),
    /// Send a `disconnect` frame with this reason, then close after a grace period.
    Disconnect(String),
    /// Send a `warning` disconnect; `refresh_requested` follows after this long.
    Warn(Duration),
    /// Go silent both ways until the idle timeout, then drop the connection.
    Hang,
    /// Close the TCP connection at once, without a close frame.
    Drop,
}

/// An ack as the connection task received it.
struct Ack {
    /// When the frame arrived.
    at: Instant,
    /// The ack's `payload`, if any.
    payload: Option<Value>,
}

/// An envelope waiting for its ack, on the socket it was sent to.
struct Pending {
    conn_id: u64,
    tx: oneshot::Sender<Ack>,
}

/// One open socket as the hub sees it.
struct ConnEntry {
    id: u64,
    host: String,
    tx: mpsc::UnboundedSender<Command>,
    connected_at: String,
    /// Told to disconnect: gets no more envelopes and no longer counts as open.
    closing: bool,
}

/// A frame to deliver and what to log about it.
struct Outgoing {
    envelope_id: Option<String>,
    text: String,
    kind: String,
    retry_attempt: Option<u64>,
}

/// One delivery, for [`Hub::status`].
#[derive(Debug, Clone, Serialize)]
struct Delivery {
    envelope_id: String,
    #[serde(rename = "type")]
    kind: String,
    retry_attempt: Option<u64>,
    connection: u64,
    acked: bool,
    ack_ms: Option<u64>,
}

/// How a new socket is received.
enum Registration {
    /// Open; `num_connections` includes it.
    Accepted {
        id: u64,
        host: String,
        rx: mpsc::UnboundedReceiver<Command>,
        num_connections: usize,
        keepalive: Keepalive,
    },
    /// Over the cap: gets `too_many_websockets` and is closed.
    TooMany { host: String },
}

/// The hub's state, shared with connection and redelivery tasks.
struct Shared {
    state: Mutex<HubState>,
    /// Bumped by `reset`; redelivery tasks stop when it changes.
    generation: watch::Sender<u64>,
    next_conn_id: AtomicU64,
    redeliveries: AtomicUsize,
}

struct HubState {
    tickets: VecDeque<String>,
    conns: Vec<ConnEntry>,
    next_rr: usize,
    pending: HashMap<String, Pending>,
    deliveries: VecDeque<Delivery>,
    keepalive: Keepalive,
}

impl HubState {
    fn open_count(&self) -> usize {
        self.conns.iter().filter(|c| !c.closing).count()
    }

    /// Sends `out` to the next open socket in turn, registering its pending ack first so a
    /// fast ack cannot be missed. Answers the socket's id and the ack receiver.
    fn send_next(
        &mut self,
        out: &Outgoing,
    ) -> Result<(u64, Option<oneshot::Receiver<Ack>>), NoSocket> {
        let n = self.conns.len();
        for step in 0..n {
            let i = (self.next_rr + step) % n;
            if self.conns[i].closing {
                continue;
            }
            let conn_id = self.conns[i].id;
            let rx = out.envelope_id.as_ref().map(|id| {
                let (tx, rx) = oneshot::channel();
                self.pending.insert(id.clone(), Pending { conn_id, tx });
                rx
            });
            if self.conns[i]
                .tx
                .send(Command::Frame(out.text.clone()))
                .is_ok()
            {
                self.next_rr = i + 1;
                return Ok((conn_id, rx));
            }
            if let Some(id) = &out.envelope_id {
                self.pending.remove(id);
            }
            self.conns[i].closing = true;
        }
        Err(NoSocket)
    }

    fn log(&mut self, delivery: Delivery) {
        if self.deliveries.len() >= MAX_DELIVERIES {
            self.deliveries.pop_front();
        }
        self.deliveries.push_back(delivery);
    }
}

impl Shared {
    fn new() -> Self {
        Shared {
            state: Mutex::new(HubState {
                tickets: VecDeque::new(),
                conns: Vec::new(),
                next_rr: 0,
                pending: HashMap::new(),
                deliveries: VecDeque::new(),
                keepalive: Keepalive::default(),
            }),
            generation: watch::Sender::new(0),
            next_conn_id: AtomicU64::new(1),
            redeliveries: AtomicUsize::new(0),
        }
    }

    /// Consumes a ticket; false when it is empty, unknown or already used.
    fn take_ticket(&self, ticket: &str) -> bool {
        let mut st = self.state.lock();
        match st.tickets.iter().position(|t| t == ticket) {
            Some(i) => st.tickets.remove(i).is_some(),
            None => false,
        }
    }

    /// Adds a new socket unless the app already has the maximum open.
    fn register(&self) -> Registration {
        let id = self.next_conn_id.fetch_add(1, Ordering::SeqCst);
        let host = frames::host_name(id);
        let mut st = self.state.lock();
        if st.open_count() >= MAX_CONNECTIONS {
            return Registration::TooMany { host };
        }
        let (tx, rx) = mpsc::unbounded_channel();
        st.conns.push(ConnEntry {
            id,
            host: host.clone(),
            tx,
            connected_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            closing: false,
        });
        Registration::Accepted {
            id,
            host,
            rx,
            num_connections: st.open_count(),
            keepalive: st.keepalive,
        }
    }

    /// Forgets a closed socket.
    fn unregister(&self, id: u64) {
        self.state.lock().conns.retain(|c| c.id != id);
    }

    /// Marks a socket as closing (it is going away on its own, e.g. after a `refresh_requested`).
    fn mark_closing(&self, id: u64) {
        if let Some(c) = self.state.lock().conns.iter_mut().find(|c| c.id == id) {
            c.closing = true;
        }
    }

    /// A text frame from socket `conn_id`: an ack if it names an envelope pending on that
    /// socket; anything else is logged and ignored.
    fn on_text(&self, conn_id: u64, text: &str) {
        let at = Instant::now();
        let Ok(frame) = serde_json::from_str::<Value>(text) else {
            tracing::debug!(conn_id, "socket mode: ignoring a frame that is not JSON");
            return;
        };
        let Some(envelope_id) = frame.get("envelope_id").and_then(Value::as_str) else {
            tracing::debug!(conn_id, "socket mode: ignoring a frame without envelope_id");
            return;
        };
        let mut st = self.state.lock();
        let on_this_socket = st
            .pending
            .get(envelope_id)
            .is_some_and(|p| p.conn_id == conn_id);
        if !on_this_socket {
            tracing::debug!(
                conn_id,
                envelope_id,
                "socket mode: ack for no pending envelope"
            );
            return;
        }
        if let Some(p) = st.pending.remove(envelope_id) {
            let payload = frame.get("payload").cloned();
            let _ = p.tx.send(Ack { at, payload });
        }
    }

    /// Sends `out` round robin and waits for its ack up to `timeout`.
    async fn deliver(&self, timeout: Duration, out: Outgoing) -> Result<PushOutcome, NoSocket> {
        let sent_at = Instant::now();
        let (conn_id, rx) = self.state.lock().send_next(&out)?;
        let Some(rx) = rx else {
            return Ok(PushOutcome {
                envelope_id: String::new(),
                acked: false,
                ack_ms: None,
                response: None,
            });
        };
        let envelope_id = out.envelope_id.clone().unwrap_or_default();
        // An ack is judged by when it arrived, not by when this task got to look at it: on a
        // busy runtime the timer can fire late, and an ack after the timeout is late.
        let ack = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(ack)) if ack.at.saturating_duration_since(sent_at) <= timeout => Some(ack),
            _ => None,
        };
        let ack_ms = ack
            .as_ref()
            .map(|a| a.at.saturating_duration_since(sent_at).as_millis() as u64);
        let mut st = self.state.lock();
        if ack.is_none() {
            st.pending.remove(&envelope_id);
        }
        st.log(Delivery {
            envelope_id: envelope_id.clone(),
            kind: out.kind,
            retry_attempt: out.retry_attempt,
            connection: conn_id,
            acked: ack.is_some(),
            ack_ms,
        });
        Ok(PushOutcome {
            envelope_id,
            acked: ack.is_some(),
            ack_ms,
            response: ack.and_then(|a| a.payload),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_work_once() {
        let hub = Hub::default();
        let t = hub.issue_ticket();
        assert!(!hub.shared.take_ticket(""));
        assert!(!hub.shared.take_ticket("nope"));
        assert!(hub.shared.take_ticket(&t));
        assert!(!hub.shared.take_ticket(&t), "a ticket is single use");
    }

    #[test]
    fn the_eleventh_socket_is_refused() {
        let hub = Hub::default();
        let mut keep = Vec::new();
        for n in 1..=MAX_CONNECTIONS {
            match hub.shared.register() {
                Registration::Accepted {
                    rx,
                    num_connections,
                    ..
                } => {
                    assert_eq!(num_connections, n);
                    keep.push(rx);
                }
                Registration::TooMany { .. } => panic!("refused socket {n}"),
            }
        }
        assert!(matches!(
            hub.shared.register(),
            Registration::TooMany { .. }
        ));
        assert_eq!(hub.connections(), MAX_CONNECTIONS);
    }

    #[test]
    fn acks_only_count_on_the_socket_the_envelope_went_to() {
        let hub = Hub::default();
        let (tx, mut rx) = oneshot::channel();
        hub.shared
            .state
            .lock()
            .pending
            .insert("e1".into(), Pending { conn_id: 1, tx });
        hub.shared.on_text(2, r#"{"envelope_id":"e1"}"#);
        hub.shared.on_text(1, "not json");
        hub.shared.on_text(1, r#"{"no_id":true}"#);
        assert!(rx.try_recv().is_err(), "still pending");
        hub.shared
            .on_text(1, r#"{"envelope_id":"e1","payload":{"text":"hi"}}"#);
        let ack = rx.try_recv().ok();
        assert_eq!(ack.and_then(|a| a.payload), Some(json!({"text": "hi"})));
    }

    #[tokio::test]
    async fn push_without_sockets_is_no_socket() {
        let sb = Sandbox::new();
        let out = sb
            .slack
            .socket
            .push(&sb, EnvelopeKind::EventsApi, json!({}))
            .await;
        assert!(out.is_err());
    }
}
