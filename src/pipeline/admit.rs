//! Which open case an alert joins: the grouping key (a new case's first steps are
//! [`crate::case::Case::open`]).

use super::config::GroupField;
use crate::case::Alert;

/// The grouping key: the configured fields joined, e.g. `device=abc|technique=T1059`. An
/// identity alert's "device" is its account, so one person's sign-in alerts group together.
pub fn group_key(alert: &Alert, fields: &[GroupField]) -> String {
    let mut parts = Vec::with_capacity(fields.len());
    for field in fields {
        let value = match field {
            GroupField::Device => alert
                .device
                .as_ref()
                .map(|d| d.device_id.clone())
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| account(alert)),
            GroupField::Technique => alert.technique_id.clone(),
            GroupField::Tactic => alert.tactic.clone(),
            GroupField::User => account(alert),
            GroupField::Name => alert.name.clone(),
        };
        parts.push(format!("{}={}", field_name(*field), value.to_lowercase()));
    }
    if parts.is_empty() {
        return format!("alert={}", alert.id);
    }
    parts.join("|")
}

fn account(alert: &Alert) -> String {
    if alert.account_upn.is_empty() {
        alert.user_name.clone()
    } else {
        alert.account_upn.clone()
    }
}

fn field_name(field: GroupField) -> &'static str {
    match field {
        GroupField::Device => "device",
        GroupField::Technique => "technique",
        GroupField::Tactic => "tactic",
        GroupField::User => "user",
        GroupField::Name => "name",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::AlertDevice;

    #[test]
    fn device_and_technique_by_default_and_account_for_identity_alerts() {
        let fields = [GroupField::Device, GroupField::Technique];
        let endpoint = Alert {
            technique_id: "T1059".into(),
            device: Some(AlertDevice {
                device_id: "ABC".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(group_key(&endpoint, &fields), "device=abc|technique=t1059");
        let identity = Alert {
            technique_id: "T1110".into(),
            account_upn: "Dan.Kim@acme.example".into(),
            ..Default::default()
        };
        assert_eq!(
            group_key(&identity, &fields),
            "device=dan.kim@acme.example|technique=t1110"
        );
    }
}
