//! PagerDuty client tests against scripted answers (wiremock).

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::client::PagerDutyClient;
use super::config::PagerDutyConfig;
use super::models::{Severity, TriggerEvent, truncate};
use crate::config::secret::Secret;
use crate::vendors::outbound::RetryPolicy;

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn client(server: &MockServer, api_token: Option<&str>) -> PagerDutyClient {
    let config = PagerDutyConfig {
        base_url: format!("{}/events", server.uri()),
        api_base_url: format!("{}/api", server.uri()),
        routing_key_file: None,
        api_token_file: None,
        routing_key: Secret::new(KEY),
        api_token: api_token.map(Secret::new),
    };
    let policy = RetryPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_millis(20),
        jitter: false,
        ..RetryPolicy::default()
    };
    match PagerDutyClient::new(config) {
        Ok(c) => c.with_retry_policy(policy),
        Err(e) => panic!("client: {e}"),
    }
}

fn event() -> TriggerEvent {
    TriggerEvent {
        dedup_key: "VGL-0001".into(),
        summary: "High severity alert on WS-1".into(),
        source: "WS-1".into(),
        severity: Severity::Critical,
        component: Some("falcon".into()),
        group: None,
        class: Some("malware".into()),
        custom_details: json!({"case": "VGL-0001"}),
        links: vec![("https://falcon.example/x".into(), "Falcon alert".into())],
        client: Some("Vigil".into()),
        client_url: None,
    }
}

fn accepted(key: &str) -> ResponseTemplate {
    ResponseTemplate::new(202)
        .set_body_json(json!({"status": "success", "message": "Event processed", "dedup_key": key}))
}

#[tokio::test]
async fn trigger_sends_the_events_v2_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/events/v2/enqueue"))
        .and(body_json(json!({
            "routing_key": KEY,
            "event_action": "trigger",
            "dedup_key": "VGL-0001",
            "payload": {
                "summary": "High severity alert on WS-1", "source": "WS-1",
                "severity": "critical", "component": "falcon", "class": "malware",
                "custom_details": {"case": "VGL-0001"}
            },
            "links": [{"href": "https://falcon.example/x", "text": "Falcon alert"}],
            "client": "Vigil"
        })))
        .respond_with(accepted("VGL-0001"))
        .expect(1)
        .mount(&server)
        .await;
    let key = client(&server, None).trigger(&event()).await;
    assert_eq!(key.ok().as_deref(), Some("VGL-0001"));
}

#[tokio::test]
async fn acknowledge_and_resolve_name_the_dedup_key() {
    let server = MockServer::start().await;
    for action in ["acknowledge", "resolve"] {
        Mock::given(method("POST"))
            .and(path("/events/v2/enqueue"))
            .and(body_json(
                json!({"routing_key": KEY, "event_action": action, "dedup_key": "VGL-0001"}),
            ))
            .respond_with(accepted("VGL-0001"))
            .expect(1)
            .mount(&server)
            .await;
    }
    let pd = client(&server, None);
    assert!(pd.acknowledge("VGL-0001").await.is_ok());
    assert!(pd.resolve("VGL-0001").await.is_ok());
}

#[tokio::test]
async fn a_long_summary_is_cut_to_1024_characters() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/events/v2/enqueue"))
        .respond_with(accepted("VGL-0001"))
        .mount(&server)
        .await;
    let mut e = event();
    e.summary = "é".repeat(3000);
    assert!(client(&server, None).trigger(&e).await.is_ok());
    let seen = server.received_requests().await.unwrap_or_default();
    let body: serde_json::Value = seen
        .first()
        .and_then(|r| serde_json::from_slice(&r.body).ok())
        .unwrap_or_default();
    let summary = body["payload"]["summary"].as_str().unwrap_or_default();
    assert_eq!(summary.chars().count(), 1024);
    assert_eq!(truncate("abc", 2), "ab");
    assert_eq!(truncate("abc", 5), "abc");
}

#[tokio::test]
async fn a_400_is_permanent_and_lists_pds_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/events/v2/enqueue"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "invalid event", "message": "Event object is invalid",
            "errors": ["'payload.source' is missing or blank", "'payload.severity' is invalid"]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server, None).trigger(&event()).await.err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(
        text,
        "pagerduty trigger: HTTP 400: Event object is invalid: 'payload.source' is missing \
         or blank; 'payload.severity' is invalid"
    );
    assert!(err.is_some_and(|e| !e.is_transient()));
}

#[tokio::test]
async fn throttling_and_5xx_are_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/events/v2/enqueue"))
        .respond_with(ResponseTemplate::new(429).set_body_json(
            json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly."}),
        ))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/events/v2/enqueue"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/events/v2/enqueue"))
        .respond_with(accepted("VGL-0001"))
        .expect(1)
        .mount(&server)
        .await;
    let (key, retries) =
        crate::vendors::outbound::capture_retries(client(&server, None).trigger(&event())).await;
    assert!(key.is_ok(), "{key:?}");
    assert_eq!(retries.len(), 2);
    assert_eq!(
        retries[0].to_string(),
        "PagerDuty trigger: HTTP 429, retried (2/5)"
    );
}

#[tokio::test]
async fn bad_dedup_keys_and_huge_events_are_not_sent() {
    let server = MockServer::start().await;
    let pd = client(&server, None);
    let mut e = event();
    e.dedup_key = "k".repeat(256);
    assert!(pd.trigger(&e).await.is_err());
    assert!(pd.resolve("").await.is_err());
    let mut e = event();
    e.custom_details = json!({"blob": "x".repeat(600 * 1024)});
    let err = pd.trigger(&e).await.err();
    assert!(err.is_some_and(|e| e.to_string().contains("not sent")));
    let seen = server.received_requests().await.unwrap_or_default();
    assert!(seen.is_empty());
}

#[tokio::test]
async fn incidents_by_key_reads_back_through_rest() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/incidents"))
        .and(header("authorization", "Token token=pd-api"))
        .and(query_param("incident_key", "VGL-0001"))
        .and(query_param("date_range", "all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "incidents": [{
                "id": "PABC123", "incident_key": "VGL-0001", "status": "triggered",
                "title": "High severity alert on WS-1", "urgency": "high",
                "created_at": "2026-03-01T09:00:00Z", "html_url": "https://pd/x"
            }],
            "limit": 100, "offset": 0, "more": false
        })))
        .expect(1)
        .mount(&server)
        .await;
    let found = client(&server, Some("pd-api"))
        .incidents_by_key("VGL-0001")
        .await;
    let found = found.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].status, "triggered");
    assert_eq!(found[0].urgency.as_deref(), Some("high"));
}

#[tokio::test]
async fn reading_back_without_a_token_says_so() {
    let server = MockServer::start().await;
    let pd = client(&server, None);
    assert!(!pd.can_read());
    let err = pd.incidents_by_key("VGL-0001").await.err();
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("api_token"), "{text}");
}
