//! Vigil's own Socket Mode transport (SPEC §5), on tokio-tungstenite, in front of an [`Inbox`].
//!
//! Invariants:
//! - **The reader never waits on a handler.** Each connection's reader hands every envelope to
//!   a bounded set of concurrent handlers (decode, dedupe, persist) and goes straight back to
//!   reading; acks go out through the connection's one writer.
//! - **An envelope is acked only after it is durable, or rejected as undecodable.** An inbox
//!   that cannot persist answers [`NotPersisted`]: no ack, so Slack redelivers, and where the
//!   payload has a `response_url` the person is told it failed.
//! - **Replacement first.** On `warning`, `refresh_requested` or a silent socket, the pool opens
//!   the new connection before it closes the old one; `link_disabled` stops reconnecting.
//!
//! `frames` decodes text frames (pure), `handler` runs one envelope through the inbox, `conn`
//! runs one socket (reader, writer, ping watchdog) and `pool` keeps N of them with capped,
//! jittered backoff. slack-morphism is used only for `apps.connections.open`, `response_url`
//! replies and the payload types.

mod conn;
pub mod frames;
mod handler;
mod pool;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tokio::sync::watch;

use super::client::{Slack, app_token};
use super::config::SlackConfig;

/// How one envelope reached Vigil: the facts Slack puts next to the payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Delivery {
    /// `envelope_id` (a dedupe key of its own: Slack may deliver the same envelope again).
    pub envelope_id: String,
    /// `retry_attempt`: 0 on the first delivery of an event, 1..3 on Slack's retries.
    pub retry_attempt: u32,
    /// `retry_reason`: empty on the first delivery, e.g. `timeout` on a retry.
    pub retry_reason: String,
}

/// The inbox could not make an envelope durable, so it must not be acked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not persisted: {0}")]
pub struct NotPersisted(pub String);

/// Where decoded Slack events go. Implementations must return quickly: decode, dedupe,
/// persist, hand off; they run on a blocking thread (they fsync the store), never on the
/// reader. `Err(NotPersisted)` means "do not ack": Slack will redeliver.
pub trait Inbox: Send + Sync + 'static {
    /// A slash command; the returned message is shown to its author in the ack.
    fn command(
        &self,
        event: SlackCommandEvent,
        delivery: &Delivery,
    ) -> Result<SlackCommandEventResponse, NotPersisted>;
    /// A button, modal submission or other interaction.
    fn interaction(
        &self,
        event: SlackInteractionEvent,
        delivery: &Delivery,
    ) -> Result<(), NotPersisted>;
    /// An Events API event (`message.im`, `app_home_opened`, …).
    fn push(&self, event: SlackPushEventCallback, delivery: &Delivery) -> Result<(), NotPersisted>;
}

/// What the socket layer knows about its own health, for `/healthz` and tests.
#[derive(Debug, Default)]
pub struct SocketHealth {
    hellos: AtomicU64,
    last_hello_connections: AtomicU32,
    live: AtomicU32,
    envelopes: AtomicU64,
    acks: AtomicU64,
    not_acked: AtomicU64,
    disabled: Mutex<Option<String>>,
    stopped: std::sync::atomic::AtomicBool,
}

impl SocketHealth {
    /// How many `hello` frames arrived (one per successful connection).
    pub fn hellos(&self) -> u64 {
        self.hellos.load(Ordering::Relaxed)
    }

    /// `num_connections` from the latest hello.
    pub fn connections(&self) -> u32 {
        self.last_hello_connections.load(Ordering::Relaxed)
    }

    /// Sockets that said hello and are not yet retired.
    pub fn live(&self) -> u32 {
        self.live.load(Ordering::Relaxed)
    }

    /// Envelopes read from Slack.
    pub fn envelopes(&self) -> u64 {
        self.envelopes.load(Ordering::Relaxed)
    }

    /// Acks written.
    pub fn acks(&self) -> u64 {
        self.acks.load(Ordering::Relaxed)
    }

    /// Envelopes deliberately left unacked because they could not be persisted.
    pub fn not_acked(&self) -> u64 {
        self.not_acked.load(Ordering::Relaxed)
    }

    /// Why Socket Mode stopped for good (`link_disabled`), if it did.
    pub fn disabled(&self) -> Option<String> {
        self.disabled.lock().clone()
    }

