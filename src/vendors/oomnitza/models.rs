//! Oomnitza's records (vendor-apis §3). Tenants add custom fields and type core ones
//! differently, so every field is optional text and everything else is kept in `extra`.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::vendors::http::lenient_text;

/// An asset: the device record that names its owner.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Asset {
    /// The record's id (`ident` in `/api/v3/assets/{ident}`).
    #[serde(default, deserialize_with = "lenient_text")]
    pub equipment_id: Option<String>,
    /// Hardware serial number (matches Falcon's `serial_number`).
    #[serde(default, deserialize_with = "lenient_text")]
    pub serial_number: Option<String>,
    /// Host name, matched against the alert's hostname (`filter=device_name eq '…'`).
    #[serde(default, deserialize_with = "lenient_text")]
    pub device_name: Option<String>,
    /// The owner: a user's `username` (resolve with the users API); `None` when unassigned.
    #[serde(default, deserialize_with = "lenient_text")]
    pub assigned_to: Option<String>,
    /// Lifecycle status, as text the tenant defines.
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: Option<String>,
    /// `Laptop`, `Server`, ….
    #[serde(default, deserialize_with = "lenient_text")]
    pub asset_type: Option<String>,
    /// Core field `model`: hardware model, free text.
    #[serde(default, deserialize_with = "lenient_text")]
    pub model: Option<String>,
    /// Core field `manufacturer`: hardware vendor, free text.
    #[serde(default, deserialize_with = "lenient_text")]
    pub manufacturer: Option<String>,
    /// Core field `operating_system`, free text as the tenant types it.
    #[serde(default, deserialize_with = "lenient_text")]
    pub operating_system: Option<String>,
    /// Core field `ip_address`, as of the inventory's last sync (may be stale).
    #[serde(default, deserialize_with = "lenient_text")]
    pub ip_address: Option<String>,
    /// Core field `mac_address`, in whatever notation the tenant uses.
    #[serde(default, deserialize_with = "lenient_text")]
    pub mac_address: Option<String>,
    /// Who is logged in now, by the inventory's last sync.
    #[serde(default, deserialize_with = "lenient_text")]
    pub currently_logged_in_user: Option<String>,
    /// Core field `location` (site or office), free text.
    #[serde(default, deserialize_with = "lenient_text")]
    pub location: Option<String>,
    /// Core field `department` of the asset, free text.
    #[serde(default, deserialize_with = "lenient_text")]
    pub department: Option<String>,
    /// Core field `barcode`: the asset tag label.
    #[serde(default, deserialize_with = "lenient_text")]
    pub barcode: Option<String>,
    /// Core field `purchase_date` (ISO 8601 or Unix seconds, as the tenant sends it).
    #[serde(default, deserialize_with = "lenient_text")]
    pub purchase_date: Option<String>,
    /// Core field `warranty_end_date` (ISO 8601 or Unix seconds).
    #[serde(default, deserialize_with = "lenient_text")]
    pub warranty_end_date: Option<String>,
    /// Created (ISO 8601 or Unix seconds, as the tenant sends it).
    #[serde(default, deserialize_with = "lenient_text")]
    pub creation_date: Option<String>,
    /// When the record last changed (`change_date`; ISO 8601 or Unix seconds).
    #[serde(default, deserialize_with = "lenient_text")]
    pub change_date: Option<String>,
    /// Oomnitza's internal id.
    #[serde(default, deserialize_with = "lenient_text")]
    pub uid: Option<String>,
    /// Every other field (tenant custom fields), as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A person in the inventory.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct User {
    /// Login name; what an asset's `assigned_to` holds.
    #[serde(default, deserialize_with = "lenient_text")]
    pub username: Option<String>,
    /// `user_id`: the tenant's own id for the person (not the login).
    #[serde(default, deserialize_with = "lenient_text")]
    pub user_id: Option<String>,
    /// Email: how the owner is found in Slack.
    #[serde(default, deserialize_with = "lenient_text")]
    pub email: Option<String>,
    /// Given name; with `last_name`, the case owner's name.
    #[serde(default, deserialize_with = "lenient_text")]
    pub first_name: Option<String>,
    /// Family name; see `first_name`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub last_name: Option<String>,
    /// `full_name`, which [`User::display_name`] prefers when it is not blank.
    #[serde(default, deserialize_with = "lenient_text")]
    pub full_name: Option<String>,
    /// `position`: job title, free text.
    #[serde(default, deserialize_with = "lenient_text")]
    pub position: Option<String>,
    /// Core field `phone_number`, as the tenant stores it (not validated).
    #[serde(default, deserialize_with = "lenient_text")]
    pub phone_number: Option<String>,
    /// Whether the account is suspended (a suspended owner cannot answer).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub suspended: Option<bool>,
    /// Id in the HR/IdP system.
    #[serde(default, deserialize_with = "lenient_text")]
    pub external_id: Option<String>,
    /// The person's role in Oomnitza itself (access rights), not their job.
    #[serde(default, deserialize_with = "lenient_text")]
    pub role: Option<String>,
    /// Last sign-in to Oomnitza (`last_login_date`; ISO 8601 or Unix seconds).
    #[serde(default, deserialize_with = "lenient_text")]
    pub last_login_date: Option<String>,
    /// Oomnitza's internal id.
    #[serde(default, deserialize_with = "lenient_text")]
    pub uid: Option<String>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl User {
    /// The name to show: `full_name`, else first and last name, else the username.
    pub fn display_name(&self) -> Option<String> {
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        if let Some(full) = non_empty(&self.full_name) {
            return Some(full);
        }
        let parts: Vec<String> = [non_empty(&self.first_name), non_empty(&self.last_name)]
            .into_iter()
            .flatten()
            .collect();
        if !parts.is_empty() {
            return Some(parts.join(" "));
        }
        non_empty(&self.username)
    }
}

/// A bool a tenant may send as `true`, `"true"`, `1` or `"1"`; anything else is `None`.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::Number(n)) => n.as_i64().map(|n| n != 0),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    })
}
