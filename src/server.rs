//! The bot's own HTTP server on `[server] listen`: `/healthz`, `/metrics`, and the signed alert
//! webhook `POST /v1/alerts` when a webhook secret is configured.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;

use crate::pipeline::webhook::{self, WebhookState};
use crate::slack::socket::SocketHealth;

/// What the `/healthz` and `/metrics` handlers read (the webhook has its own state).
#[derive(Clone)]
pub struct ServerState {
    /// Socket Mode health, shared with the socket layer: `/healthz` answers from it.
    pub socket: Arc<SocketHealth>,
}

/// The router; the webhook route exists only with a secret.
pub fn router(state: ServerState, webhook: Option<WebhookState>) -> Router {
    let base = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state);
    match webhook {
        Some(w) => base.merge(
            Router::new()
                .route("/v1/alerts", post(webhook::receive))
                .with_state(w),
        ),
        None => base,
    }
}

/// `GET /healthz`: 200 once a socket said hello; 503 while connecting, and 503 with the
/// reason once Slack disabled the app's link (`link_disabled`), which needs a person.
async fn healthz(State(state): State<ServerState>) -> impl IntoResponse {
    let socket = &state.socket;
    if let Some(reason) = socket.disabled() {
        let body = json!({
            "status": "link_disabled",
            "reason": reason,
            "slack_socket_hellos": socket.hellos(),
            "slack_envelopes": socket.envelopes(),
        });
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body));
    }
    let connected = socket.hellos() > 0;
    let status = if connected {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if connected { "ok" } else { "connecting" },
        "slack_socket_hellos": socket.hellos(),
        "slack_sockets_live": socket.live(),
        "slack_envelopes": socket.envelopes(),
        "slack_acks": socket.acks(),
        "slack_not_acked": socket.not_acked(),
    });
    (status, axum::Json(body))
}

async fn metrics() -> impl IntoResponse {
    match crate::telemetry::prometheus() {
        Some(handle) => (StatusCode::OK, handle.render()),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable in this process\n".to_string(),
        ),
    }
}

/// Binds `listen` (failing with the address in the message) and serves until `shutdown` fires.
pub async fn serve(
    listen: SocketAddr,
    state: ServerState,
    webhook: Option<WebhookState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("server.listen: cannot bind {listen}: {e}"))?;
    let app = router(state, webhook);
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "http server stopped");
        }
    }))
}

/// `vigil health`: asks the bot's own `/healthz` on `listen` (an unspecified address such as
/// `0.0.0.0` is asked on loopback) and returns its body when it answers 200, or what went
/// wrong. The container's HEALTHCHECK runs this, as a distroless image has no curl.
pub async fn probe_health(listen: SocketAddr) -> anyhow::Result<String> {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!("http://{addr}/healthz");
    let client = crate::vendors::http::client()?;
    let resp = client
        .get(&url)
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    let body = body.trim().chars().take(500).collect::<String>();
    if status == StatusCode::OK {
        Ok(body)
    } else {
        anyhow::bail!("GET {url} answered {status}: {body}")
    }
}
