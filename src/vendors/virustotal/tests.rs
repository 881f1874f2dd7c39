//! VirusTotal client tests against scripted answers (wiremock).

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::client::{VirusTotalClient, url_id};
use super::config::VirusTotalConfig;
use super::models::{IndicatorKind, Lookup, Verdict};
use crate::config::secret::Secret;
use crate::vendors::VendorError;
use crate::vendors::outbound::RetryPolicy;

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const SHA: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

fn config(server: &MockServer) -> VirusTotalConfig {
    let mut c = VirusTotalConfig::new(server.uri(), Secret::new(KEY));
    c.requests_per_minute = 6000;
    c
}

fn client(config: VirusTotalConfig) -> VirusTotalClient {
    let policy = RetryPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        jitter: false,
        ..RetryPolicy::default()
    };
    match VirusTotalClient::new(config) {
        Ok(c) => c.with_retry_policy(policy),
        Err(e) => panic!("client: {e}"),
    }
}

fn vt_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"code": code, "message": message}}))
}

#[test]
fn url_ids_are_unpadded_base64url() {
    // vt-py: base64.urlsafe_b64encode(url.encode()).decode().strip("=")
    assert_eq!(
        url_id("http://example.com/?a=b"),
        "aHR0cDovL2V4YW1wbGUuY29tLz9hPWI"
    );
    assert!(!url_id("https://x.example/~a").contains('='));
    assert_eq!(
        url_id("https://x.example/>>>?"),
        "aHR0cHM6Ly94LmV4YW1wbGUvPj4-Pw"
    );
}

#[tokio::test]
async fn a_file_report_carries_the_key_and_reads_the_stats() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/files/{SHA}")))
        .and(header("x-apikey", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "id": SHA, "type": "file", "links": {"self": "x"},
            "attributes": {
                "last_analysis_stats": {"malicious": 12, "suspicious": 1, "harmless": 0, "undetected": 50, "timeout": 2},
                "reputation": -40,
                "last_analysis_date": 1767225600,
                "popular_threat_classification": {"suggested_threat_label": "virus.eicar/test"},
                "tags": ["text"]
            }
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let found = client(config(&server)).file(&SHA.to_uppercase()).await;
    let Ok(Lookup::Found(r)) = found else {
        panic!("{found:?}")
    };
    assert_eq!(r.kind, IndicatorKind::File);
    assert_eq!(r.verdict(), Verdict::Malicious);
    assert_eq!(r.stats.malicious, 12);
    assert_eq!(r.stats.engines(), 65);
    assert_eq!(r.reputation, -40);
    assert_eq!(r.threat_label.as_deref(), Some("virus.eicar/test"));
}

#[tokio::test]
async fn domain_and_ip_reports_read_owner_and_verdict() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/ip_addresses/198.51.100.23"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "id": "198.51.100.23", "type": "ip_address",
            "attributes": {"last_analysis_stats": {"suspicious": 2, "harmless": 60},
                "as_owner": "Bulletproof Hosting BV", "country": "NL", "reputation": 0}
        }})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/domains/acme.example"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "id": "acme.example", "type": "domain",
            "attributes": {"last_analysis_stats": {"harmless": 70}, "registrar": "Acme Registrar"}
        }})))
        .mount(&server)
        .await;
    let vt = client(config(&server));
    let Ok(Lookup::Found(ip)) = vt.ip_address(" 198.51.100.23 ").await else {
        panic!("ip")
    };
    assert_eq!(ip.verdict(), Verdict::Suspicious);
    assert_eq!(ip.owner.as_deref(), Some("Bulletproof Hosting BV"));
    assert_eq!(ip.country.as_deref(), Some("NL"));
    let Ok(Lookup::Found(d)) = vt.domain("ACME.example.").await else {
        panic!("domain")
    };
    assert_eq!(d.verdict(), Verdict::Harmless);
    assert_eq!(d.owner.as_deref(), Some("Acme Registrar"));
}

