//! One Socket Mode connection: sends `hello`, writes the frames the hub hands it, reads acks,
//! pings the app, and closes the socket the way Slack does (a `disconnect` frame then a close
//! frame, abruptly for `"drop"`, or when the app goes silent). After `warning` the socket keeps
//! working until its `refresh_requested`; `"hang"` makes it a dead network path.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::{Command, Keepalive, Registration, Shared, frames};

/// Time between a `disconnect` frame and the close frame that follows it.
const DISCONNECT_GRACE: Duration = Duration::from_millis(200);

/// How long to wait for the app's close frame after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// How long before the end of a socket's life Slack sends the `warning` disconnect.
const WARNING_LEAD: Duration = Duration::from_secs(10);

/// Payload of the server's pings.
const PING_PAYLOAD: &[u8] = b"applink-ping";

type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// Finishes the upgrade and runs the socket until it closes; `lifetime` is the
/// `approximate_connection_time` after which Slack recycles it.
pub(super) async fn serve(
    shared: Arc<Shared>,
    app_id: String,
    on_upgrade: OnUpgrade,
    lifetime: Duration,
) {
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(e) => {
            tracing::debug!(error = %e, "socket mode: upgrade failed");
            return;
        }
    };
    let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
    match shared.register() {
        Registration::TooMany { host } => refuse(ws, &host).await,
        Registration::Accepted {
            id,
            host,
            rx,
            num_connections,
            keepalive,
        } => {
            let hello = frames::hello(num_connections, &host, lifetime.as_secs(), &app_id);
            let conn = Conn {
                ws,
                id,
                host,
                shared: shared.clone(),
                rx,
                keepalive,
                born: Instant::now(),
                lifetime,
                last_heard: Instant::now(),
                phase: Phase::Open,
            };
            conn.run(hello).await;
            shared.unregister(id);
        }
    }
}

/// The 11th socket: `too_many_websockets`, then a normal close.
async fn refuse(mut ws: Ws, host: &str) {
    let frame = frames::disconnect("too_many_websockets", host);
    if ws.send(Message::text(frame.to_string())).await.is_err() {
        return;
    }
    tokio::time::sleep(DISCONNECT_GRACE).await;
    if ws.send(Message::Close(Some(normal_close()))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async { while ws.next().await.is_some() {} }).await;
}

/// A close frame with code 1000.
fn normal_close() -> CloseFrame {
    CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }
}

/// Where a socket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Normal traffic: envelopes go out, acks come in.
    Open,
    /// The `warning` disconnect went out; `refresh_requested` follows at this instant.
    Warned(Instant),
    /// A `disconnect` went out; the close frame follows at this instant.
    Closing(Instant),
    /// Our close frame went out; give up waiting for the app's at this instant.
    CloseSent(Instant),
}

/// The state of one running socket.
struct Conn {
    ws: Ws,
    id: u64,
    host: String,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Command>,
    keepalive: Keepalive,
    born: Instant,
    lifetime: Duration,
    last_heard: Instant,
    phase: Phase,
}

impl Conn {
    /// Sends `hello`, then serves frames, commands, pings and timers until the socket ends.
    async fn run(mut self, hello: Value) {
        if self.send_text(hello.to_string()).await.is_break() {
            return;
        }
        let every = self.keepalive.ping_every;
        let mut ping = tokio::time::interval_at(Instant::now() + every, every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let deadline = self.deadline();
            let flow = tokio::select! {
                msg = self.ws.next() => match msg {
                    Some(Ok(msg)) => self.on_message(msg).await,
                    Some(Err(e)) => {
                        tracing::debug!(id = self.id, error = %e, "socket mode: read failed");
                        ControlFlow::Break(())
                    }
                    None => ControlFlow::Break(()),
                },
                cmd = self.rx.recv() => self.on_command(cmd).await,
                _ = ping.tick() => self.on_ping_tick().await,
                _ = tokio::time::sleep_until(deadline) => self.on_deadline().await,
            };
            if flow.is_break() {
                return;
            }
        }
    }

    /// The next timer: end-of-life warning and refresh, or the close steps.
    fn deadline(&self) -> Instant {
        match self.phase {
            Phase::Open => (self.born + self.lifetime)
                .checked_sub(WARNING_LEAD)
                .unwrap_or(self.born),
            Phase::Warned(at) | Phase::Closing(at) | Phase::CloseSent(at) => at,
        }
    }

