//! Logging and metrics set-up, once per process.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Starts the log subscriber: `VIGIL_LOG` wins over `[log] level`. Calling it twice is harmless.
pub fn init_logs(config: &LogConfig) {
    let filter = std::env::var("VIGIL_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(&config.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use. `None` if another recorder was
/// installed first (then `/metrics` says so instead of serving numbers).
pub fn prometheus() -> Option<PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

/// Every metric Vigil emits, as one function per event, so names and labels live in one place
/// (vector's `internal_events` pattern). Counters are `vigil_*_total`.
pub mod events {
    use metrics::counter;

    /// An alert opened a case.
    pub fn case_opened(source: &str) {
        counter!("vigil_cases_opened_total", "source" => source.to_string()).increment(1);
    }

    /// An alert joined an open case.
    pub fn alert_grouped() {
        counter!("vigil_alerts_grouped_total").increment(1);
    }

    /// An alert id was seen before.
    pub fn alert_duplicate() {
        counter!("vigil_alerts_duplicate_total").increment(1);
    }

    /// A step finished: `done`, `retry` or `failed`.
    pub fn step(kind: &'static str, outcome: &'static str) {
        counter!("vigil_steps_total", "step" => kind, "outcome" => outcome).increment(1);
    }

    /// A step's effect was found after a crash instead of being repeated.
    pub fn step_recovered(kind: &'static str) {
        counter!("vigil_steps_recovered_total", "step" => kind).increment(1);
    }

    /// A Slack event was persisted (`new`) or dropped as a redelivery (`duplicate`).
    pub fn slack_inbound(outcome: &'static str) {
        counter!("vigil_slack_inbound_total", "outcome" => outcome).increment(1);
    }

    /// A Socket Mode envelope arrived: its `type`, `retry_attempt` (`0`..`3`, `more` beyond)
    /// and `retry_reason` (Slack's known reasons, `none` on a first delivery, `other` for
    /// anything else, so a sender cannot grow the label set).
    pub fn slack_envelope(kind: &str, retry_attempt: u32, retry_reason: &str) {
        let kind = match kind {
            "events_api" | "slash_commands" | "interactive" => kind.to_string(),
            _ => "other".to_string(),
        };
        let attempt = match retry_attempt {
            0..=3 => retry_attempt.to_string(),
            _ => "more".to_string(),
        };
        let reason = match retry_reason {
            "" => "none",
            "timeout" | "http_timeout" | "http_error" | "too_many_requests" | "ssl_error"
            | "connection_failed" | "unknown_error" => retry_reason,
            _ => "other",
        }
        .to_string();
        counter!(
            "vigil_slack_envelopes_total",
            "type" => kind,
            "retry_attempt" => attempt,
            "retry_reason" => reason
        )
        .increment(1);
    }

    /// Case work failed in a way no error covers (a panic), caught so the case goes on:
    /// `step`, `inbound`, `timers` or `process`.
    pub fn unexpected_failure(what: &'static str) {
        counter!("vigil_unexpected_failures_total", "what" => what).increment(1);
    }

    /// An inbound item had no case to go to (a DM from someone with no open case): finished,
    /// not re-scanned; `replied` says whether the person was told.
    pub fn stray_inbound(replied: bool) {
        counter!("vigil_stray_inbound_total", "replied" => if replied { "yes" } else { "no" })
            .increment(1);
    }

    /// Someone was refused or told no (see `pipeline::authorize::Refusal`).
    pub struct Refused<'a> {
        /// `Refusal::kind`: a fixed label set.
        pub what: &'static str,
        /// Who asked.
        pub user: &'a str,
        /// The case they asked about, when there is one.
        pub case: Option<&'a crate::case::CaseId>,
    }

    impl Refused<'_> {
        /// Logs and counts it (`vigil_refusals_total{what}`).
        pub fn emit(&self) {
            match self.case {
                Some(case) => {
                    tracing::info!(user = self.user, %case, what = self.what, "refused a request")
                }
                None => tracing::info!(user = self.user, what = self.what, "refused a request"),
            }
            counter!("vigil_refusals_total", "what" => self.what).increment(1);
        }
    }

    /// An inbox record did not decode as an inbound item (written by a broken or future
    /// binary): refused and finished, so it neither applies half-read nor stalls the inbox.
    pub struct UndecodableInbound<'a> {
        /// The record's inbox number.
        pub seq: u64,
        /// The decoder's message.
        pub reason: &'a str,
    }

    impl UndecodableInbound<'_> {
        /// Logs and counts it (`vigil_refusals_total{what="undecodable inbound item"}`).
        pub fn emit(&self) {
            tracing::error!(
                seq = self.seq,
                reason = self.reason,
                "refused an inbound item that does not decode; finished it"
            );
            counter!("vigil_refusals_total", "what" => "undecodable inbound item").increment(1);
        }
    }
}
