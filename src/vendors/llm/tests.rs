//! LLM client tests against scripted answers (wiremock): the request's standard fields and
//! bearer key, strict tool-call parsing, the follow-up turn, OpenAI's error body, the 429
//! `retry-after`, the quota 429 that is not retried, and the timeout.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::client::LlmClient;
use super::config::LlmConfig;
use super::models::{Chat, Message, ResponseFormat, Tool, ToolChoice};
use crate::config::secret::Secret;
use crate::vendors::outbound::{RetryPolicy, capture_retries};

fn config(server: &MockServer, key: Option<&str>) -> LlmConfig {
    LlmConfig {
        base_url: format!("{}/v1", server.uri()),
        api_key_file: None,
        model: "gpt-test".into(),
        timeout: Duration::from_secs(5),
        api_key: key.map(Secret::new),
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(2),
        jitter: false,
        ..RetryPolicy::default()
    }
}

fn client_with(config: LlmConfig) -> LlmClient {
    match LlmClient::new(config) {
        Ok(c) => c.with_retry_policy(policy()),
        Err(e) => panic!("client: {e}"),
    }
}

fn client(server: &MockServer) -> LlmClient {
    client_with(config(server, Some("sk-test")))
}

fn completion(message: Value, finish: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-test",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    })
}

fn lookup_tool() -> Tool {
    Tool {
        name: "okta_get_user".into(),
        description: "Look a user up".into(),
        parameters: json!({"type": "object", "properties": {"user": {"type": "string"}},
                           "required": ["user"], "additionalProperties": false}),
        strict: true,
    }
}

fn call(id: &str, args: &str) -> Value {
    json!({"id": id, "type": "function", "function": {"name": "okta_get_user", "arguments": args}})
}

#[tokio::test]
async fn a_tool_turn_sends_only_standard_fields_and_parses_the_calls() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-test"))
        .and(body_json(json!({
            "model": "gpt-test",
            "messages": [{"role": "system", "content": "triage"}, {"role": "user", "content": "alert"}],
            "tools": [{"type": "function", "function": {
                "name": "okta_get_user", "description": "Look a user up", "strict": true,
                "parameters": {"type": "object", "properties": {"user": {"type": "string"}},
                               "required": ["user"], "additionalProperties": false}}}],
            "tool_choice": {"type": "function", "function": {"name": "okta_get_user"}},
            "temperature": 0.0
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            json!({"role": "assistant", "content": null,
                   "tool_calls": [call("call_a", "{\"user\":\"carol@acme.example\"}")]}),
            "tool_calls",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let chat = Chat {
        messages: vec![Message::system("triage"), Message::user("alert")],
        tools: vec![lookup_tool()],
        tool_choice: Some(ToolChoice::Function("okta_get_user".into())),
        temperature: Some(0.0),
        ..Chat::default()
    };
    let reply = client(&server)
        .complete(&chat)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reply.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(reply.tool_calls.len(), 1);
    let c = &reply.tool_calls[0];
    assert_eq!(
        (c.id.as_str(), c.name.as_str()),
        ("call_a", "okta_get_user")
    );
    assert_eq!(c.arguments.get("user"), Some(&json!("carol@acme.example")));
    assert_eq!(reply.usage.map(|u| u.total_tokens), Some(15));
}

#[tokio::test]
async fn the_follow_up_resends_the_assistant_calls_then_the_tool_results() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_json(json!({
            "model": "gpt-test",
            "messages": [
                {"role": "user", "content": "alert"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_a", "type": "function",
                     "function": {"name": "okta_get_user", "arguments": "{\"user\":\"c\"}"}}]},
                {"role": "tool", "tool_call_id": "call_a", "content": "{\"status\":\"ACTIVE\"}"}
            ],
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "triage", "strict": true,
                "schema": {"type": "object", "properties": {"alert_type": {"type": "string"}}}}}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            json!({"role": "assistant", "content": "{\"alert_type\":\"phishing\"}"}),
            "stop",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let first = super::models::Completion {
        id: None,
        model: None,
        choices: vec![super::models::Choice {
            message: super::models::AnswerMessage {
                content: None,
                refusal: None,
                tool_calls: Some(vec![super::models::RawToolCall {
                    id: Some("call_a".into()),
                    kind: Some("function".into()),
                    function: super::models::RawFunction {
                        name: "okta_get_user".into(),
                        arguments: json!("{\"user\":\"c\"}"),
                    },
                }]),
            },
            finish_reason: Some("tool_calls".into()),
        }],
        usage: None,
    }
    .into_reply()
    .unwrap_or_else(|e| panic!("{e}"));
    let chat = Chat {
        messages: vec![
            Message::user("alert"),
            first.assistant_message(),
            Message::tool("call_a", "{\"status\":\"ACTIVE\"}"),
        ],
        response_format: Some(ResponseFormat::JsonSchema {
            name: "triage".into(),
            schema: json!({"type": "object", "properties": {"alert_type": {"type": "string"}}}),
            strict: true,
        }),
        ..Chat::default()
    };
    let reply = client(&server)
        .complete(&chat)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reply.json().ok(), Some(json!({"alert_type": "phishing"})));
}

