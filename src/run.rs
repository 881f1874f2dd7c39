//! `vigil run`: start every part of the bot from a loaded config, and stop it cleanly.

use std::sync::Arc;

use tokio::sync::watch;

use crate::bot::Bot;
use crate::config::Config;
use crate::server::{self, ServerState};
use crate::slack::client;
use crate::slack::socket::{SocketHealth, SocketMode};

/// A running bot.
pub struct Running {
    socket: SocketMode,
    server: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Running {
    /// Socket Mode health counters.
    pub fn socket_health(&self) -> Arc<SocketHealth> {
        self.socket.health.clone()
    }

    /// Closes the Slack connections and the HTTP server.
    pub async fn shutdown(self) {
        self.socket.shutdown().await;
        let _ = self.stop.send(true);
        let _ = self.server.await;
    }
}

/// Starts Socket Mode and the HTTP server.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    let slack = client::build(&config.slack)?;
    let bot: Arc<Bot> = Arc::new(Bot::new());
    let socket = SocketMode::start(slack, &config.slack, bot).await?;
    let (stop, mut stopped) = watch::channel(false);
    let server = server::serve(
        config.server.listen,
        ServerState {
            socket: socket.health.clone(),
        },
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    )
    .await;
    let server = match server {
        Ok(s) => s,
        Err(e) => {
            socket.shutdown().await;
            return Err(e);
        }
    };
    tracing::info!(listen = %config.server.listen, "vigil is running");
    Ok(Running {
        socket,
        server,
        stop,
    })
}

/// Runs until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let running = start(&config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