#[tokio::test]
async fn not_found_is_an_unknown_indicator_and_nothing_is_submitted_by_default() {
    let server = MockServer::start().await;
    let u = "https://never-seen.example/a?b=c";
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/urls/{}", url_id(u))))
        .respond_with(vt_error(404, "NotFoundError", "URL not found"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v3/urls"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    assert_eq!(
        client(config(&server)).url(u).await.ok(),
        Some(Lookup::Unknown)
    );
}

#[tokio::test]
async fn an_unknown_url_is_submitted_and_its_analysis_awaited() {
    let server = MockServer::start().await;
    let u = "https://new.example/login";
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/urls/{}", url_id(u))))
        .respond_with(vt_error(404, "NotFoundError", "URL not found"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v3/urls"))
        .and(header("x-apikey", KEY))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string("url=https%3A%2F%2Fnew.example%2Flogin"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"type": "analysis", "id": "u-abc-1"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/analyses/u-abc-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "type": "analysis", "id": "u-abc-1",
            "attributes": {"status": "queued", "stats": {}}
        }})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/analyses/u-abc-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "type": "analysis", "id": "u-abc-1",
            "attributes": {"status": "completed", "date": 5, "stats": {"malicious": 3, "harmless": 60}}
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let mut cfg = config(&server);
    cfg.submit_unknown_urls = true;
    cfg.analysis_poll_interval = Duration::from_millis(10);
    let found = client(cfg).url(u).await;
    let Ok(Lookup::Found(r)) = found else {
        panic!("{found:?}")
    };
    assert_eq!(r.kind, IndicatorKind::Url);
    assert_eq!(r.id, url_id(u));
    assert_eq!(r.verdict(), Verdict::Malicious);
}

#[tokio::test]
async fn an_analysis_that_never_completes_is_pending_after_the_wait() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/api/v3/urls/{}",
            url_id("https://slow.example/")
        )))
        .respond_with(vt_error(404, "NotFoundError", "URL not found"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v3/urls"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"type": "analysis", "id": "u-slow"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/analyses/u-slow"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "type": "analysis", "id": "u-slow", "attributes": {"status": "queued"}
        }})))
        .mount(&server)
        .await;
    let mut cfg = config(&server);
    cfg.submit_unknown_urls = true;
    cfg.analysis_poll_interval = Duration::from_millis(20);
    cfg.analysis_max_wait = Duration::from_millis(100);
    let started = std::time::Instant::now();
    let found = client(cfg).url("https://slow.example/").await;
    assert_eq!(
        found.ok(),
        Some(Lookup::Pending {
            analysis_id: "u-slow".into()
        })
    );
    assert!(started.elapsed() < Duration::from_secs(2), "bounded wait");
}

#[tokio::test]
async fn a_wrong_key_is_an_error_named_by_vt_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(vt_error(401, "WrongCredentialsError", "Wrong API key"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(config(&server)).ip_address("8.8.8.8").await.err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(err.and_then(|e| e.status()), Some(401));
    assert!(
        text.starts_with("virustotal ip address report: HTTP 401")
            && text.contains("WrongCredentialsError: Wrong API key"),
        "{text}"
    );
}

#[tokio::test]
async fn quota_exceeded_is_retried_by_the_scheduler() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/domains/example.org"))
        .respond_with(vt_error(429, "QuotaExceededError", "Quota exceeded"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/domains/example.org"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": {"id": "example.org", "type": "domain", "attributes": {}}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let (found, retries) =
        crate::vendors::outbound::capture_retries(client(config(&server)).domain("example.org"))
            .await;
    let Ok(Lookup::Found(d)) = found else {
        panic!("{found:?}")
    };
    assert_eq!(d.verdict(), Verdict::Undetected);
    assert_eq!(retries.len(), 2);
    assert_eq!(
        retries[0].to_string(),
        "VirusTotal domain report: HTTP 429, retried (2/5)"
    );
}

#[tokio::test]
async fn malformed_indicators_are_refused_before_any_call() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let vt = client(config(&server));
    for r in [
        vt.file("abc").await,
        vt.file(&"z".repeat(64)).await,
        vt.ip_address("999.1.1.1").await,
        vt.domain("not a domain").await,
        vt.url("  ").await,
    ] {
        assert!(matches!(r, Err(VendorError::Invalid { .. })), "{r:?}");
    }
}
