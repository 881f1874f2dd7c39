//! The chat-completions wire types (vendor-apis §13.1), limited to the fields every
//! OpenAI-compatible server takes: `model`, `messages`, `tools`, `tool_choice`,
//! `response_format`, `temperature`, `max_tokens`. (Ollama ignores `tool_choice`; nothing
//! else here is vendor-specific.)
//!
//! Invariant: a [`Reply`] only exists once every tool call in it has an id, a name and
//! arguments that parsed as a JSON object, so a caller never executes half-read arguments.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// One message of the conversation, tagged by `role`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    /// Vigil's instructions (the only trusted text in the conversation).
    System {
        /// Vigil's instructions; hostile text goes in a `User` message's delimited data instead.
        content: String,
    },
    /// The user's turn (for Vigil: the case data, delimited as data).
    User {
        /// The case data, inside delimited data fields (attacker-controlled).
        content: String,
    },
    /// A model turn sent back in a follow-up, with the tool calls it made.
    Assistant {
        /// The text, `null` when it only called tools.
        content: Option<String>,
        /// The calls, exactly as the model sent them.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<WireToolCall>,
    },
    /// One tool's result, answering the call with that id.
    Tool {
        /// The `id` of the call this answers.
        tool_call_id: String,
        /// The result as text (usually JSON).
        content: String,
    },
}

impl Message {
    /// A system message: Vigil's instructions.
    pub fn system(content: impl Into<String>) -> Self {
        Message::System {
            content: content.into(),
        }
    }

    /// A user message: the data the model works on, delimited as data.
    pub fn user(content: impl Into<String>) -> Self {
        Message::User {
            content: content.into(),
        }
    }

    /// The result of the tool call `id`.
    pub fn tool(id: impl Into<String>, content: impl Into<String>) -> Self {
        Message::Tool {
            tool_call_id: id.into(),
            content: content.into(),
        }
    }
}

/// A tool call as it goes over the wire (`arguments` a JSON string).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireToolCall {
    /// The call's id (`call_…`), which the `tool` message answering it repeats.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Name and arguments.
    pub function: WireFunction,
}

/// `function` of a wire tool call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireFunction {
    /// Function name.
    pub name: String,
    /// Arguments as the JSON string the model sent.
    pub arguments: String,
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// Function name (`okta_get_user`).
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON schema of its arguments (an object schema).
    pub parameters: Value,
    /// Ask the server to hold the arguments to the schema exactly (OpenAI `strict`).
    pub strict: bool,
}

impl Serialize for Tool {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut function = serde_json::json!({
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        });
        if self.strict {
            function["strict"] = Value::Bool(true);
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("type", "function")?;
        m.serialize_entry("function", &function)?;
        m.end()
    }
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    /// `"auto"`: the model decides.
    Auto,
    /// `"none"`: text only.
    None,
    /// `"required"`: some tool.
    Required,
    /// `{"type":"function","function":{"name"}}`: this tool.
    Function(String),
}

impl Serialize for ToolChoice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ToolChoice::Auto => s.serialize_str("auto"),
            ToolChoice::None => s.serialize_str("none"),
            ToolChoice::Required => s.serialize_str("required"),
            ToolChoice::Function(name) => serde_json::json!({
                "type": "function",
                "function": {"name": name},
            })
            .serialize(s),
        }
    }
}

/// The shape of the answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON valid against `schema` (OpenAI structured outputs).
    JsonSchema {
        /// Schema name (`triage`).
        name: String,
        /// The JSON schema.
        schema: Value,
        /// Ask for strict adherence.
        strict: bool,
    },
}

impl Serialize for ResponseFormat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ResponseFormat::Text => serde_json::json!({"type": "text"}).serialize(s),
            ResponseFormat::JsonObject => serde_json::json!({"type": "json_object"}).serialize(s),
            ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            } => serde_json::json!({
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": strict},
            })
            .serialize(s),
        }
    }
}

/// One completion request, without the model (the client adds the configured one).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Chat {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Functions the model may call.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// Which of them, if any, it must call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Text, a JSON object, or JSON against a schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Sampling temperature (0 for repeatable answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Cap on the answer's tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

/// Token counts the server reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    /// Tokens of the prompt (`prompt_tokens`).
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens of the answer (`completion_tokens`).
    #[serde(default)]
    pub completion_tokens: u64,
    /// `total_tokens`: prompt plus answer, as the server counts it.
    #[serde(default)]
    pub total_tokens: u64,
}

/// A tool call the model made, its arguments parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The id a `tool` message must answer.
    pub id: String,
    /// Function name.
    pub name: String,
    /// Arguments, a JSON object.
    pub arguments: Map<String, Value>,
    /// The arguments exactly as sent, to echo back in the follow-up.
    pub raw_arguments: String,
}

