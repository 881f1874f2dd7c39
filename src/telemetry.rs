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
        .get_or_init(|| builder().install_recorder().ok())
        .clone()
}

/// The exporter with the case-time histograms' buckets.
fn builder() -> PrometheusBuilder {
    let builder = PrometheusBuilder::new();
    match builder.set_buckets_for_metric(
        metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
        &TIME_BUCKETS,
    ) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "histogram buckets not set; times render as summaries");
            PrometheusBuilder::new()
        }
    }
}

/// Every telemetry event Vigil emits, as one struct per event whose `emit()` writes both its
/// log line and its counter (vector's `internal_events` pattern): names, labels, fields and
/// messages live here and nowhere else, so a log line and its counter cannot drift apart.
/// Counters are `vigil_*_total`.
pub mod events {
    use metrics::counter;

    use crate::case::CaseId;
    use crate::pipeline::inbound::Inbound;

    /// An alert opened a case (`vigil_cases_opened_total{source}`).
    pub struct CaseOpened<'a> {
        /// The new case's id (the log line's `case` field).
        pub case: &'a CaseId,
        /// The alert's source id (Falcon's `composite_id`), the log line's `alert` field.
        pub alert: &'a str,
        /// Where the alert came from (the poller, the webhook, the form).
        pub source: &'a str,
    }

    impl CaseOpened<'_> {
        /// Writes the `info` line `case opened` and adds 1 to `vigil_cases_opened_total{source}`.
        pub fn emit(&self) {
            tracing::info!(case = %self.case, alert = %self.alert, "case opened");
            counter!("vigil_cases_opened_total", "source" => self.source.to_string()).increment(1);
        }
    }

    /// An alert joined an open case (`vigil_alerts_grouped_total`).
    pub struct AlertGrouped<'a> {
        /// The id of the open case it joined.
        pub case: &'a CaseId,
        /// The alert's source id.
        pub alert: &'a str,
    }

    impl AlertGrouped<'_> {
        /// Writes the `info` line `alert grouped into open case` and adds 1 to
        /// `vigil_alerts_grouped_total`.
        pub fn emit(&self) {
            tracing::info!(case = %self.case, alert = %self.alert, "alert grouped into open case");
            counter!("vigil_alerts_grouped_total").increment(1);
        }
    }

    /// An alert id was seen before (`vigil_alerts_duplicate_total`).
    pub struct AlertDuplicate<'a> {
        /// The case the alert already belongs to.
        pub case: &'a CaseId,
        /// The alert's source id (the dedupe key that matched).
        pub alert: &'a str,
    }

    impl AlertDuplicate<'_> {
        /// Writes a `debug` line (duplicates are routine: every poll sees them) and adds 1 to
        /// `vigil_alerts_duplicate_total`.
        pub fn emit(&self) {
            tracing::debug!(case = %self.case, alert = %self.alert, "duplicate alert ignored");
            counter!("vigil_alerts_duplicate_total").increment(1);
        }
    }

    /// How a step attempt ended; its label is the `outcome` of `vigil_steps_total`.
    pub enum StepOutcome<'a> {
        /// The effect happened and the step is done.
        Done,
        /// A transient failure: tried again later.
        Retry {
            /// The error's text (for a vendor: vendor, call, status and message).
            error: &'a str,
            /// Failed attempts so far, this one included.
            attempts: u32,
        },
        /// Given up on: the case goes on without it.
        Failed {
            /// The error's text, as for a retry.
            error: &'a str,
        },
    }

    /// A step attempt finished (`vigil_steps_total{step, outcome}`).
    pub struct StepFinished<'a> {
        /// Id of the case the step belongs to.
        pub case: &'a CaseId,
        /// `Step::kind`: a fixed label set.
        pub step: &'static str,
        /// How it ended; also picks the log level (`debug`, `warn`, `error`).
        pub outcome: StepOutcome<'a>,
    }

    impl StepFinished<'_> {
        /// Writes one line at the outcome's level and adds 1 to
        /// `vigil_steps_total{step, outcome}` (`done`, `retry` or `failed`).
        pub fn emit(&self) {
            let (case, step) = (self.case, self.step);
            let outcome = match self.outcome {
                StepOutcome::Done => {
                    tracing::debug!(%case, step, "step done");
                    "done"
                }
                StepOutcome::Retry { error, attempts } => {
                    tracing::warn!(%case, step, %error, attempts, "step failed; will retry");
                    "retry"
                }
                StepOutcome::Failed { error } => {
                    tracing::error!(%case, step, %error, "step failed permanently");
                    "failed"
                }
            };
            counter!("vigil_steps_total", "step" => step, "outcome" => outcome).increment(1);
        }
    }

    /// A step's effect was found after a crash instead of being repeated
    /// (`vigil_steps_recovered_total{step}`).
    pub struct StepRecovered<'a> {
        /// Id of the case the step belongs to.
        pub case: &'a CaseId,
        /// `Step::kind`: a fixed label set.
        pub step: &'static str,
    }

    impl StepRecovered<'_> {
        /// Writes an `info` line and adds 1 to `vigil_steps_recovered_total{step}`.
        pub fn emit(&self) {
            tracing::info!(case = %self.case, step = self.step, "found the effect of an interrupted step; not repeating it");
            counter!("vigil_steps_recovered_total", "step" => self.step).increment(1);
        }
    }

    /// A Slack event was persisted (`new`) or dropped as a redelivery (`duplicate`)
    /// (`vigil_slack_inbound_total{outcome}`).
    pub struct SlackInbound {
        /// Whether it was new (persisted) rather than seen before.
        pub added: bool,
    }

    impl SlackInbound {
        /// Writes a `debug` line and adds 1 to `vigil_slack_inbound_total{outcome}`.
        pub fn emit(&self) {
            let outcome = if self.added { "new" } else { "duplicate" };
            tracing::debug!(outcome, "Slack inbound item");
            counter!("vigil_slack_inbound_total", "outcome" => outcome).increment(1);
        }
    }

    /// A Socket Mode envelope arrived (`vigil_slack_envelopes_total{type, retry_attempt,
    /// retry_reason}`): its `type`, `retry_attempt` (`0`..`3`, `more` beyond) and
    /// `retry_reason` (Slack's known reasons, `none` on a first delivery, `other` for anything
    /// else), so a sender cannot grow the label set.
    pub struct SlackEnvelope<'a> {
        /// The envelope's id, for the log line only.
        pub envelope_id: &'a str,
        /// The envelope's `type` as sent; anything but the three known types is counted as `other`.
        pub kind: &'a str,
        /// Slack's `retry_attempt` (0 on a first delivery), logged as sent.
        pub retry_attempt: u32,
        /// Slack's `retry_reason` (empty on a first delivery).
        pub retry_reason: &'a str,
    }

    impl SlackEnvelope<'_> {
        /// Logs and counts it, with the labels bounded as above.
        pub fn emit(&self) {
            let kind = match self.kind {
                "events_api" | "slash_commands" | "interactive" => self.kind,
                _ => "other",
            };
            let attempt = match self.retry_attempt {
                0..=3 => self.retry_attempt.to_string(),
                _ => "more".to_string(),
            };
            let reason = match self.retry_reason {
                "" => "none",
                "timeout" | "http_timeout" | "http_error" | "too_many_requests" | "ssl_error"
                | "connection_failed" | "unknown_error" => self.retry_reason,
                _ => "other",
            };
            tracing::debug!(
                envelope_id = %self.envelope_id,
                kind,
                retry_attempt = self.retry_attempt,
                retry_reason = reason,
                "Socket Mode envelope received"
            );
            counter!(
                "vigil_slack_envelopes_total",
                "type" => kind.to_string(),
                "retry_attempt" => attempt,
                "retry_reason" => reason.to_string()
            )
            .increment(1);
        }
    }

    /// Where case work failed unexpectedly; its label is the `what` of
    /// `vigil_unexpected_failures_total`.
    pub enum During<'a> {
        /// Processing the case, outside the finer-grained catches.
        Process,
        /// Applying an inbound item (set aside).
        Inbound {
            /// The item's inbox sequence number, to find it in the store.
            seq: u64,
            /// `Inbound::kind`: which kind of item it was.
            kind: &'static str,
        },
        /// The owner timers (stopped).
        Timers,
        /// Running a step (given up on).
        Step {
            /// `Step::kind` of the step that panicked.
            step: &'a str,
        },
    }

    /// Case work failed in a way no error covers (a panic), caught so the case goes on
    /// (`vigil_unexpected_failures_total{what}`: `step`, `inbound`, `timers` or `process`).
    pub struct UnexpectedFailure<'a> {
        /// Id of the case whose work panicked.
        pub case: &'a CaseId,
        /// The panic's message: logged, never a label.
        pub panic: &'a str,
        /// What was running; picks the log message and the `what` label.
        pub during: During<'a>,
    }

    impl UnexpectedFailure<'_> {
        /// Writes an `error` line and adds 1 to `vigil_unexpected_failures_total{what}`.
        pub fn emit(&self) {
            let (case, panic) = (self.case, self.panic);
            let what = match self.during {
                During::Process => {
                    tracing::error!(%case, panic, "processing the case failed unexpectedly");
                    "process"
                }
                During::Inbound { seq, kind } => {
                    tracing::error!(%case, seq, kind, panic, "an inbound item failed unexpectedly; set aside");
                    "inbound"
                }
                During::Timers => {
                    tracing::error!(%case, panic, "owner timers failed unexpectedly; stopped");
                    "timers"
                }
                During::Step { step } => {
                    tracing::error!(%case, step, panic, "a step failed unexpectedly");
                    "step"
                }
            };
            counter!("vigil_unexpected_failures_total", "what" => what).increment(1);
        }
    }

    /// An inbound item had no case to go to, finished rather than re-scanned
    /// (`vigil_stray_inbound_total{replied}`).
    pub struct StrayInbound<'a> {
        /// The item's inbox sequence number.
        pub seq: u64,
        /// The item, logged in full when it should have named a case.
        pub event: &'a Inbound,
        /// Whether its writer was told there is nothing to do.
        pub replied: bool,
    }

    impl StrayInbound<'_> {
        /// Logs and counts it: a DM from someone with no open case at `info`, anything else
        /// (an item that should have named its case) at `warn`.
        pub fn emit(&self) {
            let (seq, replied) = (self.seq, self.replied);
            match self.event {
                Inbound::OwnerText { user, channel, .. } => {
                    tracing::info!(seq, %user, %channel, replied, "a DM with no open case; finished");
                }
                other => {
                    tracing::warn!(seq, event = ?other, "an inbound item names no case; finished")
                }
            }
            counter!("vigil_stray_inbound_total", "replied" => if replied { "yes" } else { "no" })
                .increment(1);
        }
    }

    /// Someone was refused or told no (see `pipeline::authorize::Refusal`).
    pub struct Refused<'a> {
        /// `Refusal::kind`: a fixed label set.
        pub what: &'static str,
        /// Slack user id of who asked.
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
        /// The record's inbox sequence number.
        pub seq: u64,
        /// The decoder's message, as serde gives it.
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

    /// A case reached a milestone people measure (MTTA, MTTR, owner response): observed once
    /// per case, when the save that reached it is seen by the board.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Milestone {
        /// First acknowledgement: `vigil_case_time_to_acknowledge_seconds`.
        Acknowledged,
        /// Resolution: `vigil_case_time_to_resolve_seconds`.
        Resolved,
        /// The owner answered the DM: `vigil_owner_response_seconds` (from being asked).
        OwnerAnswered,
    }

    /// A milestone's time in seconds, for its histogram.
    pub struct CaseTime {
        what: Milestone,
        seconds: f64,
    }

    impl CaseTime {
        /// `seconds` since the milestone's start (opening, or the owner being asked).
        pub fn new(what: Milestone, seconds: f64) -> CaseTime {
            CaseTime { what, seconds }
        }

        /// The histogram's name.
        pub fn metric(what: Milestone) -> &'static str {
            match what {
                Milestone::Acknowledged => "vigil_case_time_to_acknowledge_seconds",
                Milestone::Resolved => "vigil_case_time_to_resolve_seconds",
                Milestone::OwnerAnswered => "vigil_owner_response_seconds",
            }
        }

        /// Observes it (no log line: the case's timeline already says it).
        pub fn emit(&self) {
            metrics::histogram!(CaseTime::metric(self.what)).record(self.seconds);
        }

        /// Counts an escalation on owner silence (`vigil_auto_escalations_total`).
        pub fn auto_escalated() {
            counter!("vigil_auto_escalations_total").increment(1);
        }
    }
}

