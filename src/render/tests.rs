//! Every builder's output passes the sandbox's Block Kit validator (Slack's limits), with
//! ordinary, hostile and huge inputs, no alert text can ping anyone, and every mrkdwn text
//! object is `verbatim` (the rule in `kit`: all of Vigil's mrkdwn is verbatim, so alert text
//! in it is never auto-linked).

use chrono::Utc;
use proptest::prelude::*;
use serde_json::Value;
use slack_morphism::prelude::{SlackBlock, SlackView};

use crate::case::{
    Alert, AlertDevice, Case, CaseId, CaseState, Decision, Enrichment, GroupedAlert, IssueRef,
    Owner, Priority, Resolution,
};
use vigil_sandbox::slack::blocks;

/// A case whose every alert-derived field (and the owner's inventory name) is `text`.
fn case_with(text: &str, host: &str, cmd: &str) -> Case {
    let alert = Alert {
        id: "cid:ind:1".into(),
        source: "crowdstrike".into(),
        name: text.into(),
        description: text.into(),
        severity: 85,
        severity_name: text.into(),
        tactic: text.into(),
        technique: text.into(),
        technique_id: "T1059".into(),
        cmdline: cmd.into(),
        filename: text.into(),
        user_name: text.into(),
        account_upn: text.into(),
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
            name: text.into(),
            email: "o@x".into(),
            slack_user: Some("U1".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    c.decision = Some(Decision {
        priority: Priority::High,
        rule: text.into(),
        reason: text.into(),
    });
    c.issue = Some(IssueRef {
        number: 3,
        url: "http://127.0.0.1:1/github/acme/security/issues/3".into(),
    });
    c.grouped.push(GroupedAlert {
        id: "cid:ind:2".into(),
        name: text.into(),
        at: Utc::now(),
    });
    c.acknowledged_by = Some("U2".into());
    c.assignee = Some("U2".into());
    c.note(Utc::now(), None, text);
    c
}

fn valid_message(b: &[SlackBlock]) -> Result<(), String> {
    let v = serde_json::to_value(b).map_err(|e| e.to_string())?;
    blocks::validate(&v, blocks::Surface::Message, "/blocks").map_err(|e| format!("{e:?}"))
}

fn valid_view(view: &SlackView, kind: &str) -> Result<(), String> {
    let v = serde_json::to_value(view).map_err(|e| e.to_string())?;
    blocks::validate_view(&v, Some(kind)).map_err(|e| e.join("; "))
}

/// Angle-bracket tokens in `text` other than the mentions and links Vigil put there itself
/// (`<!channel>`, `<@U999>`, `<#C1>`, `<https://evil|…>` would all be found).
fn pings(text: &str) -> Vec<String> {
    let ours = ["<@U1>", "<@U2>", "<http://127.0.0.1:1/", "<https://falcon."];
    text.match_indices('<')
        .map(|(i, _)| {
            text[i..]
                .chars()
                .take_while(|c| *c != '>')
                .collect::<String>()
        })
        .filter(|token| {
            !ours
                .iter()
                .any(|o| token.starts_with(o.trim_end_matches('>')))
        })
        .collect()
}

/// The texts Slack parses as mrkdwn (where `<…>` means a mention or link); `plain_text`
/// objects (header, button labels, confirm dialogs) show `<` literally.
fn mrkdwn_texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                out.extend(m.get("text").and_then(Value::as_str).map(str::to_string));
            }
            m.values().for_each(|x| mrkdwn_texts(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| mrkdwn_texts(x, out)),
        _ => {}
    }
}

/// The mrkdwn text objects in `v` that Slack would auto-link (no `"verbatim": true`).
fn not_verbatim(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.get("type").and_then(Value::as_str) == Some("mrkdwn")
                && m.get("verbatim") != Some(&Value::Bool(true))
            {
                out.push(m.get("text").map(Value::to_string).unwrap_or_default());
            }
            m.values().for_each(|x| not_verbatim(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| not_verbatim(x, out)),
        _ => {}
    }
}

/// [`not_verbatim`] of any serialisable output (blocks or a view).
fn linkable<T: serde::Serialize>(output: &T) -> Vec<String> {
    let mut out = vec![];
    not_verbatim(&serde_json::to_value(output).unwrap_or_default(), &mut out);
    out
}

