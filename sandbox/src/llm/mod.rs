//! The OpenAI-compatible LLM simulator (vendor-apis §13.1, SPEC §3.4), mounted under `/llm`:
//! `POST /v1/chat/completions` and `GET /v1/models`.
//!
//! - Auth: `Authorization: Bearer <api_key>`; otherwise 401 `invalid_api_key`. `model` must be
//!   the sandbox's model (404 `model_not_found` otherwise).
//! - Validation as OpenAI's: `model` and a non-empty `messages` are required, roles are
//!   `system`/`developer`/`user`/`assistant`/`tool`, a `tool` message needs `tool_call_id`,
//!   `tools` are `{"type":"function","function":{"name",…}}`, a named `tool_choice` must name an
//!   offered tool, `response_format` is `text`, `json_object` or `json_schema` with a `name` and
//!   a `schema` object. `stream: true` is refused with a clear 400 (only whole answers here).
//!   Errors: `{"error":{"message","type","param","code"}}`.
//! - Answers: `chat.completion` objects with `choices[0].message` (`content` or `tool_calls`
//!   with `call_…` ids and JSON-string `arguments`), `finish_reason` and `usage` counts (about
//!   four characters a token).
//! - Scripts first (`POST /_sandbox/llm/script` `{"when","reply":{"content"}|{"tool_calls"},
//!   "times"}` → `{"id"}`, `DELETE` removes all): the first script whose `when` is a substring
//!   of the request's messages answers, and is used up after `times` (0 = never). Otherwise
//!   the deterministic model of [`model`] answers.
//! - Rate limit: none by default; `POST /_sandbox/limits {"service":"llm","method":"requests",…}`
//!   turns one on: 429 `rate_limit_exceeded` with `retry-after` and `x-ratelimit-*-requests`.

pub mod model;
pub mod schema;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use parking_lot::Mutex;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Deserialize;
use serde_json::{Value, json};

use super::control;
use super::limits::retry_after_secs;
use super::{Sandbox, Seed};

/// One script as `POST /_sandbox/llm/script` takes it: which request it answers, how, how often.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptSpec {
    /// Substring of the request's messages that selects this script ("" matches all).
    #[serde(default)]
    pub when: String,
    /// The answer it gives, turned into a real `chat.completion` object.
    pub reply: Reply,
    /// How many answers it gives (default 1); 0 = until removed.
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

/// A scripted reply: text, or tool calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// Assistant text (`message.content`), sent exactly as given (a test scripts bad JSON this way).
    #[serde(default)]
    pub content: Option<String>,
    /// Tool calls: `{"name","arguments"}` (arguments an object, or a string sent as is).
    #[serde(default)]
    pub tool_calls: Option<Vec<ScriptedCall>>,
}

/// One scripted tool call; the simulator gives it a `call_…` id.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedCall {
    /// Function name; not checked against the request's `tools`, so a test can script a
    /// model that calls a tool it was not offered.
    pub name: String,
    /// Arguments (object → JSON string; string → sent unchanged, even if not JSON).
    #[serde(default)]
    pub arguments: Value,
}

#[derive(Debug, Clone)]
struct Script {
    id: String,
    spec: ScriptSpec,
    used: u32,
}

/// State of the LLM simulator: its scripts.
pub struct LlmSim {
    scripts: Mutex<Vec<Script>>,
}

impl LlmSim {
    /// No scripts: the default model answers everything.
    pub fn new(_seed: &Seed) -> Self {
        LlmSim {
            scripts: Mutex::new(Vec::new()),
        }
    }

    /// Drops every script (`POST /_sandbox/reset`).
    pub fn reset(&self, _seed: &Seed) {
        self.scripts.lock().clear();
    }

    /// The first live script matching `text`, counted as used.
    fn take(&self, text: &str) -> Option<Reply> {
        let mut all = self.scripts.lock();
        let i = all.iter().position(|s| text.contains(&s.spec.when))?;
        all[i].used += 1;
        let reply = all[i].spec.reply.clone();
        if all[i].spec.times != 0 && all[i].used >= all[i].spec.times {
            all.remove(i);
        }
        Some(reply)
    }
}

/// Vendor routes, mounted at `/llm`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
        .fallback(unknown_path)
}

/// Control routes under `/_sandbox/llm`.
pub fn control_routes() -> Router<Sandbox> {
    Router::new()
        .route(
            "/script",
            post(add_script).delete(clear_scripts).get(list_scripts),
        )
        .route("/script/{id}", delete(remove_script))
}

