//! The Hosts API (vendor-apis §2.5): device details by id (`GET` with repeated `ids`, max 100,
//! and `POST` with `{"ids"}`, max 5000), id search with FQL, and containment actions.
//!
//! Containment moves `normal` → `containment_pending` → `contained` and `contained` →
//! `lift_containment_pending` → `normal`; the pending state settles `containment_delay_ms`
//! after the action (2 s by default), computed lazily whenever a host is read. Falcon treats
//! the containment actions on one host as last-write-wins: an action that reverses a change
//! still pending is accepted (202) and turns it round (`lift_containment` on a
//! `containment_pending` host moves it to `lift_containment_pending`, then `normal`; `contain`
//! on a `lift_containment_pending` host moves it back to `containment_pending`, then
//! `contained`), which is FalconPy's contain-then-lift sequence. Asking for the state a host is
//! already in or on its way to (contain a contained or `containment_pending` host, lift a
//! `normal` or `lift_containment_pending` one) answers 409, Falcon's status for an action in
//! conflict with the host's state. `hide_host` removes the host from `queries/devices/v1` (Falcon lists hidden
//! hosts elsewhere) and marks `host_hidden_status: "hidden"`; `unhide_host` restores it.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use parking_lot::Mutex;
use rand::Rng;
use serde_json::{Map, Value, json};

use super::super::seed::CID;
use super::super::{Sandbox, Seed};
use super::alert_shape::timestamp;
use super::auth::authorize;
use super::envelope::{Call, HOSTS, RateInfo, error_for_id};
use super::fql::{self, Sort};
use super::request::{Incoming, body_ids, dedup};

/// Most ids `GET /devices/entities/devices/v2` takes.
const MAX_GET_IDS: usize = 100;
/// Most ids `POST /devices/entities/devices/v2` takes.
const MAX_POST_IDS: usize = 5000;
/// Most ids one containment action takes (Falcon documents 100 hosts per action request).
const MAX_ACTION_IDS: usize = 100;
/// Largest `limit` of `queries/devices/v1`.
const MAX_QUERY_LIMIT: u64 = 5000;

#[derive(Debug, Clone)]
struct Host {
    record: Map<String, Value>,
    pending_until: Option<DateTime<Utc>>,
}

impl Host {
    fn new(record: Map<String, Value>) -> Self {
        Host {
            record,
            pending_until: None,
        }
    }

    fn id(&self) -> &str {
        self.record
            .get("device_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    fn status(&self) -> &str {
        self.record
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("normal")
    }

    /// Turns a pending containment change into its end state once its time has come.
    fn settle(&mut self, now: DateTime<Utc>) {
        let Some(until) = self.pending_until else {
            return;
        };
        if now < until {
            return;
        }
        let next = match self.status() {
            "containment_pending" => "contained",
            "lift_containment_pending" => "normal",
            _ => return,
        };
        self.record.insert("status".into(), json!(next));
        self.pending_until = None;
    }
}

/// The simulator's hosts, in insertion order (the default order of id searches).
#[derive(Debug, Default)]
pub struct Hosts(Mutex<Vec<Host>>);

impl Hosts {
    /// The seed's devices, all `normal` (uncontained); a reset returns to exactly this.
    pub fn from_seed(seed: &Seed) -> Self {
        let hosts = Hosts::default();
        hosts.reset(seed);
        hosts
    }

    /// Back to the seed's devices, every containment undone.
    pub fn reset(&self, seed: &Seed) {
        let hosts = seed
            .crowdstrike
            .devices
            .iter()
            .filter_map(|d| d.as_object().cloned())
            .map(Host::new)
            .collect();
        *self.0.lock() = hosts;
    }

    /// Every host record as it reads now (pending changes settled), hidden ones included.
    pub fn snapshot(&self, now: DateTime<Utc>) -> Vec<Value> {
        let mut all = self.0.lock();
        all.iter_mut()
            .map(|h| {
                h.settle(now);
                Value::Object(h.record.clone())
            })
            .collect()
    }

    /// Adds or replaces (by `device_id`) one host, filling defaults; answers the stored record.
    pub fn upsert(&self, input: Map<String, Value>, now: DateTime<Utc>) -> Value {
        let record = device_defaults(input, now);
        let host = Host::new(record.clone());
        let mut all = self.0.lock();
        match all.iter_mut().find(|h| h.id() == host.id()) {
            Some(existing) => *existing = host,
            None => all.push(host),
        }
        Value::Object(record)
    }