/// Buckets of the case-time histograms: from a minute to a week, the range MTTA, MTTR and
/// owner answers fall in (the exporter renders summaries unless buckets are set).
pub const TIME_BUCKETS: [f64; 10] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0, 604800.0,
];

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::events::*;
    use crate::case::CaseId;
    use crate::pipeline::inbound::Inbound;

    /// Runs `emit` with its own log subscriber and metrics recorder: what it logged, and the
    /// Prometheus text of what it counted.
    fn capture(emit: impl FnOnce()) -> (String, String) {
        let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || Writer(sink.clone()))
            .finish();
        let recorder = super::builder().build_recorder();
        let handle = recorder.handle();
        tracing::subscriber::with_default(subscriber, || {
            metrics::with_local_recorder(&recorder, emit)
        });
        let logs = String::from_utf8_lossy(&logs.lock().expect("log buffer")).into_owned();
        (logs, handle.render())
    }

    #[test]
    fn case_times_are_histograms_with_buckets_from_a_minute_to_a_week() {
        let (_, metrics) = capture(|| {
            CaseTime::new(Milestone::Acknowledged, 42.0).emit();
            CaseTime::new(Milestone::Resolved, 4000.0).emit();
            CaseTime::new(Milestone::OwnerAnswered, 90.0).emit();
            CaseTime::auto_escalated();
        });
        for line in [
            r#"vigil_case_time_to_acknowledge_seconds_bucket{le="60"} 1"#,
            r#"vigil_case_time_to_resolve_seconds_bucket{le="3600"} 0"#,
            r#"vigil_case_time_to_resolve_seconds_bucket{le="7200"} 1"#,
            r#"vigil_owner_response_seconds_bucket{le="300"} 1"#,
            "vigil_auto_escalations_total 1",
        ] {
            assert!(metrics.contains(line), "{line} missing: {metrics}");
        }
    }

    /// One event to emit, the log message it must write and the counter line it must add.
    type Expected<'a> = (Box<dyn FnOnce() + 'a>, &'static str, &'static str);

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_event_writes_its_log_line_and_its_counter() {
        let case = CaseId::from_seq(7);
        let stray = Inbound::OwnerText {
            user: "U0ERIN0001".into(),
            channel: "D0ERIN0001".into(),
            text: "hi".into(),
            thread_ts: None,
        };
        let events: Vec<Expected> = vec![
            (
                Box::new(|| {
                    CaseOpened {
                        case: &case,
                        alert: "a1",
                        source: "crowdstrike",
                    }
                    .emit()
                }),
                "case opened",
                r#"vigil_cases_opened_total{source="crowdstrike"} 1"#,
            ),
            (
                Box::new(|| {
                    AlertGrouped {
                        case: &case,
                        alert: "a2",
                    }
                    .emit()
                }),
                "alert grouped into open case",
                "vigil_alerts_grouped_total 1",
            ),
            (
                Box::new(|| {
                    AlertDuplicate {
                        case: &case,
                        alert: "a2",
                    }
                    .emit()
                }),
                "duplicate alert ignored",
                "vigil_alerts_duplicate_total 1",
            ),
            (
                Box::new(|| {
                    StepFinished {
                        case: &case,
                        step: "card",
                        outcome: StepOutcome::Retry {
                            error: "503",
                            attempts: 2,
                        },
                    }
                    .emit()
                }),
                "step failed; will retry",
                r#"vigil_steps_total{step="card",outcome="retry"} 1"#,
            ),
            (
                Box::new(|| {
                    StepFinished {
                        case: &case,
                        step: "card",
                        outcome: StepOutcome::Failed { error: "403" },
                    }
                    .emit()
                }),
                "step failed permanently",
                r#"vigil_steps_total{step="card",outcome="failed"} 1"#,
            ),
            (
                Box::new(|| {
                    StepFinished {
                        case: &case,
                        step: "card",
                        outcome: StepOutcome::Done,
                    }
                    .emit()
                }),
                "step done",
                r#"vigil_steps_total{step="card",outcome="done"} 1"#,
            ),
            (
                Box::new(|| {
                    StepRecovered {
                        case: &case,
                        step: "issue",
                    }
                    .emit()
                }),
                "not repeating it",
                r#"vigil_steps_recovered_total{step="issue"} 1"#,
            ),
            (
                Box::new(|| SlackInbound { added: false }.emit()),
                "Slack inbound item",
                r#"vigil_slack_inbound_total{outcome="duplicate"} 1"#,
            ),
            (
                Box::new(|| {
                    SlackEnvelope {
                        envelope_id: "e1",
                        kind: "hello?",
                        retry_attempt: 9,
                        retry_reason: "made_up",
                    }
                    .emit()
                }),
                "Socket Mode envelope received",
                r#"vigil_slack_envelopes_total{type="other",retry_attempt="more",retry_reason="other"} 1"#,
            ),
            (
                Box::new(|| {
                    UnexpectedFailure {
                        case: &case,
                        panic: "boom",
                        during: During::Inbound {
                            seq: 3,
                            kind: "button",
                        },
                    }
                    .emit()
                }),
                "an inbound item failed unexpectedly; set aside",
                r#"vigil_unexpected_failures_total{what="inbound"} 1"#,
            ),
            (
                Box::new(|| {
                    UnexpectedFailure {
                        case: &case,
                        panic: "boom",
                        during: During::Timers,
                    }
                    .emit()
                }),
                "owner timers failed unexpectedly; stopped",
                r#"vigil_unexpected_failures_total{what="timers"} 1"#,
            ),
            (
                Box::new(|| {
                    StrayInbound {
                        seq: 4,
                        event: &stray,
                        replied: true,
                    }
                    .emit()
                }),
                "a DM with no open case; finished",
                r#"vigil_stray_inbound_total{replied="yes"} 1"#,
            ),
        ];
        for (emit, message, counter) in events {
            let (logs, metrics) = capture(emit);
            assert!(
                logs.contains(message),
                "log line {message:?} missing: {logs}"
            );
            assert!(
                metrics.contains(counter),
                "counter {counter} missing: {metrics}"
            );
        }
    }
}
