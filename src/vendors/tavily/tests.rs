//! Tavily client tests against scripted answers (wiremock): the bearer key, the request body,
//! `{"detail":{"error"}}` text, 429 backoff and the plan limits that are never retried.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer};

use super::client::TavilyClient;
use super::config::TavilyConfig;
use crate::config::secret::Secret;
use crate::vendors::VendorError;
use crate::vendors::outbound::capture_retries;
use crate::vendors::test_support::{fast_policy, json as answer, server};

const KEY: &str = "tvly-test-key";

fn client(server: &MockServer) -> TavilyClient {
    let mut config = TavilyConfig::new(server.uri(), Secret::new(KEY));
    config.requests_per_minute = 6000;
    match TavilyClient::new(config) {
        Ok(c) => c.with_retry_policy(fast_policy()),
        Err(e) => panic!("client: {e}"),
    }
}

fn detail(message: &str) -> serde_json::Value {
    json!({"detail": {"error": message}})
}

#[tokio::test]
async fn search_sends_the_bearer_key_and_the_documented_body() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/search"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_json(json!({"query": "evil.example", "max_results": 20, "search_depth": "basic", "include_answer": false})))
        .respond_with(answer(200, json!({
            "query": "evil.example", "answer": null, "images": [],
            "results": [{"title": "evil.example – C2", "url": "https://intel.example/evil", "content": "Cobalt Strike", "score": 0.91, "raw_content": null}],
            "response_time": 1.2, "request_id": "req-1"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let r = client(&server).search_n("  evil.example ", 50).await;
    let r = r.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.results.len(), 1);
    assert_eq!(r.results[0].content, "Cobalt Strike");
    assert!((r.results[0].score - 0.91).abs() < 1e-9);
    assert_eq!(r.request_id.as_deref(), Some("req-1"));
    let err = client(&server).search(" ").await.err();
    assert!(matches!(err, Some(VendorError::Invalid { .. })), "{err:?}");
}

#[tokio::test]
async fn a_bad_key_is_a_401_with_tavilys_text() {
    let server = server().await;
    Mock::given(method("POST"))
        .respond_with(answer(
            401,
            detail("Unauthorized: missing or invalid API key."),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).search("x").await.err();
    let err = err.unwrap_or_else(|| panic!("a 401"));
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_transient());
    assert_eq!(
        err.to_string(),
        "tavily search: HTTP 401: Unauthorized: missing or invalid API key."
    );
}

#[tokio::test]
async fn a_429_backs_off_and_plan_limits_are_returned_at_once() {
    let server = server().await;
    Mock::given(method("POST"))
        .respond_with(answer(429, detail("Rate limit exceeded.")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(answer(200, json!({"query": "x", "results": []})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let (r, retries) = capture_retries(c.search("x")).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(retries.len(), 1);
    assert_eq!(
        retries[0].wait,
        Duration::from_millis(1),
        "the first backoff step"
    );

    for status in [432, 433] {
        Mock::given(method("POST"))
            .respond_with(answer(
                status,
                detail("This request exceeds your plan's set usage limit."),
            ))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        let (r, retries) = capture_retries(c.search("x")).await;
        let err = r.err().unwrap_or_else(|| panic!("a {status}"));
        assert_eq!(err.status(), Some(status));
        assert!(retries.is_empty(), "{status} is not waited out");
        assert!(err.to_string().contains("plan's set usage limit"), "{err}");
    }
}
