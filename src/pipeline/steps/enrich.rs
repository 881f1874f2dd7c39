//! Enrichment: the alert's host from CrowdStrike, its asset and owner from Oomnitza (or, for
//! an identity alert, the account's user). A pure lookup, so it needs no intent or crash
//! lookup; every miss or outage is a note on the case, never a stop.

use chrono::{DateTime, Utc};

use crate::case::{Case, Enrichment, Owner};
use crate::pipeline::engine::Engine;
use crate::vendors::VendorError;
use crate::vendors::crowdstrike::models::Device;
use crate::vendors::oomnitza::models::{Asset, User};

/// Enrichment never stops a case: every miss and outage becomes a note.
///
/// Calls that do not depend on each other run together (SPEC §2.3): the host details and the
/// Oomnitza asset both start from the alert's own device fields, so they take one round trip
/// between them; the owner's Slack user is looked up later, beside the GitHub issue (see
/// [`super::slack::lookup_owner_slack`]). Only when the host's serial number contradicts the asset found by
/// hostname (or no asset had that name) is the asset looked up again by serial, which wins.
pub(super) async fn enrich(engine: &Engine, case: &mut Case, now: DateTime<Utc>) {
    let mut e = Enrichment::default();
    if let Some(device) = case.alert.device.clone() {
        let mut hostname = device.hostname.clone();
        let (host, by_name) = tokio::join!(
            host_details(engine, &device.device_id),
            asset_by_hostname(engine, &device.hostname)
        );
        if let Some(host) = host {
            match host {
                Ok(Some(d)) => {
                    e.host_tags = d.tags.clone();
                    e.serial_number = d.serial_number.clone().unwrap_or_default();
                    e.os_version = d.os_version.clone().unwrap_or_default();
                    if let Some(h) = d.hostname.clone().filter(|h| !h.is_empty()) {
                        hostname = h;
                    }
                }
                Ok(None) => e
                    .notes
                    .push("CrowdStrike has no host details for this device".into()),
                Err(err) => e
                    .notes
                    .push(format!("{err}; continuing without host details")),
            }
        }
        e.owner = device_owner(engine, &mut e, by_name, &device.hostname, &hostname).await;
    } else {
        e.owner = identity_owner_lookup(engine, case, &mut e).await;
    }
    if e.owner.is_none() {
        e.notes.push("No owner found".into());
    }
    e.slack_looked_up = e.owner.as_ref().is_none_or(|o| o.email.is_empty());
    case.enriched(e, now);
}

type Lookup<T> = Option<Result<Option<T>, VendorError>>;

/// CrowdStrike's details of the alert's host; `None` when there is nothing to ask.
async fn host_details(engine: &Engine, device_id: &str) -> Lookup<Device> {
    let cs = engine.vendors.crowdstrike.as_ref()?;
    if device_id.is_empty() {
        return None;
    }
    Some(
        cs.devices(&[device_id.to_string()])
            .await
            .map(|found| found.into_iter().next()),
    )
}

/// The Oomnitza asset named like the alert's host; `None` when there is nothing to ask.
async fn asset_by_hostname(engine: &Engine, hostname: &str) -> Lookup<Asset> {
    let oom = engine.vendors.oomnitza.as_ref()?;
    if hostname.is_empty() {
        return None;
    }
    Some(oom.asset_by_hostname(hostname).await)
}