fn pings_in_blocks(b: &[SlackBlock]) -> Vec<String> {
    let mut texts = vec![];
    mrkdwn_texts(&serde_json::to_value(b).unwrap_or_default(), &mut texts);
    assert!(!texts.is_empty(), "every builder has mrkdwn text");
    texts.iter().flat_map(|t| pings(t)).collect()
}

fn all_states() -> [CaseState; 8] {
    [
        CaseState::New,
        CaseState::Enriched,
        CaseState::Ticketed,
        CaseState::Announced,
        CaseState::AwaitingOwner,
        CaseState::Escalated,
        CaseState::Acknowledged,
        CaseState::Resolved,
    ]
}

#[test]
fn card_in_every_state_dm_and_views_are_valid_block_kit() {
    let mut c = case_with("Suspicious PowerShell", "WS-1", "powershell -enc AAAA");
    c.resolution = Some(Resolution {
        by: "U2".into(),
        reason: "fp".into(),
        at: Utc::now(),
    });
    for state in all_states() {
        c.force_state(state);
        let (text, card) = super::card::card(&c);
        assert!(!text.is_empty());
        valid_message(&card).unwrap_or_else(|e| panic!("card in {state:?}: {e}"));
    }
    valid_message(&super::dm::ask(&c).1).expect("ask");
    valid_message(&super::dm::inform(&c).1).expect("inform");
    valid_view(&super::modals::resolve(&c), "modal").expect("resolve modal");
    valid_view(&super::modals::new_alert(), "modal").expect("new alert modal");
}

#[test]
fn resolve_modal_carries_the_case() {
    let c = case_with("x", "WS-1", "");
    let v = serde_json::to_value(super::modals::resolve(&c)).unwrap_or_default();
    assert_eq!(v["callback_id"], super::modals::RESOLVE);
    assert_eq!(v["private_metadata"], "VIG-7");
    assert_eq!(v["title"]["text"], "Resolve VIG-7");
    assert_eq!(v["submit"]["text"], "Resolve");
    let input = &v["blocks"][1];
    assert_eq!(input["block_id"], "reason");
    assert_eq!(input["element"]["action_id"], "reason");
    assert_eq!(input["element"]["multiline"], true);
}

