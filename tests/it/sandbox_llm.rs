//! The OpenAI-compatible LLM simulator over plain HTTP: auth, request validation, the default
//! model (schema-valid classification, runbook steps as tool calls one turn at a time, final
//! summary), scripts, error shapes, rate limit and faults.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

async fn chat_with(
    sb: &TestSandbox,
    key: &str,
    body: Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let resp = sb
        .http
        .post(sb.url("/llm/v1/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("llm request");
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

fn key(sb: &TestSandbox) -> String {
    sb.creds["llm"]["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn model(sb: &TestSandbox) -> String {
    sb.creds["llm"]["model"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn chat(sb: &TestSandbox, body: Value) -> (StatusCode, Value) {
    let (s, _, v) = chat_with(sb, &key(sb), body).await;
    (s, v)
}

fn schema() -> Value {
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
async fn classification_answers_the_requested_schema() {
    let sb = sandbox().await;
    let (status, v) = chat(&sb, json!({
        "model": model(&sb),
        "messages": [
            {"role": "system", "content": "Classify the alert."},
            {"role": "user", "content": "Falcon identity alert: brute force against carol.diaz (T1110)"}
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "triage", "strict": true, "schema": schema()}}
    })).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["object"], "chat.completion");
    assert!(v["id"].as_str().is_some_and(|i| i.starts_with("chatcmpl-")));
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let content = v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    let answer: Value = serde_json::from_str(content).expect("content is JSON");
    assert_eq!(answer["alert_type"], "suspicious_login");
    assert!(
        answer["rationale"]
            .as_str()
            .is_some_and(|r| r.contains("brute force"))
    );
    assert_eq!(
        answer.as_object().map(|m| m.len()),
        Some(3),
        "no extra properties"
    );
    let u = &v["usage"];
    assert!(u["prompt_tokens"].as_u64().unwrap_or(0) > 0);
    assert_eq!(
        u["total_tokens"].as_u64(),
        Some(
            u["prompt_tokens"].as_u64().unwrap_or(0) + u["completion_tokens"].as_u64().unwrap_or(0)
        )
    );
}

fn tool(name: &str, arg: &str) -> Value {
    json!({"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {arg: {"type": "string"}}, "required": [arg], "additionalProperties": false}}})
}

#[tokio::test]
async fn given_an_sop_it_proposes_the_runbook_one_call_per_turn_then_summarises() {
    let sb = sandbox().await;
    let (_, page) = {
        let email = sb.creds["confluence"]["email"].as_str().unwrap_or_default();
        let token = sb.creds["confluence"]["api_token"]
            .as_str()
            .unwrap_or_default();
        let resp = sb
            .http
            .get(sb.url("/confluence/wiki/api/v2/pages/98304?body-format=storage"))
            .basic_auth(email, Some(token))
            .send()
            .await
            .expect("page");
        (
            resp.status(),
            resp.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    let sop = page["body"]["storage"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(sop.contains("vigil-runbook"));
    let alert = json!({"name": "Beacon to C2", "entities": {"ips": ["203.0.113.66"], "domains": ["c2.evil.example"], "hosts": ["c3d4e5f60718293a4b5c6d7e8f010203"]}});
    let tools = json!([
        tool("abuseipdb_check_ip", "ip"),
        tool("virustotal_domain", "domain"),
        tool("tavily_search", "query"),
        tool("crowdstrike_contain_host", "device_id")
    ]);
    let mut messages = vec![
        json!({"role": "system", "content": format!("Follow the SOP. <sop>{sop}</sop>")}),
        json!({"role": "user", "content": format!("<alert>{alert}</alert>")}),
    ];
    let mut names = Vec::new();
    for turn in 0..6 {
        let (status, v) = chat(&sb, json!({"model": model(&sb), "messages": messages, "tools": tools, "tool_choice": "auto"})).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let msg = v["choices"][0]["message"].clone();
        if v["choices"][0]["finish_reason"] == "stop" {
            assert!(
                msg["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("crowdstrike_contain_host")),
                "{msg}"
            );
            break;
        }
        assert_eq!(
            v["choices"][0]["finish_reason"], "tool_calls",
            "turn {turn}"
        );
        let calls = msg["tool_calls"].as_array().cloned().unwrap_or_default();
        assert_eq!(calls.len(), 1, "one call per turn");
        let call = &calls[0];
        assert!(call["id"].as_str().is_some_and(|i| i.starts_with("call_")));
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or(""))
                .expect("arguments are a JSON string");
        names.push((
            call["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            args,
        ));
        messages.push(msg.clone());
        messages
            .push(json!({"role": "tool", "tool_call_id": call["id"], "content": "{\"ok\":true}"}));
    }
    assert_eq!(
        names,
        vec![
            (
                "abuseipdb_check_ip".to_string(),
                json!({"ip": "203.0.113.66"})
            ),
            (
                "virustotal_domain".to_string(),
                json!({"domain": "c2.evil.example"})
            ),
            (
                "tavily_search".to_string(),
                json!({"query": "c2.evil.example"})
            ),
            (
                "crowdstrike_contain_host".to_string(),
                json!({"device_id": "c3d4e5f60718293a4b5c6d7e8f010203"})
            ),
        ]
    );
}

#[tokio::test]
async fn scripts_answer_first_and_are_used_up() {
    let sb = sandbox().await;
    let id = sb.control("/llm/script", json!({"when": "PING-42", "reply": {"tool_calls": [{"name": "slack_notify", "arguments": {"text": "hi"}}]}, "times": 1})).await;
    assert!(id["id"].is_string());
    sb.control(
        "/llm/script",
        json!({"when": "PING-42", "reply": {"content": "second"}, "times": 0}),
    )
    .await;
    let body = json!({"model": model(&sb), "messages": [{"role": "user", "content": "say PING-42"}], "tools": [tool("slack_notify", "text")]});
    let (_, first) = chat(&sb, body.clone()).await;
    assert_eq!(first["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        first["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        "{\"text\":\"hi\"}"
    );
    for _ in 0..2 {
        let (_, again) = chat(&sb, body.clone()).await;
        assert_eq!(
            again["choices"][0]["message"]["content"], "second",
            "times 0 stays"
        );
    }
    let del = sb
        .http
        .delete(sb.url("/_sandbox/llm/script"))
        .send()
        .await
        .expect("delete");
    assert_eq!(del.status(), StatusCode::OK);
    let (_, default) = chat(
        &sb,
        json!({"model": model(&sb), "messages": [{"role": "user", "content": "say PING-42"}]}),
    )
    .await;
    assert!(
        default["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("Classification:")),
        "{default}"
    );
}

#[tokio::test]
async fn errors_use_openais_shape() {
    let sb = sandbox().await;
    let ok_msgs = json!([{"role": "user", "content": "hi"}]);
    let (status, _, v) = chat_with(
        &sb,
        "sk-wrong",
        json!({"model": model(&sb), "messages": ok_msgs}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let (status, v) = chat(&sb, json!({"model": model(&sb)})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["param"], "messages");
    let (status, v) = chat(
        &sb,
        json!({"model": model(&sb), "messages": ok_msgs, "stream": true}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("stream"))
    );
    let (status, _) = chat(
        &sb,
        json!({"model": model(&sb), "messages": [{"role": "tool", "content": "x"}]}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "tool message without tool_call_id"
    );
    let (status, _) = chat(&sb, json!({"model": model(&sb), "messages": ok_msgs, "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "json_schema without schema"
    );
    let (status, v) = chat(&sb, json!({"model": "gpt-nope", "messages": ok_msgs})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "model_not_found");

    sb.control(
        "/limits",
        json!({"service": "llm", "method": "requests", "per_minute": 1, "burst": 1}),
    )
    .await;
    assert_eq!(
        chat(&sb, json!({"model": model(&sb), "messages": ok_msgs}))
            .await
            .0,
        StatusCode::OK
    );
    let (status, headers, v) = chat_with(
        &sb,
        &key(&sb),
        json!({"model": model(&sb), "messages": ok_msgs}),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert!(headers.get("retry-after").is_some());
    assert_eq!(
        headers
            .get("x-ratelimit-remaining-requests")
            .and_then(|h| h.to_str().ok()),
        Some("0")
    );
    sb.control(
        "/limits",
        json!({"service": "llm", "method": "requests", "per_minute": 0}),
    )
    .await;

    sb.control(
        "/faults",
        json!({"service": "llm", "path": "/v1/chat/completions", "status": 503}),
    )
    .await;
    let (status, v) = chat(&sb, json!({"model": model(&sb), "messages": ok_msgs})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["error"]["type"], "server_error");
    let recorded = sb.requests("llm").await;
    assert!(
        recorded
            .iter()
            .any(|r| r["path"] == "/v1/chat/completions"
                && r["body"]["model"] == model(&sb).as_str())
    );
}