    /// Whether the pool has stopped for good (after `link_disabled` or shutdown): nothing
    /// will open a connection again.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    fn on_hello(&self, num_connections: u32) {
        self.hellos.fetch_add(1, Ordering::Relaxed);
        self.last_hello_connections
            .store(num_connections, Ordering::Relaxed);
    }

    fn set_live(&self, n: usize) {
        self.live
            .store(u32::try_from(n).unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    fn disable(&self, reason: String) {
        *self.disabled.lock() = Some(reason);
    }
}

/// Timings of the transport. The defaults are the product's; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Interval between our WebSocket pings on each socket.
    pub ping_every: Duration,
    /// A socket with no frame and no pong for this long is replaced.
    pub dead_after: Duration,
    /// Limit on `apps.connections.open` plus the WebSocket handshake.
    pub open_timeout: Duration,
    /// First backoff after a failed connection attempt (doubles per failure, with jitter).
    pub backoff_first: Duration,
    /// Upper bound of the backoff.
    pub backoff_cap: Duration,
    /// Envelope handlers that may run at once (over all connections).
    pub handlers: usize,
    /// How long a retiring socket waits for its handlers before it closes anyway.
    pub drain_timeout: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            ping_every: Duration::from_secs(5),
            dead_after: Duration::from_secs(12),
            open_timeout: Duration::from_secs(10),
            backoff_first: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            handlers: 32,
            drain_timeout: Duration::from_secs(3),
        }
    }
}

/// A running set of Socket Mode connections.
pub struct SocketMode {
    stop: watch::Sender<bool>,
    pool: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Connection health counters.
    pub health: Arc<SocketHealth>,
}

/// Why Socket Mode could not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "slack apps.connections.open failed: {0} (check slack.app_token: an xapp- token with connections:write, and that Socket Mode is on for the app)"
)]
pub struct SocketStartError(String);

impl SocketMode {
    /// Opens `config.socket_connections` connections and starts delivering to `inbox`, with
    /// the product's timings.
    pub async fn start(
        slack: Slack,
        config: &SlackConfig,
        inbox: Arc<dyn Inbox>,
    ) -> Result<SocketMode, SocketStartError> {
        Self::start_with(slack, config, inbox, Tuning::default()).await
    }

    /// Like [`SocketMode::start`] with explicit timings. The first `apps.connections.open`
    /// runs here: Slack refusing the token (`invalid_auth`, `not_allowed_token_type`, …) is a
    /// configuration error and fails start-up; a network error or 5xx is retried in the
    /// background with backoff.
    pub async fn start_with(
        slack: Slack,
        config: &SlackConfig,
        inbox: Arc<dyn Inbox>,
        tuning: Tuning,
    ) -> Result<SocketMode, SocketStartError> {
        let health = Arc::new(SocketHealth::default());
        let token = app_token(config);
        let (first, failed) = match conn::open_url(&slack, &token, tuning.open_timeout).await {
            Ok(url) => (Some(url), None),
            Err(conn::OpenError::Slack(SlackClientError::ApiError(e))) => {
                return Err(SocketStartError(format!("Slack answered `{}`", e.code)));
            }
            Err(e) => {
                tracing::warn!(error = %e, "slack apps.connections.open failed at start; retrying with backoff");
                (None, Some(e))
            }
        };
        let (stop, stopped) = watch::channel(false);
        let pool = pool::Pool::new(pool::Setup {
            slack,
            token,
            wanted: usize::try_from(config.socket_connections)
                .unwrap_or(1)
                .clamp(1, 10),
            inbox,
            health: health.clone(),
            tuning,
        });
        let mut pool = pool;
        if let Some(e) = failed {
            pool.open_failed(&e.to_string(), e.retry_after());
        }
        let handle = tokio::spawn(pool.run(first, stopped));
        Ok(SocketMode {
            stop,
            pool: Mutex::new(Some(handle)),
            health,
        })
    }

    /// Stops reconnecting, lets handlers in flight finish and ack, and closes every socket.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let handle = self.pool.lock().take();
        if let Some(h) = handle {
            let _ = h.await;
        }
    }
}

/// A short name for an interaction, for logs.
pub fn interaction_kind(event: &SlackInteractionEvent) -> &'static str {
    match event {
        SlackInteractionEvent::BlockActions(_) => "block_actions",
        SlackInteractionEvent::BlockSuggestion(_) => "block_suggestion",
        SlackInteractionEvent::DialogSubmission(_) => "dialog_submission",
        SlackInteractionEvent::MessageAction(_) => "message_action",
        SlackInteractionEvent::Shortcut(_) => "shortcut",
        SlackInteractionEvent::ViewSubmission(_) => "view_submission",
        SlackInteractionEvent::ViewClosed(_) => "view_closed",
    }
}
