//! The Socket Mode adapter: a thin transport in front of an [`Inbox`].
//!
//! slack-morphism acks an envelope only when our callback returns, and processes one envelope
//! at a time per connection (crates.md §1.2). So the callbacks here only hand the decoded event
//! to the inbox, whose methods are synchronous on purpose: they cannot await a vendor, which is
//! what keeps the ack fast whatever Slack or any vendor is doing. Slow work happens after the ack.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use slack_morphism::prelude::*;

use super::client::{Slack, app_token};
use super::config::SlackConfig;

/// Where decoded Slack events go. Implementations must return quickly: decode, dedupe,
/// persist, hand off. The slash-command answer rides on the ack, so it must be computed
/// without calling anything remote.
pub trait Inbox: Send + Sync + 'static {
    /// A slash command; the returned message is shown to its author in the ack.
    fn command(&self, event: SlackCommandEvent) -> SlackCommandEventResponse;
    /// A button, modal submission or other interaction.
    fn interaction(&self, event: SlackInteractionEvent);
    /// An Events API event (`message.im`, `app_home_opened`, …).
    fn push(&self, event: SlackPushEventCallback);
}

/// What the socket layer knows about its own health, for `/healthz` and the watchdog.
#[derive(Debug, Default)]
pub struct SocketHealth {
    hellos: AtomicU64,
    last_hello_connections: AtomicU32,
    envelopes: AtomicU64,
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

    /// Envelopes handed to the inbox.
    pub fn envelopes(&self) -> u64 {
        self.envelopes.load(Ordering::Relaxed)
    }
}

/// What the callbacks fetch from slack-morphism's user-state map.
struct Context {
    inbox: Arc<dyn Inbox>,
    health: Arc<SocketHealth>,
}

/// A running set of Socket Mode connections.
pub struct SocketMode {
    listener: SlackClientSocketModeListener<SlackClientHyperHttpsConnector>,
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
    /// Opens `config.socket_connections` connections and starts delivering to `inbox`.
    pub async fn start(
        slack: Slack,
        config: &SlackConfig,
        inbox: Arc<dyn Inbox>,
    ) -> Result<SocketMode, SocketStartError> {
        let health = Arc::new(SocketHealth::default());
        let env = Arc::new(
            SlackClientEventsListenerEnvironment::new(slack)
                .with_error_handler(on_error)
                .with_user_state(Context {
                    inbox,
                    health: health.clone(),
                }),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_hello_events(|hello, _client, states| async move {
                if let Some(ctx) = states.read().await.get_user_state::<Context>() {
                    ctx.health.hellos.fetch_add(1, Ordering::Relaxed);
                    ctx.health
                        .last_hello_connections
                        .store(hello.num_connections, Ordering::Relaxed);
                }
                tracing::info!(
                    connections = hello.num_connections,
                    "slack socket mode connected"
                );
            })
            .with_command_events(on_command)
            .with_interaction_events(on_interaction)
            .with_push_events(on_push);
        // The watchdog is slack-morphism's own: a ping every 5 s, and a socket that misses 3
        // pongs is closed and reopened, so a silently dead connection is replaced within ~15 s
        // (the defaults take 75 s). Failed reconnects retry every 5 s instead of 30 s.
        let socket_config = SlackClientSocketModeConfig::new()
            .with_max_connections_count(config.socket_connections)
            .with_initial_backoff_in_seconds(1)
            .with_reconnect_timeout_in_seconds(5)
            .with_ping_interval_in_seconds(5)
            .with_ping_failure_threshold_times(3);
        let listener = SlackClientSocketModeListener::new(&socket_config, env, callbacks);
        listener
            .listen_for(&app_token(config))
            .await
            .map_err(|e| SocketStartError(e.to_string()))?;
        listener.start().await;
        Ok(SocketMode { listener, health })
    }

    /// Closes every connection.
    pub async fn shutdown(&self) {
        self.listener.shutdown().await;
    }
}

async fn with_context<T>(
    states: &SlackClientEventsUserState,
    f: impl FnOnce(&Context) -> T,
) -> Option<T> {
    let guard = states.read().await;
    let ctx = guard.get_user_state::<Context>()?;
    ctx.health.envelopes.fetch_add(1, Ordering::Relaxed);
    Some(f(ctx))
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    tracing::info!(
        command = %event.command,
        user = %event.user_id,
        channel = %event.channel_id,
        "slash command received"
    );
    let response = with_context(&states, |ctx| ctx.inbox.command(event)).await;
    Ok(response.unwrap_or_else(|| {
        SlackCommandEventResponse::new(
            SlackMessageContent::new()
                .with_text("Vigil is starting up; try again in a moment.".into()),
        )
        .with_response_type(SlackMessageResponseType::Ephemeral)
    }))
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    tracing::info!(kind = interaction_kind(&event), "interaction received");
    with_context(&states, |ctx| ctx.inbox.interaction(event)).await;
    Ok(())
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    tracing::info!(event_id = %event.event_id, "event received");
    with_context(&states, |ctx| ctx.inbox.push(event)).await;
    Ok(())
}

/// Frames that fail to decode (unknown interaction types, malformed payloads) land here. They
/// are logged and acked: Slack would only redeliver the same bad frame.
fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    _states: SlackClientEventsUserState,
) -> HttpStatusCode {
    tracing::warn!(error = %err, "rejected a Slack envelope that could not be decoded; acked so it is not redelivered");
    HttpStatusCode::OK
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
