//! The data every sandbox starts from and every reset returns to (SPEC §7.2): a small company
//! with two analysts, three device owners, four devices (one nobody owns) and the channels the
//! bot works in. `GET /_sandbox/seed` answers it so tests and the demo need no hard-coded ids.

use serde::Serialize;
use serde_json::{Value, json};

/// Seed data for every simulator.
#[derive(Debug, Clone, Serialize)]
pub struct Seed {
    /// The Slack workspace: users (analysts and device owners), channels and the `secops` group.
    pub slack: SlackSeed,
    /// The Falcon hosts the default alerts name, in the Hosts API shape.
    pub crowdstrike: CrowdStrikeSeed,
    /// The Oomnitza inventory that maps those hosts to their owners.
    pub oomnitza: OomnitzaSeed,
    /// Seeded threat-intel indicators the reputation simulators agree on (`sandbox::intel`).
    pub indicators: Value,
    /// The SOP pages flow 2 finds in Confluence, one per alert type.
    pub confluence: ConfluenceSeed,
}

/// Slack workspace: people, channels, user groups.
#[derive(Debug, Clone, Serialize)]
pub struct SlackSeed {
    /// Workspace id (same as the credentials' `team_id`).
    pub team_id: String,
    /// People in the workspace.
    pub users: Vec<SeedUser>,
    /// Public channels the bot is a member of.
    pub channels: Vec<SeedChannel>,
    /// User groups (`secops` holds the analysts).
    pub usergroups: Vec<SeedUserGroup>,
}

/// One Slack user.
#[derive(Debug, Clone, Serialize)]
pub struct SeedUser {
    /// `U…` id.
    pub id: String,
    /// The `name` handle (`users.info`'s `name`), which Vigil never pings by.
    pub name: String,
    /// `real_name`, as Slack shows the person.
    pub real_name: String,
    /// Email (what `users.lookupByEmail` matches).
    pub email: String,
    /// Whether the person is a security analyst (member of `secops`).
    pub is_analyst: bool,
}

/// One Slack channel.
#[derive(Debug, Clone, Serialize)]
pub struct SeedChannel {
    /// `C…` id.
    pub id: String,
    /// Name without `#`.
    pub name: String,
    /// What Vigil uses it for: `alerts` (cards) or `general`.
    pub role: String,
}

/// One Slack user group.
#[derive(Debug, Clone, Serialize)]
pub struct SeedUserGroup {
    /// `S…` id.
    pub id: String,
    /// Handle without `@`.
    pub handle: String,
    /// Member user ids.
    pub users: Vec<String>,
}

/// CrowdStrike hosts as full device objects.
#[derive(Debug, Clone, Serialize)]
pub struct CrowdStrikeSeed {
    /// Device objects in the Hosts API shape.
    pub devices: Vec<Value>,
}

/// Oomnitza inventory.
#[derive(Debug, Clone, Serialize)]
pub struct OomnitzaSeed {
    /// Assets; `assigned_to` is an Oomnitza `username` or null.
    pub assets: Vec<Value>,
    /// User records; each asset's `assigned_to` names one of them by `username`.
    pub users: Vec<Value>,
}

/// Confluence pages as summaries (`id`, `title`, `labels`, `version`, `space`, and the
/// `alert_type` each SOP covers); bodies come from the Confluence API.
#[derive(Debug, Clone, Serialize)]
pub struct ConfluenceSeed {
    /// One SOP page per alert type, in space `SEC`.
    pub pages: Vec<Value>,
}

/// The company's email domain.
pub const DOMAIN: &str = "acme.example";
/// The customer id CrowdStrike stamps on devices and alerts.
pub const CID: &str = "4f1c2a7be0d94c1e9a3f5b6c7d8e9f00";

struct Person {
    slack_id: &'static str,
    username: &'static str,
    first: &'static str,
    last: &'static str,
    analyst: bool,
}

