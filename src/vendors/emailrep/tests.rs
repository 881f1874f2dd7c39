//! EmailRep client tests against scripted answers (wiremock).

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::client::{EmailRepClient, USER_AGENT, invalid_email};
use super::config::EmailRepConfig;
use super::models::Reputation;
use crate::config::secret::Secret;
use crate::vendors::VendorError;
use crate::vendors::outbound::RetryPolicy;

const KEY: &str = "emailrep-test-key";

fn client(base: String) -> EmailRepClient {
    let mut config = EmailRepConfig::new(base, Secret::new(KEY));
    config.requests_per_minute = 6000;
    let policy = RetryPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        jitter: false,
        ..RetryPolicy::default()
    };
    match EmailRepClient::new(config) {
        Ok(c) => c.with_retry_policy(policy),
        Err(e) => panic!("client: {e}"),
    }
}

fn fail(status: u16, reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"status": "fail", "reason": reason}))
}

#[test]
fn addresses_are_checked_locally() {
    assert_eq!(invalid_email("bill@microsoft.com"), None);
    assert_eq!(invalid_email("first.last+tag@mail.acme.example"), None);
    for bad in [
        "bill",
        "@x.com",
        "a@b",
        "a b@x.com",
        "a@x..com",
        "a@x.com\n",
        "a@-?.com",
    ] {
        assert!(invalid_email(bad).is_some(), "{bad:?}");
    }
}

#[tokio::test]
async fn query_sends_key_and_user_agent_and_reads_the_reputation() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/emailrep/it-helpdesk@acme-sso-login.example"))
        .and(header("Key", KEY))
        .and(header("User-Agent", USER_AGENT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "email": "it-helpdesk@acme-sso-login.example", "reputation": "low",
            "suspicious": true, "references": 3,
            "details": {"blacklisted": true, "malicious_activity": true, "new_domain": true,
                "days_since_domain_creation": 4, "first_seen": "never", "spoofable": true,
                "domain_reputation": "low", "profiles": []}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let r = client(format!("{}/emailrep/", server.uri()))
        .query("it-helpdesk@acme-sso-login.example")
        .await;
    let r = r.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.reputation, Reputation::Low);
    assert!(r.suspicious);
    assert_eq!(r.references, 3);
    assert!(r.details.blacklisted && r.details.new_domain);
    assert_eq!(r.details.days_since_domain_creation, Some(4));
    assert_eq!(r.details.first_seen.as_deref(), Some("never"));
}

#[tokio::test]
async fn the_address_is_one_encoded_path_segment() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/a%2Fb%3Fc%23d@acme.example"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "email": "a/b?c#d@acme.example", "reputation": "high", "suspicious": false,
            "references": 20, "details": {}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let r = client(server.uri()).query("a/b?c#d@acme.example").await;
    assert_eq!(r.map(|r| r.reputation).ok(), Some(Reputation::High));
}

#[tokio::test]
async fn errors_carry_emailreps_reason() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bad@key.example"))
        .respond_with(fail(401, "invalid api key"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/odd@addr.example"))
        .respond_with(fail(400, "invalid email"))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(server.uri());
    let err = c.query("bad@key.example").await.err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(text, "emailrep query email: HTTP 401: invalid api key");
    let err = c.query("odd@addr.example").await.err();
    assert_eq!(err.as_ref().and_then(VendorError::status), Some(400));
    assert!(err.is_some_and(|e| e.to_string().contains("invalid email")));
}

#[tokio::test]
async fn the_daily_limit_is_not_retried_but_a_plain_429_is() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/daily@limit.example"))
        .respond_with(fail(
            429,
            "exceeded daily limit. please wait 24 hrs or visit emailrep.io/key for an api key.",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/busy@limit.example"))
        .respond_with(fail(429, "too many requests"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/busy@limit.example"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "email": "busy@limit.example", "reputation": "none", "details": {}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(server.uri());
    let err = c.query("daily@limit.example").await.err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        text.contains("HTTP 429") && text.contains("daily quota used up"),
        "{text}"
    );
    let r = c.query("busy@limit.example").await;
    assert_eq!(r.map(|r| r.reputation).ok(), Some(Reputation::None));
}

#[tokio::test]
async fn a_malformed_address_is_refused_before_any_call() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let r = client(server.uri()).query("not-an-address").await;
    let text = r
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(matches!(r, Err(VendorError::Invalid { .. })), "{r:?}");
    assert!(text.contains("not an email address"), "{text}");
}
