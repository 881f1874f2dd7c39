//! Slack's retry of unacked Events API envelopes: the same payload (same `event_id`) in a new
//! envelope, `retry_attempt` 1, 2, 3 with `retry_reason: "timeout"`, at the delays in
//! `slack_retry_delays_ms` (Slack: 3 s, 60 s, 5 min). It stops at the first ack, after the
//! last retry, or when the hub is reset.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;

use super::frames::{self, Attempt};
use super::{EnvelopeKind, Outgoing, Shared, ack_timeout};
use crate::Sandbox;

/// Slack retries an event at most this many times.
const MAX_RETRIES: usize = 3;

/// Counts a redelivery task as pending for as long as it lives.
struct PendingGuard(Arc<Shared>);

impl PendingGuard {
    fn new(shared: Arc<Shared>) -> Self {
        shared.redeliveries.fetch_add(1, Ordering::SeqCst);
        PendingGuard(shared)
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.0.redeliveries.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Starts the retries of one unacked `events_api` payload in the background.
pub(super) fn spawn(shared: Arc<Shared>, sb: Sandbox, payload: Value) {
    let cancelled = shared.generation.subscribe();
    let guard = PendingGuard::new(shared);
    tokio::spawn(async move {
        retry(&guard.0, &sb, payload, cancelled).await;
        drop(guard);
    });
}

/// The retry loop: waits, delivers, stops on ack or cancellation.
async fn retry(
    shared: &Shared,
    sb: &Sandbox,
    payload: Value,
    mut cancelled: tokio::sync::watch::Receiver<u64>,
) {
    for attempt in 1..=MAX_RETRIES {
        let Some(delay) = retry_delay(sb, attempt) else {
            return;
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancelled.changed() => return,
        }
        if cancelled.has_changed().unwrap_or(true) {
            return;
        }
        let number = attempt as u32;
        let envelope_id = frames::new_envelope_id();
        let frame = frames::envelope(
            EnvelopeKind::EventsApi,
            &envelope_id,
            payload.clone(),
            Attempt { number },
        );
        let out = Outgoing {
            envelope_id: Some(envelope_id),
            text: frame.to_string(),
            kind: EnvelopeKind::EventsApi.as_str().to_string(),
            retry_attempt: Some(u64::from(number)),
        };
        match shared.deliver(ack_timeout(sb), out).await {
            Ok(outcome) if outcome.acked => return,
            Ok(_) => {}
            Err(_) => tracing::debug!(attempt, "socket mode: no socket for a redelivery"),
        }
    }
}

/// The wait before retry `attempt` (1-based), from the live settings; none when the settings
/// list fewer delays.
fn retry_delay(sb: &Sandbox, attempt: usize) -> Option<Duration> {
    let delays = sb.settings.get().slack_retry_delays_ms;
    delays
        .get(attempt.checked_sub(1)?)
        .map(|ms| Duration::from_millis(*ms))
}
