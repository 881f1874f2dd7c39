//! The GitHub REST simulator over plain HTTP: auth and headers, issues, comments, labels,
//! listing with `Link` pagination, eventually consistent search, rate limits, faults, reset.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

/// A sandbox plus a GitHub caller with the sandbox token.
struct Gh {
    ts: TestSandbox,
    token: String,
}

/// One answer: status, headers, JSON body (null when empty).
struct Got {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn gh() -> Gh {
    let ts = sandbox().await;
    let token = ts.creds["github"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    Gh { ts, token }
}

impl Gh {
    fn url(&self, path: &str) -> String {
        self.ts.url(&format!("/github{path}"))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Got {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Got {
            status,
            headers,
            body,
        }
    }

    /// A request with the token in PyGithub's `token` scheme.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Got {
        let mut req = self
            .ts
            .http
            .request(method, self.url(path))
            .header("authorization", format!("token {}", self.token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    async fn get(&self, path: &str) -> Got {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Got {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> Got {
        self.call(Method::PATCH, path, Some(body)).await
    }

    async fn create(&self, title: &str, body: &str, labels: &[&str]) -> Value {
        let got = self
            .post(
                "/repos/acme/security/issues",
                json!({"title": title, "body": body, "labels": labels}),
            )
            .await;
        assert_eq!(got.status, 201, "{}", got.body);
        got.body
    }

    async fn search(&self, q: &str) -> Got {
        let req = self
            .ts
            .http
            .get(self.url("/search/issues"))
            .query(&[("q", q)])
            .bearer_auth(&self.token);
        self.send(req).await
    }

    async fn set_search_delay(&self, ms: u64) {
        self.ts
            .control("/settings", json!({"github_search_delay_ms": ms}))
            .await;
    }
}

#[tokio::test]
async fn repository_object_has_urls_under_the_base_and_githubs_headers() {
    let g = gh().await;
    let got = g.get("/repos/acme/security").await;
    assert_eq!(got.status, 200);
    let base = g.url("");
    let b = &got.body;
    assert_eq!(b["full_name"], "acme/security");
    assert_eq!(b["name"], "security");
    assert_eq!(b["private"], true);
    assert_eq!(b["has_issues"], true);
    assert_eq!(b["owner"]["login"], "acme");
    assert_eq!(b["permissions"]["push"], true);
    assert_eq!(b["url"], format!("{base}/repos/acme/security"));
    assert_eq!(
        b["issues_url"],
        format!("{base}/repos/acme/security/issues{{/number}}")
    );
    assert_eq!(
        got.header("content-type"),
        "application/json; charset=utf-8"
    );
    assert_eq!(got.header("x-ratelimit-limit"), "5000");
    assert_eq!(got.header("x-ratelimit-remaining"), "4999");
    assert_eq!(got.header("x-ratelimit-used"), "1");
    assert_eq!(got.header("x-ratelimit-resource"), "core");
    assert!(got.header("x-ratelimit-reset").parse::<i64>().is_ok());
    assert_eq!(got.header("x-github-request-id").split(':').count(), 5);
    let again = g.get("/repos/ACME/Security").await;
    assert_eq!(again.status, 200, "owner/name are case-insensitive");
    assert_eq!(again.header("x-ratelimit-remaining"), "4998");
}

#[tokio::test]
async fn auth_user_agent_and_version_are_checked_like_github() {
    let g = gh().await;
    let http = &g.ts.http;
    let no_token = g.send(http.get(g.url("/repos/acme/security"))).await;
    assert_eq!(no_token.status, 404, "private repo without a token");
    assert_eq!(no_token.body["message"], "Not Found");
    let wrong = g
        .send(
            http.get(g.url("/repos/acme/security"))
                .bearer_auth("ghp_wrong"),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.body,
        json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
    );
    let bearer = g
        .send(
            http.get(g.url("/repos/acme/security"))
                .bearer_auth(&g.token)
                .header("x-github-api-version", "2022-11-28")
                .header("accept", "application/vnd.github+json"),
        )
        .await;
    assert_eq!(bearer.status, 200);
    let bad_version = g
        .send(
            http.get(g.url("/repos/acme/security"))
                .bearer_auth(&g.token)
                .header("x-github-api-version", "2020-01-01"),
        )
        .await;
    assert_eq!(bad_version.status, 400);
    assert_eq!(bad_version.body["status"], "400");
    let no_ua = g
        .send(
            reqwest::Client::new()
                .get(g.url("/repos/acme/security"))
                .bearer_auth(&g.token),
        )
        .await;
    assert_eq!(no_ua.status, 403);
    assert!(
        no_ua.body["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("Request forbidden by administrative rules. Please make sure your request has a User-Agent header")
    );
    let other = g.get("/repos/acme/other").await;
    assert_eq!(other.status, 404);
    let user = g.get("/user").await;
    assert_eq!(
        (user.status, &user.body["login"]),
        (200, &json!("vigil-bot"))
    );
    let anon_user = g.send(http.get(g.url("/user"))).await;
    assert_eq!(anon_user.status, 401);
    assert_eq!(anon_user.body["message"], "Requires authentication");
}

#[tokio::test]
async fn creating_an_issue_answers_201_with_the_full_issue() {
    let g = gh().await;
    let base = g.url("");
    let got = g
        .post(
            "/repos/acme/security/issues",
            json!({"title": "Malware on host-1", "body": "details\n<!-- vigil:case=c1 -->",
                   "labels": ["security", "Bug"], "assignees": ["vigil-bot"], "extra": 1}),
        )
        .await;
    assert_eq!(got.status, 201, "{}", got.body);
    let i = &got.body;
    assert_eq!(i["number"], 1);
    assert_eq!(i["state"], "open");
    assert_eq!(i["state_reason"], Value::Null);
    assert_eq!(i["closed_at"], Value::Null);
    assert_eq!(i["locked"], false);
    assert_eq!(i["comments"], 0);
    assert_eq!(i["title"], "Malware on host-1");
    assert_eq!(i["user"]["login"], "vigil-bot");
    assert_eq!(i["user"]["type"], "Bot");
    assert_eq!(i["assignee"]["login"], "vigil-bot");
    assert_eq!(i["url"], format!("{base}/repos/acme/security/issues/1"));
    assert_eq!(i["html_url"], format!("{base}/acme/security/issues/1"));
    assert_eq!(
        i["comments_url"],
        format!("{base}/repos/acme/security/issues/1/comments")
    );
    assert_eq!(i["repository_url"], format!("{base}/repos/acme/security"));
    assert_eq!(i["labels"][0]["name"], "security");
    assert_eq!(i["labels"][0]["color"], "ededed");
    assert_eq!(i["labels"][0]["default"], false);
    assert_eq!(
        i["labels"][1]["name"], "bug",
        "existing label keeps its spelling"
    );
    assert_eq!(i["labels"][1]["color"], "d73a4a");
    assert!(i["id"].as_u64().is_some() && i["node_id"].is_string());
    assert!(
        i["created_at"]
            .as_str()
            .is_some_and(|t| t.len() == 20 && t.ends_with('Z'))
    );
    let second = g.create("second", "", &[]).await;
    assert_eq!(second["number"], 2);
    let fetched = g.get("/repos/acme/security/issues/1").await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["body"], "details\n<!-- vigil:case=c1 -->");
    let missing = g.get("/repos/acme/security/issues/99").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["message"], "Not Found");
    assert_eq!(missing.body["status"], "404");
    assert_eq!(g.get("/repos/acme/security/issues/abc").await.status, 404);
}

#[tokio::test]
async fn bad_issue_bodies_get_githubs_errors() {
    let g = gh().await;
    let path = "/repos/acme/security/issues";
    let no_title = g.post(path, json!({"body": "x"})).await;
    assert_eq!(no_title.status, 422);
    assert_eq!(no_title.body["message"], "Validation Failed");
    assert_eq!(
        no_title.body["errors"],
        json!([{"resource": "Issue", "code": "missing_field", "field": "title"}])
    );
    assert_eq!(no_title.body["status"], "422");
    let blank = g.post(path, json!({"title": "  "})).await;
    assert_eq!(blank.status, 422);
    let long = g.post(path, json!({"title": "x".repeat(257)})).await;
    assert_eq!(long.status, 422);
    assert_eq!(long.body["errors"][0]["code"], "custom");
    let malformed = g
        .send(
            g.ts.http
                .post(g.url(path))
                .bearer_auth(&g.token)
                .header("content-type", "application/json")
                .body("{\"title\": "),
        )
        .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.body["message"], "Problems parsing JSON");
    assert_eq!(malformed.body["status"], "400");
    let wrong_type = g.post(path, json!({"title": "t", "body": 5})).await;
    assert_eq!(wrong_type.status, 422);
    assert!(
        wrong_type.body["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("Invalid request.")
    );
    let ghost = g
        .post(path, json!({"title": "t", "assignees": ["ghost"]}))
        .await;
    assert_eq!(ghost.status, 422);
    assert_eq!(
        ghost.body["errors"],
        json!([{"value": "ghost", "resource": "Issue", "field": "assignees", "code": "invalid"}])
    );
    let list = g.get("/repos/acme/security/issues?state=all").await;
    assert_eq!(list.body, json!([]), "nothing was created");
}

#[tokio::test]
async fn patch_closes_reopens_and_replaces_labels() {
    let g = gh().await;
    g.create("a", "b", &["one", "two"]).await;
    let path = "/repos/acme/security/issues/1";
    let closed = g
        .patch(
            path,
            json!({"state": "closed", "state_reason": "not_planned", "labels": ["three"]}),
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(closed.body["state"], "closed");
    assert_eq!(closed.body["state_reason"], "not_planned");
    assert!(closed.body["closed_at"].is_string());
    assert_eq!(closed.body["closed_by"]["login"], "vigil-bot");
    assert_eq!(closed.body["labels"].as_array().map(Vec::len), Some(1));
    assert_eq!(closed.body["labels"][0]["name"], "three");
    let reopened = g.patch(path, json!({"state": "open"})).await;
    assert_eq!(reopened.body["state"], "open");
    assert_eq!(reopened.body["state_reason"], "reopened");
    assert_eq!(reopened.body["closed_at"], Value::Null);
    let retitled = g.patch(path, json!({"title": "new", "body": null})).await;
    assert_eq!(
        (&retitled.body["title"], &retitled.body["body"]),
        (&json!("new"), &Value::Null)
    );
    assert_eq!(g.patch(path, json!({"state": "done"})).await.status, 422);
    assert_eq!(
        g.patch(path, json!({"state": "closed", "state_reason": "bored"}))
            .await
            .status,
        422
    );
    assert_eq!(
        g.get(path).await.body["state"],
        "open",
        "invalid patch changed nothing"
    );
    assert_eq!(
        g.patch("/repos/acme/security/issues/7", json!({"state": "closed"}))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn listing_filters_sorts_and_paginates_with_a_link_header() {
    let g = gh().await;
    for n in 1..=5 {
        let labels: &[&str] = if n % 2 == 0 { &["even", "x"] } else { &["x"] };
        g.create(&format!("issue {n}"), "", labels).await;
    }
    g.patch("/repos/acme/security/issues/5", json!({"state": "closed"}))
        .await;
    let open = g.get("/repos/acme/security/issues").await;
    let numbers = |v: &Value| -> Vec<u64> {
        v.as_array()
            .map(|a| a.iter().filter_map(|i| i["number"].as_u64()).collect())
            .unwrap_or_default()
    };
    assert_eq!(numbers(&open.body), vec![4, 3, 2, 1], "open, newest first");
    assert_eq!(open.header("link"), "", "one page, no Link");
    let all_asc = g
        .get("/repos/acme/security/issues?state=all&direction=asc")
        .await;
    assert_eq!(numbers(&all_asc.body), vec![1, 2, 3, 4, 5]);
    let closed = g.get("/repos/acme/security/issues?state=closed").await;
    assert_eq!(numbers(&closed.body), vec![5]);
    let even = g
        .get("/repos/acme/security/issues?state=all&labels=EVEN,x")
        .await;
    assert_eq!(numbers(&even.body), vec![4, 2]);
    let future = g
        .get("/repos/acme/security/issues?state=all&since=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(future.body, json!([]));
    let past = g
        .get("/repos/acme/security/issues?state=all&sort=created&direction=desc&since=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(numbers(&past.body), vec![5, 4, 3, 2, 1]);
    let bad_since = g.get("/repos/acme/security/issues?since=yesterday").await;
    assert_eq!(bad_since.status, 422);

    let page2 = g
        .get("/repos/acme/security/issues?state=all&per_page=2&page=2")
        .await;
    assert_eq!(numbers(&page2.body), vec![3, 2]);
    let u = g.url("/repos/acme/security/issues");
    assert_eq!(
        page2.header("link"),
        format!(
            "<{u}?state=all&per_page=2&page=1>; rel=\"prev\", <{u}?state=all&per_page=2&page=3>; rel=\"next\", \
             <{u}?state=all&per_page=2&page=3>; rel=\"last\", <{u}?state=all&per_page=2&page=1>; rel=\"first\""
        )
    );
    let count = g
        .get("/repos/acme/security/issues?state=all&per_page=1")
        .await;
    assert_eq!(
        count.header("link"),
        format!(
            "<{u}?state=all&per_page=1&page=2>; rel=\"next\", <{u}?state=all&per_page=1&page=5>; rel=\"last\""
        ),
        "PyGithub's totalCount reads the last page number"
    );
}

#[tokio::test]
async fn comments_are_created_listed_and_bump_the_issue() {
    let g = gh().await;
    let issue = g.create("a", "b", &[]).await;
    let path = "/repos/acme/security/issues/1/comments";
    let got = g.post(path, json!({"body": "Owner confirmed"})).await;
    assert_eq!(got.status, 201, "{}", got.body);
    let c = &got.body;
    let id = c["id"].as_u64().expect("id");
    assert_eq!(c["body"], "Owner confirmed");
    assert_eq!(c["user"]["login"], "vigil-bot");
    assert_eq!(c["author_association"], "MEMBER");
    assert_eq!(c["issue_url"], g.url("/repos/acme/security/issues/1"));
    assert_eq!(
        c["html_url"],
        g.url(&format!("/acme/security/issues/1#issuecomment-{id}"))
    );
    assert_eq!(
        c["url"],
        g.url(&format!("/repos/acme/security/issues/comments/{id}"))
    );
    assert!(c["node_id"].is_string() && c["created_at"].is_string() && c["updated_at"].is_string());
    let after = g.get("/repos/acme/security/issues/1").await.body;
    assert_eq!(after["comments"], 1);
    assert!(after["updated_at"].as_str() >= issue["updated_at"].as_str());
    for n in 2..=3 {
        g.post(path, json!({"body": format!("note {n}")})).await;
    }
    let page = g.get(&format!("{path}?per_page=2")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body[0]["body"], "Owner confirmed", "oldest first");
    assert!(page.header("link").contains("rel=\"last\""));
    let single = g
        .get(&format!("/repos/acme/security/issues/comments/{id}"))
        .await;
    assert_eq!(single.body["id"], id);
    let edited = g
        .patch(
            &format!("/repos/acme/security/issues/comments/{id}"),
            json!({"body": "edited"}),
        )
        .await;
    assert_eq!(edited.body["body"], "edited");
    let empty = g.post(path, json!({})).await;
    assert_eq!(empty.status, 422);
    assert_eq!(
        empty.body["errors"],
        json!([{"resource": "IssueComment", "field": "body", "code": "missing_field"}])
    );
    let nowhere = g
        .post(
            "/repos/acme/security/issues/42/comments",
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(nowhere.status, 404);
}

#[tokio::test]
async fn labels_are_added_bare_or_wrapped_and_removed() {
    let g = gh().await;
    g.create("a", "b", &["first"]).await;
    let path = "/repos/acme/security/issues/1/labels";
    let bare = g.post(path, json!(["second", "FIRST"])).await;
    assert_eq!(bare.status, 200, "{}", bare.body);
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(&bare.body), vec!["first", "second"]);
    let wrapped = g.post(path, json!({"labels": ["third"]})).await;
    assert_eq!(names(&wrapped.body), vec!["first", "second", "third"]);
    assert_eq!(wrapped.body[2]["color"], "ededed");
    let removed = g
        .call(Method::DELETE, &format!("{path}/second"), None)
        .await;
    assert_eq!(removed.status, 200);
    assert_eq!(names(&removed.body), vec!["first", "third"]);
    let absent = g
        .call(Method::DELETE, &format!("{path}/second"), None)
        .await;
    assert_eq!(absent.status, 404);
    assert_eq!(absent.body["message"], "Label does not exist");
    let spaced = g.post(path, json!(["needs triage"])).await;
    assert_eq!(spaced.status, 200);
    let gone = g
        .call(Method::DELETE, &format!("{path}/needs%20triage"), None)
        .await;
    assert_eq!(names(&gone.body), vec!["first", "third"]);
    let bad = g.post(path, json!("nope")).await;
    assert_eq!(bad.status, 422);
    let issue = g.get("/repos/acme/security/issues/1").await.body;
    assert_eq!(names(&issue["labels"]), vec!["first", "third"]);
}

#[tokio::test]
async fn search_lags_behind_changes_by_the_configured_delay() {
    let g = gh().await;
    g.set_search_delay(300).await;
    g.create(
        "Malware on host-1",
        "details\n<!-- vigil:case=c42 -->",
        &["security"],
    )
    .await;
    let q = r#"repo:acme/security is:issue is:open in:body "vigil:case=c42""#;
    let early = g.search(q).await;
    assert_eq!(early.status, 200, "{}", early.body);
    assert_eq!(
        early.body,
        json!({"total_count": 0, "incomplete_results": false, "items": []})
    );
    assert_eq!(early.header("x-ratelimit-resource"), "search");
    assert_eq!(early.header("x-ratelimit-limit"), "30");
    assert_eq!(early.header("x-ratelimit-remaining"), "29");
    let listed = g.get("/repos/acme/security/issues?state=all").await;
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(1),
        "listing is immediate"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let later = g.search(q).await;
    assert_eq!(later.body["total_count"], 1);
    assert_eq!(later.body["items"][0]["number"], 1);
    assert_eq!(later.body["items"][0]["score"], 1.0);
    g.patch("/repos/acme/security/issues/1", json!({"state": "closed"}))
        .await;
    let stale = g.search(q).await;
    assert_eq!(
        stale.body["total_count"], 1,
        "the index still thinks it is open"
    );
    assert_eq!(stale.body["items"][0]["state"], "open");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(g.search(q).await.body["total_count"], 0);
    let closed = g
        .search("repo:acme/security is:issue state:closed label:security malware HOST")
        .await;
    assert_eq!(closed.body["total_count"], 1);
    assert_eq!(
        g.search("repo:acme/security is:issue in:title vigil:case=c42")
            .await
            .body["total_count"],
        0,
        "the marker is in the body, not the title"
    );
}

#[tokio::test]
async fn search_refuses_bad_queries_like_github() {
    let g = gh().await;
    g.set_search_delay(0).await;
    let no_type = g.search("repo:acme/security malware").await;
    assert_eq!(no_type.status, 422);
    assert_eq!(
        no_type.body["message"],
        "Query must include 'is:issue' or 'is:pull-request'"
    );
    let long = g.search(&format!("is:issue {}", "a".repeat(250))).await;
    assert_eq!(long.status, 422);
    assert_eq!(long.body["message"], "Validation Failed");
    assert_eq!(long.body["errors"][0]["field"], "q");
    let other = g.search("repo:acme/other is:issue x").await;
    assert_eq!(other.status, 422);
    assert_eq!(other.body["errors"][0]["code"], "invalid");
    let missing = g
        .send(g.ts.http.get(g.url("/search/issues")).bearer_auth(&g.token))
        .await;
    assert_eq!(missing.status, 422);
    assert_eq!(missing.body["errors"][0]["code"], "missing");
    g.create("x", "y", &[]).await;
    let prs = g.search("repo:acme/security is:pr x").await;
    assert_eq!(prs.body["total_count"], 0);
}

#[tokio::test]
async fn content_creation_hits_the_secondary_limit_with_retry_after() {
    let g = gh().await;
    g.ts.control(
        "/limits",
        json!({"service": "github", "method": "content", "per_minute": 2, "burst": 2}),
    )
    .await;
    g.create("a", "", &[]).await;
    g.create("b", "", &[]).await;
    let third = g
        .post("/repos/acme/security/issues", json!({"title": "c"}))
        .await;
    assert_eq!(third.status, 403);
    assert!(third.body["message"].as_str().unwrap_or("").starts_with(
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    ));
    assert_eq!(third.body["status"], "403");
    assert_eq!(
        third.body["documentation_url"],
        "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
    );
    let wait: u64 = third.header("retry-after").parse().expect("retry-after");
    assert!((1..=60).contains(&wait));
    assert_ne!(third.header("x-ratelimit-remaining"), "0");
    let comment = g
        .post(
            "/repos/acme/security/issues/1/comments",
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(comment.status, 403, "comments share the content budget");
    assert_eq!(
        g.get("/repos/acme/security/issues/1").await.status,
        200,
        "reads still work"
    );
}

#[tokio::test]
async fn search_and_core_budgets_run_out_with_remaining_zero() {
    let g = gh().await;
    g.ts.control(
        "/limits",
        json!({"service": "github", "method": "search", "per_minute": 1, "burst": 1}),
    )
    .await;
    assert_eq!(g.search("is:issue x").await.status, 200);
    let over = g.search("is:issue x").await;
    assert_eq!(over.status, 403);
    assert_eq!(over.header("x-ratelimit-remaining"), "0");
    assert_eq!(over.header("x-ratelimit-resource"), "search");
    assert!(over.header("retry-after").parse::<u64>().is_ok());
    assert!(
        over.body["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("API rate limit exceeded for user ID")
    );

    let set =
        g.ts.control("/github/rate_limit", json!({"remaining": 1}))
            .await;
    assert_eq!(set["core"]["remaining"], 1);
    let last = g.get("/repos/acme/security").await;
    assert_eq!(last.status, 200);
    assert_eq!(last.header("x-ratelimit-remaining"), "0");
    let refused = g.get("/repos/acme/security").await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.header("x-ratelimit-remaining"), "0");
    assert_eq!(refused.header("x-ratelimit-limit"), "5000");
    assert_eq!(refused.header("x-ratelimit-resource"), "core");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("API rate limit exceeded for user ID")
    );
    let rate = g.get("/rate_limit").await;
    assert_eq!(rate.status, 200, "rate_limit is free");
    assert_eq!(rate.body["resources"]["core"]["remaining"], 0);
}

#[tokio::test]
async fn injected_faults_answer_githubs_shapes() {
    let g = gh().await;
    let fault = g
        .ts
        .control(
            "/faults",
            json!({"service": "github", "method": "POST", "path": "/repos/*/*/issues", "status": 502}),
        )
        .await;
    assert!(fault["id"].is_string());
    let failed = g
        .post("/repos/acme/security/issues", json!({"title": "t"}))
        .await;
    assert_eq!(failed.status, 502);
    assert_eq!(failed.body["message"], "Server Error");
    assert_eq!(failed.body["status"], "502");
    g.ts.control(
        "/faults",
        json!({"service": "github", "path": "/repos/*/*/issues", "status": 429, "retry_after": 7}),
    )
    .await;
    let limited = g
        .post("/repos/acme/security/issues", json!({"title": "t"}))
        .await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), "7");
    assert!(
        limited.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("secondary rate limit")
    );
    let ok = g
        .post("/repos/acme/security/issues", json!({"title": "t"}))
        .await;
    assert_eq!(ok.status, 201, "faults were used up");
    assert_eq!(ok.body["number"], 1, "failed attempts created nothing");
}

#[tokio::test]
async fn reset_empties_the_repository_and_restores_budgets() {
    let g = gh().await;
    g.create("a", "b", &["custom"]).await;
    g.post(
        "/repos/acme/security/issues/1/comments",
        json!({"body": "c"}),
    )
    .await;
    g.ts.control("/github/rate_limit", json!({"remaining": 0}))
        .await;
    assert_eq!(g.get("/repos/acme/security").await.status, 403);
    g.ts.control("/reset", json!({})).await;
    assert_eq!(g.get("/repos/acme/security/issues/1").await.status, 404);
    let list = g.get("/repos/acme/security/issues?state=all").await;
    assert_eq!(list.body, json!([]));
    assert_eq!(list.header("x-ratelimit-remaining"), "4998");
    let labels = g.get("/repos/acme/security/labels?per_page=100").await;
    assert!(
        labels
            .body
            .as_array()
            .is_some_and(|a| a.iter().all(|l| l["name"] != "custom") && a.len() == 9),
        "back to GitHub's default labels"
    );
    assert_eq!(g.create("again", "", &[]).await["number"], 1);
}

#[tokio::test]
async fn control_lists_issues_with_comments_and_requests_are_recorded() {
    let g = gh().await;
    g.create("a", "b", &[]).await;
    g.post(
        "/repos/acme/security/issues/1/comments",
        json!({"body": "first"}),
    )
    .await;
    g.get("/repos/acme/security/issues?state=all&since=2000-01-01T00:00:00Z")
        .await;
    let all = crate::common::get_json(&g.ts.http, &g.ts.url("/_sandbox/github/issues")).await;
    assert_eq!(all["issues"][0]["issue"]["number"], 1);
    assert_eq!(all["issues"][0]["issue"]["comments"], 1);
    assert_eq!(all["issues"][0]["comments"][0]["body"], "first");
    let recorded = g.ts.requests("github").await;
    let paths: Vec<&str> = recorded.iter().filter_map(|r| r["path"].as_str()).collect();
    assert!(paths.contains(&"/repos/acme/security/issues"));
    assert!(paths.contains(&"/repos/acme/security/issues?state=all&since=2000-01-01T00:00:00Z"));
    assert_eq!(recorded[0]["status"], 201);
}

#[tokio::test]
async fn unknown_paths_and_methods_are_githubs_404() {
    let g = gh().await;
    let unknown = g.get("/repos/acme/security/pulls").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["message"], "Not Found");
    let method = g
        .call(Method::DELETE, "/repos/acme/security/issues/1", None)
        .await;
    assert_eq!(method.status, 404);
    assert_eq!(method.body["message"], "Not Found");
}

#[tokio::test]
async fn html_url_opens_a_readable_page() {
    let g = gh().await;
    let issue = g.create("<b>host-1</b>", "body & more", &["sev"]).await;
    g.post(
        "/repos/acme/security/issues/1/comments",
        json!({"body": "noted"}),
    )
    .await;
    let url = issue["html_url"].as_str().expect("html_url");
    let resp = g.ts.http.get(url).send().await.expect("page");
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.expect("text");
    assert!(text.contains("&lt;b&gt;host-1&lt;/b&gt;"), "{text}");
    assert!(text.contains("body &amp; more") && text.contains("noted"));
    let missing = g.ts.http.get(g.url("/acme/security/issues/9")).send().await;
    assert_eq!(missing.expect("404").status().as_u16(), 404);
}
