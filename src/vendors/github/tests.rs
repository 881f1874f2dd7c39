//! GitHub client tests against scripted answers (wiremock).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::client::GitHubClient;
use super::config::GitHubConfig;
use super::models::next_link;
use crate::config::secret::Secret;
use crate::vendors::outbound::RetryPolicy;

const ISSUES: &str = "/repos/acme/security/issues";

fn client(server: &MockServer) -> GitHubClient {
    let config = GitHubConfig {
        base_url: server.uri(),
        repo: "acme/security".into(),
        token_file: None,
        labels: vec![],
        token: Secret::new("ghp_test"),
    };
    let policy = RetryPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_millis(20),
        jitter: false,
        ..RetryPolicy::default()
    };
    match GitHubClient::new(config) {
        Ok(c) => c.with_retry_policy(policy),
        Err(e) => panic!("client: {e}"),
    }
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0)
        .single()
        .unwrap_or_default()
}

fn issue(number: u64, title: &str, body: &str, created: DateTime<Utc>) -> Value {
    json!({
        "id": number * 1000, "number": number, "title": title, "body": body, "state": "open",
        "html_url": format!("https://github.com/acme/security/issues/{number}"),
        "labels": [{"id": 1, "name": "security", "color": "ff0000"}],
        "created_at": created.to_rfc3339(), "updated_at": created.to_rfc3339()
    })
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn create_issue_sends_githubs_headers_and_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ISSUES))
        .and(header("authorization", "Bearer ghp_test"))
        .and(header("accept", "application/vnd.github+json"))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(header_exists("user-agent"))
        .and(body_json(json!({
            "title": "Malware on WS-1",
            "body": "facts\n<!-- vigil:case=C1 -->",
            "labels": ["security", "vigil"]
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(issue(
            7,
            "Malware on WS-1",
            "facts\n<!-- vigil:case=C1 -->",
            at(9, 0),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let created = client(&server)
        .create_issue(
            "Malware on WS-1",
            "facts\n<!-- vigil:case=C1 -->",
            &["security".into(), "vigil".into()],
        )
        .await;
    let created = ok(created);
    assert_eq!(created.number, 7);
    assert_eq!(created.labels, ["security"]);
    assert_eq!(created.state, "open");
}

#[tokio::test]
async fn a_retried_create_finds_the_issue_a_failed_attempt_made() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ISSUES))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .mount(&server)
        .await;
    let now = Utc::now();
    Mock::given(method("GET"))
        .and(path(ISSUES))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            issue(9, "Other", "x", now),
            issue(8, "Malware on WS-1", "body <!-- m -->\n", now),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let created = client(&server)
        .create_issue("Malware on WS-1", "body <!-- m -->", &[])
        .await;
    assert_eq!(ok(created).number, 8);
}

#[tokio::test]
async fn a_retried_create_posts_again_when_nothing_was_made() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ISSUES))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(ISSUES))
        .respond_with(ResponseTemplate::new(201).set_body_json(issue(3, "T", "B", Utc::now())))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ISSUES))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let created = client(&server).create_issue("T", "B", &[]).await;
    assert_eq!(ok(created).number, 3);
}

#[tokio::test]
async fn validation_errors_return_at_once_with_details() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ISSUES))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
            "documentation_url": "https://docs.github.com/rest", "status": "422"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).create_issue("", "b", &[]).await.err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(
        text,
        "github create issue: HTTP 422: Validation Failed: Issue.title missing_field"
    );
    assert!(err.is_some_and(|e| !e.is_transient()));
}

#[tokio::test]
async fn primary_limit_403_is_transient_and_waits_for_reset() {
    let server = MockServer::start().await;
    let reset = (Utc::now().timestamp() + 30).to_string();
    Mock::given(method("GET"))
        .and(path(format!("{ISSUES}/5")))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.as_str())
                .set_body_json(json!({"message": "API rate limit exceeded for user ID 1."})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ISSUES}/5")))
        .respond_with(ResponseTemplate::new(200).set_body_json(issue(5, "T", "B", at(9, 0))))
        .expect(1)
        .mount(&server)
        .await;
    let (got, retries) = crate::vendors::outbound::capture_retries(client(&server).issue(5)).await;
    assert_eq!(ok(got).number, 5);
    assert_eq!(retries.len(), 1);
    let asked = retries[0].error.retry_after().unwrap_or_default();
    assert!(
        asked >= Duration::from_secs(25),
        "waits for reset: {asked:?}"
    );
    assert_eq!(
        retries[0].to_string(),
        "GitHub get issue: HTTP 403, retried (2/5)"
    );
}

