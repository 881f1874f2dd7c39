//! PagerDuty's Events API v2 event (vendor-apis §5) and the REST incident fields Vigil reads
//! back (§14).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Longest `payload.summary` PagerDuty accepts.
pub const MAX_SUMMARY_CHARS: usize = 1024;
/// Longest `dedup_key` PagerDuty accepts.
pub const MAX_DEDUP_KEY_CHARS: usize = 255;
/// Largest event PagerDuty accepts.
pub const MAX_EVENT_BYTES: usize = 512 * 1024;

/// PagerDuty's event severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Pages urgently.
    Critical,
    /// `error`: something failed and needs attention soon.
    Error,
    /// `warning`: may need attention.
    Warning,
    /// Information only.
    Info,
}

/// A trigger: what on-call sees. `dedup_key` makes a repeat harmless (one open alert per key).
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerEvent {
    /// The idempotency key (Vigil: the case id), at most 255 characters.
    pub dedup_key: String,
    /// One line for the page; cut to 1024 characters when sent.
    pub summary: String,
    /// The affected system (host, or account for identity alerts).
    pub source: String,
    /// How urgent.
    pub severity: Severity,
    /// Component of the source (`falcon`).
    pub component: Option<String>,
    /// Logical group (`endpoints`).
    pub group: Option<String>,
    /// Class of event (`malware`).
    pub class: Option<String>,
    /// Free-form details shown on the incident (`null` for none).
    pub custom_details: Value,
    /// Links `(href, text)`.
    pub links: Vec<(String, String)>,
    /// Name of the sending tool (`Vigil`).
    pub client: Option<String>,
    /// Link back to the sending tool.
    pub client_url: Option<String>,
}

impl TriggerEvent {
    /// The Events API v2 body for this trigger, summary truncated to PagerDuty's limit.
    pub fn to_body(&self, routing_key: &str) -> Value {
        let mut payload = json!({
            "summary": truncate(&self.summary, MAX_SUMMARY_CHARS),
            "source": self.source,
            "severity": self.severity,
        });
        let optional = [
            ("component", &self.component),
            ("group", &self.group),
            ("class", &self.class),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                payload[name] = json!(v);
            }
        }
        if !self.custom_details.is_null() {
            payload["custom_details"] = self.custom_details.clone();
        }
        let mut body = json!({
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": self.dedup_key,
            "payload": payload,
        });
        if !self.links.is_empty() {
            let links: Vec<Value> = self
                .links
                .iter()
                .map(|(href, text)| json!({"href": href, "text": text}))
                .collect();
            body["links"] = json!(links);
        }
        if let Some(c) = &self.client {
            body["client"] = json!(c);
        }
        if let Some(u) = &self.client_url {
            body["client_url"] = json!(u);
        }
        body
    }
}

/// `s` cut to at most `max` characters (never inside a character).
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => s[..at].to_string(),
        None => s.to_string(),
    }
}

/// The Events API's answer to an accepted event.
#[derive(Debug, Clone, Deserialize)]
pub struct EnqueueResponse {
    /// `success` on an accepted event (PagerDuty answers 202 with it).
    #[serde(default)]
    pub status: Option<String>,
    /// `Event processed`.
    #[serde(default)]
    pub message: Option<String>,
    /// The key the event was filed under.
    #[serde(default)]
    pub dedup_key: Option<String>,
}

/// One page of `GET /incidents`.
#[derive(Debug, Clone, Deserialize)]
pub struct IncidentPage {
    /// The incidents of this page, in the order PagerDuty lists them.
    pub incidents: Vec<Incident>,
    /// Whether another page follows.
    #[serde(default)]
    pub more: bool,
}

/// The incident fields Vigil reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Incident {
    /// Incident id (`P…`), what `/incidents/{id}` takes.
    pub id: String,
    /// The dedup key it was triggered with.
    #[serde(default)]
    pub incident_key: Option<String>,
    /// `triggered`, `acknowledged` or `resolved`.
    pub status: String,
    /// Title (the trigger's summary).
    #[serde(default)]
    pub title: Option<String>,
    /// `high` or `low`.
    #[serde(default)]
    pub urgency: Option<String>,
    /// When it was opened (ISO 8601, as sent).
    #[serde(default)]
    pub created_at: Option<String>,
    /// The incident's page in the PagerDuty web app, for people.
    #[serde(default)]
    pub html_url: Option<String>,
}
