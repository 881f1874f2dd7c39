//! Vigil's own Socket Mode transport against the sandbox's socket (issue 9 §1): acks do not wait
//! on a slow handler, a redelivered event acts once and records its retry, warning/refresh
//! recycling leaves no gap, `link_disabled` stops, failed opens back off, a silent socket is
//! replaced, and an envelope that cannot be persisted is not acked (and its author is told).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};
use slack_morphism::prelude::*;
use vigil::config::Config;
use vigil::pipeline::inbound::InboundItem;
use vigil::slack::socket::{Delivery, Inbox, NotPersisted, SocketMode, Tuning};
use vigil::store::{MemoryStore, Queued, Store, StoreError};
use vigil_sandbox::slack::socket::{EnvelopeKind, PushOutcome};

use crate::common::{TestSandbox, get_json, sandbox, start_bot, write_config};

/// Short timings so tests see watchdog and backoff behaviour within seconds.
fn quick() -> Tuning {
    Tuning {
        ping_every: Duration::from_millis(100),
        dead_after: Duration::from_millis(700),
        open_timeout: Duration::from_secs(3),
        backoff_first: Duration::from_millis(100),
        backoff_cap: Duration::from_secs(2),
        handlers: 8,
        drain_timeout: Duration::from_secs(2),
    }
}

/// The config `--write-config` writes, with `connections` sockets.
fn config(ts: &TestSandbox, dir: &std::path::Path, connections: u32) -> Config {
    let path = write_config(ts, dir);
    let mut config = Config::load(&path).expect("config loads");
    config.slack.socket_connections = connections;
    config
}

/// An inbox for transport tests: `/triage slow` blocks until released, `/triage fail` is
/// "not persisted", anything else answers at once.
#[derive(Default)]
struct TestInbox {
    gate: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    slow_started: AtomicBool,
    slow_done: AtomicBool,
    commands: AtomicUsize,
}

fn ephemeral(text: &str) -> SlackCommandEventResponse {
    SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text.into()))
        .with_response_type(SlackMessageResponseType::Ephemeral)
}

impl Inbox for TestInbox {
    fn command(
        &self,
        event: SlackCommandEvent,
        _delivery: &Delivery,
    ) -> Result<SlackCommandEventResponse, NotPersisted> {
        self.commands.fetch_add(1, Ordering::SeqCst);
        match event.text.as_deref().unwrap_or_default() {
            "slow" => {
                self.slow_started.store(true, Ordering::SeqCst);
                let gate = self.gate.lock().take();
                if let Some(rx) = gate {
                    let _ = rx.recv_timeout(Duration::from_secs(10));
                }
                self.slow_done.store(true, Ordering::SeqCst);
                Ok(ephemeral("slow done"))
            }
            "fail" => Err(NotPersisted("the test store is down".into())),
            other => Ok(ephemeral(&format!("fast {other}"))),
        }
    }

    fn interaction(&self, _: SlackInteractionEvent, _: &Delivery) -> Result<(), NotPersisted> {
        Ok(())
    }

    fn push(&self, _: SlackPushEventCallback, _: &Delivery) -> Result<(), NotPersisted> {
        Ok(())
    }
}

async fn start(
    ts: &TestSandbox,
    connections: u32,
    inbox: Arc<dyn Inbox>,
    tuning: Tuning,
) -> (SocketMode, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(ts, dir.path(), connections);
    let slack = vigil::slack::client::build(&config.slack).expect("client");
    let socket = SocketMode::start_with(slack, &config.slack, inbox, tuning)
        .await
        .expect("socket mode starts");
    (socket, dir)
}

