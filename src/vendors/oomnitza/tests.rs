//! Oomnitza client tests against scripted answers (wiremock).

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::client::{OomnitzaClient, quote};
use super::config::OomnitzaConfig;
use crate::config::secret::Secret;
use crate::vendors::outbound::RetryPolicy;

fn client(server: &MockServer) -> OomnitzaClient {
    let config = OomnitzaConfig {
        base_url: server.uri(),
        token_file: None,
        token: Secret::new("oomni-token"),
    };
    let policy = RetryPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        jitter: false,
        ..RetryPolicy::default()
    };
    match OomnitzaClient::new(config) {
        Ok(c) => c.with_retry_policy(policy),
        Err(e) => panic!("client: {e}"),
    }
}

#[test]
fn quotes_cannot_break_out_of_the_filter() {
    assert_eq!(quote("WS-1"), "'WS-1'");
    assert_eq!(quote("a' or 'x' eq 'x"), "'a\\' or \\'x\\' eq \\'x'");
    assert_eq!(quote("back\\'slash"), "'back\\\\\\'slash'");
}

#[tokio::test]
async fn asset_by_serial_sends_the_filter_and_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/assets"))
        .and(header("Authorization2", "oomni-token"))
        .and(query_param("filter", "serial_number eq 'C02XYZ'"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "equipment_id": "EQ-1", "serial_number": "C02XYZ", "device_name": "WS-1",
            "assigned_to": "dana", "creation_date": 1736154000, "cost_center": "CC-9"
        }])))
        .expect(1)
        .mount(&server)
        .await;
    let asset = client(&server).asset_by_serial("C02XYZ").await;
    let asset = asset.unwrap_or_else(|e| panic!("{e}")).unwrap_or_default();
    assert_eq!(asset.equipment_id.as_deref(), Some("EQ-1"));
    assert_eq!(asset.assigned_to.as_deref(), Some("dana"));
    assert_eq!(asset.creation_date.as_deref(), Some("1736154000"));
    assert_eq!(asset.extra.get("cost_center"), Some(&json!("CC-9")));
}

#[tokio::test]
async fn a_hostile_hostname_stays_inside_the_quotes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/assets"))
        .and(query_param(
            "filter",
            "device_name eq 'x\\' or \\'1\\' eq \\'1'",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let found = client(&server).asset_by_hostname("x' or '1' eq '1").await;
    assert_eq!(found.ok(), Some(None));
}

#[tokio::test]
async fn unassigned_asset_has_no_owner() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/assets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!([{"equipment_id": "EQ-4", "device_name": "BUILD-1", "assigned_to": null}]),
        ))
        .mount(&server)
        .await;
    let asset = client(&server).asset_by_hostname("BUILD-1").await;
    let asset = asset.unwrap_or_else(|e| panic!("{e}")).unwrap_or_default();
    assert_eq!(asset.device_name.as_deref(), Some("BUILD-1"));
    assert_eq!(asset.assigned_to, None);
}

#[tokio::test]
async fn empty_list_and_404_mean_none_and_empty_input_calls_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/users"))
        .and(query_param("filter", "username eq 'ghost'"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/users"))
        .and(query_param("filter", "email eq 'gone@acme.example'"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": "Not found"})))
        .expect(1)
        .mount(&server)
        .await;
    let oom = client(&server);
    assert_eq!(oom.user_by_username("ghost").await.ok(), Some(None));
    assert_eq!(
        oom.user_by_email("gone@acme.example").await.ok(),
        Some(None)
    );
    assert_eq!(oom.asset_by_serial("  ").await.ok(), Some(None));
}

#[tokio::test]
async fn bad_token_and_bad_filter_are_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/users"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "Invalid token"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/assets"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"message": "Unknown field"})))
        .expect(1)
        .mount(&server)
        .await;
    let oom = client(&server);
    let err = oom.user_by_email("a@b.c").await.err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(err.and_then(|e| e.status()), Some(401));
    assert!(
        text.contains("find user by email") && text.contains("Invalid token"),
        "{text}"
    );
    let err = oom.asset_by_serial("S").await.err();
    assert_eq!(err.and_then(|e| e.status()), Some(400));
}

#[tokio::test]
async fn user_fields_are_read_leniently() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/users"))
        .and(query_param("filter", "email eq 'dana@acme.example'"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "username": "dana", "email": "dana@acme.example", "first_name": "Dana",
            "last_name": "Lee", "suspended": "false", "user_id": 42
        }])))
        .mount(&server)
        .await;
    let user = client(&server).user_by_email("dana@acme.example").await;
    let user = user.unwrap_or_else(|e| panic!("{e}")).unwrap_or_default();
    assert_eq!(user.username.as_deref(), Some("dana"));
    assert_eq!(user.user_id.as_deref(), Some("42"));
    assert_eq!(user.suspended, Some(false));
    assert_eq!(user.display_name().as_deref(), Some("Dana Lee"));
}

#[tokio::test]
async fn a_503_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/assets"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/assets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"serial_number": "S1"}])))
        .expect(1)
        .mount(&server)
        .await;
    let asset = client(&server).asset_by_serial("S1").await;
    assert!(matches!(asset, Ok(Some(_))), "{asset:?}");
}
