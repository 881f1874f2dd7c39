//! Falcon's wire shapes (vendor-apis §2.3–§2.5). Alerts stay raw JSON here: their shapes differ
//! by product, age and tenant, and turning one into a case's `Alert` is the pipeline's job
//! (`pipeline::ingest`), so this client knows nothing of cases.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::vendors::http::{lenient_list, lenient_text};

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
    /// Falcon's status code for this error (usually the HTTP status, e.g. 400, 404, 429).
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
    /// `pipeline::ingest::alert_from_falcon`, so that one odd alert cannot fail the page).
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
    /// Falcon's customer id (`cid`): the tenant the host belongs to.
    #[serde(default, deserialize_with = "lenient_text")]
    pub cid: Option<String>,
    /// Host name as the sensor reports it; Oomnitza is searched by it (`device_name`).
    #[serde(default, deserialize_with = "lenient_text")]
    pub hostname: Option<String>,
    /// The host's internal (LAN) IP; `external_ip` is the one the internet sees.
    #[serde(default, deserialize_with = "lenient_text")]
    pub local_ip: Option<String>,
    /// Public IP as Falcon saw it.
    #[serde(default, deserialize_with = "lenient_text")]
    pub external_ip: Option<String>,
    /// MAC address in Falcon's notation, kept as text.
    #[serde(default, deserialize_with = "lenient_text")]
    pub mac_address: Option<String>,
    /// `Windows`, `Mac`, `Linux`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub platform_name: Option<String>,
    /// OS version string (`Windows 11`); copied onto the case's enrichment.
    #[serde(default, deserialize_with = "lenient_text")]
    pub os_version: Option<String>,
    /// OS product name (edition), finer than `os_version`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub os_product_name: Option<String>,
    /// Falcon sensor version, as text.
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
    /// Hardware vendor as the sensor reports it.
    #[serde(default, deserialize_with = "lenient_text")]
    pub system_manufacturer: Option<String>,
    /// Hardware model as the sensor reports it.
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

/// The FQL filter for alerts changed after `since`: `updated_timestamp:>'2024-01-01T00:00:00.000Z'`.
pub fn updated_since_filter(since: &DateTime<Utc>) -> String {
    format!(
        "updated_timestamp:>'{}'",
        since.to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}
