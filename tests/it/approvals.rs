//! Flow 2's approvals (SPEC §3.3) with the bot in-process against the sandbox: a destructive
//! call waits in the card's thread with approve/deny buttons bound to that call by a one-shot
//! token; analysts decide it once, from that message or their App Home; everything else is
//! refused with an ephemeral reason and changes nothing; an undecided approval expires.
//!
//! How a call gets to wait without racing the case runner: the case is written into the
//! store before the bot starts, through the store's own admission (so dedupe and grouping
//! indexes are right), with flow 1's steps and the destructive calls already proposed
//! through `Case::propose_call`. The bot then recovers it like any case after a restart.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, Value, json};
use vigil::case::remediation::{CallStatus, Proposer, Triage};
use vigil::case::{Alert, AlertDevice, Case, CaseId, Step};
use vigil::store::{SledStore, Store};
use vigil::triage::classify::{AlertType, Classification, ClassifiedBy, Severity};
use vigil::triage::entities::{Entities, EntityKind};
use vigil::triage::guard::Caps;
use vigil::triage::tools::ToolName;

use crate::common::{ALERTS, ANA, TestSandbox, sandbox, until, wait_for_connections, write_config};

const CAROL: &str = "U0CAROL003";
const DAN: &str = "U0DAN00004";
const BEN: &str = "U0BEN00002";
const CAROL_MBP: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f01";

/// Contain Carol's laptop (acts on Carol, its owner).
const CONTAIN: (&str, &str, &str) = ("crowdstrike_contain_host", "device_id", CAROL_MBP);
/// Clear Carol's Okta sessions (acts on Carol's account).
const CLEAR: (&str, &str, &str) = ("okta_clear_sessions", "user", "carol.diaz@acme.example");

/// A bot whose store already held a case with destructive calls waiting.
struct Waiting {
    running: vigil::run::Running,
    case: CaseId,
    _dir: tempfile::TempDir,
}

