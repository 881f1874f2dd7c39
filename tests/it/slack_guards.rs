//! Who may press what, and presses that must not act twice (issue 9 §2.7, §2.8a): the card's
//! "Open ticket" link button is never refused, Resolve opens its modal only from that case's
//! own card, a redelivered interaction (same `trigger_id`) opens no second view, and the
//! configured analysts still count while the analyst group cannot be read (it is retried).
//!
//! Absence is proven by a later legitimate effect: a case's inbound items are applied in
//! order, and a view is opened on a task spawned before the envelope is acked, so once a
//! later press has shown its effect the earlier one has had its chance.

use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox, start_bot, until};

const ANA: &str = "U0ANA00001";
const CAROL: &str = "U0CAROL003";
const ALERTS: &str = "C0ALERTS01";
const CAROL_DM: &str = "D0CAROL003";
const CAROL_MBP: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f01";

/// The newest message of `kind` (`card` or `dm`) in `channel`.
async fn message(ts: &TestSandbox, channel: &str, kind: &str) -> Option<Value> {
    let v = ts
        .slack(
            "conversations.history",
            &[("channel", channel), ("include_all_metadata", "true")],
        )
        .await;
    v["messages"]
        .as_array()?
        .iter()
        .find(|m| m["metadata"]["event_payload"]["kind"] == json!(kind))
        .cloned()
}

fn ts_of(m: &Value) -> String {
    m["ts"].as_str().unwrap_or_default().to_string()
}

fn case_of(m: &Value) -> String {
    m["metadata"]["event_payload"]["case_id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A card that already has its "Open ticket" button (the issue exists).
async fn card_with_ticket(ts: &TestSandbox) -> Value {
    ts.control(
        "/crowdstrike/alerts",
        json!({"device": {"device_id": CAROL_MBP}, "severity": 30, "technique_id": "T1059"}),
    )
    .await;
    until("a card with its ticket button", || async {
        message(ts, ALERTS, "card")
            .await
            .filter(|c| c.to_string().contains("case_ticket"))
    })
    .await
}

/// A trigger id the sandbox's Slack issued for `user` (valid for `views.open`), as Slack puts
/// in every interaction it sends.
fn trigger_for(ts: &TestSandbox, user: &str) -> String {
    ts.running.sandbox.slack.web.lock().issue_trigger(user)
}

/// A `block_actions` payload for a press of `action_id` on the message `channel`/`message_ts`.
fn press(user: &str, channel: &str, message_ts: &str, action_id: &str, value: &str) -> Value {
    json!({
        "type": "block_actions",
        "user": {"id": user, "username": user, "name": user, "team_id": "T0SANDBOX1"},
        "api_app_id": "A0VIGIL001", "token": "x", "trigger_id": "",
        "team": {"id": "T0SANDBOX1", "domain": "acme"},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel,
                      "is_ephemeral": false},
        "channel": {"id": channel, "name": channel},
        "state": {"values": {}},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value,
                     "action_ts": "1700000000.000042",
                     "text": {"type": "plain_text", "text": action_id}}]
    })
}

/// Delivers `payload` as a raw envelope of `kind` (a fresh `envelope_id` each time, as Slack's
/// redelivery on another connection would) and checks it was acked.
async fn deliver(ts: &TestSandbox, kind: &str, payload: &Value) {
    let v = ts
        .control("/slack/envelope", json!({"type": kind, "payload": payload}))
        .await;
    assert_eq!(v["acked"], json!(true), "{v}");
}

/// Recorded `views.open` calls, by trigger id.
async fn views_opened_with(ts: &TestSandbox, trigger: &str) -> usize {
    ts.requests("slack")
        .await
        .iter()
        .filter(|r| r["path"] == json!("/api/views.open"))
        .filter(|r| r["body"]["trigger_id"] == json!(trigger))
        .count()
}