async fn until(what: &str, limit: Duration, f: impl Fn() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A slash command payload as Slack sends it over Socket Mode.
fn command_payload(ts: &TestSandbox, text: &str) -> Value {
    json!({
        "token": "x", "team_id": "T0SANDBOX1", "team_domain": "acme",
        "channel_id": "C0ALERTS01", "channel_name": "alerts",
        "user_id": "U0ANA00001", "user_name": "ana", "command": "/triage", "text": text,
        "api_app_id": "A0VIGIL001",
        "response_url": format!("{}/slack/response/none", ts.base),
        "trigger_id": format!("t.{}", uuid::Uuid::new_v4()),
    })
}

async fn push(ts: &TestSandbox, kind: EnvelopeKind, payload: Value) -> Option<PushOutcome> {
    let sb = ts.running.sandbox.clone();
    sb.slack.socket.push(&sb, kind, payload).await.ok()
}

/// Ids of the sandbox's open (not closing) sockets.
async fn open_sockets(ts: &TestSandbox) -> Vec<u64> {
    let v = get_json(&ts.http, &ts.url("/_sandbox/slack/sockets")).await;
    v["connections"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|c| c["closing"] == json!(false))
                .filter_map(|c| c["id"].as_u64())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_slow_handler_does_not_delay_the_next_ack_on_the_same_connection() {
    let ts = sandbox().await;
    ts.control("/settings", json!({"slack_ack_timeout_ms": 2000}))
        .await;
    let inbox = Arc::new(TestInbox::default());
    let (release, gate) = std::sync::mpsc::channel();
    *inbox.gate.lock() = Some(gate);
    let (socket, _dir) = start(&ts, 1, inbox.clone(), quick()).await;
    until("one socket", Duration::from_secs(10), || {
        socket.health.live() == 1
    })
    .await;

    let slow = {
        let ts_payload = command_payload(&ts, "slow");
        let sb = ts.running.sandbox.clone();
        tokio::spawn(async move {
            sb.slack
                .socket
                .push(&sb, EnvelopeKind::SlashCommands, ts_payload)
                .await
                .ok()
        })
    };
    until("the slow handler to start", Duration::from_secs(5), || {
        inbox.slow_started.load(Ordering::SeqCst)
    })
    .await;
    let fast = push(
        &ts,
        EnvelopeKind::SlashCommands,
        command_payload(&ts, "quick"),
    )
    .await
    .expect("a socket");
    assert!(fast.acked, "the second envelope was acked: {fast:?}");
    assert_eq!(
        fast.response.as_ref().map(|r| r["text"].clone()),
        Some(json!("fast quick"))
    );
    assert!(
        !inbox.slow_done.load(Ordering::SeqCst),
        "…while the first one's handler was still running"
    );
    let _ = release.send(());
    let slow = slow.await.expect("join").expect("a socket");
    assert!(
        slow.acked,
        "the slow one is acked once it is done: {slow:?}"
    );
    assert_eq!(
        slow.response.map(|r| r["text"].clone()),
        Some(json!("slow done"))
    );
    socket.shutdown().await;
}

/// A store that can be told to fail enqueues, and that keeps every item it accepted.
struct TestStore {
    inner: MemoryStore,
    failing: AtomicBool,
    accepted: Mutex<Vec<Value>>,
}

impl Store for TestStore {
    fn admit(
        &self,
        alert: &vigil::case::Alert,
        group_key: &str,
        window: chrono::Duration,
        now: chrono::DateTime<chrono::Utc>,
        open: vigil::store::OpenFn<'_>,
        group: vigil::store::GroupFn<'_>,
    ) -> Result<vigil::store::Admission, StoreError> {
        self.inner.admit(alert, group_key, window, now, open, group)
    }
    fn get(&self, id: &vigil::case::CaseId) -> Result<Option<vigil::case::Case>, StoreError> {
        self.inner.get(id)
    }
    fn save(&self, case: &vigil::case::Case) -> Result<(), StoreError> {
        self.inner.save(case)
    }
    fn cases(&self) -> Result<Vec<vigil::case::Case>, StoreError> {
        self.inner.cases()
    }
    fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.inner.cursor(name)
    }
    fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.inner.set_cursor(name, value)
    }
    fn enqueue(&self, keys: &[String], item: &InboundItem) -> Result<bool, StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Io("disk full (test)".into()));
        }
        let added = self.inner.enqueue(keys, item)?;
        if added {
            // Kept in its stored JSON form: the checks below read the on-disk shape.
            self.accepted
                .lock()
                .push(serde_json::to_value(item).expect("encodes"));
        }
        Ok(added)
    }
    fn remember(&self, key: &str) -> Result<bool, StoreError> {
        self.inner.remember(key)
    }
    fn remembered(&self, key: &str) -> Result<bool, StoreError> {
        self.inner.remembered(key)
    }
    fn prune_seen(&self, cutoff: chrono::DateTime<chrono::Utc>) -> Result<usize, StoreError> {
        self.inner.prune_seen(cutoff)
    }
    fn dm_cases(&self, channel: &str) -> Result<Vec<vigil::case::CaseId>, StoreError> {
        self.inner.dm_cases(channel)
    }
    fn inbound(&self) -> Result<Vec<(u64, Queued)>, StoreError> {
        self.inner.inbound()
    }
    fn finish(&self, seq: u64) -> Result<(), StoreError> {
        self.inner.finish(seq)
    }
}

