//! Storms (SPEC §5): a burst of distinct alerts with the sandbox's default `chat.postMessage`
//! limit on. Every alert becomes a case at once; high-priority cases keep their own cards and
//! pages; low-priority cases whose card would queue are listed in a digest instead; nothing is
//! doubled, no case shows a Slack 429, and a folded case still works from Slack (its owner's
//! answer reaches the case and its thread reply lands under the digest).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use vigil::case::{Case, Priority};

use crate::common::{TestSandbox, sandbox, start_bot, until_within};

const CAROL: &str = "U0CAROL003";
const CAROL_DM: &str = "D0CAROL003";
const CAROL_MBP: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f01";
const ALERTS: &str = "C0ALERTS01";
const HIGH: usize = 3;
const LOW: usize = 12;

/// Top-level messages of a channel with their metadata (oldest last, as Slack answers).
async fn history(ts: &TestSandbox, channel: &str) -> Vec<Value> {
    let v = ts
        .slack(
            "conversations.history",
            &[
                ("channel", channel),
                ("include_all_metadata", "true"),
                ("limit", "200"),
            ],
        )
        .await;
    v["messages"].as_array().cloned().unwrap_or_default()
}

fn payload<'a>(m: &'a Value, field: &str) -> &'a str {
    m["metadata"]["event_payload"][field]
        .as_str()
        .unwrap_or_default()
}

fn cases(bot: &crate::common::Bot) -> Vec<Case> {
    bot.running.engine.store.cases().expect("store readable")
}