#[tokio::test]
async fn secondary_limit_with_retry_after_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{ISSUES}/5/comments")))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ISSUES}/5/comments")))
        .and(body_json(json!({"body": "owner says: it was me"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": 77, "html_url": "https://github.com/acme/security/issues/5#issuecomment-77",
            "body": "owner says: it was me", "created_at": "2026-03-01T09:00:00Z",
            "user": {"login": "vigil"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    // The retry looks for the comment first; none exists.
    Mock::given(method("GET"))
        .and(path(format!("{ISSUES}/5/comments")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server).comment(5, "owner says: it was me").await;
    assert_eq!(ok(c).id, 77);
}

#[tokio::test]
async fn other_403s_are_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{ISSUES}/5")))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "4999")
                .set_body_json(json!({"message": "Resource not accessible by integration"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).close(5, "completed").await.err();
    let err = err.unwrap_or_else(|| panic!("expected an error"));
    assert!(!err.is_transient());
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("not accessible"), "{err}");
}

#[tokio::test]
async fn issues_created_since_follows_links_and_stops_at_older_issues() {
    let server = MockServer::start().await;
    let since = at(9, 0);
    let page2 = format!("{}{ISSUES}?page=2", server.uri());
    let page3 = format!("{}{ISSUES}?page=3", server.uri());
    Mock::given(method("GET"))
        .and(path(ISSUES))
        .and(query_param("state", "all"))
        .and(query_param("sort", "created"))
        .and(query_param("direction", "desc"))
        .and(query_param("since", "2026-03-01T09:00:00Z"))
        .and(query_param("per_page", "100"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!("<{page2}>; rel=\"next\", <{page3}>; rel=\"last\"").as_str(),
                )
                .set_body_json(json!([
                    issue(12, "new", "", at(9, 30)),
                    {
                        "number": 11, "title": "a PR", "state": "open", "html_url": "x",
                        "created_at": at(9, 20).to_rfc3339(), "pull_request": {"url": "x"}
                    }
                ])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ISSUES))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", format!("<{page3}>; rel=\"next\"").as_str())
                // Updated recently but created before `since`: the listing stops here.
                .set_body_json(json!([
                    issue(10, "edge", "", at(9, 0)),
                    issue(4, "old", "", at(8, 0))
                ])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ISSUES))
        .and(query_param("page", "3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(0)
        .mount(&server)
        .await;
    let found = client(&server)
        .issues_created_since(since + chrono::Duration::milliseconds(400))
        .await;
    let numbers: Vec<u64> = ok(found).iter().map(|i| i.number).collect();
    assert_eq!(numbers, [12, 10]);
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{ISSUES}/5/comments")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", "<https://evil.example/steal?page=2>; rel=\"next\"")
                .set_body_json(json!([])),
        )
        .mount(&server)
        .await;
    let err = client(&server).comments_since(5, at(9, 0)).await.err();
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("leaves the configured API"), "{text}");
}

#[tokio::test]
async fn comments_since_pages_and_filters_by_creation() {
    let server = MockServer::start().await;
    let page2 = format!("{}{ISSUES}/5/comments?page=2", server.uri());
    let comment = |id: u64, created: DateTime<Utc>| json!({"id": id, "html_url": format!("u#{id}"), "body": null, "created_at": created.to_rfc3339()});
    Mock::given(method("GET"))
        .and(path(format!("{ISSUES}/5/comments")))
        .and(query_param("since", "2026-03-01T09:00:00Z"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", format!("<{page2}>; rel=\"next\"").as_str())
                .set_body_json(json!([comment(1, at(8, 0)), comment(2, at(9, 5))])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ISSUES}/5/comments")))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([comment(3, at(9, 6))])))
        .expect(1)
        .mount(&server)
        .await;
    let found = ok(client(&server).comments_since(5, at(9, 0)).await);
    let ids: Vec<u64> = found.iter().map(|c| c.id).collect();
    assert_eq!(ids, [2, 3]);
    assert_eq!(found[0].body, "");
}

#[tokio::test]
async fn labels_close_and_reopen_send_githubs_bodies() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{ISSUES}/5/labels")))
        .and(body_json(json!({"labels": ["owner-confirmed"]})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"name": "owner-confirmed"}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("{ISSUES}/5")))
        .and(body_json(
            json!({"state": "closed", "state_reason": "not_planned"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(issue(5, "T", "B", at(9, 0))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("{ISSUES}/5")))
        .and(body_json(
            json!({"state": "open", "state_reason": "reopened"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(issue(5, "T", "B", at(9, 0))))
        .expect(1)
        .mount(&server)
        .await;
    let gh = client(&server);
    assert!(gh.add_labels(5, &["owner-confirmed".into()]).await.is_ok());
    assert!(
        gh.add_labels(5, &[]).await.is_ok(),
        "nothing to add: no call"
    );
    assert!(gh.close(5, "not_planned").await.is_ok());
    assert!(gh.reopen(5).await.is_ok());
}

#[tokio::test]
async fn search_sends_q_and_skips_pull_requests() {
    let server = MockServer::start().await;
    let q = "repo:acme/security is:issue in:body \"vigil:case=C1\"";
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .and(query_param("q", q))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 2, "incomplete_results": false,
            "items": [issue(3, "T", "B", at(9, 0)),
                      {"number": 4, "title": "pr", "state": "open", "html_url": "x",
                       "created_at": at(9, 0).to_rfc3339(), "pull_request": {}}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let found = ok(client(&server).search_issues(q).await);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].number, 3);
}

#[test]
fn next_link_reads_githubs_link_header() {
    let h = "<https://api.github.com/x?page=1>; rel=\"prev\", <https://api.github.com/x?page=3>; rel=\"next\", <https://api.github.com/x?page=9>; rel=\"last\"";
    assert_eq!(
        next_link(h).as_deref(),
        Some("https://api.github.com/x?page=3")
    );
    assert_eq!(next_link("<https://a/x?page=9>; rel=\"last\""), None);
    assert_eq!(next_link("garbage"), None);
    assert_eq!(next_link(""), None);
}

#[test]
fn client_futures_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let config = GitHubConfig {
        base_url: "http://127.0.0.1:9".into(),
        repo: "acme/security".into(),
        token_file: None,
        labels: vec![],
        token: Secret::new("t"),
    };
    let gh = ok(GitHubClient::new(config));
    assert_send(&gh.create_issue("t", "b", &[]));
    assert_send(&gh.comment(1, "b"));
    assert_send(&gh.issues_created_since(Utc::now()));
    assert_send(&gh.search_issues("q"));
}
