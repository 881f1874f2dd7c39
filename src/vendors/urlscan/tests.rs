//! urlscan.io client tests against scripted answers (wiremock): the `API-Key` header, the
//! submission's shape, 404-until-done polling, error text and the `X-Rate-Limit-Reset-After` wait.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::client::UrlscanClient;
use super::config::{UrlscanConfig, Visibility};
use super::models::ScanOutcome;
use crate::config::secret::Secret;
use crate::vendors::VendorError;
use crate::vendors::outbound::capture_retries;
use crate::vendors::test_support::{fast_policy, json as answer, server};

const KEY: &str = "e97621ae-4d95-4054-9a16-158afba34e0d";
const UUID: &str = "0196d976-1111-4222-8333-444455556666";

fn config(server: &MockServer) -> UrlscanConfig {
    let mut c = UrlscanConfig::new(server.uri(), Secret::new(KEY));
    c.requests_per_minute = 6000;
    c.poll_interval = Duration::from_millis(5);
    c.max_wait = Duration::from_secs(2);
    c
}

fn client(config: UrlscanConfig) -> UrlscanClient {
    match UrlscanClient::new(config) {
        Ok(c) => c.with_retry_policy(fast_policy()),
        Err(e) => panic!("client: {e}"),
    }
}

fn submitted(visibility: &str) -> ResponseTemplate {
    answer(
        200,
        json!({"message": "Submission successful", "uuid": UUID, "visibility": visibility,
               "result": format!("https://urlscan.io/result/{UUID}/"),
               "api": format!("https://urlscan.io/api/v1/result/{UUID}/"),
               "url": "https://evil.example/"}),
    )
}

#[tokio::test]
async fn submit_sends_the_key_and_an_unlisted_tagged_scan() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/scan/"))
        .and(header("API-Key", KEY))
        .and(body_json(
            json!({"url": "https://evil.example/", "visibility": "unlisted", "tags": ["vigil"]}),
        ))
        .respond_with(submitted("unlisted"))
        .expect(1)
        .mount(&server)
        .await;
    let s = client(config(&server))
        .submit(" https://evil.example/ ")
        .await;
    let s = s.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.uuid, UUID);
    assert_eq!(s.visibility.as_deref(), Some("unlisted"));

    let mut private = config(&server);
    private.visibility = Visibility::Private;
    let err = client(private).submit("").await.err();
    assert!(matches!(err, Some(VendorError::Invalid { .. })), "{err:?}");
}

#[tokio::test]
async fn scan_polls_through_404s_until_the_result() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/scan/"))
        .respond_with(submitted("unlisted"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/result/{UUID}/")))
        .respond_with(answer(
            404,
            json!({"message": "Scan is not finished yet", "status": 404}),
        ))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/result/{UUID}/")))
        .and(header("API-Key", KEY))
        .respond_with(answer(200, json!({
            "task": {"uuid": UUID, "url": "https://evil.example/", "visibility": "unlisted"},
            "page": {"domain": "evil.example", "ip": "203.0.113.9"},
            "verdicts": {"overall": {"score": 100, "malicious": true, "categories": ["phishing"], "brands": [], "tags": [], "hasVerdicts": true}}
        })))
        .mount(&server)
        .await;
    let outcome = client(config(&server)).scan("https://evil.example/").await;
    let Ok(ScanOutcome::Done { result, .. }) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(result.verdicts.overall.malicious);
    assert_eq!(result.verdicts.overall.categories, ["phishing"]);
    assert_eq!(result.page.domain.as_deref(), Some("evil.example"));
    let reads = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count();
    assert_eq!(reads, 3, "two 404s, then the result");
}

#[tokio::test]
async fn a_scan_still_running_at_max_wait_is_pending() {
    let server = server().await;
    Mock::given(method("POST"))
        .respond_with(submitted("unlisted"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(answer(
            404,
            json!({"message": "Scan is not finished yet", "status": 404}),
        ))
        .mount(&server)
        .await;
    let mut c = config(&server);
    c.max_wait = Duration::from_millis(40);
    let outcome = client(c).scan("https://evil.example/").await;
    assert!(
        matches!(outcome, Ok(ScanOutcome::Pending(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn errors_keep_urlscans_message_and_are_not_retried() {
    let server = server().await;
    Mock::given(method("POST"))
        .respond_with(answer(400, json!({
            "message": "DNS Error - Could not resolve domain",
            "description": "The domain host.invalid could not be resolved to a valid IPv4/IPv6 address.",
            "status": 400,
            "errors": [{"title": "DNS Error - Could not resolve domain", "detail": "The domain host.invalid could not be resolved to a valid IPv4/IPv6 address.", "status": 400}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(config(&server))
        .submit("https://host.invalid/")
        .await
        .err();
    let err = err.unwrap_or_else(|| panic!("a 400"));
    assert_eq!(err.status(), Some(400));
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(
        text.contains("DNS Error") && text.contains("host.invalid could not"),
        "{text}"
    );
    assert_eq!(
        text.matches("could not be resolved").count(),
        1,
        "said once: {text}"
    );
}

#[tokio::test]
async fn a_429_waits_x_rate_limit_reset_after() {
    let server = server().await;
    Mock::given(method("POST"))
        .respond_with(
            answer(
                429,
                json!({"message": "Rate limit for `unlisted` exceeded", "status": 429}),
            )
            .insert_header("x-rate-limit-reset-after", "0.03"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(submitted("unlisted"))
        .mount(&server)
        .await;
    let c = client(config(&server));
    let (s, retries) = capture_retries(c.submit("https://evil.example/")).await;
    assert!(s.is_ok(), "{s:?}");
    assert_eq!(retries.len(), 1);
    assert_eq!(
        retries[0].wait,
        Duration::from_millis(30),
        "the header's wait, not a backoff step"
    );
}
