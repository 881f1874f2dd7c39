//! Flow 2's identity and knowledge clients against the real sandbox: Confluence, Okta and the
//! OpenAI-compatible LLM. Per client the happy path, then each documented error the simulator
//! produces (bad key, not found, bad request, the rate limit with the vendor's own wait
//! signal), so a client and its simulator are checked against each other end to end.
//!
//! The sandbox is reached only through `common::TestSandbox` (its URL, credentials, seed and
//! control API), never through the sandbox's Rust types.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vigil::config::secret::Secret;
use vigil::vendors::VendorError;
use vigil::vendors::confluence::client::ConfluenceClient;
use vigil::vendors::confluence::config::ConfluenceConfig;
use vigil::vendors::confluence::cql;
use vigil::vendors::llm::client::LlmClient;
use vigil::vendors::llm::config::LlmConfig;
use vigil::vendors::llm::models::{Chat, Message, ResponseFormat, Tool};
use vigil::vendors::okta::client::{OktaClient, eq_search};
use vigil::vendors::okta::config::OktaConfig;
use vigil::vendors::okta::models::PushResult;
use vigil::vendors::outbound::{RetryPolicy, capture_retries};

use crate::common::{TestSandbox, sandbox};
use crate::vendor_support::{assert_auth_error, cred, fault, limit, waits};

// ------------------------------------------------------------------ Confluence

fn confluence_with(ts: &TestSandbox, token: &str, policy: RetryPolicy) -> ConfluenceClient {
    let config = ConfluenceConfig {
        base_url: ts.url("/confluence"),
        email: cred(ts, "confluence", "email"),
        api_token_file: None,
        space: "SEC".into(),
        label: "sop".into(),
        api_token: Secret::new(token),
    };
    ConfluenceClient::new(config)
        .expect("confluence client")
        .with_retry_policy(policy)
}

fn confluence(ts: &TestSandbox) -> ConfluenceClient {
    confluence_with(ts, &cred(ts, "confluence", "api_token"), waits())
}

