//! CrowdStrike Falcon tools: host details, contain, lift containment. The case may name a host
//! by device id or by host name; Falcon's actions take ids, so a name is looked up first.
//! Contain and lift are idempotent at Falcon (the client counts its 409 for "already so" as
//! success); after either, the device is read back so the summary shows Falcon's own status.

use serde_json::json;

use super::{ToolOutcome, not_configured};
use crate::pipeline::engine::Engine;
use crate::triage::tools::ToolName;
use crate::vendors::VendorError;
use crate::vendors::crowdstrike::client::CrowdStrikeClient;
use crate::vendors::crowdstrike::models::Device;

pub(super) async fn run(
    engine: &Engine,
    tool: ToolName,
    host: &str,
) -> Result<ToolOutcome, VendorError> {
    let cs = engine
        .vendors
        .crowdstrike
        .as_ref()
        .ok_or_else(|| not_configured(tool, "crowdstrike"))?;
    let Some(id) = device_id(cs, host).await? else {
        return Ok(ToolOutcome::new(
            format!("Falcon has no device `{host}`; nothing was done"),
            json!({"found": false, "host": host}),
        ));
    };
    match tool {
        ToolName::CrowdstrikeContainHost => cs.contain(&id).await?,
        ToolName::CrowdstrikeLiftContainment => cs.lift_containment(&id).await?,
        _ => {}
    }
    let device = cs
        .devices(std::slice::from_ref(&id))
        .await?
        .into_iter()
        .next();
    Ok(outcome(tool, &id, device.as_ref()))
}

/// Whether `s` has the shape of a Falcon device id (32 hex digits).
pub(crate) fn is_device_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn device_id(cs: &CrowdStrikeClient, host: &str) -> Result<Option<String>, VendorError> {
    if is_device_id(host) {
        return Ok(Some(host.to_ascii_lowercase()));
    }
    let ids = cs.device_ids_by_hostname(host).await?;
    Ok(ids.into_iter().next())
}

/// The summary and detail of a Falcon tool, from the device as read after the call.
pub(super) fn outcome(tool: ToolName, id: &str, device: Option<&Device>) -> ToolOutcome {
    let Some(d) = device else {
        let what = match tool {
            ToolName::CrowdstrikeContainHost => "containment requested",
            ToolName::CrowdstrikeLiftContainment => "containment lift requested",
            _ => "no details",
        };
        return ToolOutcome::new(
            format!("Device {id}: {what}; Falcon returned no device record"),
            json!({"device_id": id, "found": false}),
        );
    };
    let name = d.hostname.as_deref().unwrap_or("(no host name)");
    let status = d.status.as_deref().unwrap_or("unknown");
    let summary = match tool {
        ToolName::CrowdstrikeContainHost => {
            format!("{name} ({id}): containment requested, Falcon status {status}")
        }
        ToolName::CrowdstrikeLiftContainment => {
            format!("{name} ({id}): containment lifted, Falcon status {status}")
        }
        _ => format!(
            "{name} ({id}): {}, status {status}, last seen {}, last user {}",
            d.os_product_name
                .as_deref()
                .or(d.platform_name.as_deref())
                .unwrap_or("unknown OS"),
            d.last_seen.as_deref().unwrap_or("never"),
            d.last_login_user.as_deref().unwrap_or("unknown"),
        ),
    };
    ToolOutcome::new(
        summary,
        json!({
            "device_id": d.device_id,
            "hostname": d.hostname,
            "status": d.status,
            "contained": d.is_contained(),
            "platform": d.platform_name,
            "os": d.os_product_name.as_ref().or(d.os_version.as_ref()),
            "local_ip": d.local_ip,
            "external_ip": d.external_ip,
            "last_seen": d.last_seen,
            "last_login_user": d.last_login_user,
            "tags": d.tags,
            "groups": d.groups,
        }),
    )
}
