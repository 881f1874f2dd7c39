//! Plain functions over what the sandbox answers: a recorded write as a log line, what a card
//! must show, button labels and the text a person reads.

use serde_json::{Value, json};
use vigil_sandbox::record::Recorded;

/// One recorded request as a line, if it is a write Vigil made.
pub(super) fn vendor_line(r: &Recorded) -> Option<String> {
    let service = r.service.as_str();
    let method = r.method.as_str();
    let path = r.path.as_str();
    let status = r.status;
    let body = &r.body;
    let what = match service {
        "slack" => {
            let m = path.trim_start_matches("/api/");
            if !matches!(
                m,
                "chat.postMessage"
                    | "chat.update"
                    | "views.open"
                    | "views.publish"
                    | "chat.postEphemeral"
            ) {
                return None;
            }
            let place = body["channel"]
                .as_str()
                .or(body["user_id"].as_str())
                .unwrap_or("");
            let thread = if body["thread_ts"].is_string() {
                " (thread)"
            } else {
                ""
            };
            format!("{m} {place}{thread}")
        }
        "github" if method != "GET" => {
            let mut w = format!("{method} {}", path.split('?').next().unwrap_or(path));
            if let Some(state) = body["state"].as_str() {
                w.push_str(&format!(
                    " state={state} state_reason={}",
                    body["state_reason"].as_str().unwrap_or("")
                ));
            }
            if let Some(labels) = body["labels"].as_array().or(body.as_array()) {
                let l: Vec<&str> = labels.iter().filter_map(Value::as_str).collect();
                w.push_str(&format!(" labels={}", l.join(",")));
            }
            w
        }
        "pagerduty" if method == "POST" => format!(
            "{} dedup_key={}",
            body["event_action"].as_str().unwrap_or("?"),
            body["dedup_key"].as_str().unwrap_or("")
        ),
        "crowdstrike" if method == "PATCH" || path.contains("devices-actions") => {
            let actions: Vec<String> = body["action_parameters"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            format!(
                                "{}={}",
                                p["name"].as_str().unwrap_or(""),
                                p["value"].as_str().unwrap_or("")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{method} {} {}",
                path.split('?').next().unwrap_or(path),
                actions.join(" ")
            )
        }
        _ => return None,
    };
    Some(format!("{service:<11} {what} → {status}"))
}

pub(super) fn card_case(card: &Value) -> String {
    card["metadata"]["event_payload"]["case_id"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

pub(super) fn ts(message: &Value) -> String {
    message["ts"].as_str().unwrap_or("").to_string()
}

/// What a card must show to be the card of an alert: its name, its host (or account for
/// identity alerts) and its id (in the console link).
pub(super) struct AlertFacts {
    pub(super) name: String,
    pub(super) subject: String,
    pub(super) id: String,
}

impl AlertFacts {
    /// From a Falcon alert object as the Alerts API returns it.
    pub(super) fn of(alert: &Value) -> Self {
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        let name = [&alert["display_name"], &alert["name"]]
            .into_iter()
            .map(text)
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let subject = [
            &alert["device"]["hostname"],
            &alert["source_account_upn"],
            &alert["user_name"],
        ]
        .into_iter()
        .map(text)
        .find(|s| !s.is_empty())
        .unwrap_or_default();
        AlertFacts {
            name,
            subject,
            id: text(&alert["id"]),
        }
    }

    pub(super) fn shown_on(&self, card: &Value) -> bool {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let text = message_text(card);
        !self.name.is_empty()
            && !self.id.is_empty()
            && text.contains(&format!("*{}*", esc(&self.name)))
            && text.contains(&format!("`{}`", esc(&self.subject)))
            && text.contains(&self.id)
    }
}

/// The text of the button with this action id.
pub(super) fn button_label(message: &Value, action_id: &str) -> Option<String> {
    message["blocks"].as_array()?.iter().find_map(|b| {
        b["elements"].as_array()?.iter().find_map(|e| {
            (e["action_id"] == json!(action_id))
                .then(|| e["text"]["text"].as_str().map(str::to_string))
                .flatten()
        })
    })
}

/// Whether a message has a button with this action id.
pub(super) fn has_action(message: &Value, action_id: &str) -> bool {
    message["blocks"].as_array().is_some_and(|blocks| {
        blocks.iter().any(|b| {
            b["elements"]
                .as_array()
                .is_some_and(|els| els.iter().any(|e| e["action_id"] == json!(action_id)))
                || b["accessory"]["action_id"] == json!(action_id)
        })
    })
}

/// What a person reads: the blocks' text (header, sections, fields, context), else `text`.
pub(super) fn message_text(message: &Value) -> String {
    let mut out = vec![];
    for b in message["blocks"].as_array().cloned().unwrap_or_default() {
        if let Some(t) = b["text"]["text"].as_str() {
            out.push(t.to_string());
        }
        for f in b["fields"].as_array().cloned().unwrap_or_default() {
            if let Some(t) = f["text"].as_str() {
                out.push(t.to_string());
            }
        }
        for e in b["elements"].as_array().cloned().unwrap_or_default() {
            if let Some(t) = e["text"].as_str() {
                out.push(t.to_string());
            } else if let Some(t) = e["text"]["text"].as_str() {
                out.push(format!("[{t}]"));
            }
        }
    }
    if out.is_empty() {
        message["text"].as_str().unwrap_or("").to_string()
    } else {
        out.join("\n")
    }
}

pub(super) fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
