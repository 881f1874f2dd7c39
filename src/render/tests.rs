//! Every builder's output passes the sandbox's Block Kit validator (Slack's limits), with
//! ordinary, hostile and huge inputs.

use chrono::Utc;
use proptest::prelude::*;

use crate::case::{
    Alert, AlertDevice, Case, CaseId, CaseState, Decision, Enrichment, IssueRef, Owner, Priority,
    Resolution,
};
use crate::sandbox::slack::blocks;

fn case_with(name: &str, host: &str, cmd: &str) -> Case {
    let alert = Alert {
        id: "cid:ind:1".into(),
        source: "crowdstrike".into(),
        name: name.into(),
        severity: 85,
        severity_name: "Critical".into(),
        tactic: "Execution".into(),
        technique_id: "T1059".into(),
        cmdline: cmd.into(),
        user_name: name.into(),
        link: "https://falcon.crowdstrike.com/x".into(),
        device: Some(AlertDevice {
            device_id: "d1".into(),
            hostname: host.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut c = Case::new(CaseId::from_seq(7), alert, "k".into(), Utc::now());
    c.enrichment = Some(Enrichment {
        owner: Some(Owner {
            name: name.into(),
            email: "o@x".into(),
            slack_user: Some("U1".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    c.decision = Some(Decision {
        priority: Priority::High,
        rule: name.into(),
        reason: name.into(),
    });
    c.issue = Some(IssueRef {
        number: 3,
        url: "http://127.0.0.1:1/github/acme/security/issues/3".into(),
    });
    c
}

fn valid_message(blocks_: &[slack_morphism::prelude::SlackBlock]) -> Result<(), String> {
    let v = serde_json::to_value(blocks_).map_err(|e| e.to_string())?;
    blocks::validate(&v, blocks::Surface::Message, "/blocks").map_err(|e| format!("{e:?}"))
}

#[test]
fn card_dm_and_views_are_valid_block_kit() {
    let mut c = case_with("Suspicious PowerShell", "WS-1", "powershell -enc AAAA");
    for state in [
        CaseState::AwaitingOwner,
        CaseState::Escalated,
        CaseState::Resolved,
    ] {
        c.state = state;
        c.resolution = Some(Resolution {
            by: "U2".into(),
            reason: "fp".into(),
            at: Utc::now(),
        });
        valid_message(&super::card::card(&c).1).expect("card");
    }
    valid_message(&super::dm::ask(&c).1).expect("ask");
    valid_message(&super::dm::inform(&c).1).expect("inform");
    let modal = serde_json::to_value(super::modals::resolve(&c)).expect("json");
    blocks::validate_view(&modal, Some("modal")).expect("modal");
    let mut sections = super::home::HomeSections::default();
    sections.open = vec![c.clone(); 40];
    let home = serde_json::to_value(super::home::home("U1", &sections)).expect("json");
    blocks::validate_view(&home, Some("home")).expect("home");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn hostile_and_huge_fields_stay_valid_and_cannot_ping(name in ".{0,5000}", host in ".{0,400}", cmd in ".{0,9000}") {
        let c = case_with(&name, &host, &cmd);
        let (text, card) = super::card::card(&c);
        prop_assert!(valid_message(&card).is_ok(), "{:?}", valid_message(&card));
        let (_, ask) = super::dm::ask(&c);
        prop_assert!(valid_message(&ask).is_ok(), "{:?}", valid_message(&ask));
        let json = serde_json::to_string(&card).unwrap_or_default() + &text;
        prop_assert!(!json.contains("<!channel>") && !json.contains("<!here>") && !json.contains("<!everyone>"));
    }
}
