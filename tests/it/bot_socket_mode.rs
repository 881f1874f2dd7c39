//! The bot against the sandbox over Socket Mode, using slack-morphism's own client: hello,
//! a slash command pushed through the control API and answered in the ack, `ack_ms` reported,
//! reconnect after `disconnect`, and a config written by `--write-config` that just works.

use std::time::{Duration, Instant};

use serde_json::json;
use vigil::config::Config;

use crate::common::{TestSandbox, sandbox, start_bot, wait_for_connections};

fn analyst_and_channel(ts: &TestSandbox) -> (String, String) {
    let user = ts.seed["slack"]["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["is_analyst"] == json!(true)))
        .and_then(|u| u["id"].as_str())
        .expect("an analyst")
        .to_string();
    let channel = ts.seed["slack"]["channels"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["role"] == json!("alerts")))
        .and_then(|c| c["id"].as_str())
        .expect("alerts channel")
        .to_string();
    (user, channel)
}

async fn triage(ts: &TestSandbox, text: &str) -> serde_json::Value {
    let (user, channel) = analyst_and_channel(ts);
    ts.control(
        "/slack/command",
        json!({"user": user, "channel": channel, "command": "/triage", "text": text}),
    )
    .await
}

#[tokio::test]
async fn triage_help_is_answered_in_the_ack() {
    let ts = sandbox().await;
    let bot = start_bot(&ts).await;
    wait_for_connections(&ts, 2).await;
    assert!(
        bot.running.socket_health().hellos() >= 2,
        "hello seen per connection"
    );

    let v = triage(&ts, "help").await;
    assert_eq!(v["acked"], json!(true), "{v}");
    let ack_ms = v["ack_ms"].as_u64().expect("ack_ms reported");
    assert!(ack_ms < 3000, "acked within Slack's 3 s: {ack_ms}");
    assert_eq!(v["response"]["response_type"], json!("ephemeral"), "{v}");
    let text = v["response"]["text"].as_str().unwrap_or("");
    assert!(text.contains("/triage help"), "{text}");

    let v = triage(&ts, "frobnicate <@U0ANA00001>").await;
    let text = v["response"]["text"].as_str().unwrap_or("");
    assert!(text.contains("unknown /triage subcommand"), "{text}");
    bot.running.shutdown().await;
}

#[tokio::test]
async fn reconnects_after_disconnect_and_keeps_answering() {
    let ts = sandbox().await;
    let bot = start_bot(&ts).await;
    wait_for_connections(&ts, 2).await;
    let hellos = bot.running.socket_health().hellos();

    ts.control("/slack/disconnect", json!({"reason": "refresh_requested"}))
        .await;
    let started = Instant::now();
    while bot.running.socket_health().hellos() < hellos + 2 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_connections(&ts, 1).await;
    let v = triage(&ts, "help").await;
    assert_eq!(v["acked"], json!(true), "answered after reconnect: {v}");
    bot.running.shutdown().await;
}

#[tokio::test]
async fn a_malformed_envelope_is_acked_and_does_not_break_the_socket() {
    let ts = sandbox().await;
    let bot = start_bot(&ts).await;
    wait_for_connections(&ts, 2).await;
    let v = ts
        .control(
            "/slack/envelope",
            json!({"type": "interactive", "payload": {"type": "no_such_interaction", "junk": [1, 2]}}),
        )
        .await;
    assert_eq!(
        v["acked"],
        json!(true),
        "bad frames are acked, not redelivered: {v}"
    );
    let v = triage(&ts, "help").await;
    assert_eq!(v["acked"], json!(true), "{v}");
    bot.running.shutdown().await;
}

#[tokio::test]
async fn doctor_passes_against_the_sandbox_and_names_a_bad_token() {
    let ts = sandbox().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = crate::common::write_config(&ts, dir.path());
    let config = Config::load(&path).expect("loads");
    let checks = vigil::doctor::run(&config).await;
    let lines: Vec<String> = checks.iter().map(|c| c.line()).collect();
    assert!(vigil::doctor::all_ok(&checks), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.starts_with("ok    slack auth.test")),
        "{lines:#?}"
    );

    std::fs::write(dir.path().join("secrets/github_token"), "ghp_wrong").expect("write");
    let config = Config::load(&path).expect("loads");
    let checks = vigil::doctor::run(&config).await;
    let gh = checks
        .iter()
        .find(|c| c.name == "github repository")
        .map(|c| c.line())
        .unwrap_or_default();
    assert!(gh.starts_with("FAIL"), "{gh}");
    assert!(gh.contains("401"), "{gh}");
    assert!(gh.contains("VIGIL_GITHUB_TOKEN"), "{gh}");
    assert!(!vigil::doctor::all_ok(&checks));
}

#[tokio::test]
async fn the_demo_scenario_passes() {
    let ok = vigil::demo::run(vigil::demo::DemoOptions::default())
        .await
        .expect("demo runs");
    assert!(ok, "every demo step happened");
}

#[tokio::test]
async fn run_refuses_a_store_it_cannot_read_instead_of_starting_empty() {
    let ts = sandbox().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = crate::common::write_config(&ts, dir.path());
    let config = Config::load(&path).expect("loads");
    {
        let db = sled::open(&config.store.path).expect("raw open");
        let cases = db.open_tree("cases").expect("tree");
        cases
            .insert(7u64.to_be_bytes(), b"not a case".as_slice())
            .expect("insert");
        db.flush().expect("flush");
    }
    let mut err = String::new();
    for _ in 0..100 {
        match vigil::run::start(&config).await {
            Ok(_) => panic!("a store that does not decode must stop start-up"),
            Err(e) => err = e.to_string(),
        }
        if !err.contains("lock") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(err.contains("does not decode"), "{err}");
    assert!(
        err.contains("never delete") || err.contains("backup"),
        "says what to do: {err}"
    );
}