async fn views_of(ts: &TestSandbox, user: &str, callback_id: &str) -> Vec<Value> {
    let views: Value = ts
        .http
        .get(ts.url(&format!("/_sandbox/slack/views?user={user}")))
        .send()
        .await
        .expect("views")
        .json()
        .await
        .expect("json");
    views
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["callback_id"] == json!(callback_id))
        .cloned()
        .collect()
}

async fn ephemerals_for(ts: &TestSandbox, user: &str) -> String {
    let v: Value = ts
        .http
        .get(ts.url(&format!("/_sandbox/slack/ephemeral?user={user}")))
        .send()
        .await
        .expect("ephemeral")
        .json()
        .await
        .expect("json");
    v.to_string()
}

#[tokio::test]
async fn anyone_may_press_open_ticket_and_is_never_refused() {
    let ts = sandbox().await;
    let bot = start_bot(&ts).await;
    let card = card_with_ticket(&ts).await;
    // Carol is no analyst; "Open ticket" is a link button, and Slack still sends Vigil a
    // block_actions for it.
    let v = ts
        .control(
            "/slack/click",
            json!({"user": CAROL, "channel": ALERTS, "ts": ts_of(&card), "action_id": "case_ticket"}),
        )
        .await;
    assert_eq!(v["acked"], json!(true), "{v}");
    // Carol then answers her DM: once that shows on the issue, her ticket press (an earlier
    // item of the same case) was handled.
    let dm = until("Carol's DM", || message(&ts, CAROL_DM, "dm")).await;
    ts.control(
        "/slack/click",
        json!({"user": CAROL, "channel": CAROL_DM, "ts": ts_of(&dm), "action_id": "owner_me"}),
    )
    .await;
    until("Carol's answer on the issue", || async {
        let issues = ts.issues().await;
        issues
            .iter()
            .any(|i| i.to_string().contains("owner-confirmed"))
            .then_some(())
    })
    .await;
    let ephemeral_calls = ts
        .requests("slack")
        .await
        .iter()
        .filter(|r| r["path"] == json!("/api/chat.postEphemeral"))
        .count();
    assert_eq!(
        ephemeral_calls, 0,
        "nobody was told they may not do something"
    );
    let shown = ephemerals_for(&ts, CAROL).await;
    assert!(!shown.contains("Sorry"), "{shown}");
    bot.running.shutdown().await;
}

#[tokio::test]
async fn resolve_opens_one_modal_only_from_the_cases_own_card() {
    let ts = sandbox().await;
    let bot = start_bot(&ts).await;
    let card = card_with_ticket(&ts).await;
    let case = case_of(&card);
    // Another message in the alerts channel, which Ana sees too.
    ts.control(
        "/slack/message",
        json!({"user": ANA, "channel": ALERTS, "text": "looking at it"}),
    )
    .await;
    let other = until("Ana's message", || async {
        let v = ts
            .slack("conversations.history", &[("channel", ALERTS)])
            .await;
        v["messages"]
            .as_array()?
            .iter()
            .find(|m| m["text"] == json!("looking at it"))
            .cloned()
    })
    .await;

    // An analyst's Resolve press whose value names the case but which comes from another
    // message: refused, with a reply, and no modal.
    let forged_trigger = trigger_for(&ts, ANA);
    let mut forged = press(ANA, ALERTS, &ts_of(&other), "case_resolve", &case);
    forged["trigger_id"] = json!(forged_trigger);
    deliver(&ts, "interactive", &forged).await;
    until("the refusal shown to Ana", || async {
        ephemerals_for(&ts, ANA)
            .await
            .contains("does not belong to this case")
            .then_some(())
    })
    .await;

    // The real press from the card, delivered twice (Slack redelivering it): one modal.
    let trigger = trigger_for(&ts, ANA);
    let mut real = press(ANA, ALERTS, &ts_of(&card), "case_resolve", &case);
    real["trigger_id"] = json!(trigger);
    deliver(&ts, "interactive", &real).await;
    deliver(&ts, "interactive", &real).await;

    // Then `/triage new` twice with one trigger (a redelivered command), then a fresh one.
    let new_trigger = trigger_for(&ts, ANA);
    let command = json!({
        "token": "x", "team_id": "T0SANDBOX1", "team_domain": "acme",
        "channel_id": ALERTS, "channel_name": "alerts", "user_id": ANA, "user_name": "ana",
        "command": "/triage", "text": "new", "api_app_id": "A0VIGIL001",
        "response_url": ts.url("/slack/response/none"), "trigger_id": new_trigger
    });
    deliver(&ts, "slash_commands", &command).await;
    deliver(&ts, "slash_commands", &command).await;
    let fresh = ts
        .control(
            "/slack/command",
            json!({"user": ANA, "channel": ALERTS, "command": "/triage", "text": "new"}),
        )
        .await;
    assert_eq!(fresh["acked"], json!(true), "{fresh}");

    // The fresh command's form is the later legitimate effect: every earlier press has had
    // its views.open by now.
    until("both new-case forms", || async {
        (views_of(&ts, ANA, "new_alert").await.len() >= 2).then_some(())
    })
    .await;
    assert_eq!(views_of(&ts, ANA, "new_alert").await.len(), 2);
    let resolve = views_of(&ts, ANA, "resolve_case").await;
    assert_eq!(resolve.len(), 1, "one resolve modal: {resolve:?}");
    assert_eq!(resolve[0]["private_metadata"], json!(case));
    assert_eq!(
        views_opened_with(&ts, &forged_trigger).await,
        0,
        "the press from another message opened nothing"
    );
    assert_eq!(
        views_opened_with(&ts, &trigger).await,
        1,
        "resolve opened once"
    );
    assert_eq!(
        views_opened_with(&ts, &new_trigger).await,
        1,
        "the redelivered command opened its form once"
    );
    bot.running.shutdown().await;
}

