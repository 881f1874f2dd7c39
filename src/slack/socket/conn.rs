//! One Socket Mode connection: `apps.connections.open`, the WebSocket, a reader, one writer and
//! a ping watchdog.
//!
//! Invariant: the reader never waits on a handler. Each envelope becomes a task that waits for
//! a handler slot (a semaphore shared by every connection), runs the inbox on a blocking thread
//! and hands its ack to the writer through a channel; the reader goes straight back to reading.
//! The connection reports what it sees (hello, disconnect, silence, end) to the pool and closes
//! only when told to drain: after its handlers finish, so no ack is lost to our own close.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::frames::{self, DisconnectReason, Frame, Hello};
use super::{Inbox, SocketHealth, Tuning, handler};
use crate::slack::client::Slack;

/// How long to wait for the server's close frame after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// What Vigil tells a person whose command or click could not be saved.
const NOT_SAVED: &str =
    "Vigil could not save that just now, so nothing was done. Please try again in a minute.";

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub(super) enum OpenError {
    /// `apps.connections.open` failed.
    #[error("apps.connections.open: {0}")]
    Slack(SlackClientError),
    /// `apps.connections.open` or the handshake took too long.
    #[error("{0} timed out")]
    Timeout(&'static str),
    /// The WebSocket handshake failed.
    #[error("websocket connect: {0}")]
    Connect(String),
}

impl OpenError {
    /// How long Slack asked us to wait, when it answered `apps.connections.open` with a 429.
    pub(super) fn retry_after(&self) -> Option<Duration> {
        match self {
            OpenError::Slack(SlackClientError::RateLimitError(e)) => e.retry_after,
            _ => None,
        }
    }
}

/// Calls `apps.connections.open` with the app token; answers the `wss://` URL.
pub(super) async fn open_url(
    slack: &Slack,
    token: &SlackApiToken,
    timeout: Duration,
) -> Result<String, OpenError> {
    let session = slack.open_session(token);
    let req = SlackApiAppsConnectionOpenRequest::new();
    let call = session.apps_connections_open(&req);
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(resp)) => Ok(resp.url.0.to_string()),
        Ok(Err(e)) => Err(OpenError::Slack(e)),
        Err(_) => Err(OpenError::Timeout("apps.connections.open")),
    }
}

/// What a connection tells the pool.
#[derive(Debug)]
pub(super) enum Report {
    /// The socket is open and Slack said hello.
    Hello { id: u64, hello: Hello },
    /// Slack sent a `disconnect` frame.
    Disconnect { id: u64, reason: DisconnectReason },
    /// Nothing (no frame, no pong) arrived for `dead_after`.
    Silent { id: u64 },
    /// The connection is over; `error` says why when it was not a clean close, and
    /// `retry_after` is how long Slack asked us to wait when `apps.connections.open` was
    /// rate limited (a backoff shorter than that would only be refused again).
    Ended {
        id: u64,
        error: Option<String>,
        retry_after: Option<Duration>,
    },
}

/// What the pool tells a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    /// Let running handlers finish and ack, then close.
    Drain,
}

/// Everything one connection needs.
pub(super) struct Setup {
    pub id: u64,
    pub slack: Slack,
    pub token: SlackApiToken,
    /// A URL already obtained from `apps.connections.open`, if any.
    pub url: Option<String>,
    pub tuning: Tuning,
    pub inbox: Arc<dyn Inbox>,
    pub health: Arc<SocketHealth>,
    pub handlers: Arc<Semaphore>,
    pub reports: mpsc::UnboundedSender<Report>,
    pub orders: mpsc::UnboundedReceiver<Order>,
}

/// A frame for the writer.
enum Out {
    Ack(String),
    Ping,
    Close,
}

/// Opens the socket and serves it until it ends; always finishes with [`Report::Ended`].
pub(super) async fn run(mut setup: Setup) {
    let id = setup.id;
    let (error, retry_after) = match connect(&setup).await {
        Ok(ws) => (serve(&mut setup, ws).await.err(), None),
        Err(e) => {
            let retry_after = e.retry_after();
            (Some(e.to_string()), retry_after)
        }
    };
    let _ = setup.reports.send(Report::Ended {
        id,
        error,
        retry_after,
    });
}

async fn connect(
    setup: &Setup,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    OpenError,
> {
    let url = match &setup.url {
        Some(u) => u.clone(),
        None => open_url(&setup.slack, &setup.token, setup.tuning.open_timeout).await?,
    };
    let handshake = tokio_tungstenite::connect_async(url);
    match tokio::time::timeout(setup.tuning.open_timeout, handshake).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(OpenError::Connect(e.to_string())),
        Err(_) => Err(OpenError::Timeout("websocket handshake")),
    }
}