/// OpenAI's error body.
pub fn error(
    status: StatusCode,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": param, "code": code}});
    (status, Json(body)).into_response()
}

fn invalid(message: &str, param: Option<&str>) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        message,
        "invalid_request_error",
        param,
        None,
    )
}

/// The vendor's error answer for an injected fault, with `retry-after` on a 429.
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let (kind, code) = match status.as_u16() {
        400 => ("invalid_request_error", None),
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => ("permission_error", None),
        404 => ("invalid_request_error", Some("not_found")),
        429 => ("rate_limit_error", Some("rate_limit_exceeded")),
        _ => ("server_error", None),
    };
    let reason = status.canonical_reason().unwrap_or("Error");
    let mut resp = match body {
        Some(b) => (status, Json(b)).into_response(),
        None => error(status, reason, kind, None, code),
    };
    let wait = match (status, retry_after) {
        (_, Some(s)) => Some(s),
        (StatusCode::TOO_MANY_REQUESTS, None) => Some(1),
        _ => None,
    };
    if let Some(secs) = wait {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// The 401 a request without this sandbox's key gets (the error is the answer itself).
#[allow(clippy::result_large_err)]
fn authorized(sb: &Sandbox, headers: &HeaderMap) -> Result<(), Response> {
    match super::args::bearer(headers) {
        Some(k) if k == sb.credentials.llm.api_key => Ok(()),
        Some(k) => {
            let tail: String = k
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Err(error(
                StatusCode::UNAUTHORIZED,
                &format!("Incorrect API key provided: ...{tail}."),
                "invalid_request_error",
                None,
                Some("invalid_api_key"),
            ))
        }
        None => Err(error(
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error",
            None,
            None,
        )),
    }
}

fn rate_limited(sb: &Sandbox) -> Option<Response> {
    let wait = sb
        .limits
        .check("llm", "requests", &sb.credentials.llm.api_key)
        .err()?;
    let secs = retry_after_secs(wait);
    let limit = sb
        .limits
        .list()
        .into_iter()
        .find(|l| l.service == "llm" && l.method == "requests")
        .map(|l| l.per_minute)
        .unwrap_or(0);
    let mut resp = error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "Rate limit reached for requests: limit {limit} per minute. Please try again in {secs}s."
        ),
        "requests",
        None,
        Some("rate_limit_exceeded"),
    );
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    h.insert("x-ratelimit-limit-requests", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining-requests", HeaderValue::from(0));
    if let Ok(v) = HeaderValue::from_str(&format!("{secs}s")) {
        h.insert("x-ratelimit-reset-requests", v);
    }
    Some(resp)
}

/// What a request asked for, after validation.
struct Ask {
    model: String,
    messages: Vec<Value>,
    tools: Vec<Value>,
    tool_choice: Value,
    schema: Option<Value>,
    json_object: bool,
}

