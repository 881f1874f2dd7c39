//! Crash test (SPEC §5 "Nothing lost, nothing doubled", "Lookups must be able to find what they
//! look for"): the real `vigil` binary runs one scenario that reaches every step kind while it is
//! stopped again and again, and every effect of every case is then counted through the vendors'
//! own APIs: issues, cards, owner DMs, card-thread and DM-thread replies (by their metadata tag),
//! issue comments (by their per-step marker), labels, PagerDuty incidents and their status, and
//! CrowdStrike status changes and comments (alert read through Falcon's API, PATCHes counted).
//!
//! The scenario: a low alert on Carol's laptop (owner DM, reminder in the DM thread, escalation by
//! command, page, `/triage ack`, the Contain button, resolve) and a high one on Dan's laptop with a
//! grouped alert (page, owner told, Acknowledge button, resolve). People act through raw Socket
//! Mode envelopes with fixed ids, sent again until acked: a redelivery is deduplicated by Vigil,
//! so the people never double an effect themselves.
//!
//! One test arms every `<kind>.intent` and `<kind>.done` failpoint (kinds from
//! `case::step::KINDS`) at once, restarts after each abort with the ones left, and asserts each
//! was reached. The other crashes at the SPEC's alias failpoints, then SIGKILLs the bot at seeded
//! random moments (`VIGIL_CRASH_SEED`, else the clock; printed).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

const ALERTS: &str = "C0ALERTS01";
const ANA: &str = "U0ANA00001";
const CAROL: &str = "U0CAROL003";
const DAN: &str = "U0DAN00004";
const CAROL_MBP: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f01";
const DAN_WIN: &str = "b2c3d4e5f60718293a4b5c6d7e8f0102";
const CAROL_HOST: &str = "WS-CAROL-MBP";
const DAN_HOST: &str = "WS-DAN-WIN11";

/// The SPEC's names for four `.done` points.
const ALIASES: &[&str] = &[
    "github.issue.created",
    "slack.card.posted",
    "slack.dm.posted",
    "pagerduty.triggered",
];

/// How long one scenario may take, crashes included (about a minute on a loaded 2-core box).
const SCENARIO_LIMIT: Duration = Duration::from_secs(150);

// ------------------------------------------------------------------------- the bot process

/// One `vigil run` process; its stderr goes to `log` (failpoints announce themselves there).
struct Bot {
    child: Child,
    log: PathBuf,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &Path, armed: &[String], log: PathBuf) -> Bot {
    let stderr = std::fs::File::create(&log).expect("bot log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .env("VIGIL_LOG", "warn");
    if armed.is_empty() {
        cmd.env_remove("VIGIL_FAILPOINT");
    } else {
        cmd.env("VIGIL_FAILPOINT", armed.join(","));
    }
    Bot {
        child: cmd.spawn().expect("vigil binary starts"),
        log,
    }
}

/// The failpoint a dead bot announced, if any.
fn reached(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix("vigil: failpoint ")
            .and_then(|rest| rest.strip_suffix(" reached; aborting"))
            .map(str::to_string)
    })
}

/// Keeps one bot running: restarts it after a failpoint abort (disarming that failpoint) and,
/// once no failpoint is left, SIGKILLs it at the planned random moments.
struct Keeper {
    config: PathBuf,
    dir: PathBuf,
    bot: Option<Bot>,
    armed: Vec<String>,
    reached: Vec<String>,
    kills: Vec<Duration>,
    kill_at: Option<Instant>,
    starts: usize,
    problems: Vec<String>,
}

impl Keeper {
    fn new(config: PathBuf, dir: PathBuf, armed: Vec<String>, kills: Vec<Duration>) -> Keeper {
        let mut k = Keeper {
            config,
            dir,
            bot: None,
            armed,
            reached: vec![],
            kills,
            kill_at: None,
            starts: 0,
            problems: vec![],
        };
        k.start();
        k
    }

    fn start(&mut self) {
        self.starts += 1;
        let log = self.dir.join(format!("bot-{}.log", self.starts));
        self.bot = Some(spawn(&self.config, &self.armed, log));
        self.kill_at = match (self.armed.is_empty(), self.kills.first()) {
            (true, Some(delay)) => Some(Instant::now() + *delay),
            _ => None,
        };
    }

