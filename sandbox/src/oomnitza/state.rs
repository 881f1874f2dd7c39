//! Oomnitza's stored records: assets (keyed by `equipment_id`) and users (keyed by `username`),
//! each with the set of field names the tenant "has", so unknown fields are refused like a
//! real tenant refuses fields it has no definition for.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::seed::OomnitzaSeed;

/// Core asset fields every tenant has (vendor-apis §3); seeded and injected records add more.
pub const ASSET_FIELDS: &[&str] = &[
    "equipment_id",
    "serial_number",
    "device_name",
    "assigned_to",
    "status",
    "asset_type",
    "model",
    "manufacturer",
    "operating_system",
    "ip_address",
    "mac_address",
    "currently_logged_in_user",
    "location",
    "department",
    "barcode",
    "purchase_date",
    "warranty_end_date",
    "creation_date",
    "change_date",
    "uid",
];

/// Core user fields every tenant has (vendor-apis §3).
pub const USER_FIELDS: &[&str] = &[
    "username",
    "user_id",
    "email",
    "first_name",
    "last_name",
    "full_name",
    "position",
    "phone_number",
    "suspended",
    "external_id",
    "role",
    "last_login_date",
    "creation_date",
    "change_date",
    "uid",
];

/// Fields the API fills in and never lets a client write.
pub const READ_ONLY: &[&str] = &["uid", "creation_date", "change_date"];

/// Unix time the seeded records were "created" (2025-01-06T09:00:00Z).
const SEED_TIME: i64 = 1_736_154_000;

/// One kind of record (assets or users) with its key field and known field names.
#[derive(Debug, Clone)]
pub struct Collection {
    /// The field that identifies a record (`equipment_id`, `username`).
    pub key: &'static str,
    /// Records in creation order.
    pub records: Vec<Map<String, Value>>,
    /// Every field name this collection accepts in filters, sorts, projections and writes.
    pub known: BTreeSet<String>,
}

impl Collection {
    fn new(key: &'static str, core: &[&str]) -> Self {
        Collection {
            key,
            records: Vec::new(),
            known: core.iter().map(|f| f.to_string()).collect(),
        }
    }

    /// Adds a record, or replaces the one with the same key, filling in missing core fields
    /// with null and the read-only bookkeeping fields. Returns the stored record.
    /// A replaced record keeps its `uid` and `creation_date` unless the new one sets them.
    pub fn upsert(&mut self, mut record: Map<String, Value>, now: i64) -> Map<String, Value> {
        self.learn_fields(record.keys());
        for field in &self.known {
            record.entry(field.clone()).or_insert(Value::Null);
        }
        let key = record.get(self.key).cloned();
        let slot = self
            .records
            .iter()
            .position(|r| r.get(self.key) == key.as_ref());
        for kept in ["uid", "creation_date"] {
            let old = slot.and_then(|i| self.records[i].get(kept)).cloned();
            if record.get(kept).is_none_or(Value::is_null) {
                record.insert(kept.into(), old.unwrap_or(Value::Null));
            }
        }
        record.insert("change_date".into(), Value::from(now));
        if record.get("creation_date").is_none_or(Value::is_null) {
            record.insert("creation_date".into(), Value::from(now));
        }
        if record.get("uid").is_none_or(Value::is_null) {
            let uid = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
            record.insert("uid".into(), Value::String(uid));
        }
        match slot {
            Some(i) => self.records[i] = record.clone(),
            None => self.records.push(record.clone()),
        }
        record
    }

    /// Adds field names to the tenant's schema; every stored record gets them as null.
    fn learn_fields<'a>(&mut self, names: impl Iterator<Item = &'a String>) {
        let new: Vec<String> = names
            .filter(|n| !self.known.contains(*n))
            .cloned()
            .collect();
        for name in new {
            for r in &mut self.records {
                r.entry(name.clone()).or_insert(Value::Null);
            }
            self.known.insert(name);
        }
    }

    /// The record whose key field, or any of `also` fields, equals `ident`.
    pub fn find(&self, ident: &str, also: &[&str]) -> Option<&Map<String, Value>> {
        self.position(ident, also).map(|i| &self.records[i])
    }

    /// Index of the record [`Collection::find`] would answer.
    pub fn position(&self, ident: &str, also: &[&str]) -> Option<usize> {
        let by = |field: &str| {
            self.records
                .iter()
                .position(|r| r.get(field).and_then(Value::as_str) == Some(ident))
        };
        std::iter::once(self.key)
            .chain(also.iter().copied())
            .find_map(by)
    }
}

/// Everything the Oomnitza simulator stores.
#[derive(Debug, Clone)]
pub struct State {
    /// Assets by `equipment_id`.
    pub assets: Collection,
    /// Users by `username`.
    pub users: Collection,
    /// Next number for generated `equipment_id`s (`EQ-9001`, …).
    pub next_equipment: u64,
    /// Next number for generated `user_id`s.
    pub next_user: u64,
}

impl State {
    /// The seed's assets and users.
    pub fn from_seed(seed: &OomnitzaSeed) -> State {
        let mut state = State {
            assets: Collection::new("equipment_id", ASSET_FIELDS),
            users: Collection::new("username", USER_FIELDS),
            next_equipment: 9001,
            next_user: 900,
        };
        for asset in seed.assets.iter().filter_map(Value::as_object) {
            state.assets.upsert(asset.clone(), SEED_TIME);
        }
        for user in seed.users.iter().filter_map(Value::as_object) {
            state.users.upsert(user.clone(), SEED_TIME);
        }
        state
    }

    /// A fresh `equipment_id` no stored asset uses.
    pub fn new_equipment_id(&mut self) -> String {
        loop {
            let id = format!("EQ-{}", self.next_equipment);
            self.next_equipment += 1;
            if self.assets.find(&id, &[]).is_none() {
                return id;
            }
        }
    }

    /// A fresh `user_id` no stored user uses.
    pub fn new_user_id(&mut self) -> String {
        loop {
            let id = format!("OU-{}", self.next_user);
            self.next_user += 1;
            if self.users.find(&id, &["user_id"]).is_none() {
                return id;
            }
        }
    }
}

/// The current time as Unix seconds, the way Oomnitza stores `creation_date`/`change_date`.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Seed;

    #[test]
    fn seed_records_get_core_fields_and_bookkeeping() {
        let s = State::from_seed(&Seed::standard().oomnitza);
        let a = s.assets.find("EQ-1001", &[]).unwrap();
        assert_eq!(a["device_name"], "WS-CAROL-MBP");
        assert!(a.contains_key("barcode") && a["barcode"].is_null());
        assert_eq!(a["creation_date"], SEED_TIME);
        assert!(a["uid"].is_string());
        assert!(s.users.find("OU-101", &["user_id"]).is_some());
    }

    #[test]
    fn upsert_replaces_by_key() {
        let mut s = State::from_seed(&Seed::standard().oomnitza);
        let n = s.assets.records.len();
        let mut rec = Map::new();
        rec.insert("equipment_id".into(), "EQ-1001".into());
        rec.insert("device_name".into(), "NEW".into());
        s.assets.upsert(rec, 5);
        assert_eq!(s.assets.records.len(), n);
        assert_eq!(s.assets.find("EQ-1001", &[]).unwrap()["device_name"], "NEW");
        assert_ne!(s.new_equipment_id(), "EQ-1001");
    }
}