/// The device's owner: its Oomnitza asset's assignee. The asset is the one with the host's
/// serial number when CrowdStrike gave one, else the one with the host's name; `by_name` is
/// the by-hostname lookup already made from the alert.
async fn device_owner(
    engine: &Engine,
    e: &mut Enrichment,
    by_name: Lookup<Asset>,
    alert_hostname: &str,
    hostname: &str,
) -> Option<Owner> {
    let Some(oom) = &engine.vendors.oomnitza else {
        e.notes
            .push("Oomnitza is not configured; owner unknown".into());
        return None;
    };
    let mut named = match by_name {
        Some(Ok(a)) => a,
        Some(Err(err)) => {
            e.notes.push(format!("{err}; trying the serial number"));
            None
        }
        None => None,
    };
    let serial = e.serial_number.clone();
    let serial_agrees = |a: &Asset| {
        serial.is_empty()
            || a.serial_number
                .as_deref()
                .is_none_or(|s| s.is_empty() || s.eq_ignore_ascii_case(&serial))
    };
    let mut asset = named.take_if(|a| serial_agrees(a));
    if asset.is_none() && !serial.is_empty() {
        match oom.asset_by_serial(&serial).await {
            Ok(a) => asset = a,
            Err(err) => e.notes.push(format!("{err}; trying the hostname")),
        }
    }
    if asset.is_none() {
        asset = named;
    }
    if asset.is_none() && !hostname.is_empty() && !hostname.eq_ignore_ascii_case(alert_hostname) {
        match oom.asset_by_hostname(hostname).await {
            Ok(a) => asset = a,
            Err(err) => {
                e.notes.push(format!("{err}; owner unknown"));
                return None;
            }
        }
    }
    let Some(asset) = asset else {
        e.notes.push("No Oomnitza asset for this device".into());
        return None;
    };
    e.asset_id = asset.equipment_id.clone().unwrap_or_default();
    let username = asset.assigned_to.clone().filter(|a| !a.is_empty())?;
    match oom.user_by_username(&username).await {
        Ok(Some(u)) => Some(owner_of(&u)),
        Ok(None) => {
            e.notes.push(format!("Oomnitza user {username} not found"));
            None
        }
        Err(err) => {
            e.notes.push(format!("{err}; owner unknown"));
            None
        }
    }
}

/// For an identity alert (no device): the account's user, from Oomnitza when it knows them.
async fn identity_owner_lookup(engine: &Engine, case: &Case, e: &mut Enrichment) -> Option<Owner> {
    let Some(oom) = &engine.vendors.oomnitza else {
        e.notes
            .push("Oomnitza is not configured; owner unknown".into());
        return identity_owner(case);
    };
    let upn = case.alert.account_upn.clone();
    if upn.is_empty() {
        return None;
    }
    match oom.user_by_email(&upn).await {
        Ok(Some(u)) => Some(owner_of(&u)),
        Ok(None) => identity_owner(case),
        Err(err) => {
            e.notes
                .push(format!("{err}; using the alert's account as the owner"));
            identity_owner(case)
        }
    }
}

fn owner_of(u: &User) -> Owner {
    // Oomnitza's `full_name` first, then first + last; never the username, which the card
    // would show as if it were a name.
    let name = u
        .display_name()
        .filter(|n| Some(n) != u.username.as_ref())
        .unwrap_or_default();
    Owner {
        username: u.username.clone().unwrap_or_default(),
        email: u.email.clone().unwrap_or_default(),
        name,
        slack_user: None,
    }
}

fn identity_owner(case: &Case) -> Option<Owner> {
    let upn = &case.alert.account_upn;
    (!upn.is_empty()).then(|| Owner {
        username: case.alert.user_name.clone(),
        email: upn.clone(),
        name: String::new(),
        slack_user: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(v: serde_json::Value) -> User {
        serde_json::from_value(v).expect("an Oomnitza user")
    }

    #[test]
    fn the_owner_name_prefers_the_full_name_and_never_shows_the_username() {
        let full = user(
            serde_json::json!({"username": "cdiaz", "full_name": "Carol Diaz",
            "first_name": "C", "last_name": "D", "email": "carol@acme.example"}),
        );
        assert_eq!(owner_of(&full).name, "Carol Diaz");
        let parts = user(
            serde_json::json!({"username": "cdiaz", "first_name": "Carol",
            "last_name": "Diaz"}),
        );
        assert_eq!(owner_of(&parts).name, "Carol Diaz");
        let bare = user(serde_json::json!({"username": "cdiaz", "email": "c@acme.example"}));
        assert_eq!(owner_of(&bare).name, "");
        assert_eq!(owner_of(&bare).username, "cdiaz");
    }
}
