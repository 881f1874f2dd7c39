//! PagerDuty's incidents and how Events API v2 events change them (vendor-apis §5):
//!
//! - a trigger whose dedup key matches an open (triggered or acknowledged) incident is
//!   deduplicated into it: no new incident, no new alert, the event is kept in its log;
//! - acknowledge and resolve change the open incident with that key;
//! - after a resolve, a trigger with the same key opens a new incident;
//! - acknowledge/resolve of a key with no open incident are accepted and change nothing (they
//!   are kept in the `dropped` list for the control API).
//!
//! One service, no event rules and no alert grouping: each incident holds exactly one alert
//! whose `alert_key` is the dedup key, as a plain Events API v2 integration does.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{Map, Value};

use super::events::{Action, Event};

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Open, nobody has acknowledged it.
    Triggered,
    /// Open and acknowledged.
    Acknowledged,
    /// Closed; a later trigger with the same key opens a new incident.
    Resolved,
}

impl Status {
    /// The REST API's `status` value (`triggered`, `acknowledged`, `resolved`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Triggered => "triggered",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }

    /// Reads a `statuses[]` filter value; `None` for anything PagerDuty would reject.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "triggered" => Some(Status::Triggered),
            "acknowledged" => Some(Status::Acknowledged),
            "resolved" => Some(Status::Resolved),
            _ => None,
        }
    }

    fn is_open(self) -> bool {
        self != Status::Resolved
    }
}

/// One event as received, kept on the incident it touched (PD's log entries).
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// Log entry id, `R` plus letters and digits like PagerDuty's.
    pub id: String,
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// `event_action`: trigger, acknowledge or resolve.
    pub action: Action,
    /// Whether it was merged into an already open incident (triggers only).
    pub deduplicated: bool,
    /// The event as sent, `routing_key` removed.
    pub event: Map<String, Value>,
}

/// One incident and its single alert.
#[derive(Debug, Clone)]
pub struct Incident {
    /// `P` + 6 uppercase letters/digits.
    pub id: String,
    /// 1, 2, 3… per sandbox.
    pub number: u64,
    /// The dedup key (`incident_key`, `alert_key`).
    pub key: String,
    /// Current status; only events move it (no REST writes are simulated).
    pub status: Status,
    /// The triggering event's `payload.summary`.
    pub title: String,
    /// The triggering event's `payload.severity`.
    pub severity: String,
    /// When the first trigger arrived.
    pub created_at: DateTime<Utc>,
    /// When the status last changed.
    pub last_status_change_at: DateTime<Utc>,
    /// When it was last acknowledged, while acknowledged.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// `Q…` id of its alert.
    pub alert_id: String,
    /// The first trigger event (payload, links, images, client, client_url).
    pub trigger: Map<String, Value>,
    /// Every event that touched it, oldest first.
    pub log: Vec<LogEntry>,
}

impl Incident {
    /// `high` for critical/error triggers, `low` otherwise (the default urgency rule of a
    /// service set to "based on alert severity").
    pub fn urgency(&self) -> &'static str {
        if matches!(self.severity.as_str(), "critical" | "error") {
            "high"
        } else {
            "low"
        }
    }

    /// How many events were merged into it (every trigger, the first included).
    pub fn trigger_count(&self) -> usize {
        self.log
            .iter()
            .filter(|e| e.action == Action::Trigger)
            .count()
    }

    fn set_status(&mut self, status: Status, now: DateTime<Utc>) {
        if self.status != status {
            self.status = status;
            self.last_status_change_at = now;
        }
    }
}

/// Every incident of the sandbox's one service.
#[derive(Debug, Default)]
pub struct Store {
    /// Incidents, oldest first.
    pub incidents: Vec<Incident>,
    /// Acknowledge/resolve events that matched no open incident.
    pub dropped: Vec<LogEntry>,
    next_number: u64,
}

