//! Confluence client tests against scripted answers (wiremock): request shape, Basic auth,
//! paging through `_links.next`, the page models, error mapping and the 429 `Retry-After`.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::client::ConfluenceClient;
use super::config::ConfluenceConfig;
use super::cql;
use crate::config::secret::Secret;
use crate::vendors::outbound::{RetryPolicy, capture_retries};

fn config(base: String) -> ConfluenceConfig {
    ConfluenceConfig {
        base_url: base,
        email: "bot@acme.example".into(),
        api_token_file: None,
        space: "SEC".into(),
        label: "sop".into(),
        api_token: Secret::new("ATATT-token"),
    }
}

fn client(server: &MockServer) -> ConfluenceClient {
    let policy = RetryPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(2),
        jitter: false,
        ..RetryPolicy::default()
    };
    match ConfluenceClient::new(config(server.uri())) {
        Ok(c) => c.with_retry_policy(policy),
        Err(e) => panic!("client: {e}"),
    }
}

fn basic() -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode("bot@acme.example:ATATT-token");
    format!("Basic {b64}")
}

fn hit(id: &str, title: &str) -> Value {
    json!({
        "content": {"id": id, "type": "page", "status": "current", "title": title,
                    "_links": {"webui": format!("/spaces/SEC/pages/{id}/x")}},
        "title": title, "excerpt": "…", "url": format!("/spaces/SEC/pages/{id}/x"),
        "entityType": "content", "score": 1.0
    })
}

#[test]
fn cql_keeps_hostile_text_inside_one_quoted_value() {
    assert_eq!(
        cql::by_label("SEC", "sop-phishing"),
        r#"type = page AND space = "SEC" AND label = "sop-phishing" ORDER BY title"#
    );
    assert_eq!(cql::quote(r#"a" OR space = "X"#), r#""a\" OR space = \"X""#);
    assert_eq!(cql::quote("back\\slash\nnew"), r#""back\\slashnew""#);
    let q = cql::by_text("SEC", "sop", r#"evil" OR label = "x" ~ * (c2)"#).unwrap_or_default();
    assert_eq!(
        q,
        r#"type = page AND space = "SEC" AND label = "sop" AND text ~ "evil OR label x c2" ORDER BY title"#
    );
    assert_eq!(cql::by_text("SEC", "sop", "\"~*()\""), None);
    let long = "word ".repeat(100);
    assert!(cql::words(&long).unwrap_or_default().len() <= 200);
}

#[tokio::test]
async fn search_sends_basic_auth_and_follows_next_on_the_configured_site() {
    let server = MockServer::start().await;
    let q = cql::by_label("SEC", "sop");
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/search"))
        .and(header("authorization", basic().as_str()))
        .and(query_param("cql", q.as_str()))
        .and(query_param("limit", "2"))
        .and(query_param("start", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [hit("1", "A"), hit("2", "B")], "start": 0, "limit": 2, "size": 2,
            "totalSize": 3,
            "_links": {"base": "https://elsewhere.example/wiki", "context": "/wiki",
                       "next": "/rest/api/search?cql=x&cursor=abc"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/search"))
        .and(header("authorization", basic().as_str()))
        .and(query_param("cursor", "abc"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [hit("3", "C")], "start": 2, "limit": 2, "size": 1,
            "_links": {"base": "https://elsewhere.example/wiki", "context": "/wiki"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let hits = client(&server).search(&q, 2, 10).await;
    let ids: Vec<String> = hits
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter_map(|h| h.content.map(|c| c.id))
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);
}

#[tokio::test]
async fn search_stops_at_the_page_cap_and_refuses_a_next_link_off_the_site() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [hit("1", "A")], "size": 1,
            "_links": {"context": "/wiki", "next": "/rest/api/search?cursor=loop"}
        })))
        .expect(3)
        .mount(&server)
        .await;
    let hits = client(&server).search("type = page", 1, 3).await;
    assert_eq!(hits.map(|h| h.len()).ok(), Some(3));

    let off = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [], "_links": {"next": "https://attacker.example/steal"}
        })))
        .expect(1)
        .mount(&off)
        .await;
    let err = client(&off).search("type = page", 1, 3).await.err();
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("confluence search (next page)"), "{text}");
    assert!(text.contains("not a path"), "{text}");
}

