//! The unscripted model: deterministic, and well-behaved. It reads only what a request holds:
//!
//! - **Classification.** The alert type comes from keywords in the user messages (checked in
//!   this order: phishing, c2, data exfiltration, suspicious login, malware; else `other`),
//!   the severity from a severity word or the type, with a one-line rationale naming the
//!   keyword. With `response_format` `json_schema` the answer is generated from the schema
//!   (see [`super::schema`]) with those values as hints, so it always validates.
//! - **Tool calls.** Given `tools` and an SOP runbook in the messages (a JSON array of
//!   `{"tool","args"}` steps, usually inside the `vigil-runbook` macro), it proposes the
//!   runbook's steps as `tool_calls`, one per turn, in order, with placeholders (`{{host}}`,
//!   `{{ip}}`, …) filled from the case entities found in the messages (a JSON object with an
//!   `entities` map in the generic alert shape); a step runs once per entity of its kind; steps
//!   whose tool is not offered, or whose placeholder has no entity, are skipped. A call already
//!   made earlier in the conversation (same name and arguments) is not proposed again. When
//!   every step is done it answers a final summary naming the calls made.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// Text of one message's `content` (a string, or the `text` of its parts).
pub fn content_text(m: &Value) -> String {
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Everything the messages say, for script matching: contents and tool-call arguments.
pub fn all_text(messages: &[Value]) -> String {
    let mut out = String::new();
    for m in messages {
        out.push_str(&content_text(m));
        out.push('\n');
        for call in m
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push_str(call["function"]["name"].as_str().unwrap_or_default());
            out.push(' ');
            out.push_str(call["function"]["arguments"].as_str().unwrap_or_default());
            out.push('\n');
        }
    }
    out
}

/// A classification: type, severity, rationale.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// One of the six alert types.
    pub alert_type: &'static str,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: &'static str,
    /// One line saying why.
    pub rationale: String,
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Classifies the user messages by keyword.
pub fn classify(messages: &[Value]) -> Classification {
    let text: String = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .map(content_text)
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase();
    let ws = words(&text);
    let has = |k: &str| {
        if k.contains(' ') || k.len() > 4 {
            text.contains(k)
        } else {
            ws.iter().any(|w| w == k)
        }
    };
    let table: &[(&'static str, &'static str, &[&str])] = &[
        (
            "phishing",
            "medium",
            &[
                "phishing",
                "phish",
                "reported email",
                "suspicious email",
                "sender",
            ],
        ),
        (
            "c2",
            "high",
            &["command and control", "c2", "beacon", "t1071", "c2 domain"],
        ),
        (
            "data_exfiltration",
            "high",
            &["exfiltration", "exfil", "t1041", "t1567", "large upload"],
        ),
        (
            "suspicious_login",
            "medium",
            &[
                "brute force",
                "credential access",
                "t1110",
                "suspicious login",
                "impossible travel",
                "sign-in",
                "login",
                "idp",
            ],
        ),
        (
            "malware",
            "high",
            &[
                "malware",
                "trojan",
                "ransomware",
                "ngav",
                "machine learning",
                "virus",
                "malicious file",
            ],
        ),
    ];
    let (alert_type, default_severity, keyword) = table
        .iter()
        .find_map(|(t, sev, keys)| keys.iter().find(|k| has(k)).map(|k| (*t, *sev, Some(*k))))
        .unwrap_or(("other", "low", None));
    let severity = ["critical", "high", "medium", "low"]
        .into_iter()
        .find(|s| ws.iter().any(|w| w == s))
        .unwrap_or(default_severity);
    let rationale = match keyword {
        Some(k) => format!("The alert mentions \"{k}\", which points to {alert_type}."),
        None => "No keyword of a known alert type appears in the alert.".to_string(),
    };
    Classification {
        alert_type,
        severity,
        rationale,
    }
}

/// Hints for a schema-shaped classification answer, by the property names schemas use.
pub fn hints(c: &Classification) -> Map<String, Value> {
    let mut h = Map::new();
    for k in ["alert_type", "type", "category", "classification", "label"] {
        h.insert(k.into(), json!(c.alert_type));
    }
    for k in ["severity", "priority"] {
        h.insert(k.into(), json!(c.severity));
    }
    for k in ["rationale", "reason", "reasoning", "explanation", "summary"] {
        h.insert(k.into(), json!(c.rationale));
    }
    h.insert("confidence".into(), json!(0.8));
    h
}