impl Store {
    /// Applies a validated event; answers the dedup key (generated for a trigger without one).
    pub fn apply(&mut self, event: Event, now: DateTime<Utc>) -> String {
        let key = event.dedup_key.clone().unwrap_or_else(|| random_hex(32));
        let open = self
            .incidents
            .iter()
            .position(|i| i.key == key && i.status.is_open());
        let mut entry = LogEntry {
            id: self.unique_id('R', 25),
            at: now,
            action: event.action,
            deduplicated: false,
            event: event.raw,
        };
        match (event.action, open) {
            (Action::Trigger, None) => self.open(key.clone(), entry, now),
            (Action::Trigger, Some(i)) => {
                entry.deduplicated = true;
                self.incidents[i].log.push(entry);
            }
            (Action::Acknowledge, Some(i)) => {
                let inc = &mut self.incidents[i];
                inc.set_status(Status::Acknowledged, now);
                inc.acknowledged_at = Some(now);
                inc.log.push(entry);
            }
            (Action::Resolve, Some(i)) => {
                let inc = &mut self.incidents[i];
                inc.set_status(Status::Resolved, now);
                inc.resolved_at = Some(now);
                inc.log.push(entry);
            }
            (Action::Acknowledge | Action::Resolve, None) => self.dropped.push(entry),
        }
        key
    }

    fn open(&mut self, key: String, entry: LogEntry, now: DateTime<Utc>) {
        self.next_number += 1;
        let payload = entry.event.get("payload").cloned().unwrap_or(Value::Null);
        let text = |f: &str| {
            payload
                .get(f)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let incident = Incident {
            id: self.unique_id('P', 6),
            number: self.next_number,
            key,
            status: Status::Triggered,
            title: text("summary"),
            severity: text("severity"),
            created_at: now,
            last_status_change_at: now,
            acknowledged_at: None,
            resolved_at: None,
            alert_id: self.unique_id('Q', 13),
            trigger: entry.event.clone(),
            log: vec![entry],
        };
        self.incidents.push(incident);
    }

    /// The incident with this id or incident number.
    pub fn find(&self, ident: &str) -> Option<&Incident> {
        self.incidents
            .iter()
            .find(|i| i.id == ident || i.number.to_string() == ident)
    }

    /// `prefix` + `len` random uppercase letters/digits, unused by any incident, alert or log.
    fn unique_id(&self, prefix: char, len: usize) -> String {
        loop {
            let id = format!("{prefix}{}", random_upper(len));
            let taken = self
                .incidents
                .iter()
                .any(|i| i.id == id || i.alert_id == id || i.log.iter().any(|e| e.id == id));
            if !taken {
                return id;
            }
        }
    }
}

fn random_upper(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

fn random_hex(n: usize) -> String {
    const CHARS: &[u8] = b"0123456789abcdef";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(action: Action, key: Option<&str>) -> Event {
        let raw = json!({
            "event_action": action.as_str(),
            "payload": {"summary": "Disk full", "source": "h1", "severity": "warning"},
        });
        Event {
            action,
            dedup_key: key.map(str::to_string),
            raw: raw.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn dedup_ack_resolve_and_reopen() {
        let mut s = Store::default();
        let now = Utc::now();
        assert_eq!(s.apply(ev(Action::Trigger, Some("k")), now), "k");
        s.apply(ev(Action::Trigger, Some("k")), now);
        assert_eq!(s.incidents.len(), 1);
        assert_eq!(s.incidents[0].trigger_count(), 2);
        assert_eq!(s.incidents[0].urgency(), "low");
        s.apply(ev(Action::Acknowledge, Some("k")), now);
        assert_eq!(s.incidents[0].status, Status::Acknowledged);
        s.apply(ev(Action::Resolve, Some("k")), now);
        assert_eq!(s.incidents[0].status, Status::Resolved);
        s.apply(ev(Action::Trigger, Some("k")), now);
        assert_eq!(s.incidents.len(), 2);
        assert_eq!(s.incidents[1].number, 2);
        assert_eq!(s.incidents[0].log.len(), 4);
    }

    #[test]
    fn unknown_keys_change_nothing_and_triggers_get_keys() {
        let mut s = Store::default();
        s.apply(ev(Action::Resolve, Some("nope")), Utc::now());
        assert!(s.incidents.is_empty());
        assert_eq!(s.dropped.len(), 1);
        let key = s.apply(ev(Action::Trigger, None), Utc::now());
        assert_eq!(key.len(), 32);
        let id = &s.incidents[0].id;
        assert!(id.starts_with('P') && id.len() == 7);
        assert!(s.find("1").is_some() && s.find(id).is_some());
    }
}
