//! Tests for the AbuseIPDB v2 simulator: `GET /api/v2/check` with `Key` and
//! `Accept: application/json`, as the API docs and every client call it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

async fn check(
    sb: &TestSandbox,
    query: &str,
    key: Option<&str>,
    json_accept: bool,
) -> reqwest::Response {
    let mut req = sb
        .http
        .get(sb.url(&format!("/abuseipdb/api/v2/check?{query}")));
    if let Some(k) = key {
        req = req.header("Key", k);
    }
    if json_accept {
        req = req.header("Accept", "application/json");
    }
    req.send().await.expect("request")
}

fn key(sb: &TestSandbox) -> String {
    sb.creds["abuseipdb"]["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn seeded_bad_ip_scores_100_and_private_ips_are_not_public() {
    let sb = sandbox().await;
    let k = key(&sb);
    let resp = check(
        &sb,
        "ipAddress=198.51.100.23&maxAgeInDays=90&verbose",
        Some(&k),
        true,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-ratelimit-limit"], "1000");
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "999");
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    let d = &v["data"];
    assert_eq!(d["ipAddress"], "198.51.100.23");
    assert_eq!(d["abuseConfidenceScore"], 100);
    assert_eq!(d["isPublic"], true);
    assert!(d["totalReports"].as_u64().unwrap_or(0) > 0);
    assert!(
        d["reports"].as_array().is_some_and(|r| !r.is_empty()),
        "verbose adds reports"
    );
    assert!(d["countryName"].is_string());

    // Without verbose: no reports, no countryName; a shorter window counts fewer reports.
    let v: Value = check(
        &sb,
        "ipAddress=198.51.100.23&maxAgeInDays=1",
        Some(&k),
        true,
    )
    .await
    .json()
    .await
    .unwrap_or(Value::Null);
    assert!(v["data"].get("reports").is_none());
    assert!(v["data"]["totalReports"].as_u64() < d["totalReports"].as_u64());

    let v: Value = check(&sb, "ipAddress=10.20.1.15", Some(&k), true)
        .await
        .json()
        .await
        .unwrap_or(Value::Null);
    assert_eq!(v["data"]["isPublic"], false);
    assert_eq!(v["data"]["abuseConfidenceScore"], 0);
}

#[tokio::test]
async fn errors_use_the_errors_shape_and_html_without_accept() {
    let sb = sandbox().await;
    let k = key(&sb);
    let resp = check(&sb, "ipAddress=1.2.3.4", Some("wrong"), true).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(v["errors"][0]["status"], 401);

    let resp = check(&sb, "ipAddress=1.2.3.4", None, false).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/html")
    );

    for (q, param) in [
        ("maxAgeInDays=30", "ipAddress"),
        ("ipAddress=300.1.2.3", "ipAddress"),
        ("ipAddress=1.2.3.4&maxAgeInDays=400", "maxAgeInDays"),
    ] {
        let resp = check(&sb, q, Some(&k), true).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(v["errors"][0]["source"]["parameter"], param, "{q}");
    }
}

#[tokio::test]
async fn daily_quota_answers_429_with_retry_after_and_reset() {
    let sb = sandbox().await;
    let k = key(&sb);
    sb.control("/settings", json!({"abuseipdb_daily_limit": 2}))
        .await;
    for left in ["1", "0"] {
        let resp = check(&sb, "ipAddress=8.8.8.8", Some(&k), true).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["x-ratelimit-remaining"], left);
    }
    let resp = check(&sb, "ipAddress=8.8.8.8", Some(&k), true).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    assert!((1..=86_400).contains(&retry));
    let reset: i64 = resp.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    assert_eq!(reset % 86_400, 0, "resets at UTC midnight");
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(
        v["errors"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Daily rate limit of 2")
    );
    // Reset restores the quota and the default limit.
    sb.control("/reset", json!({})).await;
    assert_eq!(
        check(&sb, "ipAddress=8.8.8.8", Some(&k), true)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn record_call_sets_an_ip_answer() {
    let sb = sandbox().await;
    let stored = sb
        .control(
            "/abuseipdb/ips",
            json!({"ipAddress": "192.0.2.200", "abuseConfidenceScore": 77, "isTor": true}),
        )
        .await;
    assert_eq!(stored["abuseConfidenceScore"], 77);
    let v: Value = check(&sb, "ipAddress=192.0.2.200", Some(&key(&sb)), true)
        .await
        .json()
        .await
        .unwrap_or(Value::Null);
    assert_eq!(v["data"]["abuseConfidenceScore"], 77);
    assert_eq!(v["data"]["isTor"], true);
}