/// Longest text searched for embedded JSON (the search tries every bracket).
const MAX_SCAN: usize = 256 * 1024;

/// JSON values embedded in `text`: every `[`/`{` that starts a complete JSON document, nested
/// ones included (a runbook inside a CDATA section reads as `[[…]]` from its first bracket).
fn embedded_json(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, c) in text.char_indices() {
        if i > MAX_SCAN {
            break;
        }
        if c != '[' && c != '{' {
            continue;
        }
        let mut stream = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        if let Some(Ok(v)) = stream.next() {
            out.push(v);
        }
    }
    out
}

/// The runbook steps found in the messages (the first JSON array of `{"tool"}` objects).
pub fn runbook(messages: &[Value]) -> Vec<Value> {
    for m in messages
        .iter()
        .filter(|m| m["role"] != "assistant" && m["role"] != "tool")
    {
        for v in embedded_json(&content_text(m)) {
            let is_steps = |steps: &[Value]| {
                !steps.is_empty()
                    && steps
                        .iter()
                        .all(|s| s.get("tool").is_some_and(Value::is_string))
            };
            if let Value::Array(steps) = &v
                && is_steps(steps)
            {
                return steps.clone();
            }
            if let Some(steps) = v.get("steps").and_then(Value::as_array)
                && is_steps(steps)
            {
                return steps.clone();
            }
        }
    }
    vec![]
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// Entity values by placeholder name (`host`, `user`, `ip`, …) from the messages.
pub fn entities(messages: &[Value]) -> Map<String, Value> {
    let mut out: Map<String, Value> = Map::new();
    let mut add = |k: &str, vals: Vec<String>| {
        let entry = out.entry(k.to_string()).or_insert_with(|| json!([]));
        if let Value::Array(list) = entry {
            for v in vals {
                if !list.contains(&json!(v)) {
                    list.push(json!(v));
                }
            }
        }
    };
    for m in messages
        .iter()
        .filter(|m| m["role"] == "user" || m["role"] == "system" || m["role"] == "developer")
    {
        for v in embedded_json(&content_text(m)) {
            let Some(e) = v.get("entities").filter(|e| e.is_object()) else {
                continue;
            };
            for (key, field) in [
                ("host", "hosts"),
                ("user", "users"),
                ("ip", "ips"),
                ("domain", "domains"),
                ("url", "urls"),
                ("hash", "hashes"),
                ("email", "emails"),
                ("sender", "senders"),
            ] {
                add(key, strings(e.get(field)));
            }
            add("host", strings(v.get("device_id")));
            add("host", strings(v.get("hostname")));
            add("user", strings(v.get("user_email")));
            add("user", strings(v.get("user")));
            add("sender", strings(v.get("sender")));
            add("alert_name", strings(v.get("name")));
        }
    }
    out.retain(|_, v| v.as_array().is_some_and(|a| !a.is_empty()));
    out
}

/// Fills `{{name}}` placeholders in `template` from `values`; `None` if one has no value.
fn fill(template: &Value, choice: &BTreeMap<String, String>) -> Option<Value> {
    match template {
        Value::String(s) => {
            let mut out = s.clone();
            for (k, v) in choice {
                out = out.replace(&format!("{{{{{k}}}}}"), v);
            }
            (!out.contains("{{")).then(|| json!(out))
        }
        Value::Object(m) => {
            let mut o = Map::new();
            for (k, v) in m {
                o.insert(k.clone(), fill(v, choice)?);
            }
            Some(Value::Object(o))
        }
        Value::Array(a) => a
            .iter()
            .map(|v| fill(v, choice))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        other => Some(other.clone()),
    }
}

fn placeholders(template: &Value, out: &mut Vec<String>) {
    match template {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(i) = rest.find("{{") {
                let after = &rest[i + 2..];
                let Some(j) = after.find("}}") else { break };
                let name = after[..j].trim().to_string();
                if !out.contains(&name) {
                    out.push(name);
                }
                rest = &after[j + 2..];
            }
        }
        Value::Object(m) => m.values().for_each(|v| placeholders(v, out)),
        Value::Array(a) => a.iter().for_each(|v| placeholders(v, out)),
        _ => {}
    }
}

