//! JSON shapes of PagerDuty's REST API v2 for the simulator's incidents: incident, alert and
//! log-entry objects with their references, URLs built from the request's `Host` plus
//! `/pagerduty` so links stay inside the sandbox.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::events::Action;
use super::state::{Incident, LogEntry, Status};

/// The id of the sandbox's one service (the Events API v2 integration lives on it).
pub const SERVICE_ID: &str = "PVGLSEC";
/// The service's `summary` in incident JSON, fixed so tests can assert it.
pub const SERVICE_NAME: &str = "Vigil Security Alerts";
/// Id of the service's escalation policy, as incident JSON references it.
pub const ESCALATION_POLICY_ID: &str = "PVGLESC";

/// PagerDuty's timestamp format (`2015-10-06T21:30:42Z`).
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map(|t| Value::String(time(t))).unwrap_or(Value::Null)
}

/// `{"id","type","summary","self","html_url"}` reference to the service.
pub fn service_ref(base: &str) -> Value {
    json!({
        "id": SERVICE_ID,
        "type": "service_reference",
        "summary": SERVICE_NAME,
        "self": format!("{base}/api/services/{SERVICE_ID}"),
        "html_url": format!("{base}/service-directory/{SERVICE_ID}"),
    })
}

fn escalation_policy_ref(base: &str) -> Value {
    json!({
        "id": ESCALATION_POLICY_ID,
        "type": "escalation_policy_reference",
        "summary": "Security On-Call",
        "self": format!("{base}/api/escalation_policies/{ESCALATION_POLICY_ID}"),
        "html_url": format!("{base}/escalation_policies/{ESCALATION_POLICY_ID}"),
    })
}

fn incident_ref(inc: &Incident, base: &str) -> Value {
    json!({
        "id": inc.id,
        "type": "incident_reference",
        "summary": incident_summary(inc),
        "self": format!("{base}/api/incidents/{}", inc.id),
        "html_url": format!("{base}/incidents/{}", inc.id),
    })
}

fn incident_summary(inc: &Incident) -> String {
    format!("[#{}] {}", inc.number, inc.title)
}

fn log_type(action: Action) -> &'static str {
    match action {
        Action::Trigger => "trigger_log_entry",
        Action::Acknowledge => "acknowledge_log_entry",
        Action::Resolve => "resolve_log_entry",
    }
}

fn log_summary(entry: &LogEntry) -> &'static str {
    match (entry.action, entry.deduplicated) {
        (Action::Trigger, false) => "Triggered through the API.",
        (Action::Trigger, true) => "Triggered through the API (deduplicated into the open alert).",
        (Action::Acknowledge, _) => "Acknowledged through the API.",
        (Action::Resolve, _) => "Resolved through the API.",
    }
}

fn log_ref(inc: &Incident, entry: &LogEntry, base: &str) -> Value {
    json!({
        "id": entry.id,
        "type": format!("{}_reference", log_type(entry.action)),
        "summary": log_summary(entry),
        "self": format!("{base}/api/log_entries/{}", entry.id),
        "html_url": format!("{base}/incidents/{}/log_entries/{}", inc.id, entry.id),
    })
}

/// The incident as `GET /incidents` lists it.
pub fn incident(inc: &Incident, base: &str) -> Value {
    let open = inc.status != Status::Resolved;
    let updated = inc.log.last().map(|e| e.at).unwrap_or(inc.created_at);
    let acknowledgements = match (inc.status, inc.acknowledged_at) {
        (Status::Acknowledged, Some(at)) => vec![json!({
            "at": time(at),
            "acknowledger": service_ref(base),
        })],
        _ => vec![],
    };
    let first = inc.log.first().map(|e| log_ref(inc, e, base));
    json!({
        "id": inc.id,
        "type": "incident",
        "summary": incident_summary(inc),
        "self": format!("{base}/api/incidents/{}", inc.id),
        "html_url": format!("{base}/incidents/{}", inc.id),
        "incident_number": inc.number,
        "title": inc.title,
        "description": inc.title,
        "created_at": time(inc.created_at),
        "updated_at": time(updated),
        "status": inc.status.as_str(),
        "incident_key": inc.key,
        "service": service_ref(base),
        "escalation_policy": escalation_policy_ref(base),
        "assignments": [],
        "assigned_via": "escalation_policy",
        "acknowledgements": acknowledgements,
        "last_status_change_at": time(inc.last_status_change_at),
        "last_status_change_by": service_ref(base),
        "first_trigger_log_entry": first,
        "alert_counts": {
            "all": 1,
            "triggered": u8::from(open),
            "resolved": u8::from(!open),
        },
        "pending_actions": [],
        "is_mergeable": true,
        "teams": [],
        "urgency": inc.urgency(),
        "priority": null,
        "resolve_reason": null,
        "resolved_at": opt_time(inc.resolved_at),
        "incidents_responders": [],
        "responder_requests": [],
        "conference_bridge": null,
    })
}