/// The case Carol's laptop alert opens, with `calls` proposed (each destructive), the
/// `n`-th expiring after `expires[n]`.
fn case_with_calls(id: CaseId, calls: &[(&str, &str, &str)], expires: &[Duration]) -> Case {
    let now = Utc::now();
    let alert = Alert {
        id: "approvals-alert-1".into(),
        source: "crowdstrike".into(),
        name: "Malware on Carol's laptop".into(),
        severity: 30,
        technique_id: "T1204".into(),
        device: Some(AlertDevice {
            device_id: CAROL_MBP.into(),
            hostname: "WS-CAROL-MBP".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut case = Case::open(id, &alert, "approvals", now);
    let mut e = Entities::default();
    e.add(EntityKind::Host, CAROL_MBP);
    e.device_ids.push(CAROL_MBP.into());
    e.add(EntityKind::User, "carol.diaz@acme.example");
    e.add(EntityKind::Email, "carol.diaz@acme.example");
    case.triage = Some(Triage::new(
        e,
        Classification {
            alert_type: AlertType::Malware,
            severity: Severity::High,
            rationale: "test".into(),
            rule: "test".into(),
            by: ClassifiedBy::Rules,
            fallback: None,
        },
        now,
    ));
    let allow = [
        ToolName::CrowdstrikeContainHost,
        ToolName::OktaClearSessions,
    ];
    for (i, (tool, arg, value)) in calls.iter().enumerate() {
        let mut args = Map::new();
        args.insert(arg.to_string(), json!(value));
        case.propose_call(
            Proposer::Runbook { step: i + 1 },
            tool,
            &args,
            &allow,
            Caps::default(),
            expires[i],
            now,
        );
    }
    case
}

/// Writes the bot's config (Carol is also an analyst, so the `forbid_self` refusal is the one
/// she gets) and a store holding the waiting case; answers the config and the case id.
fn prepare(
    ts: &TestSandbox,
    dir: &std::path::Path,
    calls: &[(&str, &str, &str)],
    expires: &[Duration],
) -> (vigil::config::Config, std::path::PathBuf, CaseId) {
    let path = write_config(ts, dir);
    let text = std::fs::read_to_string(&path).expect("config");
    let text = text.replacen(
        "analyst_users = [",
        &format!("analyst_users = [\"{CAROL}\", "),
        1,
    );
    std::fs::write(&path, text).expect("config");
    let config = vigil::config::Config::load(&path).expect("config loads");
    let store = SledStore::open(&config.store.path).expect("store");
    let probe = case_with_calls(CaseId::from_seq(0), calls, expires);
    let open = |id: CaseId| case_with_calls(id, calls, expires);
    let group =
        |id: &CaseId| vigil::pipeline::inbound::InboundItem::grouped(id, &probe.alert, Utc::now());
    let window = chrono::Duration::hours(1);
    let case = match store
        .admit(&probe.alert, "approvals", window, Utc::now(), &open, &group)
        .expect("admit")
    {
        vigil::store::Admission::Opened(c) => c.id,
        other => panic!("{other:?}"),
    };
    (config, path, case)
}

/// Starts the bot on a store holding the waiting case and waits for every approval message.
async fn waiting(ts: &TestSandbox, calls: &[(&str, &str, &str)], expires: &[Duration]) -> Waiting {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, _, case) = prepare(ts, dir.path(), calls, expires);
    let running = vigil::run::start(&config).await.expect("bot starts");
    wait_for_connections(ts, 2).await;
    let w = Waiting {
        running,
        case,
        _dir: dir,
    };
    for n in 1..=calls.len() as u32 {
        until("the approval message", || approval_message(ts, &w.case, n)).await;
    }
    w
}

impl Waiting {
    fn get(&self) -> Case {
        self.running
            .engine
            .store
            .get(&self.case)
            .expect("store")
            .expect("case")
    }

    fn status(&self, call: u32) -> CallStatus {
        self.get()
            .triage
            .and_then(|t| t.call(call).map(|c| c.status.clone()))
            .expect("call")
    }

    fn token(&self, call: u32) -> String {
        self.get()
            .triage
            .and_then(|t| t.call(call).and_then(|c| c.approval.clone()))
            .map(|a| a.token)
            .expect("approval")
    }

    fn notes(&self, needle: &str) -> usize {
        self.get()
            .timeline
            .iter()
            .filter(|e| e.text.contains(needle))
            .count()
    }
}

/// The thread replies of the case's card, with their metadata.
async fn thread(ts: &TestSandbox, case: &CaseId) -> Vec<Value> {
    let Some(card) = ts.card_of(case.as_str()).await else {
        return vec![];
    };
    let parent = card["ts"].as_str().unwrap_or_default().to_string();
    let v = ts
        .slack(
            "conversations.replies",
            &[
                ("channel", ALERTS),
                ("ts", &parent),
                ("include_all_metadata", "true"),
            ],
        )
        .await;
    v["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|m| m["ts"].as_str() != Some(&parent))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Call `n`'s approval messages (by their metadata).
async fn approval_messages(ts: &TestSandbox, case: &CaseId, n: u32) -> Vec<Value> {
    thread(ts, case)
        .await
        .into_iter()
        .filter(|m| m["metadata"]["event_payload"]["kind"] == json!(format!("approval-{n}")))
        .collect()
}

async fn approval_message(ts: &TestSandbox, case: &CaseId, n: u32) -> Option<Value> {
    approval_messages(ts, case, n).await.into_iter().next()
}

fn ts_of(m: &Value) -> String {
    m["ts"].as_str().unwrap_or_default().to_string()
}

/// A click through the sandbox on call `n`'s approval message.
async fn click(ts: &TestSandbox, w: &Waiting, user: &str, n: u32, action: &str) -> Value {
    let m = until("the approval message", || approval_message(ts, &w.case, n)).await;
    let v = ts
        .control(
            "/slack/click",
            json!({"user": user, "channel": ALERTS, "ts": ts_of(&m), "action_id": action}),
        )
        .await;
    assert_eq!(v["acked"], json!(true), "{v}");
    v
}

/// A raw `block_actions` envelope for an approval button on call `n`'s message carrying
/// `value` (replays and forgeries the sandbox's click would not build).
async fn raw_click(
    ts: &TestSandbox,
    w: &Waiting,
    user: &str,
    n: u32,
    value: &str,
    action_ts: &str,
) {
    let m = until("the approval message", || approval_message(ts, &w.case, n)).await;
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": user, "name": user, "team_id": "T0SANDBOX1"},
        "api_app_id": "A0VIGIL001", "token": "x", "trigger_id": format!("1.2.{action_ts}"),
        "team": {"id": "T0SANDBOX1", "domain": "acme"},
        "container": {"type": "message", "message_ts": ts_of(&m), "channel_id": ALERTS, "is_ephemeral": false},
        "channel": {"id": ALERTS, "name": "alerts"},
        "state": {"values": {}},
        "actions": [{"type": "button", "action_id": "approval_approve", "block_id": "b", "value": value,
                     "action_ts": action_ts, "text": {"type": "plain_text", "text": "Approve"}}]
    });
    let v = ts
        .control(
            "/slack/envelope",
            json!({"type": "interactive", "payload": payload}),
        )
        .await;
    assert_eq!(v["acked"], json!(true), "{v}");
}

/// What `user` was shown ephemerally so far.
async fn ephemerals(ts: &TestSandbox, user: &str) -> Vec<String> {
    let v = crate::common::get_json(
        &ts.http,
        &ts.url(&format!("/_sandbox/slack/ephemeral?user={user}")),
    )
    .await;
    v.as_array()
        .map(|a| a.iter().map(|e| e.to_string()).collect())
        .unwrap_or_default()
}

/// Waits until `user` has an ephemeral containing `needle`.
async fn told(ts: &TestSandbox, user: &str, needle: &str) {
    until(&format!("{user} told {needle:?}"), || async {
        ephemerals(ts, user)
            .await
            .iter()
            .any(|e| e.contains(needle))
            .then_some(())
    })
    .await;
}

/// Waits until call `n`'s message says `needle` (its decision) and has no buttons left.
async fn message_says(ts: &TestSandbox, w: &Waiting, n: u32, needle: &str) {
    until(&format!("call {n}'s message says {needle:?}"), || async {
        let m = approval_message(ts, &w.case, n).await?;
        let s = m.to_string();
        (s.contains(needle) && !s.contains("\"button\"")).then_some(())
    })
    .await;
}

const LONG: Duration = Duration::from_secs(1800);

#[tokio::test]
async fn an_analyst_approves_once_and_every_other_click_is_refused_with_its_reason() {
    let ts = sandbox().await;
    let w = waiting(&ts, &[CONTAIN, CLEAR], &[LONG, LONG]).await;
    let (t1, t2) = (w.token(1), w.token(2));
    let m1 = approval_message(&ts, &w.case, 1).await.expect("message");
    let shown = m1.to_string();
    assert!(
        shown.contains("crowdstrike_contain_host") && shown.contains(CAROL_MBP),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("<@{CAROL}>")),
        "who it acts on: {shown}"
    );
    assert!(shown.contains("approval_approve") && shown.contains("approval_deny"));

    // A person who is not an analyst.
    click(&ts, &w, DAN, 1, "approval_approve").await;
    told(&ts, DAN, "only analysts").await;
    // The device owner, although an analyst, with forbid_self.
    click(&ts, &w, CAROL, 1, "approval_approve").await;
    told(&ts, CAROL, "acts on you").await;
    // A forged token, and call 2's real token on call 1's message.
    let case = w.case.as_str();
    raw_click(
        &ts,
        &w,
        BEN,
        1,
        &format!("{case}:{}", "f".repeat(32)),
        "1700000001.000001",
    )
    .await;
    told(&ts, BEN, "unknown or forged").await;
    raw_click(
        &ts,
        &w,
        BEN,
        1,
        &format!("{case}:{t2}"),
        "1700000001.000002",
    )
    .await;
    told(&ts, BEN, "another call").await;
    assert_eq!(w.status(1), CallStatus::AwaitingApproval, "nothing decided");
    assert_eq!(w.status(2), CallStatus::AwaitingApproval);

    // The analyst's approval: the later legitimate effect the refusals did not prevent.
    click(&ts, &w, ANA, 1, "approval_approve").await;
    message_says(&ts, &w, 1, &format!("Approved by <@{ANA}>")).await;
    let status = w.status(1);
    assert!(
        !matches!(
            status,
            CallStatus::AwaitingApproval | CallStatus::Denied | CallStatus::Expired
        ),
        "approved, then queued to run: {status:?}"
    );
    let c = w.get();
    let decision = c
        .triage
        .as_ref()
        .and_then(|t| t.call(1))
        .and_then(|c| c.approval.clone())
        .and_then(|a| a.decision)
        .expect("decision");
    assert_eq!((decision.by.as_str(), decision.approved), (ANA, true));
    assert_eq!(
        w.notes(&format!("approved by <@{ANA}>")),
        1,
        "{:?}",
        c.timeline
    );
    assert_eq!(w.status(2), CallStatus::AwaitingApproval, "only that call");

    // A replay of the approve click (a new press of a stale button) after the decision.
    raw_click(
        &ts,
        &w,
        BEN,
        1,
        &format!("{case}:{t1}"),
        "1700000001.000003",
    )
    .await;
    told(&ts, BEN, &format!("already approved by <@{ANA}>")).await;
    // The same envelope payload delivered again acts (and answers) no more.
    raw_click(
        &ts,
        &w,
        BEN,
        1,
        &format!("{case}:{t1}"),
        "1700000001.000003",
    )
    .await;
    // Deciding call 2 is the later effect that shows the replays were applied and ignored.
    click(&ts, &w, ANA, 2, "approval_deny").await;
    message_says(&ts, &w, 2, &format!("Denied by <@{ANA}>")).await;
    assert_eq!(w.notes(&format!("approved by <@{ANA}>")), 1, "decided once");
    let already = ephemerals(&ts, BEN)
        .await
        .iter()
        .filter(|e| e.contains("already approved"))
        .count();
    assert_eq!(already, 1, "a redelivered click is not answered twice");
    assert_eq!(approval_messages(&ts, &w.case, 1).await.len(), 1);
    w.running.shutdown().await;
}

#[tokio::test]
async fn a_denied_call_never_runs_and_an_expired_one_says_so() {
    let ts = sandbox().await;
    let soon = Duration::from_secs(15);
    let w = waiting(&ts, &[CONTAIN, CLEAR], &[soon, LONG]).await;
    click(&ts, &w, ANA, 2, "approval_deny").await;
    message_says(&ts, &w, 2, &format!("Denied by <@{ANA}>")).await;
    assert_eq!(w.status(2), CallStatus::Denied);
    // Call 1 expires on its own: the message says so and the call never runs.
    until_expired(&ts, &w).await;
    assert_eq!(w.status(1), CallStatus::Expired);
    assert_eq!(w.notes("expired at"), 1);
    // Clicking the expired approval (a stale button) is refused.
    let t1 = w.token(1);
    raw_click(
        &ts,
        &w,
        ANA,
        1,
        &format!("{}:{t1}", w.case),
        "1700000002.000001",
    )
    .await;
    told(&ts, ANA, "already expired").await;
    // Neither call was ever queued to run: no tool_call step was attempted on the case, and
    // no vendor was asked to contain or clear anything.
    let c = w.get();
    assert!(
        !c.timeline.iter().any(|e| e.text.contains("tool_call")),
        "{:?}",
        c.timeline
    );
    assert!(
        !c.steps
            .iter()
            .any(|s| matches!(s.step, Step::ToolCall { .. }))
    );
    let contained = ts
        .requests("crowdstrike")
        .await
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.contains("devices-actions"))
        })
        .count();
    assert_eq!(contained, 0);
    let okta = ts
        .requests("okta")
        .await
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.contains("sessions")))
        .count();
    assert_eq!(okta, 0);
    w.running.shutdown().await;
}