/// Every call the runbook asks for, in order: (tool, arguments), placeholders filled, one
/// call per entity for a step with one multi-valued placeholder.
pub fn planned_calls(
    steps: &[Value],
    offered: &[String],
    ents: &Map<String, Value>,
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for step in steps {
        let Some(tool) = step["tool"].as_str() else {
            continue;
        };
        if !offered.iter().any(|t| t == tool) {
            continue;
        }
        let args = step.get("args").cloned().unwrap_or(json!({}));
        let mut names = Vec::new();
        placeholders(&args, &mut names);
        // Every combination would explode; the first multi-valued placeholder fans out, the
        // others take their first value.
        let values = |n: &str| strings(ents.get(n));
        let fan = names.iter().find(|n| values(n).len() > 1).cloned();
        let rounds: Vec<String> = match &fan {
            Some(n) => values(n),
            None => vec![String::new()],
        };
        for r in rounds {
            let mut choice = BTreeMap::new();
            let mut missing = false;
            for n in &names {
                let v = if Some(n) == fan.as_ref() {
                    Some(r.clone())
                } else {
                    values(n).into_iter().next()
                };
                match v {
                    Some(v) => {
                        choice.insert(n.clone(), v);
                    }
                    None => missing = true,
                }
            }
            if missing {
                continue;
            }
            if let Some(filled) = fill(&args, &choice) {
                out.push((tool.to_string(), filled));
            }
        }
    }
    out
}

/// Calls the assistant already made in this conversation: (name, parsed arguments).
pub fn made_calls(messages: &[Value]) -> Vec<(String, Value)> {
    messages
        .iter()
        .filter(|m| m["role"] == "assistant")
        .flat_map(|m| {
            m.get("tool_calls")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .map(|c| {
            let name = c["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let args = c["function"]["arguments"]
                .as_str()
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or(Value::Null);
            (name, args)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_keyword_with_word_boundaries_for_short_ones() {
        let m = |t: &str| vec![json!({"role": "user", "content": t})];
        assert_eq!(
            classify(&m("User reported a phishing email")).alert_type,
            "phishing"
        );
        assert_eq!(
            classify(&m("Falcon idp: brute force T1110")).alert_type,
            "suspicious_login"
        );
        assert_eq!(
            classify(&m("beacon to C2 domain evil.example")).alert_type,
            "c2"
        );
        let hash_only = classify(&m("sha256 a1c2b3 seen, nothing else"));
        assert_eq!(
            hash_only.alert_type, "other",
            "c2 inside a hash is no keyword"
        );
        assert_eq!(
            classify(&m("NGAV blocked a trojan, severity critical")).severity,
            "critical"
        );
    }

    #[test]
    fn plans_runbook_calls_from_entities_and_skips_done_ones() {
        let steps = json!([
            {"tool": "abuseipdb_check_ip", "args": {"ip": "{{ip}}"}},
            {"tool": "virustotal_domain", "args": {"domain": "{{domain}}"}},
            {"tool": "not_offered", "args": {}},
            {"tool": "crowdstrike_contain_host", "args": {"device_id": "{{host}}"}, "approval": "required"}
        ]);
        let alert = json!({"name": "C2", "entities": {"ips": ["203.0.113.7", "198.51.100.9"], "domains": ["evil.example"], "hosts": []}});
        let messages = vec![
            json!({"role": "system", "content": format!("SOP runbook: {steps}")}),
            json!({"role": "user", "content": format!("Alert data: {alert}")}),
        ];
        let offered: Vec<String> = [
            "abuseipdb_check_ip",
            "virustotal_domain",
            "crowdstrike_contain_host",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let plan = planned_calls(&runbook(&messages), &offered, &entities(&messages));
        assert_eq!(plan.len(), 3, "two IPs, one domain, no host: {plan:?}");
        assert_eq!(
            plan[1],
            (
                "abuseipdb_check_ip".to_string(),
                json!({"ip": "198.51.100.9"})
            )
        );
        assert_eq!(plan[2].0, "virustotal_domain");
    }
}
