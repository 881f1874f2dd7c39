//! Crash test (SPEC §5): the real `vigil` binary is stopped at named failpoints (between a
//! side effect and its record, and between intent and effect) and by SIGKILL at random moments,
//! restarted, and every case must finish with exactly one GitHub issue, one card, one owner DM
//! and at most one PagerDuty incident. Everything is read back through the sandbox's vendor APIs.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

/// Every step that has a side effect, at both of its points.
const FAILPOINTS: &[&str] = &[
    "create_issue.intent",
    "create_issue.done",
    "github.issue.created",
    "post_card.intent",
    "post_card.done",
    "slack.card.posted",
    "owner_dm.intent",
    "owner_dm.done",
    "slack.dm.posted",
    "update_card.done",
    "card_thread.intent",
    "card_thread.done",
    "issue_comment.intent",
    "issue_comment.done",
    "issue_labels.done",
    "page.done",
    "pagerduty.triggered",
    "route.done",
    "enrich.done",
    "prioritise.done",
];

const CAROL_MBP: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f01";
const DAN_WIN: &str = "b2c3d4e5f60718293a4b5c6d7e8f0102";

struct Bot {
    child: Child,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &std::path::Path, failpoint: Option<&str>) -> Bot {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.env("VIGIL_LOG", "warn");
    match failpoint {
        Some(f) => cmd.env("VIGIL_FAILPOINT", f),
        None => cmd.env_remove("VIGIL_FAILPOINT"),
    };
    Bot {
        child: cmd.spawn().expect("vigil binary starts"),
    }
}

fn config_for(ts: &TestSandbox, dir: &std::path::Path) -> std::path::PathBuf {
    let path = crate::common::write_config(ts, dir);
    let mut text = std::fs::read_to_string(&path).expect("read config");
    text.push_str("\n[triage]\nreminder_after = \"1h\"\nescalate_after = \"2h\"\n");
    std::fs::write(&path, text).expect("write config");
    path
}

async fn inject(ts: &TestSandbox, body: Value) {
    let v = ts.control("/crowdstrike/alerts", body).await;
    assert!(v["composite_id"].is_string(), "{v}");
}

/// A low alert (owner asked) and a high one (paged) on two laptops.
async fn inject_pair(ts: &TestSandbox, n: usize) {
    inject(ts, json!({"device": {"device_id": CAROL_MBP}, "severity": 30, "technique_id": format!("T10{n:02}"), "tactic": "Execution"})).await;
    inject(ts, json!({"device": {"device_id": DAN_WIN}, "severity": 90, "technique_id": format!("T11{n:02}"), "tactic": "Execution"})).await;
}

/// Case ids tagged on top-level messages of a channel, with how often each `kind` appears.
async fn tagged(ts: &TestSandbox, channel: &str, kind: &str) -> Vec<String> {
    let v = ts
        .slack(
            "conversations.history",
            &[
                ("channel", channel),
                ("include_all_metadata", "true"),
                ("limit", "999"),
            ],
        )
        .await;
    v["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|m| m["metadata"]["event_payload"]["kind"] == json!(kind))
                .filter_map(|m| {
                    m["metadata"]["event_payload"]["case_id"]
                        .as_str()
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn count(items: &[String], case: &str) -> usize {
    items.iter().filter(|c| c.as_str() == case).count()
}

/// Every case: one issue, one card, one DM for the low case, one incident for the high one.
async fn settled(ts: &TestSandbox, cases: usize) -> Result<(), String> {
    let cards = tagged(ts, "C0ALERTS01", "card").await;
    let mut ids: Vec<String> = cards.clone();
    ids.sort();
    ids.dedup();
    if ids.len() != cases {
        return Err(format!(
            "{} cases with cards, want {cases}: {cards:?}",
            ids.len()
        ));
    }
    let issues = ts.issues().await;
    let carol_dms = tagged(ts, "D0CAROL003", "dm").await;
    let incidents = ts.incidents().await;
    for id in &ids {
        if count(&cards, id) != 1 {
            return Err(format!("{id}: {} cards", count(&cards, id)));
        }
        let marker = format!("<!-- vigil:case={id} -->");
        let n = issues
            .iter()
            .filter(|i| i["body"].as_str().is_some_and(|b| b.contains(&marker)))
            .count();
        if n != 1 {
            return Err(format!("{id}: {n} issues"));
        }
        let pages = incidents
            .iter()
            .filter(|i| i["incident_key"] == json!(id))
            .count();
        if pages > 1 {
            return Err(format!("{id}: {pages} incidents"));
        }
        if count(&carol_dms, id) > 1 {
            return Err(format!("{id}: {} DMs", count(&carol_dms, id)));
        }
    }
    let asked = carol_dms.len();
    let paged = incidents.len();
    if asked * 2 < cases || paged * 2 < cases {
        return Err(format!(
            "{asked} owner DMs and {paged} pages for {cases} cases"
        ));
    }
    Ok(())
}

async fn wait_settled(ts: &TestSandbox, cases: usize, within: Duration) -> Result<(), String> {
    let started = Instant::now();
    let mut last = Err("never checked".to_string());
    while started.elapsed() < within {
        last = settled(ts, cases).await;
        if last.is_ok() {
            // Let anything still in flight land, then check nothing was doubled.
            tokio::time::sleep(Duration::from_millis(800)).await;
            return settled(ts, cases).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last
}

fn wait_exit(bot: &mut Bot, within: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if let Ok(Some(_)) = bot.child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failpoint_then_restart_finishes_each_case_exactly_once() {
    let ts = sandbox().await;
    ts.control(
        "/limits",
        json!({"service": "slack", "method": "chat.postMessage", "per_minute": 0}),
    )
    .await;
    let mut failures = vec![];
    for (round, fp) in FAILPOINTS.iter().enumerate() {
        ts.control("/reset", json!({})).await;
        ts.control(
            "/limits",
            json!({"service": "slack", "method": "chat.postMessage", "per_minute": 0}),
        )
        .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config_for(&ts, dir.path());
        inject_pair(&ts, round).await;
        let mut crashing = spawn(&config, Some(fp));
        let died =
            tokio::task::block_in_place(|| wait_exit(&mut crashing, Duration::from_secs(20)));
        if !died {
            failures.push(format!("{fp}: the failpoint was never reached"));
        }
        drop(crashing);
        let restarted = spawn(&config, None);
        if let Err(e) = wait_settled(&ts, 2, Duration::from_secs(30)).await {
            failures.push(format!("{fp} (reached: {died}): {e}"));
        }
        drop(restarted);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sigkills_then_restart_finish_every_case_exactly_once() {
    let ts = sandbox().await;
    ts.control(
        "/limits",
        json!({"service": "slack", "method": "chat.postMessage", "per_minute": 0}),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_for(&ts, dir.path());
    for n in 0..3 {
        inject_pair(&ts, 50 + n).await;
    }
    for delay_ms in [900u64, 1300, 250, 1700, 600, 1100] {
        let bot = spawn(&config, None);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        drop(bot);
    }
    let _final = spawn(&config, None);
    wait_settled(&ts, 6, Duration::from_secs(45))
        .await
        .expect("all cases exactly once");
}