/// `/triage list` as `user`: whether it was answered (not refused).
async fn may_read_cases(ts: &TestSandbox, user: &str) -> bool {
    let v = ts
        .control(
            "/slack/command",
            json!({"user": user, "channel": ALERTS, "command": "/triage", "text": "list"}),
        )
        .await;
    assert_eq!(v["acked"], json!(true), "{v}");
    let text = v["response"]["text"].as_str().unwrap_or_default();
    !text.contains("only analysts")
}

#[tokio::test]
async fn configured_analysts_count_while_the_group_read_fails_and_the_group_is_retried() {
    const BEN: &str = "U0BEN00002"; // in the analyst group, not in `slack.analyst_users`
    let ts = sandbox().await;
    let fault = ts
        .control(
            "/faults",
            json!({"service": "slack", "path": "/api/usergroups.users.list", "status": 500, "times": 1}),
        )
        .await;
    assert!(fault["id"].is_string(), "{fault}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = crate::common::write_config(&ts, dir.path());
    let written = std::fs::read_to_string(&path).expect("config");
    let only_ana = written
        .lines()
        .map(|l| {
            if l.starts_with("analyst_users") {
                format!("analyst_users = [\"{ANA}\"]")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(only_ana, written, "the config names its analysts");
    std::fs::write(&path, only_ana).expect("config written");
    let config = vigil::config::Config::load(&path).expect("config loads");
    let running = vigil::run::start(&config).await.expect("bot starts");
    crate::common::wait_for_connections(&ts, 2).await;

    assert!(
        may_read_cases(&ts, ANA).await,
        "a configured analyst counts although the group read failed"
    );
    assert!(
        !may_read_cases(&ts, BEN).await,
        "the group could not be read at start"
    );
    // The failed read is retried soon (not only at the 5-minute refresh) and Ben, a member
    // of the group, becomes an analyst.
    until("the group to be read again", || async {
        may_read_cases(&ts, BEN).await.then_some(())
    })
    .await;
    assert!(may_read_cases(&ts, ANA).await);
    let reads = ts
        .requests("slack")
        .await
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/api/usergroups.users.list"))
        })
        .count();
    assert_eq!(reads, 2, "one failed read at start, one retry");
    running.shutdown().await;
}