#[tokio::test]
async fn a_storm_folds_low_cards_into_a_digest_and_keeps_high_cards_and_pages() {
    let ts = sandbox().await;
    let bot = start_bot(&ts).await;
    for i in 0..HIGH + LOW {
        let severity = if i % 5 == 0 { 85 } else { 30 };
        ts.control(
            "/crowdstrike/alerts",
            json!({"device": {"device_id": CAROL_MBP}, "severity": severity,
                   "technique_id": format!("T{}", 1100 + i)}),
        )
        .await;
    }

    // Every alert is a case at once (one poll), none grouped.
    until_within(
        Duration::from_secs(90),
        "every alert to be a case",
        || async { (cases(&bot).len() == HIGH + LOW).then_some(()) },
    )
    .await;

    // Every case is announced: its own card or a line in a posted digest.
    let announced = || async {
        let all = cases(&bot);
        all.iter()
            .all(|c| {
                c.priority().is_some()
                    && (c.card.is_some()
                        || c.digest
                            .is_some_and(|d| bot.running.engine.digests.posted(d).is_some()))
            })
            .then_some(all)
    };
    let all = until_within(
        Duration::from_secs(90),
        "every case to have a card or a digest line",
        announced,
    )
    .await;
    let high: Vec<&Case> = all
        .iter()
        .filter(|c| c.priority() == Some(Priority::High))
        .collect();
    assert_eq!(high.len(), HIGH, "three severity-85 alerts are high");
    for c in &high {
        assert!(c.card.is_some(), "{} (high) has its own card", c.id);
        assert!(c.digest.is_none(), "{} (high) is not folded", c.id);
    }
    let folded: Vec<&Case> = all.iter().filter(|c| c.digest.is_some()).collect();
    assert!(
        !folded.is_empty(),
        "the burst is larger than the channel takes: some low cases are folded"
    );
    for c in &folded {
        assert_eq!(c.priority(), Some(Priority::Low), "only low cases fold");
        assert!(c.card.is_none(), "{} folded and carded", c.id);
    }

    // Read back from Slack: one card per carded case, no card for a folded one, and every
    // folded case listed in exactly one digest message.
    let messages = until_within(
        Duration::from_secs(90),
        "the digests to show every folded case",
        || async {
            let messages = history(&ts, ALERTS).await;
            let listed: usize = messages
                .iter()
                .filter(|m| payload(m, "kind") == "digest")
                .map(|m| {
                    folded
                        .iter()
                        .filter(|c| m["blocks"].to_string().contains(&format!("*{}*", c.id)))
                        .count()
                })
                .sum();
            (listed == folded.len()).then_some(messages)
        },
    )
    .await;
    let mut cards: HashMap<String, usize> = HashMap::new();
    for m in messages.iter().filter(|m| payload(m, "kind") == "card") {
        *cards.entry(payload(m, "case_id").to_string()).or_default() += 1;
    }
    for c in &all {
        let n = cards.get(c.id.as_str()).copied().unwrap_or(0);
        let want = usize::from(c.card.is_some());
        assert_eq!(n, want, "{}: {n} card(s) in the channel", c.id);
    }
    let digests: Vec<&Value> = messages
        .iter()
        .filter(|m| payload(m, "kind") == "digest")
        .collect();
    let ids: HashSet<&str> = digests.iter().map(|m| payload(m, "case_id")).collect();
    assert_eq!(ids.len(), digests.len(), "no digest posted twice");

    // High cases are paged, once each.
    let incidents = until_within(
        Duration::from_secs(90),
        "a PagerDuty incident per high case",
        || async {
            let i = ts.incidents().await;
            (i.len() >= HIGH).then_some(i)
        },
    )
    .await;
    assert_eq!(incidents.len(), HIGH, "{incidents:?}");

    // A folded case works from Slack: its owner's answer reaches the case, and the thread line
    // it causes lands under its digest.
    let target = folded[folded.len() - 1].id.to_string();
    let dm = until_within(
        Duration::from_secs(90),
        "the folded case's owner DM",
        || async {
            history(&ts, CAROL_DM)
                .await
                .into_iter()
                .find(|m| payload(m, "kind") == "dm" && payload(m, "case_id") == target)
        },
    )
    .await;
    let press = json!({
        "type": "block_actions",
        "user": {"id": CAROL, "username": "carol", "name": "carol", "team_id": "T0SANDBOX1"},
        "api_app_id": "A0VIGIL001", "token": "x", "trigger_id": "1.2.3",
        "team": {"id": "T0SANDBOX1", "domain": "acme"},
        "container": {"type": "message", "message_ts": dm["ts"], "channel_id": CAROL_DM, "is_ephemeral": false},
        "channel": {"id": CAROL_DM, "name": "directmessage"},
        "state": {"values": {}},
        "actions": [{"type": "button", "action_id": "owner_me", "block_id": "b", "value": target,
                     "action_ts": "1700000000.000009", "text": {"type": "plain_text", "text": "It was me"}}]
    });
    let v = ts
        .control(
            "/slack/envelope",
            json!({"type": "interactive", "payload": press}),
        )
        .await;
    assert_eq!(v["acked"], json!(true), "{v}");
    let case = until_within(
        Duration::from_secs(90),
        "the owner's answer on the folded case",
        || async {
            cases(&bot)
                .into_iter()
                .find(|c| c.id.as_str() == target && c.owner_answer.is_some() && c.steps.is_empty())
        },
    )
    .await;
    let digest = case
        .digest
        .and_then(|d| bot.running.engine.digests.posted(d))
        .expect("the folded case's digest is posted");
    let replies = ts
        .slack(
            "conversations.replies",
            &[
                ("channel", ALERTS),
                ("ts", digest.ts.as_str()),
                ("include_all_metadata", "true"),
            ],
        )
        .await;
    let in_thread = replies["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| payload(m, "case_id") == target && payload(m, "kind").starts_with("step-"))
        .count();
    assert!(
        in_thread >= 1,
        "the folded case's thread line is under its digest: {replies}"
    );

    // Nothing reached a case as a Slack rate-limit error.
    for c in cases(&bot) {
        for e in &c.timeline {
            assert!(
                !e.text.contains("429") && !e.text.contains("ratelimited"),
                "{}: {}",
                c.id,
                e.text
            );
        }
    }
    bot.running.shutdown().await;
}

/// Storm ordering: under a burst, with every case still busy with its own steps and many
/// envelopes in flight at once on concurrent handlers, each case's own events apply in the
/// order they were acked. Every case gets `/triage ack` then `/triage resolve` back to back
/// (all cases at once): each must end resolved with "Acknowledged" before "Resolved" on its
/// timeline (an ack applied after the resolve would be refused, since the case is closed).
#[tokio::test]
async fn under_a_burst_each_cases_events_apply_in_the_order_they_were_acked() {
    const CASES: usize = 16;
    const ANA: &str = "U0ANA00001";
    let ts = sandbox().await;
    let bot = start_bot(&ts).await;
    for i in 0..CASES {
        ts.control(
            "/crowdstrike/alerts",
            json!({"device": {"device_id": CAROL_MBP}, "severity": if i % 4 == 0 { 85 } else { 30 },
                   "technique_id": format!("T{}", 2100 + i)}),
        )
        .await;
    }
    let ids: Vec<String> = until_within(
        Duration::from_secs(90),
        "every alert to be a case",
        || async {
            let all = cases(&bot);
            (all.len() == CASES).then(|| all.iter().map(|c| c.id.to_string()).collect())
        },
    )
    .await;
    let command = |text: String| {
        ts.control(
            "/slack/command",
            json!({"user": ANA, "channel": ALERTS, "command": "/triage", "text": text}),
        )
    };
    let pairs = ids.iter().map(|id| async move {
        let ack = command(format!("ack {id}")).await;
        let resolve = command(format!("resolve {id} storm drill")).await;
        (ack["acked"] == json!(true) && resolve["acked"] == json!(true)).then_some(())
    });
    let acked = futures_util::future::join_all(pairs).await;
    assert!(
        acked.iter().all(Option::is_some),
        "every command acked: {acked:?}"
    );

    let all = until_within(Duration::from_secs(90), "every case resolved", || async {
        let all = cases(&bot);
        all.iter()
            .all(|c| c.state() == vigil::case::CaseState::Resolved)
            .then_some(all)
    })
    .await;
    for c in &all {
        let at = |needle: &str| {
            c.timeline
                .iter()
                .position(|e| e.text.starts_with(needle) && e.actor.as_deref() == Some(ANA))
        };
        let (ack, resolved) = (at("Acknowledged"), at("Resolved: storm drill"));
        assert!(
            ack.is_some() && resolved.is_some() && ack < resolved,
            "{}: ack at {ack:?}, resolve at {resolved:?}: {:?}",
            c.id,
            c.timeline.iter().map(|e| &e.text).collect::<Vec<_>>()
        );
        assert_eq!(c.acknowledged_by.as_deref(), Some(ANA), "{}", c.id);
    }
    bot.running.shutdown().await;
}
