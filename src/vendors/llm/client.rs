//! OpenAI-compatible chat-completions client (vendor-apis §13): `POST {base_url}/chat/completions`
//! with a bearer key (none for local servers), the configured model and timeout, and
//! `GET {base_url}/models` for `vigil doctor`. Calls go through the vendor's [`Outbound`]
//! scheduler: a 429 `rate_limit_exceeded` waits its `retry-after`, a 5xx or a broken
//! connection backs off; a 429 `insufficient_quota` (billing, not pace) is returned at once.

use serde::Serialize;
use serde_json::Value;

use super::config::LlmConfig;
use super::models::{Chat, Completion, ModelList, Reply};
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};
use crate::vendors::outbound::{self, Outbound, RetryPolicy};

const VENDOR: &str = "llm";
/// The error code of an exhausted quota, which waiting does not fix.
const INSUFFICIENT_QUOTA: &str = "insufficient_quota";

/// A client for one endpoint and model.
pub struct LlmClient {
    http: reqwest::Client,
    config: LlmConfig,
    outbound: Outbound,
}

/// The error text of an OpenAI-shaped body (`{"error":{"message","code"}}`, or Ollama's
/// `{"error":"…"}`), with the code in brackets: `Rate limit reached … [rate_limit_exceeded]`.
pub fn error_message(v: &Value) -> Option<String> {
    let e = v.get("error")?;
    if let Some(s) = e.as_str() {
        return Some(s.to_string());
    }
    let message = e.get("message").and_then(Value::as_str).unwrap_or("error");
    match e.get("code").and_then(Value::as_str) {
        Some(code) => Some(format!("{message} [{code}]")),
        None => Some(message.to_string()),
    }
}

fn is_quota_exhausted(e: &VendorError) -> bool {
    matches!(e, VendorError::Status { status: 429, message, .. }
        if message.ends_with(&format!("[{INSUFFICIENT_QUOTA}]")))
}

/// A pace no OpenAI tier or local server minds; the server's own 429 is honoured on top.
fn quota() -> governor::Quota {
    outbound::per_minute(120, 10)
}

/// Completions are slow and a timeout is already a long wait: fewer attempts than others.
fn default_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    }
}

#[derive(Serialize)]
struct Wire<'a> {
    model: &'a str,
    #[serde(flatten)]
    chat: &'a Chat,
}

impl LlmClient {
    /// A client for the configured endpoint with the default retry policy. It makes no call,
    /// so a bad credential shows on first use (or in `vigil doctor`); it fails only if the HTTP
    /// client cannot be built.
    pub fn new(config: LlmConfig) -> Result<Self, VendorError> {
        Ok(LlmClient {
            http: http::client()?,
            config,
            outbound: Outbound::new("LLM", quota(), default_policy()),
        })
    }

    /// The same client with another retry policy (tests, or a pipeline with its own budget).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.outbound = Outbound::new("LLM", quota(), policy);
        self
    }

    /// The configured model name, sent as `model` in every request (and checked by `vigil doctor`).
    pub fn model(&self) -> &str {
        &self.config.model
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self
            .http
            .request(method, format!("{}{path}", self.config.base_url))
            .header("accept", "application/json")
            .timeout(self.config.timeout);
        match &self.config.api_key {
            Some(key) => req.bearer_auth(key.expose()),
            None => req,
        }
    }

    /// `POST {base_url}/chat/completions` with the configured model: the first choice, its
    /// tool calls' arguments parsed (an answer with unreadable arguments is an error).
    pub async fn complete(&self, chat: &Chat) -> Result<Reply, VendorError> {
        const CALL: &str = "chat completion";
        let wire = Wire {
            model: &self.config.model,
            chat,
        };
        let answer = self
            .outbound
            .call("requests", CALL, || async {
                let sent = http::send::<Completion>(
                    VENDOR,
                    CALL,
                    self.request(reqwest::Method::POST, "/chat/completions")
                        .json(&wire),
                    RetrySignal::RetryAfterSeconds,
                    error_message,
                )
                .await;
                match sent {
                    // Permanent: handed through the scheduler as a success so it is not retried.
                    Err(e) if is_quota_exhausted(&e) => Ok(Err(e)),
                    other => other.map(Ok),
                }
            })
            .await??;
        answer.into_reply().map_err(|message| VendorError::Decode {
            vendor: VENDOR,
            call: CALL,
            message,
        })
    }

    /// `GET {base_url}/models`: the model names the endpoint serves.
    pub async fn models(&self) -> Result<Vec<String>, VendorError> {
        const CALL: &str = "list models";
        let list: ModelList = self
            .outbound
            .call("requests", CALL, || async {
                http::send(
                    VENDOR,
                    CALL,
                    self.request(reqwest::Method::GET, "/models"),
                    RetrySignal::RetryAfterSeconds,
                    error_message,
                )
                .await
            })
            .await?;
        Ok(list.data.into_iter().map(|m| m.id).collect())
    }
}
