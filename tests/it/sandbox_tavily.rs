//! Tests for the Tavily simulator: `POST /search` with the key as a bearer token (current
//! tavily-python) or as `api_key` in the body (older clients).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

async fn search(sb: &TestSandbox, body: Value, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut req = sb.http.post(sb.url("/tavily/search")).json(&body);
    if let Some(k) = bearer {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn key(sb: &TestSandbox) -> String {
    sb.creds["tavily"]["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn results_have_title_url_content_score_and_name_seeded_threats() {
    let sb = sandbox().await;
    let k = key(&sb);
    let (status, v) = search(&sb, json!({"query": "cdn-telemetry-sync.example", "max_results": 3, "include_answer": true, "max_age_hours": 5}), Some(&k)).await;
    assert_eq!(status, StatusCode::OK);
    let results = v["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 3);
    for r in &results {
        for f in ["title", "url", "content"] {
            assert!(r[f].is_string(), "{f}");
        }
        assert!(r["score"].is_f64());
    }
    assert!(
        results[0]["content"]
            .as_str()
            .is_some_and(|c| c.contains("Cobalt Strike"))
    );
    assert!(
        v["answer"]
            .as_str()
            .is_some_and(|a| a.contains("malicious"))
    );
    assert!(v["request_id"].is_string());
    // Same query, same results.
    let (_, again) = search(
        &sb,
        json!({"query": "cdn-telemetry-sync.example", "max_results": 3}),
        Some(&k),
    )
    .await;
    assert_eq!(again["results"], v["results"]);
}

#[tokio::test]
async fn body_key_works_and_is_not_recorded() {
    let sb = sandbox().await;
    let k = key(&sb);
    let (status, v) = search(
        &sb,
        json!({"api_key": k, "query": "acme", "include_domains": ["docs.acme.example"]}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(v["results"].as_array().is_some_and(|r| r.iter().all(|x| {
        x["url"]
            .as_str()
            .unwrap_or_default()
            .starts_with("https://docs.acme.example/")
    })));
    let recorded = sb.requests("tavily").await;
    assert_eq!(recorded[0]["body"]["api_key"], "[redacted]");
}

#[tokio::test]
async fn errors_use_detail_error() {
    let sb = sandbox().await;
    let k = key(&sb);
    let (status, v) = search(&sb, json!({"query": "x"}), Some("tvly-wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(v["detail"]["error"].is_string());
    let (status, v) = search(&sb, json!({"max_results": 2}), Some(&k)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["detail"]["error"].is_string());
    let (status, _) = search(&sb, json!({"query": "x", "search_depth": "deep"}), Some(&k)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    sb.control(
        "/faults",
        json!({"service": "tavily", "path": "/search", "status": 432}),
    )
    .await;
    let (status, v) = search(&sb, json!({"query": "x"}), Some(&k)).await;
    assert_eq!(status.as_u16(), 432);
    assert!(
        v["detail"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("plan"))
    );

    sb.control(
        "/limits",
        json!({"service": "tavily", "method": "search", "per_minute": 1, "burst": 1}),
    )
    .await;
    assert_eq!(
        search(&sb, json!({"query": "x"}), Some(&k)).await.0,
        StatusCode::OK
    );
    let (status, v) = search(&sb, json!({"query": "x"}), Some(&k)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(v["detail"]["error"].is_string());
}
