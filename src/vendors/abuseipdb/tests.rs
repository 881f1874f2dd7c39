//! AbuseIPDB client tests against scripted answers (wiremock).

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::client::AbuseIpDbClient;
use super::config::AbuseIpDbConfig;
use crate::config::secret::Secret;
use crate::vendors::VendorError;
use crate::vendors::outbound::RetryPolicy;

const KEY: &str = "abuse-test-key";

fn client(server: &MockServer) -> AbuseIpDbClient {
    let mut config = AbuseIpDbConfig::new(server.uri(), Secret::new(KEY));
    config.requests_per_minute = 6000;
    let policy = RetryPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_millis(50),
        jitter: false,
        ..RetryPolicy::default()
    };
    match AbuseIpDbClient::new(config) {
        Ok(c) => c.with_retry_policy(policy),
        Err(e) => panic!("client: {e}"),
    }
}

fn errors(status: u16, detail: &str) -> serde_json::Value {
    json!({"errors": [{"detail": detail, "status": status}]})
}

#[tokio::test]
async fn check_sends_key_accept_and_the_documented_query() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/check"))
        .and(header("Key", KEY))
        .and(header("Accept", "application/json"))
        .and(query_param("ipAddress", "2001:db8::1"))
        .and(query_param("maxAgeInDays", "90"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "ipAddress": "2001:db8::1", "isPublic": true, "ipVersion": 6, "isWhitelisted": false,
            "abuseConfidenceScore": 100, "countryCode": "CN",
            "usageType": "Data Center/Web Hosting/Transit", "isp": "Tencent Cloud",
            "domain": "tencent.com", "hostnames": [], "isTor": false, "totalReports": 7,
            "numDistinctUsers": 3, "lastReportedAt": "2018-12-20T20:55:14+00:00"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let r = client(&server).check("2001:DB8:0::1").await;
    let r = r.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.abuse_confidence_score, 100);
    assert_eq!(r.total_reports, 7);
    assert_eq!(r.country_code.as_deref(), Some("CN"));
    assert_eq!(r.isp.as_deref(), Some("Tencent Cloud"));
    assert_eq!(
        r.usage_type.as_deref(),
        Some("Data Center/Web Hosting/Transit")
    );
    assert_eq!(r.is_tor, Some(false));
}

#[tokio::test]
async fn a_private_address_without_country_or_isp_still_reads() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(query_param("maxAgeInDays", "7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "ipAddress": "10.0.0.1", "isPublic": false, "abuseConfidenceScore": 0,
            "countryCode": null, "isp": null, "totalReports": 0, "lastReportedAt": null
        }})))
        .mount(&server)
        .await;
    let r = client(&server).check_within("10.0.0.1", 7).await;
    let r = r.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.is_public, Some(false));
    assert_eq!(r.country_code, None);
}

#[tokio::test]
async fn the_errors_detail_is_the_message_and_401_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(errors(
            401,
            "Authentication failed. Your API key is either missing, incorrect, or revoked.",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).check("8.8.8.8").await.err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(err.and_then(|e| e.status()), Some(401));
    assert!(
        text.starts_with("abuseipdb check ip: HTTP 401: Authentication failed."),
        "{text}"
    );
}

#[tokio::test]
async fn the_daily_quota_is_a_clear_error_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "18000")
                .insert_header("X-RateLimit-Remaining", "0")
                .set_body_json(errors(
                    429,
                    "Daily rate limit of 1000 requests exceeded for this endpoint. See headers for additional details.",
                )),
        )
        .expect(1)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let err = client(&server).check("8.8.8.8").await.err();
    assert!(started.elapsed() < Duration::from_secs(1), "not retried");
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(err.as_ref().and_then(VendorError::status), Some(429));
    assert!(text.contains("Daily rate limit of 1000"), "{text}");
    assert!(text.contains("resets in 5h"), "{text}");
}

#[tokio::test]
async fn a_short_retry_after_is_waited_and_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0")
                .set_body_json(errors(429, "Too Many Requests")),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"data": {"ipAddress": "8.8.8.8", "abuseConfidenceScore": 0}}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let r = client(&server).check("8.8.8.8").await;
    assert_eq!(r.map(|r| r.abuse_confidence_score).ok(), Some(0));
}

#[tokio::test]
async fn bad_input_is_refused_before_any_call() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let c = client(&server);
    for r in [
        c.check("not-an-ip").await,
        c.check("8.8.8.8/32").await,
        c.check_within("8.8.8.8", 0).await,
        c.check_within("8.8.8.8", 366).await,
    ] {
        assert!(matches!(r, Err(VendorError::Invalid { .. })), "{r:?}");
    }
}
