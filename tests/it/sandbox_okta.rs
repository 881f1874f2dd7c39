//! The Okta simulator over plain HTTP: SSWS auth, users by id and login, search and filter
//! with Link paging, sessions, lifecycle rules, the Okta Verify push flow scripted from the
//! control API, error bodies, rate-limit headers and 429, reset.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn call_with(
    sb: &TestSandbox,
    method: Method,
    path: &str,
    auth: &str,
    body: Option<Value>,
) -> Answer {
    let mut req = sb
        .http
        .request(method, sb.url(&format!("/okta{path}")))
        .header("authorization", auth)
        .header("accept", "application/json");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("okta request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

fn ssws(sb: &TestSandbox) -> String {
    format!(
        "SSWS {}",
        sb.creds["okta"]["api_token"].as_str().unwrap_or_default()
    )
}

async fn call(sb: &TestSandbox, method: Method, path: &str) -> Answer {
    call_with(sb, method, path, &ssws(sb), None).await
}

fn carol(sb: &TestSandbox) -> String {
    sb.seed["slack"]["users"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["name"] == "carol.diaz")
        .and_then(|u| u["email"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn users_match_the_slack_seed_and_are_found_by_login_id_and_search() {
    let sb = sandbox().await;
    let people = sb.seed["slack"]["users"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let all = call(&sb, Method::GET, "/api/v1/users").await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body.as_array().map(Vec::len), Some(people.len()));
    for p in &people {
        assert!(
            all.body
                .as_array()
                .into_iter()
                .flatten()
                .any(|u| u["profile"]["login"] == p["email"]),
            "{p}"
        );
    }
    assert!(all.headers.get("x-rate-limit-limit").is_some());
    assert!(all.headers.get("x-rate-limit-remaining").is_some());
    assert!(all.headers.get("x-rate-limit-reset").is_some());

    let email = carol(&sb);
    let by_login = call(&sb, Method::GET, &format!("/api/v1/users/{}", enc(&email))).await;
    assert_eq!(by_login.status, StatusCode::OK, "{}", by_login.body);
    assert_eq!(by_login.body["status"], "ACTIVE");
    assert_eq!(by_login.body["profile"]["email"], email.as_str());
    let id = by_login.body["id"].as_str().unwrap_or_default().to_string();
    assert!(id.starts_with("00u"));
    let by_id = call(&sb, Method::GET, &format!("/api/v1/users/{id}")).await;
    assert_eq!(by_id.body["profile"]["login"], email.as_str());
    let short = call(&sb, Method::GET, "/api/v1/users/carol.diaz").await;
    assert_eq!(short.body["id"], id.as_str(), "unambiguous short login");

    let search = call(
        &sb,
        Method::GET,
        &format!(
            "/api/v1/users?search={}",
            enc(&format!("profile.login eq \"{email}\""))
        ),
    )
    .await;
    assert_eq!(search.body.as_array().map(Vec::len), Some(1));
    let filter = call(
        &sb,
        Method::GET,
        &format!("/api/v1/users?filter={}", enc("status eq \"ACTIVE\"")),
    )
    .await;
    assert_eq!(filter.body.as_array().map(Vec::len), Some(people.len()));

    let page = call(&sb, Method::GET, "/api/v1/users?limit=2").await;
    assert_eq!(page.body.as_array().map(Vec::len), Some(2));
    let links: Vec<String> = page
        .headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let next = links
        .iter()
        .find(|l| l.ends_with("rel=\"next\""))
        .cloned()
        .unwrap_or_default();
    let url = next
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(url.contains("after="), "{links:?}");
    let path = url.split("/okta").nth(1).unwrap_or_default().to_string();
    let second = call(&sb, Method::GET, &path).await;
    assert_eq!(second.body.as_array().map(Vec::len), Some(2));
    assert_ne!(second.body[0]["id"], page.body[0]["id"]);
}

#[tokio::test]
async fn sessions_and_lifecycle_follow_oktas_rules() {
    let sb = sandbox().await;
    let email = carol(&sb);
    let user = format!("/api/v1/users/{}", enc(&email));
    let cleared = call(
        &sb,
        Method::DELETE,
        &format!("{user}/sessions?oauthTokens=true"),
    )
    .await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT);
    let users = crate::common::get_json(&sb.http, &sb.url("/_sandbox/okta/users")).await;
    let me = users["users"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["profile"]["login"] == email.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(me["sessions"], 0);
    assert_eq!(me["sessions_cleared"], 1);
    assert_eq!(me["oauth_tokens_revoked"], true);

    let s = call(&sb, Method::POST, &format!("{user}/lifecycle/suspend")).await;
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(
        call(&sb, Method::GET, &user).await.body["status"],
        "SUSPENDED"
    );
    let again = call(&sb, Method::POST, &format!("{user}/lifecycle/suspend")).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.body["errorCode"], "E0000001");
    assert!(
        again.body["errorCauses"][0]["errorSummary"]
            .as_str()
            .is_some_and(|m| m.contains("not active"))
    );
    let u = call(&sb, Method::POST, &format!("{user}/lifecycle/unsuspend")).await;
    assert_eq!(u.status, StatusCode::OK);
    assert_eq!(call(&sb, Method::GET, &user).await.body["status"], "ACTIVE");
    let not_suspended = call(&sb, Method::POST, &format!("{user}/lifecycle/unsuspend")).await;
    assert_eq!(not_suspended.status, StatusCode::BAD_REQUEST);

    call(&sb, Method::POST, &format!("{user}/lifecycle/suspend")).await;
    sb.control("/reset", json!({})).await;
    assert_eq!(
        call(&sb, Method::GET, &user).await.body["status"],
        "ACTIVE",
        "reset to seed"
    );
}

#[tokio::test]
async fn okta_verify_push_waits_then_resolves_as_scripted() {
    let sb = sandbox().await;
    let email = carol(&sb);
    let user = format!("/api/v1/users/{}", enc(&email));
    let factors = call(&sb, Method::GET, &format!("{user}/factors")).await;
    assert_eq!(factors.body[0]["factorType"], "push");
    assert_eq!(factors.body[0]["provider"], "OKTA");
    let fid = factors.body[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let poll_path = |a: &Answer| -> String {
        a.body["_links"]["poll"]["href"]
            .as_str()
            .and_then(|h| h.split("/okta").nth(1))
            .unwrap_or_default()
            .to_string()
    };
    // Unscripted: one WAITING poll, then SUCCESS.
    let v = call_with(
        &sb,
        Method::POST,
        &format!("{user}/factors/{fid}/verify"),
        &ssws(&sb),
        Some(json!({})),
    )
    .await;
    assert_eq!(v.status, StatusCode::CREATED, "{}", v.body);
    assert_eq!(v.body["factorResult"], "WAITING");
    let poll = poll_path(&v);
    assert!(poll.contains("/transactions/"));
    assert_eq!(
        call(&sb, Method::GET, &poll).await.body["factorResult"],
        "WAITING"
    );
    assert_eq!(
        call(&sb, Method::GET, &poll).await.body["factorResult"],
        "SUCCESS"
    );

    // Scripted rejection.
    sb.control("/okta/push", json!({"user": email, "result": "REJECTED"}))
        .await;
    let v = call(&sb, Method::POST, &format!("{user}/factors/{fid}/verify")).await;
    let r = call(&sb, Method::GET, &poll_path(&v)).await;
    assert_eq!(r.body["factorResult"], "REJECTED");
    assert!(r.body["_links"].get("poll").is_none());

    // Kept waiting, then decided from the control API.
    sb.control("/okta/push", json!({"user": email, "result": "WAITING"}))
        .await;
    let v = call(&sb, Method::POST, &format!("{user}/factors/{fid}/verify")).await;
    let poll = poll_path(&v);
    assert_eq!(
        call(&sb, Method::GET, &poll).await.body["factorResult"],
        "WAITING"
    );
    assert_eq!(
        call(&sb, Method::GET, &poll).await.body["factorResult"],
        "WAITING"
    );
    let tid = poll.rsplit('/').next().unwrap_or_default().to_string();
    let d = sb
        .control(
            &format!("/okta/transactions/{tid}"),
            json!({"result": "TIMEOUT"}),
        )
        .await;
    assert_eq!(d["result"], "TIMEOUT");
    assert_eq!(
        call(&sb, Method::GET, &poll).await.body["factorResult"],
        "TIMEOUT"
    );

    let unknown = call(&sb, Method::POST, &format!("{user}/factors/opfnope/verify")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["errorCode"], "E0000007");
}

#[tokio::test]
async fn errors_use_oktas_body_and_the_rate_limit_answers_429() {
    let sb = sandbox().await;
    // okta-sdk-python 3.x glues the scheme to the token: `SSWS<token>`.
    let glued = format!(
        "SSWS{}",
        sb.creds["okta"]["api_token"].as_str().unwrap_or_default()
    );
    let sdk = call_with(&sb, Method::GET, "/api/v1/users/carol.diaz", &glued, None).await;
    assert_eq!(sdk.status, StatusCode::OK, "{}", sdk.body);
    let bad = call_with(&sb, Method::GET, "/api/v1/users", "SSWS wrong", None).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.body["errorCode"], "E0000011");
    assert!(bad.body["errorSummary"].is_string() && bad.body["errorId"].is_string());
    let none = call(&sb, Method::GET, "/api/v1/users/nobody%40acme.example").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert_eq!(none.body["errorCode"], "E0000007");
    let bad_filter = call(
        &sb,
        Method::GET,
        &format!("/api/v1/users?filter={}", enc("status is ACTIVE")),
    )
    .await;
    assert_eq!(bad_filter.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_filter.body["errorCode"], "E0000031");
    let bad_body = sb
        .http
        .post(sb.url("/okta/api/v1/users/carol.diaz/factors/x/verify"))
        .header("authorization", ssws(&sb))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .expect("verify");
    assert_eq!(bad_body.status(), StatusCode::BAD_REQUEST);

    sb.control(
        "/limits",
        json!({"service": "okta", "method": "api", "per_minute": 3}),
    )
    .await;
    let mut last = None;
    for _ in 0..4 {
        last = Some(call(&sb, Method::GET, "/api/v1/users?limit=1").await);
    }
    let limited = last.expect("four calls");
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["errorCode"], "E0000047");
    assert_eq!(
        limited
            .headers
            .get("x-rate-limit-remaining")
            .and_then(|v| v.to_str().ok()),
        Some("0")
    );
    let reset: i64 = limited
        .headers
        .get("x-rate-limit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let now = chrono::Utc::now().timestamp();
    assert!(reset > now - 1 && reset <= now + 60, "{reset} vs {now}");

    sb.control(
        "/limits",
        json!({"service": "okta", "method": "api", "per_minute": 0}),
    )
    .await;
    sb.control(
        "/faults",
        json!({"service": "okta", "path": "/api/v1/users/*", "status": 429}),
    )
    .await;
    let fault = call(&sb, Method::GET, "/api/v1/users/carol.diaz").await;
    assert_eq!(fault.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(fault.body["errorCode"], "E0000047");
    assert!(fault.headers.get("x-rate-limit-reset").is_some());
}