/// The incident as `GET /incidents/{id}` answers it: the list shape plus PD's `body`
/// (`details` = the trigger's `custom_details`, as `include[]=body` gives) and the sandbox-only
/// extra `sandbox_trigger_event`: the first trigger event as received (payload with severity,
/// source and custom_details, links, images, client, client_url; routing key removed).
pub fn incident_detail(inc: &Incident, base: &str) -> Value {
    let mut v = incident(inc, base);
    if let Value::Object(m) = &mut v {
        m.insert(
            "body".into(),
            json!({"type": "incident_body", "details": custom_details(&inc.trigger)}),
        );
        m.insert(
            "sandbox_trigger_event".into(),
            Value::Object(inc.trigger.clone()),
        );
    }
    v
}

fn payload_field<'a>(event: &'a Map<String, Value>, field: &str) -> &'a Value {
    event
        .get("payload")
        .and_then(|p| p.get(field))
        .unwrap_or(&Value::Null)
}

fn custom_details(event: &Map<String, Value>) -> Value {
    payload_field(event, "custom_details").clone()
}

/// `links` and `images` of an event as alert-body `contexts`.
fn contexts(event: &Map<String, Value>) -> Vec<Value> {
    let list = |k: &str| {
        event
            .get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let links = list("links")
        .into_iter()
        .map(|l| json!({"type": "link", "href": l.get("href"), "text": l.get("text")}));
    let images = list("images").into_iter().map(|i| {
        json!({"type": "image", "src": i.get("src"), "href": i.get("href"), "alt": i.get("alt")})
    });
    links.chain(images).collect()
}

/// The incident's one alert, as `GET /incidents/{id}/alerts` lists it.
pub fn alert(inc: &Incident, base: &str) -> Value {
    let ev = &inc.trigger;
    let resolved = inc.status == Status::Resolved;
    let cef = json!({
        "client": ev.get("client"),
        "client_url": ev.get("client_url"),
        "contexts": contexts(ev),
        "dedup_key": inc.key,
        "description": inc.title,
        "details": custom_details(ev),
        "event_class": payload_field(ev, "class"),
        "message": inc.title,
        "service_group": payload_field(ev, "group"),
        "severity": inc.severity,
        "source_component": payload_field(ev, "component"),
        "source_origin": payload_field(ev, "source"),
        "version": "1.0",
    });
    json!({
        "id": inc.alert_id,
        "type": "alert",
        "summary": inc.title,
        "self": format!("{base}/api/alerts/{}", inc.alert_id),
        "html_url": format!("{base}/alerts/{}", inc.alert_id),
        "created_at": time(inc.created_at),
        "status": if resolved { "resolved" } else { "triggered" },
        "resolved_at": if resolved { opt_time(inc.resolved_at) } else { Value::Null },
        "alert_key": inc.key,
        "suppressed": false,
        "severity": inc.severity,
        "service": service_ref(base),
        "incident": incident_ref(inc, base),
        "first_trigger_log_entry": inc.log.first().map(|e| log_ref(inc, e, base)),
        "body": {
            "type": "alert_body",
            "contexts": contexts(ev),
            "details": custom_details(ev),
            "cef_details": cef,
        },
    })
}

/// One log entry, as `GET /incidents/{id}/log_entries` lists it.
pub fn log_entry(inc: &Incident, entry: &LogEntry, base: &str) -> Value {
    let summary = payload_field(&entry.event, "summary");
    json!({
        "id": entry.id,
        "type": log_type(entry.action),
        "summary": log_summary(entry),
        "self": format!("{base}/api/log_entries/{}", entry.id),
        "html_url": format!("{base}/incidents/{}/log_entries/{}", inc.id, entry.id),
        "created_at": time(entry.at),
        "agent": {
            "id": SERVICE_ID,
            "type": "generic_services_api_inbound_integration_reference",
            "summary": "Events API v2",
        },
        "channel": {
            "type": "api",
            "summary": summary,
            "details": custom_details(&entry.event),
        },
        "service": service_ref(base),
        "incident": incident_ref(inc, base),
        "teams": [],
        "contexts": contexts(&entry.event),
        "event_details": {"description": summary},
    })
}

/// An event as the control API shows it.
pub fn received_event(entry: &LogEntry) -> Value {
    json!({
        "id": entry.id,
        "received_at": time(entry.at),
        "event_action": entry.action.as_str(),
        "deduplicated": entry.deduplicated,
        "event": entry.event,
    })
}

/// The incident with its alert and every event it received, for `GET
/// /_sandbox/pagerduty/incidents`.
pub fn control_incident(inc: &Incident, base: &str) -> Value {
    let mut v = incident_detail(inc, base);
    if let Value::Object(m) = &mut v {
        m.insert("trigger_count".into(), Value::from(inc.trigger_count()));
        m.insert("alert".into(), alert(inc, base));
        let events = inc.log.iter().map(received_event).collect();
        m.insert("events".into(), Value::Array(events));
    }
    v
}