/// The real [`vigil::bot::Bot`] over an engine on a [`TestStore`].
async fn start_real_bot(
    ts: &TestSandbox,
    store: Arc<TestStore>,
) -> (SocketMode, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(ts, dir.path(), 2);
    let slack = vigil::slack::client::build(&config.slack).expect("client");
    let engine = vigil::pipeline::Engine::new(
        store,
        vigil::slack::api::SlackApi::new(
            slack.clone(),
            vigil::slack::client::bot_token(&config.slack),
        ),
        vigil::pipeline::engine::Vendors::default(),
        config.triage.clone(),
        config.slack.alerts_channel.clone(),
        vec![],
        vigil::pipeline::engine::Remediation::default(),
    );
    let bot = Arc::new(vigil::bot::Bot::new(engine, "U0VIGIL001".into()));
    let socket = SocketMode::start_with(slack, &config.slack, bot, quick())
        .await
        .expect("socket mode starts");
    (socket, dir)
}

/// A DM from Carol as an Events API payload.
fn dm_event(event_id: &str, text: &str) -> Value {
    json!({
        "token": "x", "team_id": "T0SANDBOX1", "api_app_id": "A0VIGIL001",
        "type": "event_callback", "event_id": event_id, "event_time": 1_700_000_000,
        "event": {"type": "message", "channel": "D0CAROL003", "channel_type": "im",
                  "user": "U0CAROL003", "text": text, "ts": "1700000000.000100"},
    })
}

fn raw_events_envelope(envelope_id: &str, retry: u32, payload: Value) -> Value {
    json!({
        "type": "events_api", "envelope_id": envelope_id, "payload": payload,
        "accepts_response_payload": false, "retry_attempt": retry,
        "retry_reason": if retry == 0 { "" } else { "timeout" },
    })
}

#[tokio::test]
async fn a_redelivered_event_in_a_new_envelope_acts_once_and_records_its_retry() {
    let ts = sandbox().await;
    let store = Arc::new(TestStore {
        inner: MemoryStore::new(),
        failing: AtomicBool::new(false),
        accepted: Mutex::new(vec![]),
    });
    let (socket, _dir) = start_real_bot(&ts, store.clone()).await;
    until("two sockets", Duration::from_secs(10), || {
        socket.health.live() == 2
    })
    .await;
    for (envelope, retry, event) in [
        ("env-1", 0, "Ev1"),
        ("env-2", 1, "Ev1"),
        ("env-3", 2, "Ev2"),
    ] {
        let v = ts
            .control(
                "/slack/envelope",
                raw_events_envelope(envelope, retry, dm_event(event, "it was me")),
            )
            .await;
        assert_eq!(v["acked"], json!(true), "{envelope}: {v}");
    }
    // The same envelope again (Slack resending it) is a duplicate too, by its envelope_id.
    let v = ts
        .control(
            "/slack/envelope",
            raw_events_envelope("env-3", 2, dm_event("Ev3", "it was me")),
        )
        .await;
    assert_eq!(v["acked"], json!(true), "{v}");
    let accepted = store.accepted.lock().clone();
    let deliveries: Vec<Value> = accepted.iter().map(|i| i["delivery"].clone()).collect();
    assert_eq!(
        deliveries,
        vec![
            json!({"envelope_id": "env-1", "retry_attempt": 0, "retry_reason": ""}),
            json!({"envelope_id": "env-3", "retry_attempt": 2, "retry_reason": "timeout"}),
        ],
        "Ev1 once (its redelivery dropped), then Ev2 with its retry facts: {accepted:#?}"
    );
    socket.shutdown().await;
}