    /// Restarts a bot that died, or kills one whose moment has come.
    fn tend(&mut self) {
        let Some(bot) = self.bot.as_mut() else {
            return;
        };
        if let Ok(Some(status)) = bot.child.try_wait() {
            let log = bot.log.clone();
            self.bot = None;
            match reached(&log) {
                Some(fp) => {
                    self.armed.retain(|a| *a != fp);
                    self.reached.push(fp);
                }
                None => {
                    let tail = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail: String = tail.chars().rev().take(600).collect();
                    let tail: String = tail.chars().rev().collect();
                    self.problems
                        .push(format!("bot exited ({status}) at no failpoint: {tail}"));
                }
            }
            self.start();
            return;
        }
        if self.kill_at.is_some_and(|t| Instant::now() >= t) {
            // Child::kill is SIGKILL on Unix.
            self.bot = None;
            self.kills.remove(0);
            self.start();
        }
    }

    fn settled(&self) -> bool {
        self.armed.is_empty() && self.kills.is_empty()
    }
}

fn config_for(ts: &TestSandbox, dir: &Path) -> PathBuf {
    let path = crate::common::write_config(ts, dir);
    let text = std::fs::read_to_string(&path).expect("read config");
    // Demo-like timers: the reminder comes after a second; escalation is an analyst's
    // command, so the timer never races the scenario.
    // Flow 1's crash points: without Confluence, flow 2 only classifies (its own steps have
    // their tests in `flow2`), so the counts below are flow 1's alone.
    let text = crate::common::drop_section(&text, "confluence");
    let text = text.replace("poll_interval_secs = 2", "poll_interval_secs = 1")
        + "\n[triage]\nreminder_after = \"1s\"\nescalate_after = \"1h\"\n";
    std::fs::write(&path, text).expect("write config");
    path
}

/// A sandbox where the people's frequent reads do not eat the bot's Slack budget: reading
/// Slack is how this test observes, far more often than Vigil itself does (Vigil's Tier 3
/// pacing is `slack::api`'s job). Posting is unlimited so restarts do not wait out 429s.
async fn crash_sandbox() -> TestSandbox {
    let ts = sandbox().await;
    for method in [
        "chat.postMessage",
        "conversations.history",
        "conversations.replies",
    ] {
        ts.control(
            "/limits",
            json!({"service": "slack", "method": method, "per_minute": 0}),
        )
        .await;
    }
    ts
}

// ------------------------------------------------------------------------- the people

/// Raw Socket Mode frames, each built once and sent again (identically) until acked.
struct People {
    frames: BTreeMap<&'static str, Value>,
    acked: BTreeSet<&'static str>,
}

impl People {
    fn new() -> People {
        People {
            frames: BTreeMap::new(),
            acked: BTreeSet::new(),
        }
    }

    fn done(&self, name: &str) -> bool {
        self.acked.contains(name)
    }

    /// Sends `name`'s frame (built by `frame` the first time) unless the bot already acked it.
    async fn act(&mut self, ts: &TestSandbox, name: &'static str, frame: impl FnOnce() -> Value) {
        if self.acked.contains(name) {
            return;
        }
        let frame = self.frames.entry(name).or_insert_with(frame).clone();
        let resp = ts
            .http
            .post(ts.url("/_sandbox/slack/envelope"))
            .json(&frame)
            .send()
            .await;
        if let Ok(r) = resp
            && r.status() == 200
            && let Ok(v) = r.json::<Value>().await
            && v["acked"] == json!(true)
        {
            self.acked.insert(name);
        }
    }
}

fn command(ts: &TestSandbox, id: &str, text: String) -> Value {
    let c = &ts.creds["slack"];
    json!({
        "type": "slash_commands",
        "envelope_id": format!("crash-{id}"),
        "payload": {
            "token": "crash-test", "team_id": c["team_id"], "team_domain": "sandbox",
            "channel_id": ALERTS, "channel_name": "alerts",
            "user_id": ANA, "user_name": "ana.lyst",
            "command": "/triage", "text": text,
            "api_app_id": c["app_id"], "is_enterprise_install": "false",
            "response_url": ts.url(&format!("/slack/commands/crash-{id}")),
            "trigger_id": format!("4242.{id}.crash")
        }
    })
}

