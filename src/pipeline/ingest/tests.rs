//! The three mappings into [`Alert`]: Falcon shapes (including arbitrary JSON, by proptest), the
//! webhook's generic shape and the `/triage new` form.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn epp() -> Value {
    json!({
        "composite_id": "cid1:ind:aid1:123",
        "product": "epp", "type": "ldt",
        "name": "GenericMalware", "display_name": "Malware detected",
        "description": "A file was written", "severity": 70, "severity_name": "High",
        "tactic": "Execution", "tactic_id": "CSTA0002", "technique": "PowerShell",
        "technique_id": "T1059.001", "cmdline": "powershell -enc \"AAA\"",
        "filename": "evil.exe", "filepath": "\\Device\\HarddiskVolume3\\evil.exe",
        "sha256": "ab".repeat(32), "user_name": "WS-1$",
        "falcon_host_link": "https://falcon.crowdstrike.com/x",
        "created_timestamp": "2024-05-01T10:00:00.123Z",
        "device": {"device_id": "aid1", "hostname": "WS-1", "platform_name": "Windows",
                   "local_ip": "10.0.0.5", "ou": ["Workstations"]},
        "pattern_disposition_details": {"killed": true},
        "brand_new_field": {"nested": [1, 2]}
    })
}

#[test]
fn endpoint_alert_maps_every_fact_and_keeps_raw() {
    let v = epp();
    let a = alert_from_falcon(&v).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.id, "cid1:ind:aid1:123");
    assert_eq!(a.source, "crowdstrike");
    assert_eq!(a.product, "epp");
    assert_eq!(a.name, "Malware detected");
    assert_eq!(a.severity, 70);
    assert_eq!(a.severity_name, "High");
    assert_eq!(a.technique_id, "T1059.001");
    assert_eq!(a.user_name, "WS-1$");
    assert_eq!(a.account_upn, "");
    let d = a.device.clone().unwrap_or_default();
    assert_eq!(
        (
            d.device_id.as_str(),
            d.hostname.as_str(),
            d.platform.as_str()
        ),
        ("aid1", "WS-1", "Windows")
    );
    assert_eq!(d.local_ip, "10.0.0.5");
    assert_eq!(a.link, "https://falcon.crowdstrike.com/x");
    assert_eq!(
        a.created_at.map(|t| t.timestamp_millis()),
        Some(1_714_557_600_123)
    );
    assert_eq!(a.raw, v, "raw keeps unknown fields");
    assert_eq!(a.subject(), "WS-1");
}

#[test]
fn identity_alert_has_no_device_and_names_the_account() {
    let v = json!({
        "composite_id": "cid1:ind:idp:9", "product": "idp", "name": "CredentialStuffing",
        "severity": 50, "tactic": "Credential Access", "tactic_id": "TA0006",
        "technique_id": "T1110", "source_account_upn": "dana@acme.example",
        "source_account_name": "dana", "source_endpoint_host_name": "ws-9.corp.acme.example",
        "timestamp": "2024-05-01T10:00:00Z"
    });
    let a = alert_from_falcon(&v).unwrap_or_else(|e| panic!("{e}"));
    assert!(a.device.is_none());
    assert_eq!(a.account_upn, "dana@acme.example");
    assert_eq!(a.user_name, "dana", "falls back to source_account_name");
    assert_eq!(a.severity_name, "Medium", "derived from severity");
    assert_eq!(a.name, "CredentialStuffing");
    assert!(
        a.created_at.is_some(),
        "timestamp when no created_timestamp"
    );
    assert_eq!(a.subject(), "dana@acme.example");
}

#[test]
fn odd_shapes_are_accepted() {
    // Severity as text, out of range, or only a label; empty device; null fields.
    let a = alert_from_falcon(&json!({"composite_id": "x", "severity": "85", "device": {}}));
    let a = a.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((a.severity, a.severity_name.as_str()), (85, "Critical"));
    assert!(a.device.is_none());
    let a = alert_from_falcon(&json!({"composite_id": "x", "severity": 1000.5}));
    assert_eq!(a.map(|a| a.severity).ok(), Some(100));
    let a = alert_from_falcon(&json!({"composite_id": "x", "severity_name": "Low"}));
    assert_eq!(a.map(|a| a.severity).ok(), Some(30));
    let a = alert_from_falcon(&json!({"composite_id": "x", "user_name": null, "device": "WS"}));
    let a = a.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (a.user_name.as_str(), a.severity_name.as_str()),
        ("", "Unknown")
    );
}

#[test]
fn only_a_missing_composite_id_is_an_error() {
    assert_eq!(
        alert_from_falcon(&json!({"name": "x"})),
        Err(AlertShapeError::MissingCompositeId)
    );
    assert_eq!(
        alert_from_falcon(&json!({"composite_id": "  "})),
        Err(AlertShapeError::MissingCompositeId)
    );
    assert_eq!(
        alert_from_falcon(&json!(["composite_id"])),
        Err(AlertShapeError::NotAnObject)
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::hash_map(
                prop_oneof![
                    Just("composite_id".to_string()),
                    Just("severity".to_string()),
                    Just("severity_name".to_string()),
                    Just("device".to_string()),
                    Just("hostname".to_string()),
                    Just("created_timestamp".to_string()),
                    Just("user_name".to_string()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let result = alert_from_falcon(&v);
        if let Ok(a) = result {
            prop_assert!(!a.id.trim().is_empty());
            prop_assert!(a.severity <= 100);
            prop_assert_eq!(a.raw, v);
        }
    }
}

#[test]
fn generic_alerts_need_an_id() {
    assert!(from_webhook(&json!({"name": "x"})).is_err());
    let a = from_webhook(&json!({"id": "7", "hostname": "WS-1", "severity": 900})).unwrap();
    assert_eq!(a.severity, 100);
    assert_eq!(a.id, "webhook:7");
}

#[test]
fn generic_alerts_carry_their_sender_and_entities() {
    let a = from_webhook(&json!({
        "id": "m1", "name": "Reported email", "sender": "x@evil.example",
        "entities": {"urls": ["https://evil.example/a", 7], "hosts": ["WS-1"], "ips": "1.2.3.4"}
    }))
    .expect("alert");
    assert_eq!(a.sender, "x@evil.example");
    assert_eq!(a.entities.urls, ["https://evil.example/a"]);
    assert_eq!(a.entities.hosts, ["WS-1"]);
    assert!(a.entities.ips.is_empty(), "a non-list kind is left out");
}

#[test]
fn falcon_ioc_context_becomes_the_alerts_indicators() {
    let mut v = epp();
    v["ioc_context"] = json!([
        {"ioc_type": "domain", "ioc_value": "c2.example"},
        {"ioc_type": "hash_sha256", "ioc_value": "ab"},
        {"ioc_type": "registry_key", "ioc_value": "HKLM"}
    ]);
    let a = alert_from_falcon(&v).expect("alert");
    assert_eq!(a.entities.domains, ["c2.example"]);
    assert_eq!(a.entities.hashes, ["ab"]);
    assert!(a.entities.urls.is_empty() && a.entities.ips.is_empty());
}
