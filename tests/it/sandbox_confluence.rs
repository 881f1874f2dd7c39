//! The Confluence Cloud simulator over plain HTTP: Basic auth, CQL search with paging, v1
//! content and v2 pages with versions, the seeded SOPs, error shapes, rate limit, faults, reset.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

fn basic(sb: &TestSandbox) -> String {
    let email = sb.creds["confluence"]["email"].as_str().unwrap_or_default();
    let token = sb.creds["confluence"]["api_token"]
        .as_str()
        .unwrap_or_default();
    let raw = format!("{email}:{token}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

async fn get_with(
    sb: &TestSandbox,
    path: &str,
    auth: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let resp = sb
        .http
        .get(sb.url(&format!("/confluence{path}")))
        .header("authorization", auth)
        .send()
        .await
        .expect("confluence request");
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

async fn get(sb: &TestSandbox, path: &str) -> (StatusCode, Value) {
    let (s, _, v) = get_with(sb, path, &basic(sb)).await;
    (s, v)
}

fn q(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn seed_lists_one_sop_per_type_and_cql_finds_each() {
    let sb = sandbox().await;
    let pages = sb.seed["confluence"]["pages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(pages.len(), 6);
    for t in [
        "malware",
        "phishing",
        "suspicious_login",
        "c2",
        "data_exfiltration",
        "other",
    ] {
        let page = pages
            .iter()
            .find(|p| p["alert_type"] == t)
            .expect("a page per type");
        assert_eq!(page["space"], "SEC");
        assert_eq!(page["labels"], json!(["sop", format!("sop-{t}")]));
        let cql = format!(r#"type = page AND space = "SEC" AND label = "sop-{t}""#);
        let (status, body) = get(
            &sb,
            &format!("/wiki/rest/api/search?cql={}&limit=5", q(&cql)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["totalSize"], 1, "{t}: {body}");
        let hit = &body["results"][0];
        assert_eq!(hit["content"]["id"], page["id"]);
        assert_eq!(hit["content"]["type"], "page");
        assert!(
            hit["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("/spaces/SEC/pages/"))
        );
        assert!(
            body["_links"]["base"]
                .as_str()
                .is_some_and(|b| b.ends_with("/confluence/wiki"))
        );
        assert!(body["_links"].get("next").is_none(), "one page of results");
    }
}

#[tokio::test]
async fn v2_page_has_the_storage_body_with_a_runbook_and_v1_expands_the_same() {
    let sb = sandbox().await;
    let id = sb.seed["confluence"]["pages"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, page) = get(&sb, &format!("/wiki/api/v2/pages/{id}?body-format=storage")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["id"], id.as_str());
    assert_eq!(page["version"]["number"], 1);
    assert_eq!(page["body"]["storage"]["representation"], "storage");
    let storage = page["body"]["storage"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(storage.contains(r#"<ac:structured-macro ac:name="code""#));
    assert!(storage.contains(r#"<ac:parameter ac:name="title">vigil-runbook</ac:parameter>"#));
    assert!(storage.contains("crowdstrike_contain_host"));
    assert!(
        page["_links"]["webui"]
            .as_str()
            .is_some_and(|w| w.contains(&id))
    );
    assert!(
        page["_links"]["base"]
            .as_str()
            .is_some_and(|b| b.ends_with("/confluence/wiki"))
    );
    let (_, bare) = get(&sb, &format!("/wiki/api/v2/pages/{id}")).await;
    assert_eq!(bare["body"], json!({}), "no body without body-format");

    let (status, content) = get(
        &sb,
        &format!("/wiki/rest/api/content/{id}?expand=body.storage,version,space"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content["body"]["storage"]["value"].as_str(), Some(storage));
    assert_eq!(content["version"]["number"], 1);
    assert_eq!(content["space"]["key"], "SEC");
    let (_, labels) = get(&sb, &format!("/wiki/rest/api/content/{id}/label")).await;
    assert_eq!(labels["results"][0]["name"], "sop");

    let (status, bad) = get(&sb, &format!("/wiki/api/v2/pages/{id}?body-format=wiki")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["errors"][0]["code"], "INVALID_REQUEST_PARAMETER");
}

#[tokio::test]
async fn replacing_a_page_adds_a_version_and_old_versions_stay_readable() {
    let sb = sandbox().await;
    let added = sb
        .control(
            "/confluence/pages",
            json!({"space": "SEC", "title": "SOP: Test", "labels": ["sop", "sop-test"], "body": "<p>one</p>"}),
        )
        .await;
    let id = added["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(added["version"], 1);
    let again = sb
        .control(
            "/confluence/pages",
            json!({"id": id, "space": "SEC", "title": "SOP: Test", "labels": ["sop"], "body": "<p>two</p>"}),
        )
        .await;
    assert_eq!(again["version"], 2);
    assert_eq!(again["id"], id.as_str());
    let (_, page) = get(&sb, &format!("/wiki/api/v2/pages/{id}?body-format=storage")).await;
    assert_eq!(page["version"]["number"], 2);
    assert_eq!(page["body"]["storage"]["value"], "<p>two</p>");
    let (_, old) = get(
        &sb,
        &format!("/wiki/api/v2/pages/{id}?body-format=storage&version=1"),
    )
    .await;
    assert_eq!(old["body"]["storage"]["value"], "<p>one</p>");
    assert_eq!(old["status"], "historical");
    let (_, versions) = get(&sb, &format!("/wiki/api/v2/pages/{id}/versions")).await;
    let numbers: Vec<Value> = versions["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v["number"].clone())
        .collect();
    assert_eq!(numbers, vec![json!(2), json!(1)]);
    let (_, v1) = get(&sb, &format!("/wiki/rest/api/content/{id}/version")).await;
    assert_eq!(v1["size"], 2);
    let (_, hit) = get(
        &sb,
        &format!(
            "/wiki/rest/api/search?cql={}",
            q(r#"title ~ "test" and label = "sop-test""#)
        ),
    )
    .await;
    assert_eq!(hit["totalSize"], 0, "labels follow the current version");

    sb.control("/reset", json!({})).await;
    let (status, _) = get(&sb, &format!("/wiki/api/v2/pages/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "reset goes back to the seed");
}

#[tokio::test]
async fn search_pages_with_start_limit_and_the_next_link() {
    let sb = sandbox().await;
    let cql = q(r#"space = SEC and label = sop order by title desc"#);
    let (_, first) = get(&sb, &format!("/wiki/rest/api/search?cql={cql}&limit=4")).await;
    assert_eq!(first["size"], 4);
    assert_eq!(first["totalSize"], 6);
    let titles = |v: &Value| -> Vec<String> {
        v["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["title"].as_str().map(str::to_string))
            .collect()
    };
    let t1 = titles(&first);
    let mut sorted = t1.clone();
    sorted.sort_by_key(|t| std::cmp::Reverse(t.to_lowercase()));
    assert_eq!(t1, sorted, "order by title desc");
    let next = first["_links"]["next"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        next.starts_with("/rest/api/search?") && next.contains("cursor="),
        "{next}"
    );
    // The next link is relative to `_links.base`'s context (`/wiki`).
    let (_, second) = get(&sb, &format!("/wiki{next}")).await;
    assert_eq!(second["start"], 4);
    assert_eq!(second["size"], 2);
    assert!(second["_links"].get("next").is_none());
    let (_, by_start) = get(
        &sb,
        &format!("/wiki/rest/api/search?cql={cql}&limit=4&start=4"),
    )
    .await;
    assert_eq!(titles(&by_start), titles(&second));
    let (_, contents) = get(
        &sb,
        &format!("/wiki/rest/api/content/search?cql={cql}&expand=body.storage&limit=2"),
    )
    .await;
    assert_eq!(contents["size"], 2);
    assert!(
        contents["results"][0]["body"]["storage"]["value"]
            .as_str()
            .is_some_and(|b| b.contains("vigil-runbook"))
    );
}

#[tokio::test]
async fn errors_answer_in_atlassians_shapes() {
    let sb = sandbox().await;
    let id = sb.seed["confluence"]["pages"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, _, body) = get_with(
        &sb,
        &format!("/wiki/rest/api/content/{id}"),
        "Basic bm9ib2R5Om5vcGU=",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["statusCode"], 401);
    let (status, _, body) = get_with(&sb, &format!("/wiki/api/v2/pages/{id}"), "Bearer x").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["errors"][0]["status"], 401);

    let (status, body) = get(
        &sb,
        &format!("/wiki/rest/api/search?cql={}", q("creator = me")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["statusCode"], 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Could not parse cql"))
    );
    let (status, _) = get(&sb, "/wiki/rest/api/search").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "cql is required");

    let (status, body) = get(&sb, "/wiki/rest/api/content/424242").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["statusCode"], 404);
    let (status, body) = get(&sb, "/wiki/api/v2/pages/424242").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["errors"][0]["code"], "NOT_FOUND");

    let bad = sb
        .http
        .post(sb.url("/_sandbox/confluence/pages"))
        .json(&json!({"space": "SEC"}))
        .send()
        .await
        .expect("control");
    assert_eq!(
        bad.status(),
        StatusCode::BAD_REQUEST,
        "title and body are required"
    );
}

#[tokio::test]
async fn rate_limit_and_faults_carry_retry_after() {
    let sb = sandbox().await;
    sb.control(
        "/limits",
        json!({"service": "confluence", "method": "api", "per_minute": 2, "burst": 2}),
    )
    .await;
    let path = "/wiki/api/v2/pages/98301";
    assert_eq!(get(&sb, path).await.0, StatusCode::OK);
    assert_eq!(get(&sb, path).await.0, StatusCode::OK);
    let (status, headers, body) = get_with(&sb, path, &basic(&sb)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        headers
            .get("x-ratelimit-limit")
            .and_then(|v| v.to_str().ok()),
        Some("2")
    );
    assert!(headers.get("x-ratelimit-reset").is_some());
    assert_eq!(body["errors"][0]["status"], 429);
    sb.control(
        "/limits",
        json!({"service": "confluence", "method": "api", "per_minute": 0}),
    )
    .await;

    sb.control("/faults", json!({"service": "confluence", "path": "/wiki/rest/api/search", "status": 429, "retry_after": 7})).await;
    let (status, headers, body) = get_with(
        &sb,
        &format!("/wiki/rest/api/search?cql={}", q("type = page")),
        &basic(&sb),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    assert_eq!(body["statusCode"], 429);
    let (status, _) = get(
        &sb,
        &format!("/wiki/rest/api/search?cql={}", q("type = page")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the fault was used up");

    let recorded = sb.requests("confluence").await;
    assert!(recorded.iter().any(|r| {
        r["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/wiki/rest/api/search?cql="))
    }));
    let token = sb.creds["confluence"]["api_token"].as_str().unwrap_or("-");
    assert!(
        !serde_json::to_string(&recorded)
            .unwrap_or_default()
            .contains(token)
    );
}
