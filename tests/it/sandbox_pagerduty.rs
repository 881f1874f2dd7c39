//! Tests for the PagerDuty simulator: Events API v2 enqueue and the REST incidents API over
//! plain HTTP, as the official clients call them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

fn routing_key(sb: &TestSandbox) -> String {
    sb.creds["pagerduty"]["routing_key"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// POSTs an event (any JSON, or raw text) to `/v2/enqueue`.
async fn enqueue_raw(sb: &TestSandbox, body: String) -> (StatusCode, Value) {
    let resp = sb
        .http
        .post(sb.url("/pagerduty/events/v2/enqueue"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn enqueue(sb: &TestSandbox, event: Value) -> (StatusCode, Value) {
    enqueue_raw(sb, event.to_string()).await
}

fn trigger(sb: &TestSandbox, dedup_key: Option<&str>, severity: &str) -> Value {
    let mut ev = json!({
        "routing_key": routing_key(sb),
        "event_action": "trigger",
        "payload": {
            "summary": "High severity alert on WS-CAROL-MBP",
            "source": "WS-CAROL-MBP",
            "severity": severity,
            "component": "falcon",
            "custom_details": {"alert_id": "ldt:1:2", "tactic": "Execution"},
        },
        "client": "vigil",
        "client_url": "https://vigil.example/cases/1",
        "links": [{"href": "https://falcon.example/alert/1", "text": "Falcon alert"}],
    });
    if let Some(k) = dedup_key {
        ev["dedup_key"] = json!(k);
    }
    ev
}

fn action(sb: &TestSandbox, action: &str, dedup_key: &str) -> Value {
    json!({"routing_key": routing_key(sb), "event_action": action, "dedup_key": dedup_key})
}

/// GETs a REST path with the sandbox API token.
async fn rest(sb: &TestSandbox, path_and_query: &str) -> (StatusCode, Value) {
    let token = sb.creds["pagerduty"]["api_token"]
        .as_str()
        .unwrap_or_default();
    let resp = sb
        .http
        .get(sb.url(&format!("/pagerduty/api{path_and_query}")))
        .header("Authorization", format!("Token token={token}"))
        .header("Accept", "application/vnd.pagerduty+json;version=2")
        .send()
        .await
        .expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn incidents(sb: &TestSandbox, query: &str) -> Vec<Value> {
    let (status, body) = rest(sb, &format!("/incidents?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["incidents"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn trigger_opens_an_incident_visible_through_rest() {
    let sb = sandbox().await;
    let (status, body) = enqueue(&sb, trigger(&sb, Some("crowdstrike:abc"), "critical")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        body,
        json!({"status": "success", "message": "Event processed", "dedup_key": "crowdstrike:abc"})
    );

    let list = incidents(&sb, "").await;
    assert_eq!(list.len(), 1);
    let inc = &list[0];
    let id = inc["id"].as_str().unwrap();
    assert!(id.len() == 7 && id.starts_with('P'), "{id}");
    assert!(
        id[1..]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    );
    assert_eq!(inc["type"], "incident");
    assert_eq!(inc["incident_key"], "crowdstrike:abc");
    assert_eq!(inc["status"], "triggered");
    assert_eq!(inc["title"], "High severity alert on WS-CAROL-MBP");
    assert_eq!(inc["urgency"], "high");
    assert_eq!(inc["incident_number"], 1);
    assert_eq!(inc["service"]["type"], "service_reference");
    assert_eq!(
        inc["alert_counts"],
        json!({"all": 1, "triggered": 1, "resolved": 0})
    );
    let host = sb.base.trim_start_matches("http://");
    assert_eq!(
        inc["html_url"],
        format!("http://{host}/pagerduty/incidents/{id}")
    );
    assert!(inc["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(inc.get("body").is_none(), "list has no body");

    let (status, one) = rest(&sb, &format!("/incidents/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["incident"]["id"], id);
    assert_eq!(one["incident"]["body"]["details"]["tactic"], "Execution");
    let extra = &one["incident"]["sandbox_trigger_event"];
    assert_eq!(extra["client_url"], "https://vigil.example/cases/1");
    assert_eq!(extra["payload"]["source"], "WS-CAROL-MBP");
    assert!(extra.get("routing_key").is_none());

    let (status, alerts) = rest(&sb, &format!("/incidents/{id}/alerts")).await;
    assert_eq!(status, StatusCode::OK);
    let alert = &alerts["alerts"][0];
    assert_eq!(alert["alert_key"], "crowdstrike:abc");
    assert_eq!(alert["status"], "triggered");
    assert_eq!(alert["body"]["details"]["alert_id"], "ldt:1:2");
    assert_eq!(alerts["more"], false);
}

#[tokio::test]
async fn dedup_ack_resolve_and_reopen() {
    let sb = sandbox().await;
    let key = "case-42";
    for _ in 0..3 {
        let (status, _) = enqueue(&sb, trigger(&sb, Some(key), "warning")).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let list = incidents(&sb, "").await;
    assert_eq!(list.len(), 1, "triggers with an open key merge");
    assert_eq!(list[0]["urgency"], "low");
    let id = list[0]["id"].as_str().unwrap().to_string();

    let (status, body) = enqueue(&sb, action(&sb, "acknowledge", key)).await;
    assert_eq!(
        (status, body["dedup_key"].clone()),
        (StatusCode::ACCEPTED, json!(key))
    );
    let list = incidents(&sb, "statuses[]=acknowledged").await;
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["acknowledgements"].as_array().map(Vec::len),
        Some(1)
    );

    enqueue(&sb, action(&sb, "resolve", key)).await;
    let list = incidents(&sb, "statuses[]=triggered&statuses[]=acknowledged").await;
    assert!(list.is_empty());
    let (_, one) = rest(&sb, &format!("/incidents/{id}")).await;
    assert_eq!(one["incident"]["status"], "resolved");
    assert_eq!(
        one["incident"]["alert_counts"],
        json!({"all": 1, "triggered": 0, "resolved": 1})
    );

    enqueue(&sb, trigger(&sb, Some(key), "error")).await;
    let list = incidents(&sb, &format!("incident_key={key}")).await;
    assert_eq!(
        list.len(),
        2,
        "a trigger after resolve opens a new incident"
    );
    assert_eq!(list[1]["status"], "triggered");
    assert_ne!(list[1]["id"], json!(id));

    let (_, log) = rest(&sb, &format!("/incidents/{id}/log_entries")).await;
    let types: Vec<&str> = log["log_entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        types,
        vec![
            "resolve_log_entry",
            "acknowledge_log_entry",
            "trigger_log_entry",
            "trigger_log_entry",
            "trigger_log_entry"
        ]
    );

    let control: Value =
        crate::common::get_json(&sb.http, &sb.url("/_sandbox/pagerduty/incidents")).await;
    let first = &control["incidents"][0];
    assert_eq!(first["trigger_count"], 3);
    assert_eq!(first["events"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        first["events"][0]["event"]["payload"]["source"],
        "WS-CAROL-MBP"
    );
}

#[tokio::test]
async fn ack_or_resolve_of_unknown_keys_is_accepted_and_ignored() {
    let sb = sandbox().await;
    let (status, body) = enqueue(&sb, action(&sb, "resolve", "never-seen")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["dedup_key"], "never-seen");
    assert!(incidents(&sb, "").await.is_empty());

    let (status, body) = enqueue(&sb, trigger(&sb, None, "info")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let key = body["dedup_key"].as_str().unwrap();
    assert_eq!(key.len(), 32);
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
}

#[tokio::test]
async fn invalid_events_are_400_in_pd_shape() {
    let sb = sandbox().await;
    let mut bad_key = trigger(&sb, None, "critical");
    bad_key["routing_key"] = json!("short");
    let (status, body) = enqueue(&sb, bad_key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
        })
    );

    let mut other_key = trigger(&sb, None, "critical");
    other_key["routing_key"] = json!("f".repeat(32));
    let (status, body) = enqueue(&sb, other_key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"], json!(["Invalid routing key"]));

    let (status, body) = enqueue_raw(&sb, "{\"routing_key\":".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["status"], "invalid event");

    let mut bad_action = trigger(&sb, None, "critical");
    bad_action["event_action"] = json!("page");
    let (status, body) = enqueue(&sb, bad_action).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"][0].as_str().unwrap().contains("event_action"));

    let mut bad_payload = trigger(&sb, Some(&"k".repeat(256)), "fatal");
    bad_payload["payload"]["summary"] = json!("s".repeat(1025));
    bad_payload["images"] = json!([{"src": "http://insecure.example/x.png"}]);
    let (status, body) = enqueue(&sb, bad_payload).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(4), "{body}");

    let (status, body) = enqueue(
        &sb,
        json!({"routing_key": routing_key(&sb), "event_action": "acknowledge"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"][0].as_str().unwrap().contains("dedup_key"));

    let mut huge = trigger(&sb, None, "critical");
    huge["payload"]["custom_details"] = json!({"blob": "x".repeat(600 * 1024)});
    let (status, body) = enqueue(&sb, huge).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"][0].as_str().unwrap().contains("too large"));

    assert!(incidents(&sb, "").await.is_empty(), "nothing was created");
}

#[tokio::test]
async fn enqueue_is_throttled_per_routing_key_with_429() {
    let sb = sandbox().await;
    sb.control(
        "/limits",
        json!({"service": "pagerduty", "method": "enqueue", "per_minute": 2, "burst": 2}),
    )
    .await;
    for _ in 0..2 {
        let (status, _) = enqueue(&sb, trigger(&sb, Some("t"), "critical")).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let resp = sb
        .http
        .post(sb.url("/pagerduty/events/v2/enqueue"))
        .json(&trigger(&sb, Some("t"), "critical"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().get("retry-after").is_none());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "throttle event");
}

#[tokio::test]
async fn rest_auth_and_errors() {
    let sb = sandbox().await;
    let url = sb.url("/pagerduty/api/incidents");
    let resp = sb.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], 2006);
    let resp = sb
        .http
        .get(&url)
        .header("Authorization", "Token token=wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let (status, body) = rest(&sb, "/incidents/PNOPE00").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": {"message": "Not Found", "code": 2100}})
    );
    let (status, _) = rest(&sb, "/incidents/PNOPE00/alerts").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = rest(&sb, "/incidents?statuses[]=open").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], 2001);
    let (status, _) = rest(&sb, "/incidents?since=last-tuesday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rest_rate_limit_is_opt_in_and_answers_429() {
    let sb = sandbox().await;
    let (status, _) = rest(&sb, "/incidents").await;
    assert_eq!(status, StatusCode::OK);
    sb.control(
        "/limits",
        json!({"service": "pagerduty", "method": "rest", "per_minute": 1, "burst": 1}),
    )
    .await;
    let (status, _) = rest(&sb, "/incidents").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = rest(&sb, "/incidents").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        body,
        json!({"error": {"message": "Rate Limit Exceeded", "code": 2020}})
    );
}

#[tokio::test]
async fn rest_paging_like_list_all() {
    let sb = sandbox().await;
    for i in 0..5 {
        enqueue(&sb, trigger(&sb, Some(&format!("k{i}")), "critical")).await;
    }
    let (_, page) = rest(&sb, "/incidents?limit=2&total=false&offset=0").await;
    assert_eq!(page["limit"], 2);
    assert_eq!(page["offset"], 0);
    assert_eq!(page["more"], true);
    assert_eq!(page["total"], Value::Null);
    let (_, last) = rest(&sb, "/incidents?limit=2&offset=4&total=true").await;
    assert_eq!(last["incidents"].as_array().map(Vec::len), Some(1));
    assert_eq!(last["more"], false);
    assert_eq!(last["total"], 5);
    let (_, big) = rest(&sb, "/incidents?limit=1000").await;
    assert_eq!(big["limit"], 100);

    let (_, desc) = rest(&sb, "/incidents?sort_by=incident_number:desc&limit=1").await;
    assert_eq!(desc["incidents"][0]["incident_key"], "k4");
    let (_, none) = rest(&sb, "/incidents?since=2999-01-01T00:00:00Z").await;
    assert_eq!(none["incidents"], json!([]));
    let (_, all) = rest(
        &sb,
        "/incidents?until=2999-01-01&since=2000-01-01T00:00:00%2B0000",
    )
    .await;
    assert_eq!(all["incidents"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn faults_answer_events_shape_and_reset_clears_incidents() {
    let sb = sandbox().await;
    sb.control(
        "/faults",
        json!({"service": "pagerduty", "path": "/events/v2/enqueue", "status": 500}),
    )
    .await;
    let (status, body) = enqueue(&sb, trigger(&sb, Some("f"), "critical")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["message"], "Internal Server Error");
    assert!(body["errors"].is_array());

    sb.control(
        "/faults",
        json!({"service": "pagerduty", "path": "/events/v2/enqueue", "status": 429}),
    )
    .await;
    let (status, body) = enqueue(&sb, trigger(&sb, Some("f"), "critical")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["status"], "throttle event");

    let (status, _) = enqueue(&sb, trigger(&sb, Some("f"), "critical")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(incidents(&sb, "").await.len(), 1);
    let recorded = sb.requests("pagerduty").await;
    assert_eq!(recorded.len(), 4);
    assert_eq!(recorded[0]["body"]["routing_key"], "[redacted]");

    sb.control("/reset", json!({})).await;
    assert!(incidents(&sb, "").await.is_empty());
}