const PEOPLE: &[Person] = &[
    Person {
        slack_id: "U0ANA00001",
        username: "ana.lyst",
        first: "Ana",
        last: "Lyst",
        analyst: true,
    },
    Person {
        slack_id: "U0BEN00002",
        username: "ben.ortiz",
        first: "Ben",
        last: "Ortiz",
        analyst: true,
    },
    Person {
        slack_id: "U0CAROL003",
        username: "carol.diaz",
        first: "Carol",
        last: "Diaz",
        analyst: false,
    },
    Person {
        slack_id: "U0DAN00004",
        username: "dan.kim",
        first: "Dan",
        last: "Kim",
        analyst: false,
    },
    Person {
        slack_id: "U0ERIN0005",
        username: "erin.shaw",
        first: "Erin",
        last: "Shaw",
        analyst: false,
    },
];

struct Machine {
    device_id: &'static str,
    hostname: &'static str,
    serial: &'static str,
    platform: &'static str,
    os_version: &'static str,
    local_ip: &'static str,
    mac: &'static str,
    owner: Option<&'static str>,
    tags: &'static [&'static str],
    equipment_id: &'static str,
    model: &'static str,
}

const MACHINES: &[Machine] = &[
    Machine {
        device_id: "a1b2c3d4e5f60718293a4b5c6d7e8f01",
        hostname: "WS-CAROL-MBP",
        serial: "C02XK1ABJHD5",
        platform: "Mac",
        os_version: "macOS 14.5",
        local_ip: "10.20.1.15",
        mac: "3c-22-fb-10-aa-01",
        owner: Some("carol.diaz"),
        tags: &["SensorGroupingTags/laptops"],
        equipment_id: "EQ-1001",
        model: "MacBook Pro 14",
    },
    Machine {
        device_id: "b2c3d4e5f60718293a4b5c6d7e8f0102",
        hostname: "WS-DAN-WIN11",
        serial: "5CG1234XYZ",
        platform: "Windows",
        os_version: "Windows 11",
        local_ip: "10.20.1.22",
        mac: "00-50-56-aa-bb-02",
        owner: Some("dan.kim"),
        tags: &["SensorGroupingTags/laptops"],
        equipment_id: "EQ-1002",
        model: "EliteBook 840",
    },
    Machine {
        device_id: "c3d4e5f60718293a4b5c6d7e8f010203",
        hostname: "WS-ERIN-LNX",
        serial: "PF3ABCDE",
        platform: "Linux",
        os_version: "Ubuntu 22.04",
        local_ip: "10.20.1.31",
        mac: "8c-16-45-aa-bb-03",
        owner: Some("erin.shaw"),
        tags: &[
            "SensorGroupingTags/laptops",
            "SensorGroupingTags/engineering",
        ],
        equipment_id: "EQ-1003",
        model: "ThinkPad X1",
    },
    Machine {
        device_id: "d4e5f60718293a4b5c6d7e8f01020304",
        hostname: "SRV-BUILD-07",
        serial: "VMW-42-1f-9c-77",
        platform: "Linux",
        os_version: "RHEL 9.3",
        local_ip: "10.30.0.7",
        mac: "00-50-56-9c-77-04",
        owner: None,
        tags: &[
            "SensorGroupingTags/servers",
            "SensorGroupingTags/production",
        ],
        equipment_id: "EQ-2007",
        model: "VMware Virtual Platform",
    },
];