/// A button press on a card; `action_ts` is fixed per press so a resend is the same press.
fn button(
    ts: &TestSandbox,
    id: &str,
    action_ts: &str,
    action_id: &str,
    case: &str,
    card_ts: &str,
) -> Value {
    let c = &ts.creds["slack"];
    json!({
        "type": "interactive",
        "envelope_id": format!("crash-{id}"),
        "payload": {
            "type": "block_actions",
            "user": {"id": ANA, "username": "ana.lyst", "name": "ana.lyst", "team_id": c["team_id"]},
            "api_app_id": c["app_id"], "token": "crash-test",
            "container": {"type": "message", "message_ts": card_ts, "channel_id": ALERTS,
                          "is_ephemeral": false},
            "trigger_id": format!("4243.{id}.crash"),
            "team": {"id": c["team_id"], "domain": "sandbox"},
            "is_enterprise_install": false,
            "channel": {"id": ALERTS, "name": "alerts"},
            "state": {"values": {}},
            "response_url": ts.url(&format!("/slack/actions/crash-{id}")),
            "actions": [{
                "type": "button", "action_id": action_id, "block_id": "crash",
                "text": {"type": "plain_text", "text": action_id},
                "value": case, "action_ts": action_ts
            }]
        }
    })
}

// ------------------------------------------------------------------------- what the vendors hold

/// Everything one case did, read back through the vendors' APIs.
#[derive(Debug, Default)]
struct Effects {
    issues: Vec<Value>,
    cards: Vec<Value>,
    dms: Vec<(String, String)>,
    /// Metadata kinds of card-thread replies (`step-<seq>`); untagged replies count as "".
    card_replies: Vec<String>,
    dm_replies: Vec<String>,
    /// Per-step markers of issue comments ("" for a comment without one).
    comments: Vec<String>,
    incidents: Vec<Value>,
    alert_status: String,
    host_status: String,
    /// `append_comment` values PATCHed onto the case's alert, and how many status PATCHes.
    alert_comments: Vec<String>,
    status_patches: usize,
}

/// A case's id from its issue's hidden marker.
fn case_of_issue(issue: &Value) -> Option<String> {
    let body = issue["body"].as_str()?;
    let rest = &body[body.find("<!-- vigil:case=")? + "<!-- vigil:case=".len()..];
    Some(rest[..rest.find(" -->")?].to_string())
}

fn step_marker(body: &str) -> String {
    body.find("<!-- vigil:case=")
        .and_then(|i| {
            let rest = &body[i..];
            rest.find("-->").map(|j| rest[..j + 3].to_string())
        })
        .filter(|m| m.contains(":step="))
        .unwrap_or_default()
}

fn tagged<'a>(messages: &'a [Value], case: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    messages
        .iter()
        .filter(move |m| m["metadata"]["event_payload"]["case_id"] == json!(case))
}

