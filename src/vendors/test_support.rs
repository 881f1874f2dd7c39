//! Shared setup for the vendor clients' wiremock tests: the retry policy that keeps them fast
//! while still showing which wait a client chose, and the answers every vendor test builds.
//! Test-only: compiled under `#[cfg(test)]`.

use std::time::Duration;

use wiremock::{MockServer, ResponseTemplate};

use super::outbound::RetryPolicy;

/// Millisecond backoff without jitter (so a test can assert the step), and vendor waits
/// honoured up to 50 ms (so a test can tell a vendor's wait from a backoff step).
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_millis(50),
        jitter: false,
        ..RetryPolicy::default()
    }
}

/// A fresh mock vendor.
pub async fn server() -> MockServer {
    MockServer::start().await
}

/// A JSON answer with this status.
pub fn json(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}
