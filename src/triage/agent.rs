//! The agent loop's pure part (SPEC §3 step 4 with an LLM): the chat request of one turn and
//! what the model's answer means.
//!
//! Invariant: the instructions are the prompt file alone. Alert, SOP and vendor text reach the
//! model only as data: the case JSON-encoded between [`CASE_OPEN`] and [`CASE_CLOSE`] with `<`
//! and `>` escaped, the SOP text between [`SOP_OPEN`] and [`SOP_CLOSE`] with `<` and `>`
//! replaced (neither can forge a closing marker), and each earlier call's result as a
//! JSON tool message answering that call. The model is offered only the allowlisted tools, and
//! whatever it answers is a proposal: every call still goes through the guard.

use serde_json::{Map, Value, json};

use super::tools::{ToolName, llm_tools};
use crate::case::Case;
use crate::case::remediation::ToolCall;
use crate::vendors::llm::models::{Chat, Message, Reply, ToolChoice, WireFunction, WireToolCall};

/// The shipped agent prompt; `[remediation] agent_prompt` may name a file replacing it.
pub const DEFAULT_PROMPT: &str = include_str!("../../assets/prompts/agent.md");
/// Opens the case data block.
pub const CASE_OPEN: &str = "<<<CASE_DATA";
/// Closes it.
pub const CASE_CLOSE: &str = "CASE_DATA>>>";
/// Opens the SOP text block.
pub const SOP_OPEN: &str = "<<<SOP_DATA";
/// Closes it.
pub const SOP_CLOSE: &str = "SOP_DATA>>>";
/// Longest SOP text sent.
const MAX_SOP: usize = 12_000;
/// Most tool calls taken from one answer; the rest are dropped (and said so).
pub const MAX_CALLS_PER_TURN: usize = 8;
/// Longest closing summary read from the model.
const MAX_FINAL: usize = 4000;

/// JSON with `<` and `>` escaped, so no value can forge a marker.
fn encoded(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
}

/// Free text made safe inside a block: angle brackets become look-alikes, so no `>>>` or
/// `<<<` can close or open a block.
fn defanged(text: &str) -> String {
    text.chars()
        .take(MAX_SOP)
        .map(|c| match c {
            '<' => '‹',
            '>' => '›',
            c => c,
        })
        .collect()
}

/// The case as the model sees it: id, the alert's fields, entities, classification, the SOP's
/// title.
fn case_data(case: &Case) -> Value {
    let Some(t) = case.triage.as_ref() else {
        return json!({"case": case.id.as_str()});
    };
    let mut data = match super::llm_classify::data(&case.alert, &t.entities) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    data.insert("case".into(), json!(case.id.as_str()));
    data.insert(
        "classification".into(),
        json!({
            "alert_type": t.classification.alert_type.as_str(),
            "severity": t.classification.severity.as_str(),
            "rationale": t.classification.rationale,
        }),
    );
    if let Some(sop) = t.sop_ref() {
        data.insert("sop_title".into(), json!(sop.title));
    }
    Value::Object(data)
}

/// The user message: the case between its markers, then the SOP text between its own.
pub fn user_message(case: &Case) -> String {
    let sop = case
        .triage
        .as_ref()
        .and_then(|t| t.sop_ref())
        .map(|s| defanged(&s.text))
        .unwrap_or_else(|| "(no SOP text)".into());
    format!(
        "Investigate the case below with the tools offered, following its SOP.\n\
         {CASE_OPEN}\n{}\n{CASE_CLOSE}\n{SOP_OPEN}\n{sop}\n{SOP_CLOSE}",
        encoded(&case_data(case))
    )
}

/// The wire id of call `id` (stable across turns, so each result answers its call).
fn wire_id(id: u32) -> String {
    format!("call_vigil_{id}")
}

/// One earlier call as the model sees it: its request and its result (status, summary and the
/// bounded detail when it ran).
fn history(call: &ToolCall, detail: Option<&Value>) -> [Message; 2] {
    let asked = Message::Assistant {
        content: None,
        tool_calls: vec![WireToolCall {
            id: wire_id(call.id),
            kind: "function",
            function: WireFunction {
                name: call.name.clone(),
                arguments: Value::Object(call.args.clone()).to_string(),
            },
        }],
    };
    let mut result = json!({"status": call.status.text()});
    if let Some(d) = detail {
        result["detail"] = d.clone();
    }
    [asked, Message::tool(wire_id(call.id), encoded(&result))]
}

/// One turn's request: the prompt, the case and SOP as data, every call so far with its
/// result, and the allowlisted tools.
pub fn request(prompt: &str, case: &Case, allowlist: &[ToolName]) -> Chat {
    let mut messages = vec![Message::system(prompt), Message::user(user_message(case))];
    if let Some(t) = case.triage.as_ref() {
        for c in &t.calls {
            messages.extend(history(c, t.details.get(&c.id)));
        }
    }
    let tools = llm_tools(allowlist);
    Chat {
        messages,
        tool_choice: (!tools.is_empty()).then_some(ToolChoice::Auto),
        tools,
        temperature: Some(0.0),
        max_tokens: Some(1000),
        ..Chat::default()
    }
}

/// A tool call the model proposed.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The function name as sent.
    pub name: String,
    /// Its arguments (a JSON object).
    pub args: Map<String, Value>,
}

/// What one answer means.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The model proposed calls (at most [`MAX_CALLS_PER_TURN`]; `dropped` more were cut).
    Calls {
        /// The proposals, in order.
        calls: Vec<Proposal>,
        /// How many more the answer held.
        dropped: usize,
    },
    /// The closing summary (trimmed, bounded).
    Final(String),
    /// Nothing usable; why, in words.
    Unusable(String),
}

/// Reads the model's answer.
pub fn parse(reply: &Reply) -> Answer {
    if let Some(r) = reply.refusal.as_deref().filter(|r| !r.trim().is_empty()) {
        return Answer::Unusable(format!(
            "the model refused: {}",
            r.chars().take(200).collect::<String>()
        ));
    }
    if !reply.tool_calls.is_empty() {
        let dropped = reply.tool_calls.len().saturating_sub(MAX_CALLS_PER_TURN);
        let calls = reply
            .tool_calls
            .iter()
            .take(MAX_CALLS_PER_TURN)
            .map(|c| Proposal {
                name: c.name.clone(),
                args: c.arguments.clone(),
            })
            .collect();
        return Answer::Calls { calls, dropped };
    }
    match reply.content.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => Answer::Final(text.chars().take(MAX_FINAL).collect()),
        _ => Answer::Unusable("the model answered neither tool calls nor a summary".into()),
    }
}

/// The tools a case's agent may be offered: its runbook's tools when the SOP has a parsed
/// runbook, else `default` (`[remediation] default_allowlist`).
pub fn allowlist(case: &Case, default: &[ToolName]) -> Vec<ToolName> {
    use crate::case::remediation::RunbookState;
    match case.triage.as_ref().and_then(|t| t.sop_ref()) {
        Some(sop) => match &sop.runbook {
            RunbookState::Parsed { allowlist, .. } => allowlist.clone(),
            _ => default.to_vec(),
        },
        None => default.to_vec(),
    }
}

#[cfg(test)]
mod tests;