#[allow(clippy::result_large_err)]
fn parse_request(body: &[u8]) -> Result<Ask, Response> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        invalid(
            &format!("We could not parse the JSON body of your request. ({e})"),
            None,
        )
    })?;
    let Value::Object(req) = v else {
        return Err(invalid("The request body must be a JSON object.", None));
    };
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(invalid(
            "stream: true is not supported by this endpoint; send stream: false (or omit it) for a whole answer.",
            Some("stream"),
        ));
    }
    let model = match req.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => return Err(invalid("you must provide a model parameter", Some("model"))),
    };
    let messages = match req.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m.clone(),
        Some(Value::Array(_)) => {
            return Err(invalid("[] is too short - 'messages'", Some("messages")));
        }
        _ => {
            return Err(invalid(
                "Missing required parameter: 'messages'.",
                Some("messages"),
            ));
        }
    };
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        if !["system", "developer", "user", "assistant", "tool"].contains(&role) {
            return Err(invalid(
                &format!("Invalid value for 'messages[{i}].role': '{role}'."),
                Some(&format!("messages[{i}].role")),
            ));
        }
        if role == "tool" && !m.get("tool_call_id").is_some_and(Value::is_string) {
            return Err(invalid(
                &format!("Missing required parameter: 'messages[{i}].tool_call_id'."),
                Some(&format!("messages[{i}].tool_call_id")),
            ));
        }
    }
    let tools = match req.get("tools") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(t)) => t.clone(),
        Some(_) => return Err(invalid("'tools' must be an array.", Some("tools"))),
    };
    for (i, t) in tools.iter().enumerate() {
        if t["type"] != "function" || !t["function"]["name"].is_string() {
            return Err(invalid(
                &format!("Missing required parameter: 'tools[{i}].function.name'."),
                Some(&format!("tools[{i}]")),
            ));
        }
    }
    let tool_choice = req.get("tool_choice").cloned().unwrap_or(Value::Null);
    match &tool_choice {
        Value::Null => {}
        Value::String(s) if ["none", "auto", "required"].contains(&s.as_str()) => {}
        Value::Object(_) => {
            let name = tool_choice["function"]["name"].as_str().unwrap_or_default();
            if !tools.iter().any(|t| t["function"]["name"] == name) {
                return Err(invalid(
                    &format!(
                        "Invalid value for 'tool_choice': function '{name}' is not in 'tools'."
                    ),
                    Some("tool_choice"),
                ));
            }
        }
        _ => {
            return Err(invalid(
                "Invalid value for 'tool_choice'.",
                Some("tool_choice"),
            ));
        }
    }
    if tools.is_empty() && !tool_choice.is_null() {
        return Err(invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            Some("tool_choice"),
        ));
    }
    let mut schema = None;
    let mut json_object = false;
    if let Some(rf) = req.get("response_format").filter(|r| !r.is_null()) {
        match rf["type"].as_str() {
            Some("text") => {}
            Some("json_object") => json_object = true,
            Some("json_schema") => {
                if !rf["json_schema"]["name"].is_string() {
                    return Err(invalid(
                        "Missing required parameter: 'response_format.json_schema.name'.",
                        Some("response_format.json_schema.name"),
                    ));
                }
                match rf["json_schema"].get("schema") {
                    Some(s @ Value::Object(_)) => schema = Some(s.clone()),
                    _ => {
                        return Err(invalid(
                            "Missing required parameter: 'response_format.json_schema.schema'.",
                            Some("response_format.json_schema.schema"),
                        ));
                    }
                }
            }
            _ => {
                return Err(invalid(
                    "Invalid value for 'response_format.type': expected 'text', 'json_object' or 'json_schema'.",
                    Some("response_format.type"),
                ));
            }
        }
    }
    Ok(Ask {
        model,
        messages,
        tools,
        tool_choice,
        schema,
        json_object,
    })
}

fn call_id() -> String {
    let tail: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("call_{tail}")
}

fn tool_call(name: &str, arguments: &Value) -> Value {
    let args = match arguments {
        Value::String(s) => s.clone(),
        Value::Null => "{}".to_string(),
        other => other.to_string(),
    };
    json!({"id": call_id(), "type": "function", "function": {"name": name, "arguments": args}})
}

/// The default model's answer: (content, tool calls).
fn default_answer(ask: &Ask) -> (Option<String>, Vec<Value>) {
    let offered: Vec<String> = ask
        .tools
        .iter()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
        .collect();
    let may_call = !offered.is_empty() && ask.tool_choice != json!("none");
    if may_call {
        let made = model::made_calls(&ask.messages);
        let plan = model::planned_calls(
            &model::runbook(&ask.messages),
            &offered,
            &model::entities(&ask.messages),
        );
        let forced = ask.tool_choice["function"]["name"].as_str();
        let next = plan.iter().find(|(n, a)| {
            !made.iter().any(|(mn, ma)| mn == n && ma == a) && forced.is_none_or(|f| f == n)
        });
        if let Some((name, args)) = next {
            return (None, vec![tool_call(name, args)]);
        }
        let must = forced
            .map(str::to_string)
            .or_else(|| (ask.tool_choice == json!("required")).then(|| offered[0].clone()));
        if let Some(name) = must {
            let params = ask
                .tools
                .iter()
                .find(|t| t["function"]["name"] == name.as_str())
                .map(|t| t["function"]["parameters"].clone())
                .unwrap_or(json!({"type": "object"}));
            let c = model::classify(&ask.messages);
            return (
                None,
                vec![tool_call(
                    &name,
                    &schema::generate(&params, &model::hints(&c)),
                )],
            );
        }
    }
    let c = model::classify(&ask.messages);
    if let Some(s) = &ask.schema {
        return (
            Some(schema::generate(s, &model::hints(&c)).to_string()),
            vec![],
        );
    }
    if ask.json_object {
        return (Some(json!({"alert_type": c.alert_type, "severity": c.severity, "rationale": c.rationale}).to_string()), vec![]);
    }
    let made = model::made_calls(&ask.messages);
    let text = if made.is_empty() {
        format!(
            "Classification: {} (severity {}). {}",
            c.alert_type, c.severity, c.rationale
        )
    } else {
        let names: Vec<String> = made.iter().map(|(n, _)| n.clone()).collect();
        format!(
            "Done: ran {} step(s) of the runbook: {}.",
            made.len(),
            names.join(", ")
        )
    };
    (Some(text), vec![])
}

