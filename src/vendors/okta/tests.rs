//! Okta client tests against scripted answers (wiremock): the `SSWS` header, URL-encoded
//! logins, empty-bodied answers, Okta's error body, the push poll, and the 429 whose wait is
//! `X-Rate-Limit-Reset`.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::client::{OktaClient, eq_search};
use super::config::OktaConfig;
use super::models::PushResult;
use crate::config::secret::Secret;
use crate::vendors::outbound::{RetryPolicy, capture_retries};

fn client(server: &MockServer) -> OktaClient {
    let config = OktaConfig {
        base_url: server.uri(),
        api_token_file: None,
        api_token: Secret::new("00token"),
    };
    let policy = RetryPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(3),
        jitter: false,
        ..RetryPolicy::default()
    };
    match OktaClient::new(config) {
        Ok(c) => c.with_retry_policy(policy),
        Err(e) => panic!("client: {e}"),
    }
}

fn user(id: &str, login: &str, status: &str) -> Value {
    json!({
        "id": id, "status": status, "created": "2026-01-01T00:00:00.000Z",
        "lastLogin": null, "type": {"id": "oty1"},
        "profile": {"login": login, "email": login, "firstName": "Carol", "lastName": "Diaz",
                    "costCenter": "CC-1"},
        "credentials": {}, "_links": {}
    })
}

fn okta_error(code: &str, summary: &str, causes: &[&str]) -> Value {
    let causes: Vec<Value> = causes.iter().map(|c| json!({"errorSummary": c})).collect();
    json!({"errorCode": code, "errorSummary": summary, "errorLink": code,
           "errorId": "oae123", "errorCauses": causes})
}

#[tokio::test]
async fn a_login_is_url_encoded_and_the_token_sent_as_ssws() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users/carol.diaz%40acme.example"))
        .and(header("authorization", "SSWS 00token"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user(
            "00u1",
            "carol.diaz@acme.example",
            "ACTIVE",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let u = client(&server).user("carol.diaz@acme.example").await;
    let u = u
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("found"));
    assert_eq!((u.id.as_str(), u.status.as_str()), ("00u1", "ACTIVE"));
    assert_eq!(u.display_name(), "Carol Diaz");
    assert_eq!(u.profile.extra.get("costCenter"), Some(&json!("CC-1")));
}

#[tokio::test]
async fn a_missing_user_is_none_and_a_login_with_a_slash_is_searched() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users/ghost%40acme.example"))
        .respond_with(ResponseTemplate::new(404).set_body_json(okta_error(
            "E0000007",
            "Not found: Resource not found: ghost@acme.example (User)",
            &[],
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .and(query_param("search", r#"profile.login eq "a/b\"c""#))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([user("00u9", "a/b\"c", "ACTIVE")])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let okta = client(&server);
    assert_eq!(okta.user("ghost@acme.example").await.ok(), Some(None));
    let found = okta.user("a/b\"c").await.ok().flatten().map(|u| u.id);
    assert_eq!(found.as_deref(), Some("00u9"));
    assert_eq!(
        eq_search("profile.login", "x\\y"),
        r#"profile.login eq "x\\y""#
    );
}

#[tokio::test]
async fn sessions_and_lifecycle_accept_empty_answers() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/users/00u1/sessions"))
        .and(query_param("oauthTokens", "true"))
        .and(header("authorization", "SSWS 00token"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/users/00u1/lifecycle/suspend"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/users/00u1/lifecycle/unsuspend"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let okta = client(&server);
    assert!(okta.clear_sessions("00u1", true).await.is_ok());
    assert!(okta.suspend("00u1").await.is_ok());
    assert!(okta.unsuspend("00u1").await.is_ok());
}

#[tokio::test]
async fn suspending_a_suspended_user_is_a_clear_permanent_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/users/00u1/lifecycle/suspend"))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("x-rate-limit-reset", "4102444800")
                .set_body_json(okta_error(
                    "E0000001",
                    "Api validation failed: suspend",
                    &["Cannot suspend a user that is not active (status is SUSPENDED)"],
                )),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).suspend("00u1").await.err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(
        text,
        "okta suspend user: HTTP 400: Api validation failed: suspend: Cannot suspend a user that is not active (status is SUSPENDED) [E0000001]"
    );
    // The reset header rides on every Okta answer; only a 429 makes it a wait.
    assert_eq!(err.and_then(|e| e.retry_after()), None);
}

#[tokio::test]
async fn a_429_waits_until_x_rate_limit_reset() {
    let server = MockServer::start().await;
    let reset = chrono::Utc::now().timestamp() + 2;
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-limit", "600")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str())
                .set_body_json(okta_error(
                    "E0000047",
                    "API call exceeded rate limit due to too many requests.",
                    &[],
                )),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .and(query_param("limit", "1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([user("00u1", "a@b.c", "ACTIVE")])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (users, retries) = capture_retries(client(&server).list_users(1)).await;
    assert_eq!(users.map(|u| u.len()).ok(), Some(1));
    assert_eq!(retries.len(), 1);
    let wait = retries[0].wait;
    assert!(
        wait >= Duration::from_secs(1) && wait <= Duration::from_secs(2),
        "{wait:?}"
    );
    assert!(retries[0].error.to_string().contains("E0000047"));
}

#[tokio::test]
async fn a_push_is_verified_then_polled_until_the_person_answers() {
    let server = MockServer::start().await;
    let poll = format!(
        "{}/api/v1/users/00u1/factors/opf1/transactions/v2mst.T1",
        "https://elsewhere.example"
    );
    Mock::given(method("GET"))
        .and(path("/api/v1/users/00u1/factors"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "sms1", "factorType": "sms", "provider": "OKTA", "status": "ACTIVE"},
            {"id": "opf1", "factorType": "push", "provider": "OKTA", "status": "ACTIVE",
             "profile": {"name": "iPhone"}}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/users/00u1/factors/opf1/verify"))
        .and(body_json(json!({})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "factorResult": "WAITING", "expiresAt": "2026-12-02T08:05:00.000Z",
            "_links": {"poll": {"href": poll}, "cancel": {"href": poll}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    // The poll goes to the configured org, not to the link's host.
    Mock::given(method("GET"))
        .and(path(
            "/api/v1/users/00u1/factors/opf1/transactions/v2mst.T1",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"factorResult": "WAITING"})))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/api/v1/users/00u1/factors/opf1/transactions/v2mst.T1",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"factorResult": "REJECTED"})))
        .expect(1)
        .mount(&server)
        .await;
    let result = client(&server)
        .push_and_wait("00u1", Duration::from_millis(10), Duration::from_secs(5))
        .await;
    assert_eq!(result.ok(), Some(PushResult::Rejected));
}

#[tokio::test]
async fn no_push_factor_is_an_error_and_nothing_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users/00u1/factors"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "sms1", "factorType": "sms", "provider": "OKTA", "status": "ACTIVE"}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let err = client(&server)
        .push_and_wait("00u1", Duration::from_millis(10), Duration::from_secs(1))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("no active Okta Verify push factor"), "{err}");
}
