//! CrowdStrike client tests against scripted answers (wiremock).

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::client::CrowdStrikeClient;
use super::config::CrowdStrikeConfig;
use super::models::updated_since_filter;
use crate::config::secret::Secret;
use crate::vendors::outbound::RetryPolicy;

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_millis(20),
        jitter: false,
        ..RetryPolicy::default()
    }
}

fn client(server: &MockServer) -> CrowdStrikeClient {
    let config = CrowdStrikeConfig {
        base_url: server.uri(),
        client_id: "cid-client".into(),
        client_secret_file: None,
        poll_interval_secs: 30,
        client_secret: Secret::new("s3cret"),
    };
    match CrowdStrikeClient::new(config) {
        Ok(c) => c.with_retry_policy(fast_retries()),
        Err(e) => panic!("client: {e}"),
    }
}

fn envelope(resources: Value) -> Value {
    json!({"meta": {"query_time": 0.01, "trace_id": "t"}, "resources": resources, "errors": []})
}

async fn mount_token(server: &MockServer, token: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(body_string_contains("client_id=cid-client"))
        .and(body_string_contains("client_secret=s3cret"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"access_token": token, "token_type": "bearer", "expires_in": 1799}),
        ))
        .up_to_n_times(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn alerts_page_sends_the_falcon_body_and_reads_paging() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    let mut answer = envelope(json!([{"composite_id": "cid:ind:1"}]));
    answer["meta"]["pagination"] = json!({"total": 3, "limit": 1, "after": "next-token"});
    Mock::given(method("POST"))
        .and(path("/alerts/combined/alerts/v1"))
        .and(header("authorization", "Bearer tok-1"))
        .and(body_json(json!({
            "filter": "updated_timestamp:>'2024-01-01T00:00:00.000Z'",
            "sort": "updated_timestamp|asc",
            "limit": 1000,
            "after": "prev-token"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .expect(2)
        .mount(&server)
        .await;
    let cs = client(&server);
    let since = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single();
    let filter = since.map(|s| updated_since_filter(&s)).unwrap_or_default();
    for _ in 0..2 {
        // Limit above Falcon's max is clamped; the token is fetched once and cached.
        let page = cs
            .alerts_page(&filter, "updated_timestamp|asc", 5000, Some("prev-token"))
            .await
            .map_err(|e| e.to_string());
        let page = page.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.alerts.len(), 1);
        assert_eq!(page.after.as_deref(), Some("next-token"));
        assert_eq!(page.total, Some(3));
    }
}

#[tokio::test]
async fn last_page_has_no_after_and_first_page_sends_none() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 1).await;
    let mut answer = envelope(json!([]));
    answer["meta"]["pagination"] = json!({"total": 0, "limit": 100});
    Mock::given(method("POST"))
        .and(path("/alerts/combined/alerts/v1"))
        .and(body_json(
            json!({"filter": "status:'new'", "sort": "created_timestamp|asc", "limit": 100}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server)
        .alerts_page("status:'new'", "created_timestamp|asc", 100, None)
        .await;
    let page = page.unwrap_or_else(|e| panic!("{e}"));
    assert!(page.alerts.is_empty());
    assert_eq!(page.after, None);
}

#[tokio::test]
async fn a_401_gets_a_new_token_and_retries_once() {
    let server = MockServer::start().await;
    mount_token(&server, "old", 1).await;
    mount_token(&server, "new", 1).await;
    Mock::given(method("POST"))
        .and(path("/alerts/entities/alerts/v2"))
        .and(header("authorization", "Bearer old"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"meta": {}, "errors": [{"code": 401, "message": "access denied, invalid bearer token"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/alerts/entities/alerts/v2"))
        .and(header("authorization", "Bearer new"))
        .and(body_json(json!({"composite_ids": ["a", "b"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(
            json!([{"composite_id": "a"}, {"composite_id": "b"}]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let found = client(&server)
        .alerts_by_id(&["a".to_string(), "b".to_string()])
        .await;
    assert_eq!(found.map(|v| v.len()).ok(), Some(2));
}

#[tokio::test]
async fn a_second_401_is_an_error_not_a_loop() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 5).await;
    Mock::given(method("PATCH"))
        .and(path("/alerts/entities/alerts/v3"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"meta": {}, "errors": [{"code": 401, "message": "access denied"}]}),
        ))
        .expect(2)
        .mount(&server)
        .await;
    let err = client(&server)
        .update_alerts(&["a".into()], &[("update_status", "closed")])
        .await
        .err();
    assert_eq!(err.as_ref().and_then(|e| e.status()), Some(401));
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        text.contains("update alerts") && text.contains("access denied"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_credentials_are_a_permanent_error_with_falcons_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"meta": {}, "errors": [{"code": 403, "message": "access denied, invalid client"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).devices(&["d1".into()]).await.err();
    let err = err.unwrap_or_else(|| panic!("expected an error"));
    assert!(!err.is_transient());
    assert!(err.to_string().contains("invalid client"), "{err}");
}

#[tokio::test]
async fn a_429_with_an_epoch_retry_after_is_retried() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 1).await;
    let at = (Utc::now().timestamp() + 1).to_string();
    Mock::given(method("PATCH"))
        .and(path("/alerts/entities/alerts/v3"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-RateLimit-RetryAfter", at.as_str())
                .set_body_json(
                    json!({"meta": {}, "errors": [{"code": 429, "message": "API rate limit exceeded."}]}),
                ),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/alerts/entities/alerts/v3"))
        .and(body_json(json!({
            "composite_ids": ["x"],
            "action_parameters": [
                {"name": "update_status", "value": "closed"},
                {"name": "append_comment", "value": "resolved by vigil"}
            ]
        })))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"meta": {"writes": {"resources_affected": 1}}, "errors": []}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let result = client(&server)
        .update_alerts(
            &["x".into()],
            &[
                ("update_status", "closed"),
                ("append_comment", "resolved by vigil"),
            ],
        )
        .await;
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn devices_keeps_what_falcon_found_and_unknown_fields() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 1).await;
    Mock::given(method("POST"))
        .and(path("/devices/entities/devices/v2"))
        .and(body_json(json!({"ids": ["d1", "missing"]})))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "meta": {},
            "resources": [{
                "device_id": "d1", "hostname": "WS-1", "serial_number": "C02X",
                "tags": ["SensorGroupingTags/vip"], "ou": null, "status": "normal",
                "agent_version": 7, "chassis_type_desc": "Laptop"
            }],
            "errors": [{"code": 404, "message": "Device not found", "id": "missing"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let devices = client(&server)
        .devices(&["d1".into(), "missing".into()])
        .await;
    let devices = devices.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(devices.len(), 1);
    let d = &devices[0];
    assert_eq!(d.hostname.as_deref(), Some("WS-1"));
    assert_eq!(d.serial_number.as_deref(), Some("C02X"));
    assert_eq!(d.agent_version.as_deref(), Some("7"));
    assert!(d.ou.is_empty());
    assert_eq!(d.tags, ["SensorGroupingTags/vip"]);
    assert_eq!(d.extra.get("chassis_type_desc"), Some(&json!("Laptop")));
    assert!(!d.is_contained());
}

#[tokio::test]
async fn a_404_without_resources_is_an_error() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 1).await;
    Mock::given(method("POST"))
        .and(path("/devices/entities/devices/v2"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"meta": {}, "errors": [{"code": 404, "message": "no such path"}]}),
        ))
        .mount(&server)
        .await;
    let err = client(&server).devices(&["d1".into()]).await.err();
    assert_eq!(err.as_ref().and_then(|e| e.status()), Some(404));
}

#[tokio::test]
async fn no_ids_means_no_call() {
    let server = MockServer::start().await;
    let cs = client(&server);
    assert_eq!(cs.devices(&[]).await.map(|d| d.len()).ok(), Some(0));
    assert_eq!(cs.alerts_by_id(&[]).await.map(|d| d.len()).ok(), Some(0));
    assert!(
        cs.update_alerts(&[], &[("update_status", "closed")])
            .await
            .is_ok()
    );
    let seen = server.received_requests().await.unwrap_or_default();
    assert!(seen.is_empty(), "no request expected, got {}", seen.len());
}

#[tokio::test]
async fn contain_and_lift_send_the_action_and_treat_409_as_done() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 1).await;
    Mock::given(method("POST"))
        .and(path("/devices/entities/devices-actions/v2"))
        .and(query_param("action_name", "contain"))
        .and(body_json(json!({"ids": ["d1"]})))
        .respond_with(
            ResponseTemplate::new(202).set_body_json(envelope(json!([{"id": "d1", "path": ""}]))),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/devices/entities/devices-actions/v2"))
        .and(query_param("action_name", "contain"))
        .respond_with(ResponseTemplate::new(409).set_body_json(
            json!({"meta": {}, "errors": [{"code": 409, "message": "host already contained"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/devices/entities/devices-actions/v2"))
        .and(query_param("action_name", "lift_containment"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"meta": {}, "errors": [{"code": 400, "message": "invalid device id"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let cs = client(&server);
    assert!(cs.contain("d1").await.is_ok());
    assert!(cs.contain("d1").await.is_ok(), "409 = already contained");
    let err = cs.lift_containment("d1").await.err();
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        text.contains("lift containment: HTTP 400: invalid device id"),
        "{text}"
    );
}

#[tokio::test]
async fn a_502_then_success_is_retried_by_the_scheduler() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 1).await;
    Mock::given(method("POST"))
        .and(path("/alerts/combined/alerts/v1"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/alerts/combined/alerts/v1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(json!([]))))
        .mount(&server)
        .await;
    let (page, retries) = crate::vendors::outbound::capture_retries(client(&server).alerts_page(
        "x",
        "created_timestamp|asc",
        10,
        None,
    ))
    .await;
    assert!(page.is_ok(), "{page:?}");
    assert_eq!(retries.len(), 1);
    assert_eq!(
        retries[0].to_string(),
        "CrowdStrike list alerts: HTTP 502, retried (2/5)"
    );
}

#[test]
fn updated_since_filter_is_single_quoted_rfc3339_millis() {
    let at = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single();
    assert_eq!(
        at.map(|t| updated_since_filter(&t)).as_deref(),
        Some("updated_timestamp:>'2024-01-01T00:00:00.000Z'")
    );
}