#[test]
fn new_alert_modal_has_the_four_inputs() {
    let v = serde_json::to_value(super::modals::new_alert()).unwrap_or_default();
    assert_eq!(v["callback_id"], super::modals::NEW_ALERT);
    let ids: Vec<&str> = v["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["block_id"].as_str())
        .collect();
    assert_eq!(ids, ["hostname", "title", "severity", "description"]);
    let severity = &v["blocks"][3]["element"];
    assert_eq!(severity["type"], "number_input");
    assert_eq!(severity["min_value"], "1");
    assert_eq!(severity["max_value"], "100");
}

#[test]
fn home_caps_every_section_within_a_view() {
    let c = case_with("Suspicious PowerShell", "WS-1", "");
    let many = vec![c.clone(); 60];
    let sections = super::home::HomeSections {
        open: many.clone(),
        mine: many.clone(),
        waiting_on_owner: many.clone(),
        waiting_for_approval: many,
    };
    let view = super::home::home("U1", &sections);
    valid_view(&view, "home").expect("home");
    let json = serde_json::to_string(&view).unwrap_or_default();
    // The approvals section lists waiting calls, and these cases have none.
    assert_eq!(json.matches("and 45 more").count(), 3, "{json}");
    assert!(json.contains("Waiting for approval (0)"), "{json}");
    let empty = super::home::home("U1", &super::home::HomeSections::default());
    valid_view(&empty, "home").expect("empty home");
    assert!(
        serde_json::to_string(&empty)
            .unwrap_or_default()
            .contains("Nothing here.")
    );
}

fn check_everything(text: &str, host: &str, cmd: &str) -> Result<(), TestCaseError> {
    let mut c = case_with(text, host, cmd);
    c.resolution = Some(Resolution {
        by: "U2".into(),
        reason: text.into(),
        at: Utc::now(),
    });
    for state in [CaseState::AwaitingOwner, CaseState::Resolved] {
        c.force_state(state);
        let (fallback, card) = super::card::card(&c);
        prop_assert!(valid_message(&card).is_ok(), "{:?}", valid_message(&card));
        prop_assert!(
            pings_in_blocks(&card).is_empty(),
            "{:?}",
            pings_in_blocks(&card)
        );
        prop_assert!(pings(&fallback).is_empty());
        prop_assert!(linkable(&card).is_empty(), "{:?}", linkable(&card));
    }
    for (t, b) in [super::dm::ask(&c), super::dm::inform(&c)] {
        prop_assert!(valid_message(&b).is_ok(), "{:?}", valid_message(&b));
        prop_assert!(linkable(&b).is_empty(), "{:?}", linkable(&b));
        prop_assert!(pings_in_blocks(&b).is_empty(), "{:?}", pings_in_blocks(&b));
        prop_assert!(pings(&t).is_empty());
    }
    let modal = super::modals::resolve(&c);
    prop_assert!(valid_view(&modal, "modal").is_ok());
    prop_assert!(linkable(&modal).is_empty(), "{:?}", linkable(&modal));
    let sections = super::home::HomeSections {
        open: vec![c.clone(); 20],
        mine: vec![c.clone()],
        waiting_on_owner: vec![c.clone()],
        waiting_for_approval: vec![],
    };
    let home = super::home::home("U1", &sections);
    prop_assert!(valid_view(&home, "home").is_ok());
    prop_assert!(linkable(&home).is_empty(), "{:?}", linkable(&home));
    let lines = [
        super::card::summary_line(&c),
        super::card::details(&c),
        super::thread::grouped(text, c.alert_count()),
        super::thread::owner_wrote(&c, text),
        super::thread::resolved(&c),
        super::thread::contained(&c),
        super::thread::snoozed(&c, "U2", text),
    ];
    for line in lines {
        prop_assert!(pings(&line).is_empty(), "{line}");
        let reply = super::thread::message(&line);
        let blocks = reply.blocks.clone().unwrap_or_default();
        prop_assert!(
            !blocks.is_empty(),
            "a thread reply carries its words in blocks"
        );
        prop_assert!(
            valid_message(&blocks).is_ok(),
            "{:?}",
            valid_message(&blocks)
        );
        prop_assert!(linkable(&blocks).is_empty(), "{:?}", linkable(&blocks));
    }
    Ok(())
}

#[test]
fn the_ping_check_can_fail() {
    assert_eq!(pings("a <!channel> <@U1> <@U999>"), ["<!channel", "<@U999"]);
    let blocks = vec![super::kit::section("<!here>")];
    assert_eq!(pings_in_blocks(&blocks), ["<!here"]);
}

#[test]
fn the_verbatim_check_can_fail() {
    let plain = serde_json::json!([{"type": "section",
        "text": {"type": "mrkdwn", "text": "see https://evil.example #general"}}]);
    let mut found = vec![];
    not_verbatim(&plain, &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(linkable(&[super::kit::section("https://evil.example")]).is_empty());
    assert!(linkable(&super::modals::new_alert()).is_empty());
    let blocks = serde_json::to_value([super::kit::context("x")]).unwrap_or_default();
    assert_eq!(blocks[0]["elements"][0]["verbatim"], true, "{blocks}");
}

#[test]
fn known_hostile_inputs() {
    let hostile = "<!channel> <!here> <!everyone> <@U999> <#C1> <!subteam^S1> \
                   <https://evil.example|click> &lt; ` ``` *bold* \u{0}\u{1b}[31m";
    check_everything(hostile, hostile, hostile).expect("hostile");
    let huge = "Ω<".repeat(20_000);
    check_everything(&huge, &huge, &huge).expect("huge");
    check_everything("", "", "").expect("empty");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn arbitrary_fields_stay_valid_and_cannot_ping(
        text in ".{0,5000}",
        host in ".{0,400}",
        cmd in ".{0,9000}",
    ) {
        check_everything(&text, &host, &cmd)?;
    }

    #[test]
    fn angle_heavy_fields_cannot_ping(text in "[<>!@#&|a-zU0-9 ]{0,300}") {
        check_everything(&text, &text, &text)?;
    }
}

#[test]
fn the_card_stays_far_below_the_block_limit() {
    let c = case_with(&"y".repeat(10_000), &"h".repeat(1000), &"c".repeat(10_000));
    let (_, card) = super::card::card(&c);
    assert!(card.len() <= 10, "{} blocks", card.len());
    let v: Value = serde_json::to_value(&card).unwrap_or_default();
    let header = v[0]["text"]["text"].as_str().unwrap_or_default();
    assert!(header.starts_with("VIG-7 · High priority"));
}
