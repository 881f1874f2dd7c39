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

#[tokio::test]
async fn extract_answers_tavily_pythons_request() {
    let sb = sandbox().await;
    let k = key(&sb);
    // What `TavilyClient.extract(urls=[…])` posts: `None` fields dropped, a JSON string body.
    let body = json!({"urls": ["https://docs.acme.example/a", "ftp://nope"], "include_images": false,
                      "extract_depth": "basic", "format": "markdown", "timeout": 30,
                      "include_favicon": false, "include_usage": true});
    let resp = sb
        .http
        .post(sb.url("/tavily/extract"))
        .bearer_auth(&k)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(v["results"][0]["url"], "https://docs.acme.example/a");
    assert!(
        v["results"][0]["raw_content"]
            .as_str()
            .is_some_and(|c| c.contains("docs.acme.example"))
    );
    assert_eq!(v["failed_results"][0]["url"], "ftp://nope");
    assert_eq!(v["usage"]["credits"], 1);
    assert!(v["request_id"].is_string());

    let one = sb
        .http
        .post(sb.url("/tavily/extract"))
        .bearer_auth(&k)
        .json(&json!({"urls": "https://docs.acme.example/b"}))
        .send()
        .await
        .expect("request");
    let v: Value = one.json().await.unwrap_or(Value::Null);
    assert_eq!(
        v["results"].as_array().map(Vec::len),
        Some(1),
        "a lone URL string"
    );

    let bad = sb
        .http
        .post(sb.url("/tavily/extract"))
        .bearer_auth("tvly-wrong")
        .json(&json!({"urls": ["https://a.example/"]}))
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let none = sb
        .http
        .post(sb.url("/tavily/extract"))
        .bearer_auth(&k)
        .json(&json!({"urls": []}))
        .send()
        .await
        .expect("request");
    assert_eq!(none.status(), StatusCode::BAD_REQUEST);
    let v: Value = none.json().await.unwrap_or(Value::Null);
    assert!(v["detail"]["error"].is_string());
}
