//! Ingest: the one place anything outside becomes a case's [`Alert`], for all three ways an
//! alert arrives (the CrowdStrike poller, the `/v1/alerts` webhook, the `/triage new` form).
//!
//! Invariant: vendor clients hand raw shapes here and know nothing of cases; every field that
//! comes from outside is treated as untrusted and optional (Falcon's shapes differ by product,
//! `epp` with a `device` and `idp` without, by age, no `severity_name`, and by tenant), and only
//! a missing identity stops an alert from becoming a case.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::case::{Alert, AlertDevice};
use crate::vendors::http::text_of;

/// Why a Falcon alert could not become an [`Alert`]: only a missing identity is fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertShapeError {
    /// The alert is not a JSON object.
    #[error("crowdstrike alert: not a JSON object")]
    NotAnObject,
    /// `composite_id` is missing, empty or not text: the alert cannot be deduplicated.
    #[error("crowdstrike alert: no composite_id")]
    MissingCompositeId,
}

/// Turns any Falcon alert shape into the domain [`Alert`] (source `crowdstrike`, `raw` = the whole
/// object). Endpoint alerts carry their `device`; identity alerts (`idp`) have none and name the
/// account instead (`source_account_upn`, `source_account_name`). Missing fields become empty.
pub fn alert_from_falcon(v: &Value) -> Result<Alert, AlertShapeError> {
    let obj = v.as_object().ok_or(AlertShapeError::NotAnObject)?;
    let id = text(obj, "composite_id");
    if id.trim().is_empty() {
        return Err(AlertShapeError::MissingCompositeId);
    }
    let severity = severity(obj);
    Ok(Alert {
        id,
        source: "crowdstrike".into(),
        product: text(obj, "product"),
        name: first_text(obj, &["display_name", "name"]),
        description: text(obj, "description"),
        severity,
        severity_name: severity_name(obj, severity),
        tactic: text(obj, "tactic"),
        technique: text(obj, "technique"),
        technique_id: text(obj, "technique_id"),
        device: device(obj),
        user_name: first_text(obj, &["user_name", "source_account_name"]),
        account_upn: text(obj, "source_account_upn"),
        cmdline: text(obj, "cmdline"),
        filename: text(obj, "filename"),
        filepath: text(obj, "filepath"),
        sha256: text(obj, "sha256"),
        link: text(obj, "falcon_host_link"),
        created_at: created_at(obj),
        entities: falcon_entities(obj),
        raw: v.clone(),
        // Falcon has no reported sender.
        ..Alert::default()
    })
}

/// A webhook body (`POST /v1/alerts`): a CrowdStrike alert object (it has `composite_id`), or
/// the generic `{"id","name","severity","hostname","user","description"}`. Ids of generic
/// alerts are namespaced `webhook:` so they never collide with a Falcon id.
pub fn from_webhook(v: &Value) -> Result<Alert, String> {
    if v.get("composite_id").is_some() {
        return alert_from_falcon(v).map_err(|e| e.to_string());
    }
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let id = text("id");
    if id.is_empty() {
        return Err("`id` is required (a unique alert id)".into());
    }
    let severity = v
        .get("severity")
        .and_then(Value::as_u64)
        .unwrap_or(50)
        .clamp(1, 100) as u8;
    let hostname = text("hostname");
    Ok(Alert {
        id: format!("webhook:{id}"),
        source: "webhook".into(),
        name: text("name"),
        description: text("description"),
        severity,
        severity_name: Alert::severity_label(severity).into(),
        tactic: text("tactic"),
        technique_id: text("technique_id"),
        sender: text("sender"),
        entities: webhook_entities(v.get("entities")),
        user_name: text("user"),
        account_upn: text("user_email"),
        device: (!hostname.is_empty()).then(|| AlertDevice {
            device_id: text("device_id"),
            hostname,
            ..Default::default()
        }),
        raw: v.clone(),
        created_at: Some(chrono::Utc::now()),
        ..Default::default()
    })
}

/// What an analyst typed into the `/triage new` modal, as text: the form's fields before they
/// are trusted.
#[derive(Debug, Clone, Default)]
pub struct NewCaseForm {
    /// The Slack view id; it makes the alert id (`slack:<view>`), so a resubmitted view dedupes.
    pub view_id: String,
    /// Who submitted it (kept in `raw.opened_by`).
    pub opened_by: String,
    /// Title field.
    pub title: String,
    /// Description field.
    pub description: String,
    /// Severity field, 1–100 as typed; anything else means 50.
    pub severity: String,
    /// Hostname field; empty means no device.
    pub hostname: String,
}