    /// A frame from the app.
    async fn on_message(&mut self, msg: Message) -> ControlFlow<()> {
        self.last_heard = Instant::now();
        match msg {
            Message::Text(text) => {
                self.shared.on_text(self.id, text.as_str());
                ControlFlow::Continue(())
            }
            // tungstenite queued the pong (same payload); make sure it goes out now.
            Message::Ping(_) => self.flush().await,
            Message::Binary(_) => {
                tracing::debug!(id = self.id, "socket mode: ignoring a binary frame");
                ControlFlow::Continue(())
            }
            // The close reply is queued; the next read sends it and ends the stream.
            Message::Pong(_) | Message::Close(_) | Message::Frame(_) => ControlFlow::Continue(()),
        }
    }

    /// An order from the hub.
    async fn on_command(&mut self, cmd: Option<Command>) -> ControlFlow<()> {
        match cmd {
            None | Some(Command::Drop) => ControlFlow::Break(()),
            Some(Command::Frame(text)) => match self.phase {
                Phase::CloseSent(_) => ControlFlow::Continue(()),
                _ => self.send_text(text).await,
            },
            Some(Command::Disconnect(reason)) => self.disconnect(&reason).await,
            Some(Command::Warn(refresh_after)) => self.warn(Instant::now() + refresh_after).await,
            Some(Command::Hang) => self.hang().await,
        }
    }

    /// Server ping, or close a socket that has been silent too long.
    async fn on_ping_tick(&mut self) -> ControlFlow<()> {
        if matches!(self.phase, Phase::CloseSent(_)) {
            return ControlFlow::Continue(());
        }
        if self.last_heard.elapsed() >= self.keepalive.idle_after {
            tracing::debug!(id = self.id, "socket mode: closing a silent socket");
            self.shared.mark_closing(self.id);
            return self.close().await;
        }
        self.send(Message::Ping(PING_PAYLOAD.into())).await
    }

    /// The current phase's timer fired.
    async fn on_deadline(&mut self) -> ControlFlow<()> {
        match self.phase {
            Phase::Open => self.warn(self.born + self.lifetime).await,
            Phase::Warned(_) => self.disconnect("refresh_requested").await,
            Phase::Closing(_) => self.close().await,
            Phase::CloseSent(_) => ControlFlow::Break(()),
        }
    }

    /// Sends the `warning` disconnect; the socket keeps receiving envelopes until
    /// `refresh_requested` goes out at `refresh_at`.
    async fn warn(&mut self, refresh_at: Instant) -> ControlFlow<()> {
        if self.phase != Phase::Open {
            return ControlFlow::Continue(());
        }
        self.phase = Phase::Warned(refresh_at);
        let frame = frames::disconnect("warning", &self.host);
        self.send_text(frame.to_string()).await
    }

    /// Stops reading and writing (no pongs either) until the socket has been silent for the
    /// idle timeout or the hub drops it, then ends without a close frame.
    async fn hang(&mut self) -> ControlFlow<()> {
        self.shared.mark_closing(self.id);
        let until = Instant::now() + self.keepalive.idle_after;
        loop {
            tokio::select! {
                cmd = self.rx.recv() => {
                    if matches!(cmd, None | Some(Command::Drop)) {
                        return ControlFlow::Break(());
                    }
                }
                _ = tokio::time::sleep_until(until) => return ControlFlow::Break(()),
            }
        }
    }

    /// Sends a `disconnect` frame and schedules the close frame.
    async fn disconnect(&mut self, reason: &str) -> ControlFlow<()> {
        if matches!(self.phase, Phase::Closing(_) | Phase::CloseSent(_)) {
            return ControlFlow::Continue(());
        }
        self.shared.mark_closing(self.id);
        self.phase = Phase::Closing(Instant::now() + DISCONNECT_GRACE);
        let frame = frames::disconnect(reason, &self.host);
        self.send_text(frame.to_string()).await
    }

    /// Sends a normal close frame and waits a little for the app's.
    async fn close(&mut self) -> ControlFlow<()> {
        self.phase = Phase::CloseSent(Instant::now() + CLOSE_WAIT);
        self.send(Message::Close(Some(normal_close()))).await
    }

    async fn send_text(&mut self, text: String) -> ControlFlow<()> {
        self.send(Message::text(text)).await
    }

    /// Writes and flushes one frame; a failed write ends the socket.
    async fn send(&mut self, msg: Message) -> ControlFlow<()> {
        match self.ws.send(msg).await {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                tracing::debug!(id = self.id, error = %e, "socket mode: write failed");
                ControlFlow::Break(())
            }
        }
    }

    async fn flush(&mut self) -> ControlFlow<()> {
        match self.ws.flush().await {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    }
}
