//! The LLM classifier (SPEC §3 step 1): with `[llm]` configured, an OpenAI-compatible endpoint
//! answers a JSON schema; any failure (no answer, timeout, refusal, invalid JSON, a schema
//! violation) falls back to the rules, and the classification keeps the reason so the case can
//! say so.
//!
//! Invariant: alert text reaches the model only JSON-encoded inside the delimited data block of
//! the user message, with `<` and `>` escaped so no value can forge the closing marker; the
//! instructions are the prompt file alone. A returned [`Classification`] is always one of the
//! six types and four severities, whatever the model sent.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::classify::{AlertType, Classification, ClassifiedBy, Severity, classify_rules};
use super::entities::Entities;
use crate::case::Alert;
use crate::vendors::llm::client::LlmClient;
use crate::vendors::llm::models::{Chat, Message, ResponseFormat};

/// The shipped classification prompt; `[llm] classify_prompt` may name a file replacing it.
pub const DEFAULT_PROMPT: &str = include_str!("../../assets/prompts/classify.md");
/// Opens the data block of the user message.
pub const DATA_OPEN: &str = "<<<ALERT_DATA";
/// Closes it.
pub const DATA_CLOSE: &str = "ALERT_DATA>>>";
/// Longest rationale kept from the model.
pub const MAX_RATIONALE: usize = 300;
/// Longest alert text field sent to the model.
const MAX_FIELD: usize = 4000;

/// The classification prompt: the file at `path` when one is configured, else the default.
pub fn load_prompt(path: Option<&Path>) -> std::io::Result<String> {
    load_prompt_or(path, DEFAULT_PROMPT)
}

/// A prompt: the file at `path` when one is configured, else `default` (the agent's prompt
/// loads the same way).
pub fn load_prompt_or(path: Option<&Path>, default: &str) -> std::io::Result<String> {
    match path {
        Some(p) => std::fs::read_to_string(p),
        None => Ok(default.to_string()),
    }
}

/// The answer's JSON schema.
pub fn schema() -> Value {
    let types: Vec<&str> = AlertType::ALL.iter().map(|t| t.as_str()).collect();
    json!({
        "type": "object",
        "properties": {
            "alert_type": {"type": "string", "enum": types},
            "severity": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
            "rationale": {"type": "string", "maxLength": MAX_RATIONALE},
        },
        "required": ["alert_type", "severity", "rationale"],
        "additionalProperties": false,
    })
}

fn capped(s: &str) -> String {
    s.chars().take(MAX_FIELD).collect()
}

/// The alert as the model sees it: non-empty fields only, entities validated (the agent
/// sends the same object).
pub(crate) fn data(alert: &Alert, entities: &Entities) -> Value {
    let mut m = Map::new();
    for (k, v) in [
        ("name", &alert.name),
        ("description", &alert.description),
        ("source", &alert.source),
        ("product", &alert.product),
        ("tactic", &alert.tactic),
        ("technique", &alert.technique),
        ("technique_id", &alert.technique_id),
        ("severity", &alert.severity_name),
        ("filename", &alert.filename),
        ("cmdline", &alert.cmdline),
    ] {
        if !v.trim().is_empty() {
            m.insert(k.into(), Value::String(capped(v)));
        }
    }
    let mut ents = Map::new();
    for (k, v) in [
        ("hosts", &entities.hosts),
        ("users", &entities.users),
        ("ips", &entities.ips),
        ("domains", &entities.domains),
        ("urls", &entities.urls),
        ("hashes", &entities.hashes),
        ("emails", &entities.emails),
    ] {
        if !v.is_empty() {
            ents.insert(k.into(), json!(v));
        }
    }
    if !ents.is_empty() {
        m.insert("entities".into(), Value::Object(ents));
    }
    if let Some(s) = &entities.sender {
        m.insert("sender".into(), json!(s));
    }
    Value::Object(m)
}

/// The user message: the alert JSON-encoded between the markers, `<`/`>` escaped.
pub fn user_message(alert: &Alert, entities: &Entities) -> String {
    let encoded = data(alert, entities)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e");
    format!("Classify the alert below.\n{DATA_OPEN}\n{encoded}\n{DATA_CLOSE}")
}

/// The completion request.
pub fn request(prompt: &str, alert: &Alert, entities: &Entities) -> Chat {
    Chat {
        messages: vec![
            Message::system(prompt),
            Message::user(user_message(alert, entities)),
        ],
        response_format: Some(ResponseFormat::JsonSchema {
            name: "alert_classification".into(),
            schema: schema(),
            strict: true,
        }),
        temperature: Some(0.0),
        max_tokens: Some(400),
        ..Chat::default()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    alert_type: String,
    severity: String,
    rationale: String,
}

/// Reads the model's text as a classification, or says what is wrong with it.
pub fn parse_answer(content: &str) -> Result<Classification, String> {
    let a: Answer = serde_json::from_str(content.trim())
        .map_err(|e| format!("the model's answer is not the schema's JSON: {e}"))?;
    let alert_type = AlertType::from_name(&a.alert_type).ok_or_else(|| {
        format!(
            "the model answered an unknown alert type `{}`",
            a.alert_type.chars().take(40).collect::<String>()
        )
    })?;
    let severity = match a.severity.as_str() {
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        other => {
            return Err(format!(
                "the model answered an unknown severity `{}`",
                other.chars().take(40).collect::<String>()
            ));
        }
    };
    let rationale: String = a.rationale.trim().chars().take(MAX_RATIONALE).collect();
    if rationale.is_empty() {
        return Err("the model gave no rationale".into());
    }
    Ok(Classification {
        alert_type,
        severity,
        rationale,
        rule: "llm".into(),
        by: ClassifiedBy::Llm,
        fallback: None,
    })
}

/// Classifies with the model, falling back to the rules (reason kept) on any failure.
pub async fn classify(
    client: &LlmClient,
    prompt: &str,
    alert: &Alert,
    entities: &Entities,
) -> Classification {
    let answer = match client.complete(&request(prompt, alert, entities)).await {
        Err(e) => Err(format!("the model did not answer: {e}")),
        Ok(reply) => match (reply.refusal, reply.content) {
            (Some(r), _) if !r.trim().is_empty() => Err(format!(
                "the model refused: {}",
                r.chars().take(200).collect::<String>()
            )),
            (_, Some(c)) => parse_answer(&c),
            (_, None) => Err("the model's answer had no content".into()),
        },
    };
    match answer {
        Ok(c) => c,
        Err(reason) => {
            tracing::warn!(alert = %alert.id, %reason, "LLM classification fell back to the rules");
            Classification {
                fallback: Some(reason),
                ..classify_rules(alert, entities)
            }
        }
    }
}

/// The engine's entry point: the case's entities, and its classification by the model when
/// one is configured (client and prompt), else by the rules.
pub async fn triage_alert(
    llm: Option<(&LlmClient, &str)>,
    alert: &Alert,
) -> (Entities, Classification) {
    let entities = Entities::from_alert(alert);
    let classification = match llm {
        Some((client, prompt)) => classify(client, prompt, alert, &entities).await,
        None => classify_rules(alert, &entities),
    };
    (entities, classification)
}

#[cfg(test)]
mod tests;