    fn lookup(&self, ids: &[String], now: DateTime<Utc>) -> (Vec<Value>, Vec<String>) {
        let mut all = self.0.lock();
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for id in ids {
            match all.iter_mut().find(|h| h.id() == id) {
                Some(h) => {
                    h.settle(now);
                    found.push(Value::Object(h.record.clone()));
                }
                None => missing.push(id.clone()),
            }
        }
        (found, missing)
    }
}

/// A device record with every field the Hosts API returns, `input` winning.
fn device_defaults(input: Map<String, Value>, now: DateTime<Utc>) -> Map<String, Value> {
    let id = input
        .get("device_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(random_device_id);
    let seen = timestamp(now);
    let short = id.get(..6).unwrap_or(&id).to_ascii_uppercase();
    let defaults = json!({
        "device_id": id,
        "cid": CID,
        "hostname": format!("HOST-{short}"),
        "serial_number": format!("SN{short}"),
        "platform_name": "Windows",
        "os_version": "Windows 11",
        "os_product_name": "Windows 11",
        "agent_version": "7.14.18408.0",
        "local_ip": "10.20.9.9",
        "external_ip": "203.0.113.10",
        "mac_address": "00-50-56-00-00-99",
        "machine_domain": "corp.acme.example",
        "ou": [],
        "site_name": "HQ",
        "status": "normal",
        "tags": [],
        "groups": [],
        "first_seen": seen,
        "last_seen": seen,
        "product_type_desc": "Workstation",
    });
    let mut record = match defaults {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    record.extend(input);
    record.insert("device_id".into(), json!(id));
    record
}

fn random_device_id() -> String {
    const DIGITS: &[u8] = b"0123456789abcdef";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(DIGITS[rng.random_range(0..16)]))
        .collect()
}

/// Reads the request and authorizes it for the Hosts API.
async fn begin(sb: &Sandbox, req: Request) -> Result<(Incoming, Call), Box<Response>> {
    let inc = Incoming::read(req).await.map_err(|e| {
        Box::new(Call::new(HOSTS, RateInfo::unmetered()).error(StatusCode::PAYLOAD_TOO_LARGE, e))
    })?;
    let call = authorize(sb, &inc, HOSTS)?;
    Ok((inc, call))
}

/// Answers found devices, or 404 listing the unknown ids next to the found ones.
fn details(sb: &Sandbox, call: &Call, ids: Vec<String>, max: usize) -> Response {
    let ids = dedup(ids);
    if ids.is_empty() {
        return call.error(
            StatusCode::BAD_REQUEST,
            "ids: at least one device id is required",
        );
    }
    if ids.len() > max {
        return call.error(
            StatusCode::BAD_REQUEST,
            format!("ids: a maximum of {max} device ids may be requested at once"),
        );
    }
    let (found, missing) = sb.crowdstrike.hosts.lookup(&ids, Utc::now());
    if missing.is_empty() {
        return call.ok(StatusCode::OK, json!(found), Map::new());
    }
    let errors = missing
        .iter()
        .map(|id| error_for_id(404, format!("device {id} not found"), id))
        .collect();
    call.partial(StatusCode::NOT_FOUND, json!(found), errors)
}

/// `GET /devices/entities/devices/v2?ids=…&ids=…` (max 100).
pub async fn get_details(State(sb): State<Sandbox>, req: Request) -> Response {
    let (inc, call) = match begin(&sb, req).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    details(&sb, &call, inc.query_all("ids"), MAX_GET_IDS)
}

/// `POST /devices/entities/devices/v2` `{"ids":[…]}` (max 5000): what FalconPy's
/// `get_device_details` sends.
pub async fn post_details(State(sb): State<Sandbox>, req: Request) -> Response {
    let (inc, call) = match begin(&sb, req).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let ids = match inc.json_object().and_then(|b| body_ids(&b, "ids")) {
        Ok(ids) => ids,
        Err(e) => return call.error(StatusCode::BAD_REQUEST, e),
    };
    details(&sb, &call, ids, MAX_POST_IDS)
}

/// `GET /devices/queries/devices/v1?filter&limit&offset&sort` → device ids.
pub async fn query(State(sb): State<Sandbox>, req: Request) -> Response {
    let (inc, call) = match begin(&sb, req).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match search(&sb, &inc) {
        Ok((ids, pagination)) => call.ok(StatusCode::OK, json!(ids), pagination),
        Err(e) => call.error(StatusCode::BAD_REQUEST, e),
    }
}

fn search(sb: &Sandbox, inc: &Incoming) -> Result<(Vec<Value>, Map<String, Value>), String> {
    let filter = fql::parse(&inc.query_one("filter").unwrap_or_default()).map_err(|e| e.0)?;
    let sort = match inc.query_one("sort").filter(|s| !s.trim().is_empty()) {
        Some(s) => Some(Sort::parse(&s).map_err(|e| e.0)?),
        None => None,
    };
    let limit = inc.query_uint("limit")?.unwrap_or(100);
    if !(1..=MAX_QUERY_LIMIT).contains(&limit) {
        return Err(format!("limit must be between 1 and {MAX_QUERY_LIMIT}"));
    }
    let offset = inc.query_uint("offset")?.unwrap_or(0);
    let now = Utc::now();
    let mut matching: Vec<Value> = sb
        .crowdstrike
        .hosts
        .snapshot(now)
        .into_iter()
        .filter(|d| d.get("host_hidden_status").and_then(Value::as_str) != Some("hidden"))
        .filter(|d| filter.matches(d, now))
        .collect();
    if let Some(sort) = &sort {
        matching.sort_by(|a, b| sort.compare(a, b));
    }
    let total = matching.len();
    let ids = matching
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .filter_map(|d| d.get("device_id").cloned())
        .collect();
    let mut meta = Map::new();
    meta.insert(
        "pagination".into(),
        json!({"offset": offset, "limit": limit, "total": total}),
    );
    Ok((ids, meta))
}

/// A containment or visibility action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Contain,
    LiftContainment,
    Hide,
    Unhide,
}

impl Action {
    fn parse(name: &str) -> Option<Action> {
        match name {
            "contain" => Some(Action::Contain),
            "lift_containment" => Some(Action::LiftContainment),
            "hide_host" => Some(Action::Hide),
            "unhide_host" => Some(Action::Unhide),
            _ => None,
        }
    }
}

/// `POST /devices/entities/devices-actions/v2?action_name=…` `{"ids":[…]}` → 202 with
/// `{"id","path":""}` per host acted on; unknown ids 404, conflicting states 409.
pub async fn action(State(sb): State<Sandbox>, req: Request) -> Response {
    let (inc, call) = match begin(&sb, req).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let name = inc.query_one("action_name").unwrap_or_default();
    let Some(action) = Action::parse(name.trim()) else {
        return call.error(
            StatusCode::BAD_REQUEST,
            format!(
                "invalid action_name '{name}': use contain, lift_containment, hide_host or unhide_host"
            ),
        );
    };
    let ids = match inc.json_object().and_then(|b| body_ids(&b, "ids")) {
        Ok(ids) => dedup(ids),
        Err(e) => return call.error(StatusCode::BAD_REQUEST, e),
    };
    if ids.is_empty() {
        return call.error(
            StatusCode::BAD_REQUEST,
            "ids: at least one device id is required",
        );
    }
    if ids.len() > MAX_ACTION_IDS {
        return call.error(
            StatusCode::BAD_REQUEST,
            format!("ids: a maximum of {MAX_ACTION_IDS} hosts may be acted on at once"),
        );
    }
    let delay = Duration::milliseconds(
        i64::try_from(sb.crowdstrike.knobs.lock().containment_delay_ms).unwrap_or(i64::MAX),
    );
    let (done, errors) = sb.crowdstrike.hosts.act(action, &ids, Utc::now(), delay);
    let resources: Vec<Value> = done
        .iter()
        .map(|id| json!({"id": id, "path": ""}))
        .collect();
    let status = worst_status(&errors);
    match status {
        None => call.ok(StatusCode::ACCEPTED, json!(resources), Map::new()),
        Some(s) => call.partial(s, json!(resources), errors),
    }
}

/// 404 when any id was unknown, else 409 when any host was in a conflicting state.
fn worst_status(errors: &[Value]) -> Option<StatusCode> {
    let has = |code: u64| errors.iter().any(|e| e["code"].as_u64() == Some(code));
    if has(404) {
        Some(StatusCode::NOT_FOUND)
    } else if has(409) {
        Some(StatusCode::CONFLICT)
    } else {
        None
    }
}

impl Hosts {
    /// Applies `action` to each id: the ids acted on, and the errors for the others.
    fn act(
        &self,
        action: Action,
        ids: &[String],
        now: DateTime<Utc>,
        delay: Duration,
    ) -> (Vec<String>, Vec<Value>) {
        let mut all = self.0.lock();
        let mut done = Vec::new();
        let mut errors = Vec::new();
        for id in ids {
            let Some(host) = all.iter_mut().find(|h| h.id() == id) else {
                errors.push(error_for_id(404, format!("device {id} not found"), id));
                continue;
            };
            host.settle(now);
            match apply(host, action, now + delay) {
                Ok(()) => {
                    host.settle(now);
                    done.push(id.clone());
                }
                Err(msg) => errors.push(error_for_id(409, msg, id)),
            }
        }
        (done, errors)
    }
}

fn apply(host: &mut Host, action: Action, settle_at: DateTime<Utc>) -> Result<(), String> {
    let id = host.id().to_string();
    match (action, host.status()) {
        (Action::Contain, "normal" | "lift_containment_pending") => {
            host.record
                .insert("status".into(), json!("containment_pending"));
            host.pending_until = Some(settle_at);
            Ok(())
        }
        (Action::Contain, state) => Err(format!(
            "host {id} cannot be contained while its status is {state}"
        )),
        (Action::LiftContainment, "contained" | "containment_pending") => {
            host.record
                .insert("status".into(), json!("lift_containment_pending"));
            host.pending_until = Some(settle_at);
            Ok(())
        }
        (Action::LiftContainment, state) => Err(format!(
            "containment cannot be lifted from host {id} while its status is {state}"
        )),
        (Action::Hide, _) => {
            host.record
                .insert("host_hidden_status".into(), json!("hidden"));
            Ok(())
        }
        (Action::Unhide, _) => {
            host.record.remove("host_hidden_status");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(status: &str) -> Host {
        let mut record = Map::new();
        record.insert("device_id".into(), json!("aid1"));
        record.insert("status".into(), json!(status));
        Host::new(record)
    }

    #[test]
    fn containment_settles_after_the_delay() {
        let now = Utc::now();
        let mut h = host("normal");
        assert!(apply(&mut h, Action::Contain, now + Duration::seconds(2)).is_ok());
        h.settle(now);
        assert_eq!(h.status(), "containment_pending");
        h.settle(now + Duration::seconds(2));
        assert_eq!(h.status(), "contained");
        assert!(
            apply(&mut h, Action::Contain, now).is_err(),
            "already contained"
        );
        assert!(apply(&mut h, Action::LiftContainment, now + Duration::seconds(2)).is_ok());
        assert_eq!(h.status(), "lift_containment_pending");
        h.settle(now + Duration::seconds(3));
        assert_eq!(h.status(), "normal");
        assert!(
            apply(&mut h, Action::LiftContainment, now).is_err(),
            "not contained"
        );
    }

    #[test]
    fn containment_actions_are_last_write_wins_while_pending() {
        let now = Utc::now();
        let later = now + Duration::seconds(2);
        let mut h = host("normal");
        assert!(apply(&mut h, Action::Contain, later).is_ok());
        assert!(
            apply(&mut h, Action::LiftContainment, later).is_ok(),
            "lift while containment is pending is accepted"
        );
        assert_eq!(h.status(), "lift_containment_pending");
        assert!(
            apply(&mut h, Action::LiftContainment, later).is_err(),
            "already on its way to normal"
        );
        assert!(
            apply(&mut h, Action::Contain, later).is_ok(),
            "contain while the lift is pending is accepted"
        );
        assert_eq!(h.status(), "containment_pending");
        h.settle(later);
        assert_eq!(h.status(), "contained");
    }

    #[test]
    fn hide_and_unhide_toggle_visibility() {
        let mut h = host("normal");
        assert!(apply(&mut h, Action::Hide, Utc::now()).is_ok());
        assert_eq!(h.record["host_hidden_status"], "hidden");
        assert!(apply(&mut h, Action::Unhide, Utc::now()).is_ok());
        assert!(h.record.get("host_hidden_status").is_none());
    }

    #[test]
    fn upsert_fills_defaults_and_replaces_by_id() {
        let hosts = Hosts::from_seed(&Seed::standard());
        let mut input = Map::new();
        input.insert("hostname".into(), json!("NEW-1"));
        let rec = hosts.upsert(input, Utc::now());
        assert_eq!(rec["device_id"].as_str().map(str::len), Some(32));
        assert_eq!(rec["status"], "normal");
        let mut again = Map::new();
        again.insert("device_id".into(), rec["device_id"].clone());
        again.insert("hostname".into(), json!("NEW-2"));
        hosts.upsert(again, Utc::now());
        let snap = hosts.snapshot(Utc::now());
        assert_eq!(
            snap.iter()
                .filter(|d| d["device_id"] == rec["device_id"])
                .count(),
            1
        );
        assert!(snap.iter().any(|d| d["hostname"] == "NEW-2"));
    }
}
