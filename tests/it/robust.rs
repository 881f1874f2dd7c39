//! Robustness through the real binary and the bot in-process: a damaged store stops
//! `vigil run` naming the path and the tree; stray DMs are finished and answered once; a
//! webhook request refused with 400/503 leaves its signature unused.

use std::process::{Command, Stdio};

use serde_json::json;

use crate::common::{sandbox, write_config};

/// Runs `vigil run`; a bot that starts instead of refusing is killed after 20 s and fails.
/// The waiting happens on a blocking thread, so the in-process sandbox keeps serving.
async fn run_until_exit(config: &std::path::Path) -> std::process::Output {
    let config = config.to_path_buf();
    tokio::task::spawn_blocking(move || wait_for_exit(&config))
        .await
        .expect("waiter")
}

fn wait_for_exit(config: &std::path::Path) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("run")
        .arg("--config")
        .arg(config)
        .env("VIGIL_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigil binary runs");
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vigil run started on a damaged store instead of refusing");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vigil_run_refuses_a_damaged_store_naming_the_path_and_the_tree() {
    let ts = sandbox().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = write_config(&ts, dir.path());
    let config = vigil::config::Config::load(&config_path).expect("config loads");
    let store = config.store.path.clone();
    drop(vigil::store::SledStore::open(&store).expect("a fresh store opens"));
    {
        // The dropped store's flusher may hold the lock for a moment.
        let mut db = sled::open(&store);
        for _ in 0..100 {
            if db.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            db = sled::open(&store);
        }
        let db = db.expect("raw open");
        db.open_tree("inbox")
            .expect("tree")
            .insert(1u64.to_be_bytes(), b"{\"case\": ".as_slice())
            .expect("insert");
        db.flush().expect("flush");
    }
    // sled's flusher may hold the lock briefly after the raw handle drops: retry on "lock".
    let mut stderr = String::new();
    for _ in 0..50 {
        let out = run_until_exit(&config_path).await;
        assert!(
            !out.status.success(),
            "vigil run must refuse a damaged store"
        );
        stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !stderr.contains("lock") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(stderr.contains(&store.display().to_string()), "{stderr}");
    assert!(stderr.contains("tree `inbox`"), "{stderr}");
    assert!(stderr.contains("inbound item #1"), "{stderr}");
}

const BEN: &str = "U0BEN00002";
const ANA: &str = "U0ANA00001";

async fn until<F, Fut>(what: &str, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !f().await {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn stray_replies(ts: &crate::common::TestSandbox, user: &str) -> usize {
    let v = crate::common::get_json(
        &ts.http,
        &ts.url(&format!("/_sandbox/slack/ephemeral?user={user}")),
    )
    .await;
    v.as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e.to_string().contains("no open case for you"))
                .count()
        })
        .unwrap_or(0)
}

/// A DM from `user` to the bot; without a channel the sandbox uses the person's IM.
async fn dm(ts: &crate::common::TestSandbox, user: &str, text: &str) {
    let v = ts
        .control("/slack/message", json!({"user": user, "text": text}))
        .await;
    assert_eq!(v["acked"], json!(true), "{v}");
}

#[tokio::test]
async fn a_stray_dm_is_finished_and_answered_once() {
    let ts = sandbox().await;
    let bot = crate::common::start_bot(&ts).await;
    let store = bot.running.engine.store.clone();
    dm(&ts, BEN, "hello?").await;
    until("the reply to Ben", || async {
        stray_replies(&ts, BEN).await >= 1
    })
    .await;
    dm(&ts, BEN, "anyone there?").await;
    // Stray items are finished one pass at a time in inbox order: once Ana, who wrote after
    // Ben's second message, has her reply and the inbox is empty, Ben's second was handled.
    dm(&ts, ANA, "hi").await;
    until("the reply to Ana", || async {
        stray_replies(&ts, ANA).await == 1
    })
    .await;
    until("an empty inbox", || async {
        store.inbound().map(|i| i.is_empty()).unwrap_or(false)
    })
    .await;
    assert_eq!(
        stray_replies(&ts, BEN).await,
        1,
        "one reply per person per day, not per message"
    );
    bot.running.shutdown().await;
}
