//! Slack simulator: Web API (`/slack/api/<method>`), Socket Mode (`/slack/socket`),
//! `response_url`s (`/slack/response/<id>`) and the "people in Slack" control calls (SPEC §7.4).
//!
//! `web` holds the workspace state (users, channels, messages, views, trigger ids) and answers
//! Web API methods; `blocks` validates Block Kit with Slack's limits; `socket` runs the Socket
//! Mode server (hello, envelopes, acks, redelivery, disconnect); `control` turns a person's
//! action into the payload Slack would send and pushes it through `socket`.

pub mod blocks;
pub mod control;
pub mod socket;
pub mod web;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

use super::{Sandbox, Seed};

/// Slack state: the workspace and the Socket Mode hub.
pub struct SlackSim {
    /// Workspace content and Web API state.
    pub web: web::WebState,
    /// Socket Mode connections and pending acks.
    pub socket: socket::Hub,
}

impl SlackSim {
    /// A workspace built from the seed, with no sockets open.
    pub fn new(seed: &Seed) -> Self {
        SlackSim {
            web: web::WebState::new(seed),
            socket: socket::Hub::default(),
        }
    }

    /// Back to the seed; open sockets stay open (SPEC §7.3).
    pub fn reset(&self, seed: &Seed) {
        self.web.reset(seed);
        self.socket.reset();
    }
}

/// Routes under `/slack`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/api/{method}", any(web::dispatch))
        .route("/socket", get(socket::upgrade))
        .route("/response/{id}", any(web::response_url))
}

/// Routes under `/_sandbox/slack`.
pub fn control_routes() -> Router<Sandbox> {
    control::routes()
}

/// Slack's answer for an injected fault: 429 carries `Retry-After` and
/// `{"ok":false,"error":"ratelimited"}`; other statuses carry `{"ok":false,"error":…}`.
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let code = match status.as_u16() {
        429 => "ratelimited",
        401 | 403 => "invalid_auth",
        s if s >= 500 => "internal_error",
        _ => "invalid_request",
    };
    let body = body.unwrap_or_else(|| json!({"ok": false, "error": code}));
    let mut resp = (status, axum::Json(body)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        let secs = retry_after.unwrap_or(1).to_string();
        if let Ok(v) = HeaderValue::from_str(&secs) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}
