//! Tests for the urlscan.io simulator: submit with `API-Key`, result 404 until the scan is
//! done (`urlscan_result_delay_ms`), rate-limit headers as the official client reads them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

fn key(sb: &TestSandbox) -> String {
    sb.creds["urlscan"]["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn submit(sb: &TestSandbox, body: Value, key: &str) -> reqwest::Response {
    sb.http
        .post(sb.url("/urlscan/api/v1/scan/"))
        .header("API-Key", key)
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn result(sb: &TestSandbox, uuid: &str) -> (StatusCode, Value) {
    let resp = sb
        .http
        .get(sb.url(&format!("/urlscan/api/v1/result/{uuid}/")))
        .header("API-Key", key(sb))
        .send()
        .await
        .expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn result_is_404_until_the_scan_is_done_then_the_verdict() {
    let sb = sandbox().await;
    sb.control("/settings", json!({"urlscan_result_delay_ms": 300}))
        .await;
    let url = "https://acme-sso-login.example/oauth/verify?session=renew";
    let resp = submit(
        &sb,
        json!({"url": url, "visibility": "unlisted", "tags": ["vigil"]}),
        &key(&sb),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-rate-limit-action"], "unlisted");
    assert_eq!(resp.headers()["x-rate-limit-remaining"], "59");
    assert!(resp.headers().contains_key("x-rate-limit-reset"));
    let s: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(s["message"], "Submission successful");
    assert_eq!(s["visibility"], "unlisted");
    let uuid = s["uuid"].as_str().unwrap_or_default().to_string();
    assert!(
        s["api"]
            .as_str()
            .is_some_and(|a| a.ends_with(&format!("/urlscan/api/v1/result/{uuid}/")))
    );

    let (status, v) = result(&sb, &uuid).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not finished yet");
    assert_eq!(v["status"], 404);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, v) = result(&sb, &uuid).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["task"]["uuid"], json!(uuid));
    assert_eq!(v["task"]["tags"], json!(["vigil"]));
    assert_eq!(v["verdicts"]["overall"]["malicious"], true);
    assert_eq!(v["verdicts"]["overall"]["categories"], json!(["phishing"]));
    assert_eq!(v["page"]["domain"], "acme-sso-login.example");
}

#[tokio::test]
async fn pii_in_the_url_forces_unlisted() {
    let sb = sandbox().await;
    let resp = submit(
        &sb,
        json!({"url": "https://x.example.org/?u=carol.diaz@acme.example"}),
        &key(&sb),
    )
    .await;
    let s: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(s["visibility"], "unlisted");
}

#[tokio::test]
async fn errors_400_401_and_rate_limit_429() {
    let sb = sandbox().await;
    let k = key(&sb);
    let resp = submit(&sb, json!({"visibility": "public"}), &k).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(v["message"], "Missing URL properties");
    let resp = submit(&sb, json!({"url": "https://host.invalid/"}), &k).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(
        v["errors"][0]["title"]
            .as_str()
            .is_some_and(|t| t.contains("DNS"))
    );
    let resp = submit(
        &sb,
        json!({"url": "https://a.example.org/", "visibility": "secret"}),
        &k,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        submit(&sb, json!({"url": "https://a.example.org/"}), "not-a-uuid")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let other = "8d3e1c2a-0000-4000-8000-000000000000";
    assert_eq!(
        submit(&sb, json!({"url": "https://a.example.org/"}), other)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    sb.control(
        "/limits",
        json!({"service": "urlscan", "method": "public", "per_minute": 1}),
    )
    .await;
    assert_eq!(
        submit(&sb, json!({"url": "https://a.example.org/"}), &k)
            .await
            .status(),
        StatusCode::OK
    );
    let resp = submit(&sb, json!({"url": "https://a.example.org/"}), &k).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let after: u64 = resp.headers()["x-rate-limit-reset-after"]
        .to_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    assert!((1..=60).contains(&after));
    assert_eq!(resp.headers()["x-rate-limit-remaining"], "0");
    // Other actions have their own window.
    assert_eq!(
        submit(
            &sb,
            json!({"url": "https://a.example.org/", "visibility": "private"}),
            &k
        )
        .await
        .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn record_call_sets_what_a_scan_finds() {
    let sb = sandbox().await;
    sb.control("/settings", json!({"urlscan_result_delay_ms": 0}))
        .await;
    sb.control("/urlscan/results", json!({"url": "https://benign.example.org/", "malicious": true, "score": 90, "categories": ["malware"]})).await;
    let s: Value = submit(
        &sb,
        json!({"url": "https://benign.example.org/"}),
        &key(&sb),
    )
    .await
    .json()
    .await
    .unwrap_or(Value::Null);
    let (status, v) = result(&sb, s["uuid"].as_str().unwrap_or_default()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["verdicts"]["overall"]["malicious"], true);
    assert_eq!(v["verdicts"]["overall"]["score"], 90);
}