fn seed_pages(ts: &TestSandbox) -> Vec<Value> {
    ts.seed["confluence"]["pages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn confluence_finds_each_sop_and_reads_it_through_v1_and_v2() {
    let ts = sandbox().await;
    let c = confluence(&ts);
    let pages = seed_pages(&ts);
    assert!(!pages.is_empty(), "the seed has SOP pages");
    for seeded in &pages {
        let kind = seeded["alert_type"].as_str().unwrap_or_default();
        let page = c
            .find_sop(kind, "runbook")
            .await
            .expect("search")
            .unwrap_or_else(|| panic!("an SOP for {kind}"));
        assert_eq!(Some(page.id.as_str()), seeded["id"].as_str(), "{kind}");
        assert!(page.storage.contains("vigil-runbook"), "{kind}");
        assert!(
            page.url.starts_with(&ts.url("/confluence/wiki/")),
            "{}",
            page.url
        );
        assert!(page.url.contains(&page.id), "{}", page.url);
    }
    let id = pages[0]["id"].as_str().unwrap_or_default();
    let v1 = c.content(id).await.expect("v1 content");
    let v2 = c.page(id).await.expect("v2 page");
    assert_eq!(v1.storage, v2.storage, "both APIs read the same body");
    assert_eq!((v1.version, v2.version), (1, 1));
    assert!(
        c.find_sop("no_such_type", "zzqx")
            .await
            .expect("search")
            .is_none()
    );
}

#[tokio::test]
async fn confluence_search_follows_next_links_and_sees_new_versions() {
    let ts = sandbox().await;
    let c = confluence(&ts);
    let in_sec = seed_pages(&ts)
        .iter()
        .filter(|p| p["space"] == "SEC")
        .count();
    let hits = c
        .search(&cql::in_space("SEC"), 2, 20)
        .await
        .expect("search");
    assert!(hits.len() >= in_sec, "{} of {in_sec}", hits.len());
    let first_page_only = c.search(&cql::in_space("SEC"), 2, 1).await.expect("search");
    assert_eq!(first_page_only.len(), 2, "the page cap holds");
    let mut requests = ts.requests("confluence").await;
    requests.retain(|r| r["path"].as_str().is_some_and(|p| p.contains("/search")));
    assert!(
        requests
            .iter()
            .any(|r| r["path"].as_str().is_some_and(|p| p.contains("cursor="))),
        "a next page was fetched: {requests:?}"
    );

    let id = seed_pages(&ts)[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let title = seed_pages(&ts)[0]["title"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let replaced = ts
        .control(
            "/confluence/pages",
            json!({"id": id, "space": "SEC", "title": title, "labels": ["sop"], "body": "<p>v2</p>"}),
        )
        .await;
    assert_eq!(replaced["version"], 2, "{replaced}");
    let page = c.page(&id).await.expect("page");
    assert_eq!(page.version, 2);
    assert_eq!(page.storage, "<p>v2</p>");
}

#[tokio::test]
async fn confluence_errors_bad_token_missing_page_and_bad_cql() {
    let ts = sandbox().await;
    let bad = confluence_with(&ts, "not-the-token", waits());
    let err = bad.page("98301").await.expect_err("a 401");
    assert_auth_error(&err, "confluence");

    let c = confluence(&ts);
    let err = c.content("424242").await.expect_err("a 404");
    assert_eq!(err.status(), Some(404), "{err}");
    let err = c.page("424242").await.expect_err("a 404");
    assert_eq!(err.status(), Some(404), "{err}");
    assert!(
        err.to_string().contains("Not Found"),
        "v2 errors read: {err}"
    );

    let err = c
        .search_page("type = = page", 10, 0)
        .await
        .expect_err("a 400");
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn confluence_waits_the_retry_after_of_a_429() {
    let ts = sandbox().await;
    fault(
        &ts,
        json!({"service": "confluence", "path": "/wiki/rest/api/search", "status": 429, "retry_after": 1}),
    )
    .await;
    let c = confluence(&ts);
    let started = Instant::now();
    let (page, retries) = capture_retries(c.search_page(&cql::in_space("SEC"), 5, 0)).await;
    assert!(page.is_ok(), "{page:?}");
    assert_eq!(retries.len(), 1);
    assert_eq!(
        retries[0].wait,
        Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert!(started.elapsed() >= Duration::from_millis(950));

    // The sandbox's real limit answers with the same signal.
    limit(&ts, "confluence", "api", 1).await;
    let once = confluence_with(
        &ts,
        &cred(&ts, "confluence", "api_token"),
        RetryPolicy::no_retry(),
    );
    let _ = once.page("98301").await;
    let err = once.page("98301").await.expect_err("limited");
    assert_eq!(err.status(), Some(429), "{err}");
    let wait = err.retry_after().expect("Retry-After read");
    assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(60));
}

// ------------------------------------------------------------------------ Okta

fn okta_with(ts: &TestSandbox, token: &str, policy: RetryPolicy) -> OktaClient {
    let config = OktaConfig {
        base_url: ts.url("/okta"),
        api_token_file: None,
        api_token: Secret::new(token),
    };
    OktaClient::new(config)
        .expect("okta client")
        .with_retry_policy(policy)
}

fn okta(ts: &TestSandbox) -> OktaClient {
    okta_with(ts, &cred(ts, "okta", "api_token"), waits())
}

fn person(ts: &TestSandbox, name: &str) -> String {
    ts.seed["slack"]["users"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["name"] == name)
        .and_then(|u| u["email"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn okta_finds_users_by_login_id_and_search() {
    let ts = sandbox().await;
    let o = okta(&ts);
    let email = person(&ts, "carol.diaz");
    let user = o.user(&email).await.expect("lookup").expect("carol");
    assert_eq!(user.profile.login.as_deref(), Some(email.as_str()));
    assert_eq!(user.status, "ACTIVE");
    let by_id = o.user(&user.id).await.expect("lookup").expect("by id");
    assert_eq!(by_id.id, user.id);
    let found = o
        .search(&eq_search("profile.login", &email), 10)
        .await
        .expect("search");
    assert_eq!(
        found.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        [user.id.as_str()]
    );
    let people = ts.seed["slack"]["users"].as_array().map_or(0, Vec::len);
    assert_eq!(o.list_users(200).await.expect("list").len(), people);

    assert!(
        o.user("nobody@acme.example")
            .await
            .expect("lookup")
            .is_none()
    );
    let hostile = o
        .search(
            &eq_search("profile.login", "x\" or profile.login sw \""),
            10,
        )
        .await
        .expect("search");
    assert!(hostile.is_empty(), "quoted, so one value: {hostile:?}");
}

#[tokio::test]
async fn okta_clears_sessions_and_suspends_by_oktas_rules() {
    let ts = sandbox().await;
    let o = okta(&ts);
    let email = person(&ts, "carol.diaz");
    let id = o.user(&email).await.expect("lookup").expect("carol").id;
    o.clear_sessions(&id, true).await.expect("sessions cleared");
    let cleared = ts.requests("okta").await.into_iter().any(|r| {
        r["method"] == "DELETE"
            && r["path"]
                .as_str()
                .is_some_and(|p| p.contains("oauthTokens=true"))
    });
    assert!(cleared, "DELETE …/sessions?oauthTokens=true sent");

    o.suspend(&id).await.expect("suspend");
    let now = o.user(&id).await.expect("lookup").expect("user");
    assert_eq!(now.status, "SUSPENDED");
    let err = o.suspend(&id).await.expect_err("suspending twice");
    assert_eq!(err.status(), Some(400));
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(
        text.contains("not active") && text.contains("[E0000001]"),
        "{text}"
    );
    o.unsuspend(&id).await.expect("unsuspend");
    assert_eq!(
        o.user(&id).await.expect("lookup").expect("user").status,
        "ACTIVE"
    );
    let err = o.unsuspend(&id).await.expect_err("not suspended");
    assert_eq!(err.status(), Some(400));
}

#[tokio::test]
async fn okta_verify_push_polls_to_the_persons_answer() {
    let ts = sandbox().await;
    let o = okta(&ts);
    let email = person(&ts, "carol.diaz");
    let id = o.user(&email).await.expect("lookup").expect("carol").id;
    let every = Duration::from_millis(20);
    let result = o
        .push_and_wait(&id, every, Duration::from_secs(5))
        .await
        .expect("push");
    assert_eq!(
        result,
        PushResult::Success,
        "unscripted: approved after a wait"
    );

    ts.control("/okta/push", json!({"user": email, "result": "REJECTED"}))
        .await;
    let result = o
        .push_and_wait(&id, every, Duration::from_secs(5))
        .await
        .expect("push");
    assert_eq!(result, PushResult::Rejected);

    ts.control("/okta/push", json!({"user": email, "result": "WAITING"}))
        .await;
    let result = o
        .push_and_wait(&id, every, Duration::from_millis(200))
        .await
        .expect("push");
    assert_eq!(result, PushResult::Waiting, "no answer within the wait");

    let unknown = o.verify_push(&id, "opfnope").await.expect_err("a 404");
    assert_eq!(unknown.status(), Some(404));
    assert!(unknown.to_string().contains("[E0000007]"), "{unknown}");
}

#[tokio::test]
async fn okta_errors_bad_token_and_the_reset_header_wait() {
    let ts = sandbox().await;
    let err = okta_with(&ts, "wrong-token", waits())
        .list_users(1)
        .await
        .expect_err("a 401");
    assert_auth_error(&err, "okta");
    assert!(err.to_string().contains("[E0000011]"), "{err}");

    fault(
        &ts,
        json!({"service": "okta", "path": "/api/v1/users/*", "status": 429, "retry_after": 1}),
    )
    .await;
    let o = okta(&ts);
    let started = Instant::now();
    let (user, retries) = capture_retries(o.user("carol.diaz")).await;
    assert!(matches!(user, Ok(Some(_))), "{user:?}");
    assert_eq!(retries.len(), 1);
    assert!(
        retries[0].wait >= Duration::from_secs(1) && retries[0].wait <= Duration::from_secs(2),
        "X-Rate-Limit-Reset read as the wait: {:?}",
        retries[0].wait
    );
    assert!(started.elapsed() >= Duration::from_millis(950));

    limit(&ts, "okta", "api", 2).await;
    let once = okta_with(
        &ts,
        &cred(&ts, "okta", "api_token"),
        RetryPolicy::no_retry(),
    );
    let mut last = Ok(vec![]);
    // Five calls put at least three in one of Okta's one-minute windows.
    for _ in 0..5 {
        last = once.list_users(1).await;
    }
    let err = last.expect_err("limited");
    assert_eq!(err.status(), Some(429), "{err}");
    assert!(err.to_string().contains("[E0000047]"), "{err}");
    let wait = err.retry_after().expect("reset read");
    assert!(wait <= Duration::from_secs(60), "{wait:?}");
}

// ------------------------------------------------------------------------- LLM

fn llm_with(ts: &TestSandbox, key: &str, model: &str, policy: RetryPolicy) -> LlmClient {
    let config = LlmConfig {
        base_url: ts.url("/llm/v1"),
        api_key_file: None,
        model: model.into(),
        timeout: Duration::from_secs(10),
        api_key: Some(Secret::new(key)),
    };
    LlmClient::new(config)
        .expect("llm client")
        .with_retry_policy(policy)
}

fn llm(ts: &TestSandbox) -> LlmClient {
    llm_with(
        ts,
        &cred(ts, "llm", "api_key"),
        &cred(ts, "llm", "model"),
        waits(),
    )
}

fn chat(text: &str) -> Chat {
    Chat {
        messages: vec![Message::user(text)],
        ..Chat::default()
    }
}

fn triage_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "alert_type": {"type": "string", "enum": ["malware", "phishing", "suspicious_login", "c2", "data_exfiltration", "other"]},
            "severity": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
            "rationale": {"type": "string"}
        },
        "required": ["alert_type", "severity", "rationale"],
        "additionalProperties": false
    })
}

#[tokio::test]
async fn llm_classifies_into_the_schema_and_serves_its_model() {
    let ts = sandbox().await;
    let l = llm(&ts);
    assert!(
        l.models()
            .await
            .expect("models")
            .iter()
            .any(|m| m == l.model())
    );
    let reply = l
        .complete(&Chat {
            messages: vec![
                Message::system("Classify the alert."),
                Message::user("Falcon identity alert: brute force against carol.diaz (T1110)"),
            ],
            response_format: Some(ResponseFormat::JsonSchema {
                name: "triage".into(),
                schema: triage_schema(),
                strict: true,
            }),
            temperature: Some(0.0),
            ..Chat::default()
        })
        .await
        .expect("completion");
    let answer = reply.json().expect("JSON content");
    assert_eq!(answer["alert_type"], "suspicious_login", "{answer}");
    assert!(answer["severity"].is_string());
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    let usage = reply.usage.expect("usage");
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
}

#[tokio::test]
async fn llm_tool_calls_parse_and_the_follow_up_turn_is_accepted() {
    let ts = sandbox().await;
    ts.control(
        "/llm/script",
        json!({"when": "PING-42", "reply": {"tool_calls": [{"name": "okta_get_user", "arguments": {"login": "carol.diaz@acme.example"}}]}, "times": 1}),
    )
    .await;
    let l = llm(&ts);
    let tool = Tool {
        name: "okta_get_user".into(),
        description: "Look a person up in Okta".into(),
        parameters: json!({"type": "object", "properties": {"login": {"type": "string"}}, "required": ["login"], "additionalProperties": false}),
        strict: true,
    };
    let mut conversation = Chat {
        messages: vec![Message::user("PING-42: who is carol?")],
        tools: vec![tool],
        ..Chat::default()
    };
    let reply = l.complete(&conversation).await.expect("completion");
    assert_eq!(reply.finish_reason.as_deref(), Some("tool_calls"));
    let call = reply.tool_calls.first().expect("a tool call").clone();
    assert_eq!(call.name, "okta_get_user");
    assert_eq!(call.arguments["login"], "carol.diaz@acme.example");
    assert!(!call.id.is_empty());

    conversation.messages.push(reply.assistant_message());
    conversation
        .messages
        .push(Message::tool(&call.id, r#"{"status":"ACTIVE"}"#));
    let follow_up = l.complete(&conversation).await.expect("follow-up turn");
    assert!(follow_up.content.is_some() || !follow_up.tool_calls.is_empty());
    let sent = ts.requests("llm").await;
    let last = sent.last().expect("recorded");
    let messages = last["body"]["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[1]["tool_calls"][0]["id"], json!(call.id));
    assert_eq!(messages[2]["role"], "tool");
    assert_eq!(messages[2]["tool_call_id"], json!(call.id));
}

#[tokio::test]
async fn llm_errors_bad_key_unknown_model_and_unreadable_arguments() {
    let ts = sandbox().await;
    let model = cred(&ts, "llm", "model");
    let err = llm_with(&ts, "sk-wrong", &model, waits())
        .complete(&chat("hi"))
        .await
        .expect_err("a 401");
    assert_auth_error(&err, "llm");
    assert!(err.to_string().contains("[invalid_api_key]"), "{err}");

    let key = cred(&ts, "llm", "api_key");
    let err = llm_with(&ts, &key, "gpt-nope", waits())
        .complete(&chat("hi"))
        .await
        .expect_err("a 404");
    assert_eq!(err.status(), Some(404));
    assert!(err.to_string().contains("[model_not_found]"), "{err}");

    ts.control(
        "/llm/script",
        json!({"when": "BROKEN-ARGS", "reply": {"tool_calls": [{"name": "f", "arguments": "{not json"}]}, "times": 1}),
    )
    .await;
    let err = llm(&ts)
        .complete(&chat("BROKEN-ARGS"))
        .await
        .expect_err("unreadable tool arguments");
    assert!(matches!(err, VendorError::Decode { .. }), "{err}");
}

#[tokio::test]
async fn llm_waits_out_rate_limits_but_not_an_exhausted_quota() {
    let ts = sandbox().await;
    fault(
        &ts,
        json!({"service": "llm", "path": "/v1/chat/completions", "status": 429, "retry_after": 1}),
    )
    .await;
    let l = llm(&ts);
    let started = Instant::now();
    let (reply, retries) = capture_retries(l.complete(&chat("hi"))).await;
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(retries.len(), 1);
    assert_eq!(
        retries[0].wait,
        Duration::from_secs(1),
        "retry-after honoured"
    );
    assert!(started.elapsed() >= Duration::from_millis(950));

    fault(
        &ts,
        json!({"service": "llm", "path": "/v1/chat/completions", "status": 429, "times": 0,
               "body": {"error": {"message": "You exceeded your current quota.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}}),
    )
    .await;
    let (reply, retries) = capture_retries(l.complete(&chat("hi"))).await;
    let err = reply.expect_err("quota");
    assert_eq!(err.status(), Some(429));
    assert!(retries.is_empty(), "billing is not waited out: {retries:?}");
    ts.http
        .delete(ts.url("/_sandbox/faults"))
        .send()
        .await
        .expect("faults cleared");

    limit(&ts, "llm", "requests", 1).await;
    let once = llm_with(
        &ts,
        &cred(&ts, "llm", "api_key"),
        &cred(&ts, "llm", "model"),
        RetryPolicy::no_retry(),
    );
    let _ = once.complete(&chat("hi")).await;
    let err = once.complete(&chat("hi")).await.expect_err("limited");
    assert_eq!(err.status(), Some(429));
    assert!(err.to_string().contains("[rate_limit_exceeded]"), "{err}");
    assert!(err.retry_after().is_some(), "retry-after read");
}