async fn until_expired(ts: &TestSandbox, w: &Waiting) {
    crate::common::until_within(Duration::from_secs(45), "call 1 to expire", || async {
        let m = approval_message(ts, &w.case, 1).await?;
        let s = m.to_string();
        (s.contains("Expired at") && s.contains("not run") && !s.contains("\"button\""))
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn app_home_lists_the_waiting_approval_and_a_click_from_it_decides() {
    let ts = sandbox().await;
    let w = waiting(&ts, &[CONTAIN], &[LONG]).await;
    let home = |user: &'static str| {
        let ts = &ts;
        async move {
            ts.control("/slack/home", json!({"user": user})).await;
            until("the Home view", || async {
                let v = crate::common::get_json(
                    &ts.http,
                    &ts.url(&format!("/_sandbox/slack/views?user={user}")),
                )
                .await;
                v.as_array()?.iter().find(|v| v["type"] == "home").cloned()
            })
            .await
        }
    };
    let view = home(ANA).await;
    let shown = view.to_string();
    assert!(shown.contains("Waiting for approval (1)"), "{shown}");
    assert!(shown.contains("crowdstrike_contain_host") && shown.contains("approval_approve"));
    // A person who is not an analyst sees no approvals.
    let dans = home(DAN).await.to_string();
    assert!(!dans.contains("approval_approve"), "{dans}");
    let view_id = view["id"].as_str().unwrap_or_default().to_string();
    let v = ts
        .control(
            "/slack/click",
            json!({"user": ANA, "view_id": view_id, "action_id": "approval_approve"}),
        )
        .await;
    assert_eq!(v["acked"], json!(true), "{v}");
    message_says(&ts, &w, 1, &format!("Approved by <@{ANA}>")).await;
    assert_eq!(w.notes(&format!("approved by <@{ANA}>")), 1);
    w.running.shutdown().await;
}

/// One `vigil run` process (killed when dropped), `failpoint` armed.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(config: &std::path::Path, failpoint: Option<&str>) -> Process {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .env("VIGIL_LOG", "warn");
    match failpoint {
        Some(f) => cmd.env("VIGIL_FAILPOINT", f),
        None => cmd.env_remove("VIGIL_FAILPOINT"),
    };
    Process(cmd.spawn().expect("vigil binary starts"))
}

#[tokio::test]
async fn a_crash_between_posting_the_approval_and_recording_it_leaves_one_message() {
    let ts = sandbox().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, path, case) = prepare(&ts, dir.path(), &[CONTAIN], &[LONG]);
    // The first run aborts right after posting the approval message, before recording it.
    let mut first = spawn(&path, Some("request_approval.done"));
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = first.0.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the failpoint was never reached"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!exit.success(), "aborted at the failpoint");
    assert_eq!(
        approval_messages(&ts, &case, 1).await.len(),
        1,
        "posted before the crash"
    );
    // The restart finds the message instead of posting another, and records it: an approval
    // clicked on that very message is accepted (the later effect that proves the record).
    let _second = spawn(&path, None);
    wait_for_connections(&ts, 2).await;
    let m = until("the approval message", || approval_message(&ts, &case, 1)).await;
    let v = ts
        .control(
            "/slack/click",
            json!({"user": ANA, "channel": ALERTS, "ts": ts_of(&m), "action_id": "approval_approve"}),
        )
        .await;
    assert_eq!(v["acked"], json!(true), "{v}");
    until("the approval recorded and decided", || async {
        let m = approval_message(&ts, &case, 1).await?;
        m.to_string()
            .contains(&format!("Approved by <@{ANA}>"))
            .then_some(())
    })
    .await;
    assert_eq!(
        approval_messages(&ts, &case, 1).await.len(),
        1,
        "exactly one message"
    );
}
