//! What the vendor-client suites share: retry policies that keep tests fast, the sandbox's
//! credentials, injected faults and limits, and the check every refused key must pass.

use std::time::Duration;

use serde_json::{Value, json};
use vigil::vendors::VendorError;
use vigil::vendors::outbound::RetryPolicy;

use crate::common::TestSandbox;

/// Fast backoff, but a vendor's own wait of up to 3 s is honoured as asked.
pub fn waits() -> RetryPolicy {
    RetryPolicy {
        max_retry_after: Duration::from_secs(3),
        ..fast()
    }
}

/// Fast backoff, and a vendor's own wait cut to 50 ms.
pub fn fast() -> RetryPolicy {
    RetryPolicy {
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_millis(50),
        jitter: false,
        ..RetryPolicy::default()
    }
}

/// One credential the sandbox issued (`""` when it has none by that name).
pub fn cred(ts: &TestSandbox, vendor: &str, key: &str) -> String {
    ts.creds[vendor][key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Injects a fault through the control API and checks it was accepted.
pub async fn fault(ts: &TestSandbox, spec: Value) {
    let answer = ts.control("/faults", spec).await;
    assert!(answer["id"].is_string(), "fault accepted: {answer}");
}

/// Sets a vendor method's rate limit, so a test meets the real limiter quickly.
pub async fn limit(ts: &TestSandbox, service: &str, method: &str, per_minute: u32) {
    ts.control(
        "/limits",
        json!({"service": service, "method": method, "per_minute": per_minute, "burst": per_minute}),
    )
    .await;
}

/// Asserts a refused key comes back as a 401 that names the vendor, and is not retried.
pub fn assert_auth_error(err: &VendorError, vendor: &str) {
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(!err.is_transient(), "a bad key is not retried: {err}");
    assert!(err.to_string().starts_with(vendor), "names {vendor}: {err}");
}