/// The connection's life on an open socket; an error is how it ended.
async fn serve(
    setup: &mut Setup,
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Result<(), String> {
    let id = setup.id;
    let (mut sink, mut stream) = ws.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Out>();
    let health = setup.health.clone();
    let writer = tokio::spawn(async move {
        while let Some(out) = out_rx.recv().await {
            let (msg, is_ack, last) = match out {
                Out::Ack(text) => (Message::text(text), true, false),
                Out::Ping => (Message::Ping(b"vigil".to_vec().into()), false, false),
                Out::Close => (
                    Message::Close(Some(CloseFrame {
                        code: CloseCode::Normal,
                        reason: "".into(),
                    })),
                    false,
                    true,
                ),
            };
            if let Err(e) = sink.send(msg).await {
                tracing::debug!(conn = id, error = %e, "socket mode: write failed");
                return;
            }
            if is_ack {
                health.acks.fetch_add(1, Ordering::Relaxed);
            }
            if last {
                return;
            }
        }
    });

    let tuning = setup.tuning;
    let mut ping = tokio::time::interval_at(Instant::now() + tuning.ping_every, tuning.ping_every);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut handlers = JoinSet::new();
    let mut last_heard = Instant::now();
    let mut silent_reported = false;
    let mut orders_open = true;
    let mut drain_until: Option<Instant> = None;
    let mut close_until: Option<Instant> = None;
    let mut ended = Ok(());
    loop {
        let drain_at = drain_until.unwrap_or_else(far_future);
        let close_at = close_until.unwrap_or_else(far_future);
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(msg)) => {
                    last_heard = Instant::now();
                    silent_reported = false;
                    if let Message::Text(text) = msg {
                        on_text(setup, text.as_str(), &mut handlers, &out_tx);
                    }
                }
                Some(Err(e)) => {
                    ended = Err(format!("read: {e}"));
                    break;
                }
                None => break,
            },
            _ = ping.tick() => {
                if last_heard.elapsed() >= tuning.dead_after && !silent_reported {
                    silent_reported = true;
                    tracing::warn!(conn = id, silent_ms = last_heard.elapsed().as_millis() as u64, "socket mode: no frame or pong; replacing the socket");
                    let _ = setup.reports.send(Report::Silent { id });
                }
                if close_until.is_none() {
                    let _ = out_tx.send(Out::Ping);
                }
            }
            order = setup.orders.recv(), if orders_open => match order {
                Some(Order::Drain) | None => {
                    orders_open = order.is_some();
                    if drain_until.is_none() {
                        drain_until = Some(Instant::now() + tuning.drain_timeout);
                    }
                }
            },
            Some(done) = handlers.join_next(), if !handlers.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(conn = id, error = %e, "socket mode: an envelope handler failed; its envelope was not acked");
                }
            }
            _ = tokio::time::sleep_until(drain_at), if drain_until.is_some() && close_until.is_none() => {
                tracing::warn!(conn = id, running = handlers.len(), "socket mode: closing with handlers still running");
                handlers.abort_all();
            }
            _ = tokio::time::sleep_until(close_at), if close_until.is_some() => break,
        }
        if drain_until.is_some() && handlers.is_empty() && close_until.is_none() {
            let _ = out_tx.send(Out::Close);
            close_until = Some(Instant::now() + CLOSE_WAIT);
        }
    }
    handlers.abort_all();
    drop(out_tx);
    writer.abort();
    ended
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// A text frame: hello and disconnect go to the pool, envelopes to a handler task.
fn on_text(
    setup: &Setup,
    text: &str,
    handlers: &mut JoinSet<()>,
    out: &mpsc::UnboundedSender<Out>,
) {
    let id = setup.id;
    match frames::decode(text) {
        Ok(Frame::Hello(hello)) => {
            setup.health.on_hello(hello.num_connections);
            tracing::info!(
                conn = id,
                connections = hello.num_connections,
                host = %hello.host,
                "slack socket mode connected"
            );
            let _ = setup.reports.send(Report::Hello { id, hello });
        }
        Ok(Frame::Disconnect(d)) => {
            tracing::info!(conn = id, reason = d.reason.as_str(), host = %d.host, "slack socket mode disconnect");
            let _ = setup.reports.send(Report::Disconnect {
                id,
                reason: d.reason,
            });
        }
        Ok(Frame::Envelope(envelope)) => {
            setup.health.envelopes.fetch_add(1, Ordering::Relaxed);
            let slots = setup.handlers.clone();
            let inbox = setup.inbox.clone();
            let health = setup.health.clone();
            let slack = setup.slack.clone();
            let out = out.clone();
            handlers.spawn(async move {
                let Ok(slot) = slots.acquire_owned().await else {
                    return;
                };
                let handled =
                    tokio::task::spawn_blocking(move || handler::handle(inbox.as_ref(), &envelope))
                        .await;
                drop(slot);
                let handled = match handled {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::error!(conn = id, error = %e, "socket mode: the inbox panicked; envelope not acked");
                        health.not_acked.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
                match handled.ack {
                    Some(ack) => {
                        let _ = out.send(Out::Ack(ack));
                    }
                    None => {
                        health.not_acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if let Some(url) = handled.tell {
                    tokio::spawn(tell(slack, url));
                }
            });
        }
        Err(e) => {
            tracing::warn!(conn = id, error = %e, "socket mode: ignored a frame that is not an envelope");
        }
    }
}

/// Tells the person, through the payload's `response_url`, that their action was not saved.
async fn tell(slack: Slack, url: SlackResponseUrl) {
    let req = SlackApiPostWebhookMessageRequest::new(
        SlackMessageContent::new().with_text(NOT_SAVED.into()),
    );
    if let Err(e) = slack.respond_to_event(&url, &req).await {
        tracing::warn!(error = %e, "could not tell the person their action was not saved (response_url)");
    }
}