/// The alert for a case opened by hand with `/triage new` (source `slack`).
pub fn from_form(form: &NewCaseForm) -> Alert {
    let severity = form
        .severity
        .trim()
        .parse::<u8>()
        .unwrap_or(50)
        .clamp(1, 100);
    let hostname = form.hostname.trim().to_string();
    Alert {
        id: format!("slack:{}", form.view_id),
        source: "slack".into(),
        name: form.title.clone(),
        description: form.description.clone(),
        severity,
        severity_name: Alert::severity_label(severity).into(),
        user_name: String::new(),
        device: (!hostname.is_empty()).then(|| AlertDevice {
            hostname,
            ..Default::default()
        }),
        created_at: Some(Utc::now()),
        raw: serde_json::json!({"opened_by": form.opened_by}),
        ..Default::default()
    }
}

/// Most values kept per kind of a webhook's `entities` (the case's entity caps apply later;
/// this only bounds what the stored alert carries).
const MAX_WEBHOOK_ENTITIES: usize = 50;

/// SPEC §3.1's generic `entities` object: each kind a list of strings; anything else (a
/// number, a nested object, a missing kind) is left out rather than refusing the alert.
fn webhook_entities(v: Option<&Value>) -> crate::case::alert::AlertEntities {
    let list = |key: &str| -> Vec<String> {
        v.and_then(|e| e.get(key))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .take(MAX_WEBHOOK_ENTITIES)
            .map(str::to_string)
            .collect()
    };
    crate::case::alert::AlertEntities {
        hosts: list("hosts"),
        users: list("users"),
        ips: list("ips"),
        domains: list("domains"),
        urls: list("urls"),
        hashes: list("hashes"),
        emails: list("emails"),
    }
}

/// Falcon's `ioc_context[]` (`{"ioc_type", "ioc_value"}`) as the alert's indicators, by kind;
/// types Vigil has no kind for stay in `raw` only.
fn falcon_entities(obj: &Map<String, Value>) -> crate::case::alert::AlertEntities {
    let mut e = crate::case::alert::AlertEntities::default();
    let iocs = obj.get("ioc_context").and_then(Value::as_array);
    for ioc in iocs.into_iter().flatten().take(MAX_WEBHOOK_ENTITIES) {
        let ty = ioc.get("ioc_type").and_then(Value::as_str).unwrap_or("");
        let Some(value) = ioc.get("ioc_value").and_then(Value::as_str) else {
            continue;
        };
        let list = match ty.to_ascii_lowercase().as_str() {
            "domain" => &mut e.domains,
            "url" => &mut e.urls,
            "ipv4" | "ipv6" | "ip" | "ip_address" => &mut e.ips,
            "email" => &mut e.emails,
            t if t.starts_with("hash") || matches!(t, "md5" | "sha1" | "sha256") => &mut e.hashes,
            _ => continue,
        };
        list.push(value.to_string());
    }
    e
}

fn text(obj: &Map<String, Value>, key: &str) -> String {
    obj.get(key).and_then(text_of).unwrap_or_default()
}

fn first_text(obj: &Map<String, Value>, keys: &[&str]) -> String {
    keys.iter()
        .map(|k| text(obj, k))
        .find(|s| !s.trim().is_empty())
        .unwrap_or_default()
}

/// `severity` 1–100 (a number, or a number in a string), clamped; else derived from
/// `severity_name`; else 0.
fn severity(obj: &Map<String, Value>) -> u8 {
    let numeric = obj.get("severity").and_then(|s| match s {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    });
    match numeric.filter(|n| n.is_finite()) {
        // Clamped to 0..=100 first, so the cast cannot truncate.
        Some(n) => n.round().clamp(0.0, 100.0) as u8,
        None => severity_from_name(&text(obj, "severity_name")),
    }
}

/// A representative 1–100 value for a Falcon severity label.
fn severity_from_name(name: &str) -> u8 {
    match name.trim().to_ascii_lowercase().as_str() {
        "informational" => 10,
        "low" => 30,
        "medium" => 50,
        "high" => 70,
        "critical" => 90,
        _ => 0,
    }
}

fn severity_name(obj: &Map<String, Value>, severity: u8) -> String {
    let given = text(obj, "severity_name");
    if !given.trim().is_empty() {
        return given;
    }
    if severity == 0 {
        return "Unknown".into();
    }
    Alert::severity_label(severity).into()
}

/// The `device` object of endpoint alerts; `None` when absent or without any identity.
fn device(obj: &Map<String, Value>) -> Option<AlertDevice> {
    let d = obj.get("device")?.as_object()?;
    let device = AlertDevice {
        device_id: text(d, "device_id"),
        hostname: text(d, "hostname"),
        platform: text(d, "platform_name"),
        local_ip: text(d, "local_ip"),
    };
    if device.device_id.is_empty() && device.hostname.is_empty() {
        return None;
    }
    Some(device)
}

fn created_at(obj: &Map<String, Value>) -> Option<DateTime<Utc>> {
    ["created_timestamp", "timestamp"].iter().find_map(|k| {
        let s = obj.get(*k)?.as_str()?;
        DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

#[cfg(test)]
mod tests;