#[tokio::test]
async fn v1_content_and_v2_page_give_id_title_version_url_and_storage() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/content/123"))
        .and(query_param("expand", "body.storage,version"))
        .and(header("authorization", basic().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "123", "type": "page", "status": "current", "title": "SOP: Phishing",
            "version": {"number": 4, "when": "2026-01-01T00:00:00.000Z"},
            "body": {"storage": {"value": "<p>v1</p>", "representation": "storage"}},
            "_links": {"webui": "/spaces/SEC/pages/123/SOP", "base": "https://acme.atlassian.net/wiki"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/wiki/api/v2/pages/123"))
        .and(query_param("body-format", "storage"))
        .and(header("authorization", basic().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "123", "status": "current", "title": "SOP: Phishing", "spaceId": "98",
            "version": {"number": 5, "createdAt": "2026-01-02T00:00:00.000Z", "minorEdit": false},
            "body": {"storage": {"representation": "storage", "value": "<p>v2</p>"}},
            "_links": {"webui": "/spaces/SEC/pages/123/SOP", "tinyui": "/x/AbC"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let v1 = c.content("123").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((v1.id.as_str(), v1.version), ("123", 4));
    assert_eq!(
        v1.url,
        "https://acme.atlassian.net/wiki/spaces/SEC/pages/123/SOP"
    );
    assert_eq!(v1.storage, "<p>v1</p>");
    let v2 = c.page("123").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((v2.title.as_str(), v2.version), ("SOP: Phishing", 5));
    // No `_links.base`: the configured site's wiki.
    assert_eq!(
        v2.url,
        format!("{}/wiki/spaces/SEC/pages/123/SOP", server.uri())
    );
    assert_eq!(v2.storage, "<p>v2</p>");
}

#[tokio::test]
async fn errors_name_the_call_status_and_confluences_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/search"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "statusCode": 401, "message": "Client must be authenticated to access this resource.",
            "data": {"authorized": false}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/wiki/api/v2/pages/9"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found", "detail": null}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let err = c.search_page("type = page", 1, 0).await.err();
    assert_eq!(err.as_ref().and_then(|e| e.status()), Some(401));
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        text,
        "confluence search: HTTP 401: Client must be authenticated to access this resource."
    );
    let err = c.page("9").await.err();
    assert_eq!(err.as_ref().and_then(|e| e.status()), Some(404));
    assert!(
        err.map(|e| e.to_string())
            .unwrap_or_default()
            .contains("get page: HTTP 404: Not Found"),
    );
}

#[tokio::test]
async fn a_429_waits_its_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/search"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"statusCode": 429, "message": "Rate limit exceeded"})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [hit("7", "S")]})))
        .expect(1)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let (page, retries) = capture_retries(client(&server).search_page("type = page", 1, 0)).await;
    assert_eq!(page.map(|p| p.results.len()).ok(), Some(1));
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].wait, Duration::from_secs(1));
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn find_sop_tries_the_type_label_then_the_text_and_reads_the_v2_body() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/search"))
        .and(query_param("cql", cql::by_label("SEC", "sop-c2").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .expect(1)
        .mount(&server)
        .await;
    let text_q = cql::by_text("SEC", "sop", "beacon to evil.example").unwrap_or_default();
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/search"))
        .and(query_param("cql", text_q.as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"results": [hit("55", "SOP: C2")]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/wiki/api/v2/pages/55"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "55", "title": "SOP: C2", "version": {"number": 2},
            "body": {"storage": {"value": "<p>runbook</p>"}}, "_links": {"webui": "/p/55"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server)
        .find_sop("c2", "beacon to evil.example")
        .await;
    let page = page
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|p| (p.id, p.version));
    assert_eq!(page, Some(("55".to_string(), 2)));
}