#[tokio::test]
async fn an_event_that_cannot_be_persisted_is_not_acked_and_its_redelivery_is_kept() {
    let ts = sandbox().await;
    ts.control(
        "/settings",
        json!({"slack_ack_timeout_ms": 500, "slack_retry_delays_ms": [300, 300, 300]}),
    )
    .await;
    let store = Arc::new(TestStore {
        inner: MemoryStore::new(),
        failing: AtomicBool::new(true),
        accepted: Mutex::new(vec![]),
    });
    let (socket, _dir) = start_real_bot(&ts, store.clone()).await;
    until("two sockets", Duration::from_secs(10), || {
        socket.health.live() == 2
    })
    .await;
    let first = push(&ts, EnvelopeKind::EventsApi, dm_event("Ev7", "not me"))
        .await
        .expect("a socket");
    assert!(!first.acked, "a failed persist is not acked: {first:?}");
    store.failing.store(false, Ordering::SeqCst);
    until(
        "the redelivery to be persisted",
        Duration::from_secs(10),
        || !store.accepted.lock().is_empty(),
    )
    .await;
    let accepted = store.accepted.lock().clone();
    assert_eq!(accepted.len(), 1, "{accepted:#?}");
    assert_eq!(
        accepted[0]["delivery"]["retry_attempt"],
        json!(1),
        "{accepted:#?}"
    );
    assert_eq!(accepted[0]["delivery"]["retry_reason"], json!("timeout"));
    assert_ne!(
        accepted[0]["delivery"]["envelope_id"],
        json!(first.envelope_id)
    );
    assert_eq!(socket.health.not_acked(), 1);
    socket.shutdown().await;
}

#[tokio::test]
async fn a_command_that_cannot_be_persisted_is_not_acked_and_the_person_is_told() {
    let ts = sandbox().await;
    ts.control("/settings", json!({"slack_ack_timeout_ms": 1000}))
        .await;
    let inbox = Arc::new(TestInbox::default());
    let (socket, _dir) = start(&ts, 2, inbox.clone(), quick()).await;
    until("two sockets", Duration::from_secs(10), || {
        socket.health.live() == 2
    })
    .await;
    let v = ts
        .control(
            "/slack/command",
            json!({"user": "U0ANA00001", "channel": "C0ALERTS01", "command": "/triage", "text": "fail"}),
        )
        .await;
    assert_eq!(v["acked"], json!(false), "{v}");
    let told = || async {
        let shown = get_json(
            &ts.http,
            &ts.url("/_sandbox/slack/ephemeral?user=U0ANA00001"),
        )
        .await;
        shown
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m.to_string().contains("could not save")))
    };
    let started = Instant::now();
    while !told().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the person was not told"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    socket.shutdown().await;
}