/// The model's answer (first choice).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The completion's id (`chatcmpl-…`), for matching a reply to the server's logs.
    pub id: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// Text (for a schema answer: the JSON text).
    pub content: Option<String>,
    /// A refusal, when the model declined.
    pub refusal: Option<String>,
    /// Tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// `stop`, `tool_calls`, `length`, `content_filter`.
    pub finish_reason: Option<String>,
    /// Token counts.
    pub usage: Option<Usage>,
}

impl Reply {
    /// The assistant message to send back before the `tool` results of a follow-up turn.
    pub fn assistant_message(&self) -> Message {
        Message::Assistant {
            content: self.content.clone(),
            tool_calls: self
                .tool_calls
                .iter()
                .map(|c| WireToolCall {
                    id: c.id.clone(),
                    kind: "function",
                    function: WireFunction {
                        name: c.name.clone(),
                        arguments: c.raw_arguments.clone(),
                    },
                })
                .collect(),
        }
    }

    /// The content parsed as JSON (a `json_schema` / `json_object` answer).
    pub fn json(&self) -> Result<Value, String> {
        let text = self.content.as_deref().unwrap_or_default();
        serde_json::from_str(text).map_err(|e| format!("the answer is not JSON: {e}"))
    }
}

/// `POST /chat/completions`'s answer as sent.
#[derive(Debug, Deserialize)]
pub struct Completion {
    /// The completion's id (`chatcmpl-…`).
    #[serde(default)]
    pub id: Option<String>,
    /// The model that answered.
    #[serde(default)]
    pub model: Option<String>,
    /// Choices (Vigil asks for one).
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One entry of `choices`: a candidate answer (Vigil reads only the first).
#[derive(Debug, Deserialize)]
pub struct Choice {
    /// The assistant message of this choice.
    pub message: AnswerMessage,
    /// Why it stopped.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The assistant message of a choice.
#[derive(Debug, Deserialize)]
pub struct AnswerMessage {
    /// The answer's text (attacker-influenced: treat as data); `null` when it only called
    /// tools.
    #[serde(default)]
    pub content: Option<String>,
    /// The model's refusal text (structured-output servers set it instead of `content`).
    #[serde(default)]
    pub refusal: Option<String>,
    /// Tool calls as sent.
    #[serde(default)]
    pub tool_calls: Option<Vec<RawToolCall>>,
}

/// A tool call as sent.
#[derive(Debug, Deserialize)]
pub struct RawToolCall {
    /// `id`, which a reply must answer; [`Completion`] refuses a call without one.
    #[serde(default)]
    pub id: Option<String>,
    /// `type`: `function` for every call the standard defines.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Name and arguments.
    pub function: RawFunction,
}

/// `function` of a tool call as sent.
#[derive(Debug, Deserialize)]
pub struct RawFunction {
    /// Function name.
    #[serde(default)]
    pub name: String,
    /// The JSON string of the arguments.
    #[serde(default)]
    pub arguments: Value,
}

/// `GET /models`'s answer.
#[derive(Debug, Deserialize)]
pub struct ModelList {
    /// The models the endpoint serves (what `vigil doctor` checks `model` against).
    #[serde(default)]
    pub data: Vec<ModelEntry>,
}

/// One model of the list.
#[derive(Debug, Deserialize)]
pub struct ModelEntry {
    /// The name to put in `model`.
    pub id: String,
}

impl Completion {
    /// The first choice as a [`Reply`], refusing a tool call without an id or name, a
    /// repeated id, or arguments that are not a JSON object (string-encoded, as the standard
    /// says).
    pub fn into_reply(self) -> Result<Reply, String> {
        let Some(choice) = self.choices.into_iter().next() else {
            return Err("no choices in the answer".into());
        };
        let mut calls: Vec<ToolCall> = Vec::new();
        for (i, raw) in choice
            .message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let id = raw.id.filter(|s| !s.is_empty());
            let Some(id) = id else {
                return Err(format!("tool call {i} has no id"));
            };
            if raw.kind.as_deref().is_some_and(|k| k != "function") {
                return Err(format!("tool call {id} is not a function call"));
            }
            let name = raw.function.name;
            if name.is_empty() {
                return Err(format!("tool call {id} has no function name"));
            }
            if calls.iter().any(|c| c.id == id) {
                return Err(format!("tool call id {id} is used twice"));
            }
            let Value::String(raw_arguments) = raw.function.arguments else {
                return Err(format!(
                    "tool call {id} ({name}): arguments are not a JSON string"
                ));
            };
            let arguments = match serde_json::from_str::<Value>(&raw_arguments) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(format!(
                        "tool call {id} ({name}): arguments are not a JSON object"
                    ));
                }
                Err(e) => {
                    return Err(format!(
                        "tool call {id} ({name}): arguments are not valid JSON: {e}"
                    ));
                }
            };
            calls.push(ToolCall {
                id,
                name,
                arguments,
                raw_arguments,
            });
        }
        Ok(Reply {
            id: self.id,
            model: self.model,
            content: choice.message.content,
            refusal: choice.message.refusal,
            tool_calls: calls,
            finish_reason: choice.finish_reason,
            usage: self.usage,
        })
    }
}