fn kind(m: &Value) -> String {
    m["metadata"]["event_payload"]["kind"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

struct Observer<'a> {
    ts: &'a TestSandbox,
    dm_channels: Vec<String>,
    falcon_token: String,
    /// The composite id of the alert that opened each host's case.
    alerts: BTreeMap<&'static str, String>,
}

impl<'a> Observer<'a> {
    async fn new(ts: &'a TestSandbox, alerts: BTreeMap<&'static str, String>) -> Observer<'a> {
        let mut dm_channels = vec![];
        for user in [CAROL, DAN] {
            let v = ts.slack("conversations.open", &[("users", user)]).await;
            dm_channels.push(v["channel"]["id"].as_str().unwrap_or_default().to_string());
        }
        let cs = &ts.creds["crowdstrike"];
        let token: Value = ts
            .http
            .post(ts.url("/crowdstrike/oauth2/token"))
            .form(&[
                ("client_id", cs["client_id"].as_str().unwrap_or_default()),
                (
                    "client_secret",
                    cs["client_secret"].as_str().unwrap_or_default(),
                ),
            ])
            .send()
            .await
            .expect("falcon token")
            .json()
            .await
            .expect("token json");
        Observer {
            ts,
            alerts,
            dm_channels,
            falcon_token: token["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    }

    async fn messages(&self, method: &str, args: &[(&str, &str)]) -> Vec<Value> {
        let mut args = args.to_vec();
        args.push(("include_all_metadata", "true"));
        args.push(("limit", "999"));
        self.ts.slack(method, &args).await["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn falcon(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .ts
            .http
            .request(method, self.ts.url(&format!("/crowdstrike{path}")))
            .bearer_auth(&self.falcon_token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        match req.send().await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    /// Every case's effects, by case id.
    async fn observe(&self) -> BTreeMap<String, (String, Effects)> {
        let mut out: BTreeMap<String, (String, Effects)> = BTreeMap::new();
        for issue in self.ts.issues().await {
            let Some(id) = case_of_issue(&issue) else {
                continue;
            };
            let title = issue["title"].as_str().unwrap_or_default();
            let host = [CAROL_HOST, DAN_HOST]
                .into_iter()
                .find(|h| title.contains(h))
                .unwrap_or_default()
                .to_string();
            let entry = out.entry(id).or_default();
            entry.0 = host;
            entry.1.issues.push(issue);
        }
        let top = self
            .messages("conversations.history", &[("channel", ALERTS)])
            .await;
        let mut dm_tops = vec![];
        for ch in &self.dm_channels {
            for m in self
                .messages("conversations.history", &[("channel", ch)])
                .await
            {
                dm_tops.push((ch.clone(), m));
            }
        }
        let incidents = self.ts.incidents().await;
        let patches: Vec<Value> = self
            .ts
            .requests("crowdstrike")
            .await
            .into_iter()
            .filter(|r| {
                r["method"] == json!("PATCH")
                    && r["path"]
                        .as_str()
                        .is_some_and(|p| p.starts_with("/alerts/entities/alerts/v3"))
                    && r["status"] == json!(200)
            })
            .collect();
        let repo = self.ts.creds["github"]["repo"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for (id, (host, e)) in out.iter_mut() {
            e.cards = tagged(&top, id)
                .filter(|m| kind(m) == "card")
                .cloned()
                .collect();
            e.dms = dm_tops
                .iter()
                .filter(|(_, m)| m["metadata"]["event_payload"]["case_id"] == json!(id))
                .filter(|(_, m)| kind(m) == "dm")
                .map(|(ch, m)| (ch.clone(), m["ts"].as_str().unwrap_or_default().to_string()))
                .collect();
            for card in e.cards.clone() {
                let ts = card["ts"].as_str().unwrap_or_default();
                e.card_replies.extend(self.replies(ALERTS, ts).await);
            }
            for (ch, ts) in e.dms.clone() {
                e.dm_replies.extend(self.replies(&ch, &ts).await);
            }
            if let Some(number) = e.issues.first().and_then(|i| i["number"].as_u64()) {
                let token = self.ts.creds["github"]["token"]
                    .as_str()
                    .unwrap_or_default();
                let comments: Value = self
                    .ts
                    .http
                    .get(self.ts.url(&format!(
                        "/github/repos/{repo}/issues/{number}/comments?per_page=100"
                    )))
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("comments")
                    .json()
                    .await
                    .unwrap_or(Value::Null);
                e.comments = comments
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| step_marker(c["body"].as_str().unwrap_or_default()))
                    .collect();
            }
            e.incidents = incidents
                .iter()
                .filter(|i| i["incident_key"] == json!(id))
                .cloned()
                .collect();
            if let Some(alert_id) = self.alerts.get(host.as_str()).cloned() {
                let v = self
                    .falcon(
                        reqwest::Method::POST,
                        "/alerts/entities/alerts/v2",
                        Some(json!({"composite_ids": [alert_id]})),
                    )
                    .await;
                e.alert_status = v["resources"][0]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                for p in &patches {
                    let body = if p["body"].is_string() {
                        serde_json::from_str(p["body"].as_str().unwrap_or_default())
                            .unwrap_or(Value::Null)
                    } else {
                        p["body"].clone()
                    };
                    let for_case = body["composite_ids"]
                        .as_array()
                        .is_some_and(|ids| ids.iter().any(|i| *i == json!(alert_id)));
                    if !for_case {
                        continue;
                    }
                    for a in body["action_parameters"].as_array().into_iter().flatten() {
                        match a["name"].as_str() {
                            Some("append_comment") => e
                                .alert_comments
                                .push(a["value"].as_str().unwrap_or_default().to_string()),
                            Some("update_status") => e.status_patches += 1,
                            _ => {}
                        }
                    }
                }
            }
            let device = if host == CAROL_HOST {
                CAROL_MBP
            } else {
                DAN_WIN
            };
            let v = self
                .falcon(
                    reqwest::Method::GET,
                    &format!("/devices/entities/devices/v2?ids={device}"),
                    None,
                )
                .await;
            e.host_status = v["resources"][0]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        out
    }

    /// Kinds of the replies in a thread (the parent left out).
    async fn replies(&self, channel: &str, ts: &str) -> Vec<String> {
        self.messages("conversations.replies", &[("channel", channel), ("ts", ts)])
            .await
            .iter()
            .filter(|m| m["ts"].as_str() != Some(ts))
            .map(kind)
            .collect()
    }
}

// ------------------------------------------------------------------------- the scenario

/// What each case must end with, exactly.
struct Expect {
    card_replies: usize,
    dm_replies: usize,
    comments: usize,
    labels: &'static [&'static str],
    alert_comments: usize,
}

/// Carol's case: paged, acknowledged, contained, resolved in the card thread; reminder,
/// escalated, closed in the DM thread; comments for the page and the resolve.
const LOW: Expect = Expect {
    card_replies: 4,
    dm_replies: 3,
    comments: 2,
    labels: &["paged", "priority:low", "security", "vigil"],
    alert_comments: 2,
};

/// Dan's case: paged, grouped, acknowledged, resolved in the card thread; closed in the DM
/// thread; comments for the page, the grouped alert and the resolve.
const HIGH: Expect = Expect {
    card_replies: 4,
    dm_replies: 1,
    comments: 3,
    labels: &["paged", "priority:high", "security", "vigil"],
    alert_comments: 2,
};

fn expect_for(host: &str) -> &'static Expect {
    if host == CAROL_HOST { &LOW } else { &HIGH }
}

fn incident_status(e: &Effects) -> &str {
    e.incidents
        .first()
        .and_then(|i| i["status"].as_str())
        .unwrap_or_default()
}

fn finished(cases: &BTreeMap<String, (String, Effects)>) -> bool {
    cases.len() == 2
        && cases.values().all(|(host, e)| {
            let want = expect_for(host);
            e.issues
                .first()
                .is_some_and(|i| i["state"] == json!("closed"))
                && incident_status(e) == "resolved"
                && e.alert_status == "closed"
                && e.card_replies.len() >= want.card_replies
                && e.dm_replies.len() >= want.dm_replies
                && e.comments.len() >= want.comments
                && (host != CAROL_HOST || e.host_status != "normal")
        })
}

/// Drives the people's part from what the vendors show, until both cases are finished.
async fn run_scenario(
    ts: &TestSandbox,
    keeper: &mut Keeper,
) -> BTreeMap<String, (String, Effects)> {
    let mut alerts = BTreeMap::new();
    for (host, device, sev, technique) in [
        (CAROL_HOST, CAROL_MBP, 30, "T1059"),
        (DAN_HOST, DAN_WIN, 90, "T1003"),
        (DAN_HOST, DAN_WIN, 85, "T1003"),
    ] {
        let v = ts
            .control(
                "/crowdstrike/alerts",
                json!({"device": {"device_id": device}, "severity": sev,
                       "technique_id": technique, "tactic": "Execution"}),
            )
            .await;
        assert!(v["composite_id"].is_string(), "{v}");
        if let Some(id) = v["composite_id"].as_str() {
            alerts.entry(host).or_insert_with(|| id.to_string());
        }
        // The grouped alert comes later than its case's first alert.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let observer = Observer::new(ts, alerts).await;
    let mut people = People::new();
    let started = Instant::now();
    loop {
        tokio::task::block_in_place(|| keeper.tend());
        let cases = observer.observe().await;
        if finished(&cases) && keeper.settled() {
            // Let anything still in flight land, then count.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            return observer.observe().await;
        }
        assert!(
            started.elapsed() < SCENARIO_LIMIT,
            "the scenario did not finish: reached {:?}, still armed {:?}, problems {:?}, people {:?}\n{cases:#?}",
            keeper.reached,
            keeper.armed,
            keeper.problems,
            people.acked
        );
        for (id, (host, e)) in &cases {
            let id = id.clone();
            let card = e
                .cards
                .first()
                .and_then(|c| c["ts"].as_str())
                .map(str::to_string);
            if host == CAROL_HOST {
                if !e.dm_replies.is_empty() {
                    people
                        .act(ts, "escalate-low", || {
                            command(ts, "escalate-low", format!("escalate {id}"))
                        })
                        .await;
                }
                if !e.incidents.is_empty() && people.done("escalate-low") {
                    people
                        .act(ts, "ack-low", || {
                            command(ts, "ack-low", format!("ack {id}"))
                        })
                        .await;
                }
                if let Some(card) = &card
                    && incident_status(e) == "acknowledged"
                {
                    people
                        .act(ts, "contain-low", || {
                            button(
                                ts,
                                "contain-low",
                                "1700000000.000001",
                                "case_contain",
                                &id,
                                card,
                            )
                        })
                        .await;
                }
                if e.host_status != "normal"
                    && !e.host_status.is_empty()
                    && people.done("contain-low")
                {
                    people
                        .act(ts, "resolve-low", || {
                            command(
                                ts,
                                "resolve-low",
                                format!("resolve {id} malware, host contained"),
                            )
                        })
                        .await;
                }
            } else {
                if let Some(card) = &card
                    && !e.incidents.is_empty()
                    && e.comments.len() >= 2
                {
                    people
                        .act(ts, "ack-high", || {
                            button(ts, "ack-high", "1700000000.000002", "case_ack", &id, card)
                        })
                        .await;
                }
                if incident_status(e) == "acknowledged" && people.done("ack-high") {
                    people
                        .act(ts, "resolve-high", || {
                            command(
                                ts,
                                "resolve-high",
                                format!("resolve {id} false positive, admin tool"),
                            )
                        })
                        .await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every effect of every case, counted; `lost_comments` is how many CrowdStrike comments the
/// bot's timelines say it skipped after an interrupted attempt (a comment is never doubled).
fn verify(cases: &BTreeMap<String, (String, Effects)>, lost_comments: usize) -> Vec<String> {
    let mut bad = vec![];
    let mut total_alert_comments = 0;
    for (id, (host, e)) in cases {
        let want = expect_for(host);
        let mut check = |ok: bool, what: String| {
            if !ok {
                bad.push(format!("{id} ({host}): {what}"));
            }
        };
        check(e.issues.len() == 1, format!("{} issues", e.issues.len()));
        check(e.cards.len() == 1, format!("{} cards", e.cards.len()));
        check(e.dms.len() == 1, format!("{} owner DMs", e.dms.len()));
        for (name, kinds, n) in [
            ("card-thread", &e.card_replies, want.card_replies),
            ("DM-thread", &e.dm_replies, want.dm_replies),
        ] {
            let distinct: BTreeSet<&String> = kinds.iter().collect();
            check(
                kinds.len() == n && distinct.len() == n && !kinds.iter().any(String::is_empty),
                format!("{name} replies {kinds:?}, want {n} distinct tagged ones"),
            );
        }
        let distinct: BTreeSet<&String> = e.comments.iter().collect();
        check(
            e.comments.len() == want.comments
                && distinct.len() == want.comments
                && !e.comments.iter().any(String::is_empty),
            format!(
                "issue comments {:?}, want {} distinct markers",
                e.comments, want.comments
            ),
        );
        let mut labels: Vec<String> = e
            .issues
            .first()
            .and_then(|i| i["labels"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|l| l["name"].as_str().map(str::to_string))
            .collect();
        labels.sort();
        check(
            labels == want.labels,
            format!("labels {labels:?}, want {:?}", want.labels),
        );
        check(
            e.issues
                .first()
                .is_some_and(|i| i["state"] == json!("closed")),
            "issue not closed".into(),
        );
        check(
            e.incidents.len() == 1 && incident_status(e) == "resolved",
            format!("incidents {:?}", e.incidents),
        );
        check(
            e.alert_status == "closed",
            format!("alert status {:?}", e.alert_status),
        );
        let distinct: BTreeSet<&String> = e.alert_comments.iter().collect();
        check(
            distinct.len() == e.alert_comments.len()
                && e.alert_comments.len() <= want.alert_comments,
            format!("CrowdStrike comments doubled: {:?}", e.alert_comments),
        );
        check(
            e.status_patches >= 2,
            format!(
                "{} CrowdStrike status changes, want in_progress and closed",
                e.status_patches
            ),
        );
        total_alert_comments += e.alert_comments.len();
        if host == CAROL_HOST {
            check(
                e.host_status == "contained" || e.host_status == "containment_pending",
                format!("host status {:?}", e.host_status),
            );
        }
        let buttons = e
            .cards
            .first()
            .map(|c| c["blocks"].to_string())
            .unwrap_or_default();
        check(
            !buttons.contains("\"case_"),
            "the card is not final: it still has buttons".into(),
        );
    }
    let want = LOW.alert_comments + HIGH.alert_comments;
    if total_alert_comments + lost_comments < want {
        bad.push(format!(
            "{total_alert_comments} CrowdStrike comments, want {want} ({lost_comments} skipped on the timelines)"
        ));
    }
    bad
}

/// How many times Vigil set a CrowdStrike status without its comment because an interrupted
/// attempt may have sent it (Falcon cannot list comments): read from the case timelines in the
/// store once the bot is stopped. Exactly these comments may be missing; any other is lost.
fn skipped_comments(keeper: &mut Keeper) -> usize {
    keeper.bot = None;
    let text = std::fs::read_to_string(&keeper.config).expect("read config");
    let config: toml::Value = toml::from_str(&text).expect("config is TOML");
    let path = config["store"]["path"].as_str().expect("store.path");
    let store = vigil::store::SledStore::open(Path::new(path)).expect("open the bot's store");
    use vigil::store::Store;
    store
        .cases()
        .expect("cases")
        .iter()
        .flat_map(|c| c.timeline.iter())
        .filter(|t| t.text.starts_with("CrowdStrike comment not sent again"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failpoint_of_every_step_kind_then_restart_finishes_each_case_exactly_once() {
    let ts = crash_sandbox().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_for(&ts, dir.path());
    // `join_digest` only happens in a storm, which this scenario is not (tests/it/storm.rs).
    // This scenario runs without Confluence (see `config_for`), so every case is classified
    // and flow 2 stops there: its exact counts stay flow 1's. Flow 2's later steps are crashed
    // one by one elsewhere: `request_approval` in tests/it/approvals.rs, `tool_call`'s Slack
    // notify in tests/it/tools.rs. A random-kill scenario over flow 2 is still to come.
    const BEYOND_THIS_SCENARIO: &[&str] = &[
        "find_sop",
        "remediate",
        "agent_turn",
        "tool_call",
        "request_approval",
        "approval_outcome",
    ];
    let armed: Vec<String> = vigil::case::step::KINDS
        .iter()
        .filter(|k| **k != "join_digest" && !BEYOND_THIS_SCENARIO.contains(k))
        .flat_map(|k| [format!("{k}.intent"), format!("{k}.done")])
        .collect();
    let mut keeper = Keeper::new(config, dir.path().to_path_buf(), armed.clone(), vec![]);
    let cases = run_scenario(&ts, &mut keeper).await;
    let skipped = skipped_comments(&mut keeper);
    let mut bad = verify(&cases, skipped);
    for fp in &armed {
        if !keeper.reached.contains(fp) {
            bad.push(format!("{fp}: the failpoint was never reached"));
        }
    }
    bad.extend(keeper.problems.iter().cloned());
    assert!(
        bad.is_empty(),
        "crashed at {:?}\n{bad:#?}\n{cases:#?}",
        keeper.reached
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_failpoints_and_random_sigkills_then_restart_finish_each_case_exactly_once() {
    let seed = std::env::var("VIGIL_CRASH_SEED")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    eprintln!("crash test: random SIGKILLs with VIGIL_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let kills: Vec<Duration> = (0..8)
        .map(|_| Duration::from_millis(rng.random_range(300..1800)))
        .collect();
    let ts = crash_sandbox().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_for(&ts, dir.path());
    let armed: Vec<String> = ALIASES.iter().map(|s| s.to_string()).collect();
    let mut keeper = Keeper::new(
        config,
        dir.path().to_path_buf(),
        armed.clone(),
        kills.clone(),
    );
    let cases = run_scenario(&ts, &mut keeper).await;
    let skipped = skipped_comments(&mut keeper);
    let mut bad = verify(&cases, skipped);
    for fp in &armed {
        if !keeper.reached.contains(fp) {
            bad.push(format!("{fp}: the failpoint was never reached"));
        }
    }
    bad.extend(keeper.problems.iter().cloned());
    assert!(
        bad.is_empty(),
        "VIGIL_CRASH_SEED={seed} kills {kills:?}\n{bad:#?}\n{cases:#?}"
    );
}
