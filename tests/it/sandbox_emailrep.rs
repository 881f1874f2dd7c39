//! Tests for the EmailRep simulator: `GET /{email}` with `Key` and a `User-Agent`, as the
//! `emailrep` python client calls it (`?summary=true`, JSON content type on a GET).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

async fn query(sb: &TestSandbox, email: &str, key: Option<&str>) -> (StatusCode, Value) {
    let mut req = sb
        .http
        .get(sb.url(&format!("/emailrep/{email}?summary=true")))
        .header("Content-Type", "application/json");
    if let Some(k) = key {
        req = req.header("Key", k);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn key(sb: &TestSandbox) -> String {
    sb.creds["emailrep"]["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn phishing_sender_is_low_and_staff_are_high() {
    let sb = sandbox().await;
    let k = key(&sb);
    let (status, v) = query(&sb, "it-helpdesk@acme-sso-login.example", Some(&k)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["reputation"], "low");
    assert_eq!(v["suspicious"], true);
    assert_eq!(v["details"]["blacklisted"], true);
    assert_eq!(v["details"]["new_domain"], true);
    assert!(
        v["summary"]
            .as_str()
            .is_some_and(|s| s.contains("blacklisted"))
    );

    let staff = sb.seed["slack"]["users"][2]["email"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, v) = query(&sb, &staff.replace('@', "%40"), Some(&k)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["email"], json!(staff));
    assert_eq!(v["reputation"], "high");
    assert_eq!(v["suspicious"], false);
}

#[tokio::test]
async fn errors_say_fail_with_a_reason() {
    let sb = sandbox().await;
    let (status, v) = query(&sb, "not-an-email", Some(&key(&sb))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v, json!({"status": "fail", "reason": "invalid email"}));
    let (status, v) = query(&sb, "a@b.example", Some("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["status"], "fail");
    let (status, _) = query(&sb, "a@b.example", None).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "keyless access is closed"
    );
    let resp = reqwest::Client::new()
        .get(sb.url("/emailrep/a@b.example"))
        .header("Key", key(&sb))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "no User-Agent");
}

#[tokio::test]
async fn rate_limit_and_record_call() {
    let sb = sandbox().await;
    let k = key(&sb);
    sb.control(
        "/limits",
        json!({"service": "emailrep", "method": "query", "per_minute": 1, "burst": 1}),
    )
    .await;
    assert_eq!(query(&sb, "x@y.example", Some(&k)).await.0, StatusCode::OK);
    let (status, v) = query(&sb, "x@y.example", Some(&k)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        v["reason"]
            .as_str()
            .is_some_and(|r| r.contains("exceeded daily limit"))
    );
    sb.control(
        "/limits",
        json!({"service": "emailrep", "method": "query", "per_minute": 0}),
    )
    .await;

    let stored = sb.control("/emailrep/emails", json!({"email": "ceo@partner.example", "reputation": "none", "details": {"spoofable": true}})).await;
    assert_eq!(stored["reputation"], "none");
    let (_, v) = query(&sb, "ceo@partner.example", Some(&k)).await;
    assert_eq!(v["reputation"], "none");
    assert_eq!(v["details"]["spoofable"], true);
    assert_eq!(v["details"]["deliverable"], true, "other details stay");
}