#[tokio::test]
async fn unreadable_tool_arguments_are_refused() {
    for (args, says) in [
        (json!("{\"user\": "), "not valid JSON"),
        (json!("[1,2]"), "not a JSON object"),
        (json!({"user": "c"}), "not a JSON string"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion(
                json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_x", "type": "function",
                     "function": {"name": "okta_get_user", "arguments": args}}]}),
                "tool_calls",
            )))
            .expect(1)
            .mount(&server)
            .await;
        let chat = Chat {
            messages: vec![Message::user("x")],
            ..Chat::default()
        };
        let err = client(&server).complete(&chat).await.err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.starts_with(
                "llm chat completion: unexpected answer: tool call call_x (okta_get_user)"
            ) && text.contains(says),
            "{text}"
        );
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            json!({"role": "assistant", "tool_calls": [call("call_d", "{}"), call("call_d", "{}")]}),
            "tool_calls",
        )))
        .mount(&server)
        .await;
    let chat = Chat {
        messages: vec![Message::user("x")],
        ..Chat::default()
    };
    let err = client(&server)
        .complete(&chat)
        .await
        .err()
        .map(|e| e.to_string());
    assert!(err.unwrap_or_default().contains("used twice"));
}

#[tokio::test]
async fn no_key_means_no_authorization_header_for_local_servers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(|req: &Request| {
            if req.headers.contains_key("authorization") {
                ResponseTemplate::new(400)
            } else {
                ResponseTemplate::new(200)
                    .set_body_json(json!({"object": "list", "data": [{"id": "llama3.1"}]}))
            }
        })
        .expect(1)
        .mount(&server)
        .await;
    let models = client_with(config(&server, None)).models().await;
    assert_eq!(models.ok(), Some(vec!["llama3.1".to_string()]));
}

#[tokio::test]
async fn errors_carry_openais_message_and_code() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "message": "Incorrect API key provided: ...test.", "type": "invalid_request_error",
            "param": null, "code": "invalid_api_key"}})))
        .expect(1)
        .mount(&server)
        .await;
    let chat = Chat {
        messages: vec![Message::user("x")],
        ..Chat::default()
    };
    let err = client(&server).complete(&chat).await.err();
    assert_eq!(err.as_ref().and_then(|e| e.status()), Some(401));
    assert_eq!(
        err.map(|e| e.to_string()).unwrap_or_default(),
        "llm chat completion: HTTP 401: Incorrect API key provided: ...test. [invalid_api_key]"
    );
}

#[tokio::test]
async fn a_rate_limit_429_waits_retry_after_but_an_exhausted_quota_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": {"message": "Rate limit reached",
                    "type": "requests", "code": "rate_limit_exceeded"}})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            json!({"role": "assistant", "content": "ok"}),
            "stop",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let chat = Chat {
        messages: vec![Message::user("x")],
        ..Chat::default()
    };
    let (reply, retries) = capture_retries(client(&server).complete(&chat)).await;
    assert_eq!(reply.ok().and_then(|r| r.content), Some("ok".to_string()));
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].wait, Duration::from_secs(1));

    let broke = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"error": {
            "message": "You exceeded your current quota", "type": "insufficient_quota",
            "code": "insufficient_quota"}})))
        .expect(1)
        .mount(&broke)
        .await;
    let (reply, retries) = capture_retries(client(&broke).complete(&chat)).await;
    assert_eq!(reply.err().and_then(|e| e.status()), Some(429));
    assert!(retries.is_empty());
}

#[tokio::test]
async fn the_configured_timeout_bounds_a_completion() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(3))
                .set_body_json(completion(
                    json!({"role": "assistant", "content": "late"}),
                    "stop",
                )),
        )
        .mount(&server)
        .await;
    let mut cfg = config(&server, Some("sk-test"));
    cfg.timeout = Duration::from_secs(1);
    let llm = match LlmClient::new(cfg) {
        Ok(c) => c.with_retry_policy(RetryPolicy::no_retry()),
        Err(e) => panic!("{e}"),
    };
    let chat = Chat {
        messages: vec![Message::user("x")],
        ..Chat::default()
    };
    let started = std::time::Instant::now();
    let err = llm.complete(&chat).await.err().map(|e| e.to_string());
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("could not reach")),
        "{err:?}"
    );
}