impl Seed {
    /// The standard seed described in SPEC §7.2.
    pub fn standard() -> Self {
        let email = |p: &Person| format!("{}@{}", p.username, DOMAIN);
        let users = PEOPLE
            .iter()
            .map(|p| SeedUser {
                id: p.slack_id.into(),
                name: p.username.into(),
                real_name: format!("{} {}", p.first, p.last),
                email: email(p),
                is_analyst: p.analyst,
            })
            .collect();
        let analysts: Vec<String> = PEOPLE
            .iter()
            .filter(|p| p.analyst)
            .map(|p| p.slack_id.to_string())
            .collect();
        let devices = MACHINES.iter().map(device_json).collect();
        let assets = MACHINES
            .iter()
            .map(|m| {
                json!({
                    "equipment_id": m.equipment_id,
                    "serial_number": m.serial,
                    "device_name": m.hostname,
                    "assigned_to": m.owner,
                    "status": "Deployed",
                    "asset_type": if m.owner.is_some() { "Laptop" } else { "Server" },
                    "model": m.model,
                    "operating_system": m.os_version,
                    "ip_address": m.local_ip,
                    "mac_address": m.mac,
                })
            })
            .collect();
        let oomnitza_users = PEOPLE
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "username": p.username,
                    "user_id": format!("OU-{}", 100 + i),
                    "email": email(p),
                    "first_name": p.first,
                    "last_name": p.last,
                    "full_name": format!("{} {}", p.first, p.last),
                    "suspended": false,
                })
            })
            .collect();
        Seed {
            slack: SlackSeed {
                team_id: "T0SANDBOX1".into(),
                users,
                channels: vec![
                    SeedChannel {
                        id: "C0ALERTS01".into(),
                        name: "alerts".into(),
                        role: "alerts".into(),
                    },
                    SeedChannel {
                        id: "C0GENERAL1".into(),
                        name: "general".into(),
                        role: "general".into(),
                    },
                ],
                usergroups: vec![SeedUserGroup {
                    id: "S0SECOPS01".into(),
                    handle: "secops".into(),
                    users: analysts,
                }],
            },
            crowdstrike: CrowdStrikeSeed { devices },
            oomnitza: OomnitzaSeed {
                assets,
                users: oomnitza_users,
            },
            indicators: super::intel::seed_json(),
            confluence: ConfluenceSeed {
                pages: super::confluence::sops::pages()
                    .iter()
                    .map(|p| {
                        json!({
                            "id": p.id,
                            "title": p.title,
                            "labels": ["sop", format!("sop-{}", p.alert_type)],
                            "version": 1,
                            "space": super::confluence::sops::SPACE_KEY,
                            "alert_type": p.alert_type,
                        })
                    })
                    .collect(),
            },
        }
    }

    /// The seed as `GET /_sandbox/seed` answers it.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn device_json(m: &Machine) -> Value {
    json!({
        "device_id": m.device_id,
        "cid": CID,
        "hostname": m.hostname,
        "serial_number": m.serial,
        "platform_name": m.platform,
        "os_version": m.os_version,
        "os_product_name": m.os_version,
        "agent_version": "7.14.18408.0",
        "local_ip": m.local_ip,
        "external_ip": "203.0.113.10",
        "mac_address": m.mac,
        "machine_domain": "corp.acme.example",
        "ou": ["Workstations"],
        "site_name": "HQ",
        "status": "normal",
        "tags": m.tags,
        "groups": [],
        "first_seen": "2025-01-06T09:00:00Z",
        "last_seen": "2026-11-24T08:00:00Z",
        "last_login_user": m.owner.unwrap_or("svc_build"),
        "product_type_desc": if m.owner.is_some() { "Workstation" } else { "Server" },
        "system_manufacturer": "Acme Hardware",
        "system_product_name": m.model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_has_what_spec_requires() {
        let s = Seed::standard();
        assert!(s.crowdstrike.devices.len() >= 4);
        let owned = s
            .oomnitza
            .assets
            .iter()
            .filter(|a| !a["assigned_to"].is_null())
            .count();
        assert_eq!(owned, 3);
        assert_eq!(s.slack.users.iter().filter(|u| u.is_analyst).count(), 2);
        assert!(s.slack.users.iter().filter(|u| !u.is_analyst).count() >= 2);
        assert!(s.slack.channels.iter().any(|c| c.role == "alerts"));
        // every owner's email is a Slack user's email
        for a in &s.oomnitza.assets {
            if let Some(owner) = a["assigned_to"].as_str() {
                let email = format!("{owner}@{DOMAIN}");
                assert!(s.slack.users.iter().any(|u| u.email == email));
            }
        }
    }
}