fn tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(4)).unwrap_or(u64::MAX).max(1)
}

/// `POST /v1/chat/completions`.
async fn completions(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorized(&sb, &headers) {
        return r;
    }
    if let Some(r) = rate_limited(&sb) {
        return r;
    }
    let ask = match parse_request(&body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if ask.model != sb.credentials.llm.model {
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "The model `{}` does not exist or you do not have access to it.",
                ask.model
            ),
            "invalid_request_error",
            None,
            Some("model_not_found"),
        );
    }
    let text = model::all_text(&ask.messages);
    let (content, calls) = match sb.llm.take(&text) {
        Some(reply) => match reply.tool_calls {
            Some(calls) if !calls.is_empty() => (
                reply.content,
                calls
                    .iter()
                    .map(|c| tool_call(&c.name, &c.arguments))
                    .collect(),
            ),
            _ => (Some(reply.content.unwrap_or_default()), vec![]),
        },
        None => default_answer(&ask),
    };
    let mut message =
        json!({"role": "assistant", "content": content, "refusal": null, "annotations": []});
    let finish = if calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    let completion_chars = content.as_deref().map(str::len).unwrap_or(0)
        + calls.iter().map(|c| c.to_string().len()).sum::<usize>();
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let prompt = tokens(body.len());
    let completion = tokens(completion_chars);
    let id: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(29)
        .map(char::from)
        .collect();
    let answer = json!({
        "id": format!("chatcmpl-{id}"),
        "object": "chat.completion",
        "created": chrono::Utc::now().timestamp(),
        "model": ask.model,
        "system_fingerprint": "fp_vigil_sandbox",
        "service_tier": "default",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        },
    });
    let mut resp = Json(answer).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("req_{}", uuid::Uuid::new_v4().simple())) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// `GET /v1/models`: the one model this endpoint serves.
async fn models(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&sb, &headers) {
        return r;
    }
    Json(json!({"object": "list", "data": [{"id": sb.credentials.llm.model, "object": "model", "created": 1_736_154_000, "owned_by": "vigil-sandbox"}]})).into_response()
}

async fn unknown_path(uri: axum::http::Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("Invalid URL (POST {})", uri.path()),
        "invalid_request_error",
        None,
        None,
    )
}

async fn add_script(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let spec = match control::parse_body::<ScriptSpec>(&body) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let has_calls = spec
        .reply
        .tool_calls
        .as_ref()
        .is_some_and(|c| !c.is_empty());
    if spec.reply.content.is_none() && !has_calls {
        return control::bad_request("reply needs content or tool_calls");
    }
    let id = format!("scr_{}", uuid::Uuid::new_v4().simple());
    sb.llm.scripts.lock().push(Script {
        id: id.clone(),
        spec,
        used: 0,
    });
    Json(json!({"id": id})).into_response()
}

async fn clear_scripts(State(sb): State<Sandbox>) -> Json<Value> {
    sb.llm.scripts.lock().clear();
    Json(json!({"ok": true}))
}

async fn remove_script(
    State(sb): State<Sandbox>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let mut all = sb.llm.scripts.lock();
    let before = all.len();
    all.retain(|s| s.id != id);
    if all.len() == before {
        return control::error(StatusCode::NOT_FOUND, format!("no script {id}"));
    }
    Json(json!({"ok": true})).into_response()
}

async fn list_scripts(State(sb): State<Sandbox>) -> Json<Value> {
    let all: Vec<Value> = sb
        .llm
        .scripts
        .lock()
        .iter()
        .map(|s| json!({"id": s.id, "when": s.spec.when, "times": s.spec.times, "used": s.used}))
        .collect();
    Json(json!({"scripts": all}))
}