#[tokio::test]
async fn warning_to_every_socket_then_refresh_one_at_a_time_leaves_no_gap() {
    let ts = sandbox().await;
    ts.control(
        "/settings",
        json!({"slack_ack_timeout_ms": 2000, "slack_refresh_after_warning_ms": 600}),
    )
    .await;
    let inbox = Arc::new(TestInbox::default());
    let (socket, _dir) = start(&ts, 2, inbox.clone(), quick()).await;
    until("two sockets", Duration::from_secs(10), || {
        socket.health.live() == 2
    })
    .await;

    // Commands keep arriving the whole time.
    let running = Arc::new(AtomicBool::new(true));
    let load = {
        let running = running.clone();
        let sb = ts.running.sandbox.clone();
        let payload = command_payload(&ts, "ping");
        tokio::spawn(async move {
            let (mut sent, mut no_socket, mut unacked) = (0usize, 0usize, 0usize);
            while running.load(Ordering::SeqCst) {
                match sb
                    .slack
                    .socket
                    .push(&sb, EnvelopeKind::SlashCommands, payload.clone())
                    .await
                {
                    Ok(out) if out.acked => {}
                    Ok(_) => unacked += 1,
                    Err(_) => no_socket += 1,
                }
                sent += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (sent, no_socket, unacked)
        })
    };

    let hellos = socket.health.hellos();
    let v = ts
        .control("/slack/disconnect", json!({"reason": "warning"}))
        .await;
    assert_eq!(v["told"], json!(2), "{v}");
    until(
        "replacements for both warned sockets",
        Duration::from_secs(10),
        || socket.health.hellos() >= hellos + 2,
    )
    .await;
    let ids_now = {
        let started = Instant::now();
        loop {
            let ids = open_sockets(&ts).await;
            if ids.len() == 2 {
                break ids;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the warned sockets did not go: {ids:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    for id in ids_now {
        let hellos = socket.health.hellos();
        let v = ts
            .control(
                "/slack/disconnect",
                json!({"reason": "refresh_requested", "socket": id}),
            )
            .await;
        assert_eq!(v["told"], json!(1), "{v}");
        until("a replacement", Duration::from_secs(10), || {
            socket.health.hellos() > hellos
        })
        .await;
        let started = Instant::now();
        while open_sockets(&ts).await.len() != 2 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "did not settle at two sockets"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    running.store(false, Ordering::SeqCst);
    let (sent, no_socket, unacked) = load.await.expect("join");
    assert_eq!(no_socket, 0, "no command found no socket (of {sent})");
    assert_eq!(unacked, 0, "every command was acked (of {sent})");
    assert!(sent >= 20, "commands kept arriving: {sent}");
    assert_eq!(
        inbox.commands.load(Ordering::SeqCst),
        sent,
        "each handled once"
    );
    socket.shutdown().await;
}

#[tokio::test]
async fn link_disabled_stops_reconnecting_and_healthz_says_why() {
    let ts = sandbox().await;
    let bot = start_bot(&ts).await;
    let health = bot.running.socket_health();
    let opens_before = ts
        .requests("slack")
        .await
        .iter()
        .filter(|r| r["path"] == json!("/api/apps.connections.open"))
        .count();
    ts.control("/slack/disconnect", json!({"reason": "link_disabled"}))
        .await;
    until("the transport to stop", Duration::from_secs(10), || {
        health.stopped()
    })
    .await;
    let resp = ts
        .http
        .get(format!("http://{}/healthz", bot.listen))
        .send()
        .await
        .expect("healthz");
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"], json!("link_disabled"), "{body}");
    let reason = body["reason"].as_str().unwrap_or_default();
    let app_id = ts.creds["slack"]["app_id"].as_str().unwrap_or("?");
    assert!(reason.contains(app_id), "names the app: {reason}");
    // The pool task is gone, so nothing can open a socket again; none was opened meanwhile.
    let opens_after = ts
        .requests("slack")
        .await
        .iter()
        .filter(|r| r["path"] == json!("/api/apps.connections.open"))
        .count();
    assert_eq!(
        opens_after, opens_before,
        "no reconnect after link_disabled"
    );
    assert_eq!(ts.running.sandbox.slack.socket.connections(), 0);
    // `vigil doctor` says what to do.
    let config = Config::load(&bot.dir.path().join("vigil.toml")).expect("config");
    let checks = vigil::doctor::run(&config).await;
    let line = checks
        .iter()
        .find(|c| c.name == "slack socket mode link")
        .map(|c| c.line())
        .unwrap_or_default();
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(line.contains("turn Socket Mode back on"), "{line}");
    assert!(!vigil::doctor::all_ok(&checks));
    bot.running.shutdown().await;
}

/// When each `apps.connections.open` call reached the sandbox, in order.
async fn open_times(ts: &TestSandbox) -> Vec<chrono::DateTime<chrono::Utc>> {
    ts.requests("slack")
        .await
        .iter()
        .filter(|r| r["path"] == json!("/api/apps.connections.open"))
        .filter_map(|r| r["time"].as_str().and_then(|t| t.parse().ok()))
        .collect()
}

#[tokio::test]
async fn failed_connection_opens_back_off_exponentially() {
    let ts = sandbox().await;
    let v = ts
        .control(
            "/faults",
            json!({"service": "slack", "path": "/api/apps.connections.open", "status": 500, "times": 5}),
        )
        .await;
    assert!(v["id"].is_string(), "{v}");
    let inbox = Arc::new(TestInbox::default());
    let (socket, _dir) = start(&ts, 1, inbox, quick()).await;
    until("a socket after the faults", Duration::from_secs(15), || {
        socket.health.live() == 1
    })
    .await;
    let times = open_times(&ts).await;
    assert_eq!(times.len(), 6, "five failures then the success: {times:?}");
    let gaps: Vec<i64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .collect();
    // Equal jitter: wait n lies in [d/2, d] with d doubling, so no gap is shorter than the one
    // before (a little slack for scheduling) and the last is at least twice the first.
    for w in gaps.windows(2) {
        assert!(w[1] + 15 >= w[0], "gaps grow: {gaps:?}");
    }
    assert!(gaps[4] >= 2 * gaps[0].max(50), "gaps grow: {gaps:?}");
    assert!(gaps.iter().all(|g| *g <= 2_100), "capped: {gaps:?}");
    socket.shutdown().await;
}

#[tokio::test]
async fn a_rate_limited_connection_open_waits_for_retry_after() {
    let ts = sandbox().await;
    let v = ts
        .control(
            "/faults",
            json!({"service": "slack", "path": "/api/apps.connections.open", "status": 429,
                "retry_after": 2, "times": 2}),
        )
        .await;
    assert!(v["id"].is_string(), "{v}");
    let inbox = Arc::new(TestInbox::default());
    // The backoff alone would retry after 50-200 ms. The first 429 is the attempt at start,
    // the second the pool's own retry.
    let (socket, _dir) = start(&ts, 1, inbox, quick()).await;
    until("a socket after the 429", Duration::from_secs(15), || {
        socket.health.live() == 1
    })
    .await;
    let times = open_times(&ts).await;
    assert_eq!(times.len(), 3, "two 429s then the success: {times:?}");
    for w in times.windows(2) {
        let gap = (w[1] - w[0]).num_milliseconds();
        assert!(
            gap >= 1_950,
            "waited {gap} ms, Slack asked for 2 s: {times:?}"
        );
    }
    socket.shutdown().await;
}

#[tokio::test]
async fn a_silent_socket_is_replaced() {
    let ts = sandbox().await;
    let inbox = Arc::new(TestInbox::default());
    let (socket, _dir) = start(&ts, 2, inbox, quick()).await;
    until("two sockets", Duration::from_secs(10), || {
        socket.health.live() == 2
    })
    .await;
    let ids = open_sockets(&ts).await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    let hellos = socket.health.hellos();
    let v = ts
        .control(
            "/slack/disconnect",
            json!({"reason": "hang", "socket": ids[0]}),
        )
        .await;
    assert_eq!(v["told"], json!(1), "{v}");
    until(
        "a replacement for the silent socket",
        Duration::from_secs(10),
        || socket.health.hellos() > hellos,
    )
    .await;
    let now = open_sockets(&ts).await;
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(!now.contains(&ids[0]), "{now:?}");
    // And the replacement works.
    let out = push(
        &ts,
        EnvelopeKind::SlashCommands,
        command_payload(&ts, "after"),
    )
    .await
    .expect("a socket");
    assert!(out.acked, "{out:?}");
    socket.shutdown().await;
}
