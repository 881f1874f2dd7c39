//! CrowdStrike Falcon simulator (`/crowdstrike`): OAuth2 client credentials, Alerts v2/v3 and
//! Hosts, written from Falcon's documentation and FalconPy's endpoint tables (vendor-apis §2,
//! §14) so FalconPy works against it given only a base URL.
//!
//! - `auth`: `/oauth2/token` (201), `/oauth2/revoke`, bearer check (401), per-client rate
//!   limit (429 with `X-Ratelimit-Retryafter` as epoch seconds).
//! - `alerts`: combined search with `after` paging, id queries, details, PATCH v3 actions.
//! - `hosts`: device details (`GET` and `POST`), id search, containment actions.
//! - `fql`: the Falcon Query Language subset filters and sorts use.
//! - `alert_shape`: completing injected alerts into real `epp`/`idp` shapes.
//! - `envelope`: the `meta`/`resources`/`errors` envelope and Falcon's headers.
//! - `control`: `/_sandbox/crowdstrike/*` injection and knobs.
//!
//! Never sends `X-Cs-Region` (FalconPy would switch to the real cloud).

pub mod alert_shape;
pub mod alerts;
pub mod auth;
pub mod control;
pub mod envelope;
pub mod fql;
pub mod hosts;
pub mod request;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, post};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Sandbox, Seed};
use envelope::{Call, GATEWAY, RateInfo};

/// Timing knobs of the simulator (`/_sandbox/crowdstrike/settings`), back to Falcon's real
/// values on reset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Knobs {
    /// Access-token lifetime (`expires_in`); Falcon: 1799 s.
    pub token_lifetime_secs: u64,
    /// How long a host stays `containment_pending` / `lift_containment_pending`.
    pub containment_delay_ms: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            token_lifetime_secs: auth::TOKEN_LIFETIME_SECS,
            containment_delay_ms: 2_000,
        }
    }
}

/// A partial update of [`Knobs`]: only the fields present change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnobsPatch {
    /// New [`Knobs::token_lifetime_secs`]; absent keeps the current value.
    pub token_lifetime_secs: Option<u64>,
    /// New [`Knobs::containment_delay_ms`]; absent keeps the current value.
    pub containment_delay_ms: Option<u64>,
}

impl Knobs {
    /// Sets every knob the patch names and leaves the others alone.
    pub fn apply(&mut self, patch: KnobsPatch) {
        if let Some(v) = patch.token_lifetime_secs {
            self.token_lifetime_secs = v;
        }
        if let Some(v) = patch.containment_delay_ms {
            self.containment_delay_ms = v;
        }
    }
}

/// State of the CrowdStrike simulator.
pub struct CrowdStrikeSim {
    tokens: auth::Tokens,
    alerts: alerts::Alerts,
    hosts: hosts::Hosts,
    knobs: Mutex<Knobs>,
    window: envelope::RateWindow,
}

impl CrowdStrikeSim {
    /// The seed's hosts, no alerts, no tokens, Falcon's timings.
    pub fn new(seed: &Seed) -> Self {
        CrowdStrikeSim {
            tokens: auth::Tokens::default(),
            alerts: alerts::Alerts::default(),
            hosts: hosts::Hosts::from_seed(seed),
            knobs: Mutex::new(Knobs::default()),
            window: envelope::RateWindow::default(),
        }
    }

    /// Back to the seed: hosts as seeded, alerts and comments gone, knobs and request counts
    /// reset. Issued tokens stay valid (they belong to the credentials, which never change).
    pub fn reset(&self, seed: &Seed) {
        self.alerts.clear();
        self.hosts.reset(seed);
        *self.knobs.lock() = Knobs::default();
        self.window.clear();
    }

    /// Sets the token lifetime (tests shorten it to exercise expiry).
    pub fn set_token_lifetime_secs(&self, secs: u64) {
        self.knobs.lock().token_lifetime_secs = secs;
    }

    /// Sets the containment settle delay (tests set 0).
    pub fn set_containment_delay_ms(&self, ms: u64) {
        self.knobs.lock().containment_delay_ms = ms;
    }
}

/// Vendor routes, nested at `/crowdstrike`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/oauth2/token", post(auth::token))
        .route("/oauth2/revoke", post(auth::revoke))
        .route("/alerts/combined/alerts/v1", post(alerts::combined))
        .route("/alerts/queries/alerts/v2", get(alerts::query))
        .route("/alerts/entities/alerts/v2", post(alerts::details))
        .route("/alerts/entities/alerts/v3", patch(alerts::update))
        .route(
            "/devices/entities/devices/v2",
            get(hosts::get_details).post(hosts::post_details),
        )
        .route("/devices/queries/devices/v1", get(hosts::query))
        .route("/devices/entities/devices-actions/v2", post(hosts::action))
        .fallback(not_found)
}

/// Control routes under `/_sandbox/crowdstrike`.
pub fn control_routes() -> Router<Sandbox> {
    control::routes()
}

async fn not_found() -> Response {
    Call::new(GATEWAY, RateInfo::unmetered()).refuse(StatusCode::NOT_FOUND, "Not Found")
}

/// Falcon's answer for an injected fault: the envelope with `errors:[{"code","message"}]`
/// (or the given body); a 429 carries `X-Ratelimit-Retryafter` = now + `retry_after` (1 s
/// when omitted) as epoch seconds.
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let limited = status == StatusCode::TOO_MANY_REQUESTS;
    let rate = RateInfo {
        limit: envelope::DEFAULT_API_LIMIT,
        remaining: if limited {
            0
        } else {
            envelope::DEFAULT_API_LIMIT - 1
        },
    };
    let call = Call::new(GATEWAY, rate);
    let message = envelope::default_message(status);
    let mut resp = match body {
        Some(b) => call.send(status, b),
        None if matches!(status.as_u16(), 401 | 403 | 429) => call.refuse(status, message),
        None => call.error(status, message),
    };
    if limited {
        envelope::set_retry_after(&mut resp, retry_after.unwrap_or(1));
    }
    resp
}
