//! Falcon's wire shapes (vendor-apis §2.3–§2.5) and the one place a Falcon alert becomes the
//! domain [`Alert`]. Every field that comes from Falcon is treated as untrusted and optional:
//! alert shapes differ by product (`epp` with a `device`, `idp` without), by age (no
//! `severity_name`) and by tenant, and none of that may stop a case.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::case::{Alert, AlertDevice};
use crate::vendors::http::{lenient_list, lenient_text, text_of};

/// The envelope of every Falcon answer: `{"meta","resources","errors"}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Envelope<T> {
    /// Query metadata, including paging.
    #[serde(default)]
    pub meta: Meta,
    /// The results; `null` or absent on errors and on write calls.
    #[serde(default = "Option::default")]
    pub resources: Option<Vec<T>>,
    /// Errors; `[]` or `null` on success.
    #[serde(default)]
    pub errors: Option<Vec<FalconError>>,
}

/// `meta` of an envelope.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Meta {
    /// Paging, on list calls.
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

/// `meta.pagination`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pagination {
    /// Matches in all, when Falcon counts them.
    #[serde(default)]
    pub total: Option<u64>,
    /// The token for the next page of `alerts/combined`; absent on the last page.
    #[serde(default, deserialize_with = "lenient_text")]
    pub after: Option<String>,
}

/// One entry of `errors`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FalconError {
    /// HTTP-like code.
    #[serde(default)]
    pub code: Option<i64>,
    /// What went wrong.
    #[serde(default, deserialize_with = "lenient_text")]
    pub message: Option<String>,
    /// The id the error is about, when it is about one.
    #[serde(default, deserialize_with = "lenient_text")]
    pub id: Option<String>,
}

/// One page of `POST /alerts/combined/alerts/v1`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertPage {
    /// Full alert objects, as Falcon sent them (turn each into an `Alert` with
    /// [`alert_from_falcon`], so that one odd alert cannot fail the page).
    pub alerts: Vec<Value>,
    /// The token for the next page; `None` on the last page.
    pub after: Option<String>,
    /// Matches in all, when Falcon says.
    pub total: Option<u64>,
}

/// A host from the Hosts API (vendor-apis §2.5). Everything but `device_id` is optional, and
/// fields Vigil does not name are kept in `extra` for display.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Device {
    /// Falcon's agent id (`aid`).
    pub device_id: String,
    /// Customer id.
    #[serde(default, deserialize_with = "lenient_text")]
    pub cid: Option<String>,
    /// Host name.
    #[serde(default, deserialize_with = "lenient_text")]
    pub hostname: Option<String>,
    /// Internal IP.
    #[serde(default, deserialize_with = "lenient_text")]
    pub local_ip: Option<String>,
    /// Public IP as Falcon saw it.
    #[serde(default, deserialize_with = "lenient_text")]
    pub external_ip: Option<String>,
    /// MAC address.
    #[serde(default, deserialize_with = "lenient_text")]
    pub mac_address: Option<String>,
    /// `Windows`, `Mac`, `Linux`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub platform_name: Option<String>,
    /// OS version.
    #[serde(default, deserialize_with = "lenient_text")]
    pub os_version: Option<String>,
    /// OS product name.
    #[serde(default, deserialize_with = "lenient_text")]
    pub os_product_name: Option<String>,
    /// Sensor version.
    #[serde(default, deserialize_with = "lenient_text")]
    pub agent_version: Option<String>,
    /// Hardware serial number: the key into the asset inventory.
    #[serde(default, deserialize_with = "lenient_text")]
    pub serial_number: Option<String>,
    /// AD domain.
    #[serde(default, deserialize_with = "lenient_text")]
    pub machine_domain: Option<String>,
    /// AD organisational units.
    #[serde(default, deserialize_with = "lenient_list")]
    pub ou: Vec<String>,
    /// AD site.
    #[serde(default, deserialize_with = "lenient_text")]
    pub site_name: Option<String>,
    /// `normal`, `containment_pending`, `contained`, `lift_containment_pending`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: Option<String>,
    /// First seen by Falcon.
    #[serde(default, deserialize_with = "lenient_text")]
    pub first_seen: Option<String>,
    /// Last seen by Falcon.
    #[serde(default, deserialize_with = "lenient_text")]
    pub last_seen: Option<String>,
    /// Last user who logged in.
    #[serde(default, deserialize_with = "lenient_text")]
    pub last_login_user: Option<String>,
    /// Sensor grouping tags.
    #[serde(default, deserialize_with = "lenient_list")]
    pub tags: Vec<String>,
    /// Host group ids.
    #[serde(default, deserialize_with = "lenient_list")]
    pub groups: Vec<String>,
    /// `Workstation`, `Server`, `Domain Controller`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub product_type_desc: Option<String>,
    /// Hardware vendor.
    #[serde(default, deserialize_with = "lenient_text")]
    pub system_manufacturer: Option<String>,
    /// Hardware model.
    #[serde(default, deserialize_with = "lenient_text")]
    pub system_product_name: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Device {
    /// Whether the host is contained or on its way there.
    pub fn is_contained(&self) -> bool {
        matches!(
            self.status.as_deref(),
            Some("contained") | Some("containment_pending")
        )
    }
}

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
        raw: v.clone(),
        ..Default::default()
    })
}

/// The FQL filter for alerts changed after `since`: `updated_timestamp:>'2024-01-01T00:00:00.000Z'`.
pub fn updated_since_filter(since: &DateTime<Utc>) -> String {
    format!(
        "updated_timestamp:>'{}'",
        since.to_rfc3339_opts(SecondsFormat::Millis, true)
    )
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
