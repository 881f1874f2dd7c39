//! The card phase: alerts injected into the CrowdStrike simulator, timed until their card is
//! in the alerts channel, and the critical path of vendor calls one case really made.
//!
//! Times come from the sandbox, the way a vendor would see them: a card is visible at its Slack
//! `ts` (the moment the simulator stored it), a poll starts when its request arrived (recorded
//! `time`, before the injected delay). Only the case → alert link is read from Vigil's store.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::time::{Instant, MissedTickBehavior};

use super::Cast;
use super::control::slack_ts;
use crate::case::CaseId;
use crate::store::Store;
use vigil_sandbox::client::SandboxClient;
use vigil_sandbox::record::Recorded;

/// The CrowdStrike call the poller makes; its answer lists the alerts it fetched.
const ALERTS_POLL: &str = "/alerts/combined/alerts/v1";
/// How long the lone probe alert may take to reach a card.
const PROBE_WAIT: Duration = Duration::from_secs(60);
/// Extra time the batch's last card may take after the last alert went in.
const BATCH_GRACE: Duration = Duration::from_secs(90);
/// How often the recorded requests are read while waiting.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// A CrowdStrike device id (32 hex characters) for bench device `i`.
fn device_id(i: usize) -> String {
    format!("be{i:030x}")
}

/// Adds `count` hosts to CrowdStrike and an Oomnitza asset for each, all assigned to the cast's
/// owner, so every alert goes down the same path: host details, asset by serial, owner, the
/// owner's Slack user, issue, card, DM. Returns the device ids.
pub async fn add_fleet(
    control: &SandboxClient,
    cast: &Cast,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let id = device_id(i);
        let hostname = format!("BENCH-{i:03}");
        let serial = format!("BENCHSN{i:05}");
        control
            .post(
                "/_sandbox/crowdstrike/devices",
                &json!({"device_id": id, "hostname": hostname, "serial_number": serial,
                    "platform_name": "Windows", "os_version": "Windows 11",
                    "local_ip": "10.20.0.10", "status": "normal", "tags": []}),
            )
            .await?;
        control
            .post(
                "/_sandbox/oomnitza/assets",
                &json!({"serial_number": serial, "device_name": hostname,
                    "assigned_to": cast.owner_username}),
            )
            .await?;
        ids.push(id);
    }
    Ok(ids)
}

/// An alert that went in, and when (just before the call, by the bench's clock).
#[derive(Debug, Clone)]
pub struct Injected {
    /// The alert's `composite_id`.
    pub composite_id: String,
    /// When the bench sent it.
    pub at: DateTime<Utc>,
}

/// Injects one low-severity endpoint alert on `device_id`.
pub async fn inject(control: &SandboxClient, device_id: &str) -> anyhow::Result<Injected> {
    let at = Utc::now();
    let v = control
        .post(
            "/_sandbox/crowdstrike/alerts",
            &json!({"device": {"device_id": device_id}, "severity": 30,
                "name": "Suspicious PowerShell download cradle", "tactic": "Execution",
                "technique": "Command and Scripting Interpreter", "technique_id": "T1059"}),
        )
        .await?;
    let composite_id = v
        .get("composite_id")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| anyhow::anyhow!("alert injection answered no composite_id: {v}"))?;
    Ok(Injected {
        composite_id: composite_id.to_string(),
        at,
    })
}

/// A card as Slack stored it.
#[derive(Debug, Clone)]
pub struct CardPost {
    /// The case it belongs to (from the message metadata).
    pub case_id: String,
    /// The message ts.
    pub ts: String,
    /// When it became visible (its ts).
    pub visible_at: DateTime<Utc>,
    /// When the `chat.postMessage` request arrived.
    pub call_at: DateTime<Utc>,
}

/// The card a recorded request posted, if it is a successful `chat.postMessage` of a card.
fn card_post(call: &Recorded) -> Option<CardPost> {
    if call.route() != "/api/chat.postMessage" || call.status != 200 {
        return None;
    }
    if call.response.get("ok") != Some(&Value::Bool(true)) {
        return None;
    }
    let meta = match call.body.get("metadata")? {
        Value::String(s) => serde_json::from_str(s).ok()?,
        other => other.clone(),
    };
    let payload = meta.get("event_payload")?;
    if payload.get("kind").and_then(Value::as_str) != Some("card") {
        return None;
    }
    let ts = call.response.get("ts").and_then(Value::as_str)?;
    Some(CardPost {
        case_id: payload.get("case_id").and_then(Value::as_str)?.to_string(),
        ts: ts.to_string(),
        visible_at: slack_ts(ts)?,
        call_at: call.time,
    })
}

/// The first poll that returned an alert: its sequence number and arrival.
#[derive(Debug, Clone, Copy)]
pub struct PollSeen {
    /// Sequence number of the recorded poll.
    pub seq: u64,
    /// When the poll reached the simulator.
    pub at: DateTime<Utc>,
}

/// What the bench keeps of the recorded requests, read incrementally (`since=`) from every
/// service: the cards, the poll that first fetched each alert, and every 429 answered. Only
/// these small facts are kept; the requests themselves (bodies, answers) are dropped as soon
/// as they are read, so the bench's own memory does not grow with the sandbox's log.
#[derive(Default)]
pub struct CardWatch {
    since: u64,
    /// Every card seen, by case id.
    pub by_case: HashMap<String, CardPost>,
    /// The first poll that fetched each alert, by composite id.
    pub polls: HashMap<String, PollSeen>,
    /// 429 answers, counted as [`report::SlackLimits`] reports them.
    pub limits: super::report::SlackLimits,
}

impl CardWatch {
    /// Reads the requests recorded since the last look.
    pub async fn refresh(&mut self, control: &SandboxClient) -> anyhow::Result<()> {
        for call in control.requests(None, self.since).await? {
            self.see(&call);
        }
        Ok(())
    }

    fn see(&mut self, call: &Recorded) {
        self.since = self.since.max(call.seq);
        self.limits.count(call);
        if let Some(card) = card_post(call) {
            self.by_case.entry(card.case_id.clone()).or_insert(card);
        }
        if call.service != "crowdstrike" || call.route() != ALERTS_POLL || call.status != 200 {
            return;
        }
        let resources = call.response.get("resources").and_then(Value::as_array);
        for alert in resources.into_iter().flatten() {
            let Some(id) = alert.get("composite_id").and_then(Value::as_str) else {
                continue;
            };
            let seen = PollSeen {
                seq: call.seq,
                at: call.time,
            };
            self.polls
                .entry(id.to_string())
                .and_modify(|p| {
                    if seen.at < p.at {
                        *p = seen;
                    }
                })
                .or_insert(seen);
        }
    }

    /// Waits until every alert in `wanted` has a card or `deadline` passes; answers the cards
    /// found, by composite id.
    async fn wait(
        &mut self,
        control: &SandboxClient,
        store: &dyn Store,
        wanted: &HashSet<String>,
        deadline: Instant,
    ) -> anyhow::Result<HashMap<String, CardPost>> {
        let mut found = HashMap::new();
        let mut linked: HashSet<String> = HashSet::new();
        loop {
            self.refresh(control).await?;
            for card in self.by_case.values() {
                if !linked.insert(card.case_id.clone()) {
                    continue;
                }
                let Some(alert) = alert_of(store, &card.case_id) else {
                    linked.remove(&card.case_id);
                    continue;
                };
                if wanted.contains(&alert) {
                    found.entry(alert).or_insert_with(|| card.clone());
                }
            }
            if found.len() >= wanted.len() || Instant::now() >= deadline {
                return Ok(found);
            }
            tokio::time::sleep(WATCH_EVERY).await;
        }
    }
}

/// The composite id of the alert that opened `case_id`.
fn alert_of(store: &dyn Store, case_id: &str) -> Option<String> {
    match store.get(&CaseId(case_id.to_string())) {
        Ok(case) => case.map(|c| c.alert.id),
        Err(e) => {
            tracing::warn!(case = case_id, error = %e, "bench could not read a case");
            None
        }
    }
}

/// One alert's timings, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Injected → card visible.
    pub raw_ms: f64,
    /// Poll that fetched it started → card visible: what the critical path is compared with.
    pub from_poll_ms: f64,
    /// Injected → that poll started (negative when the alert went in while the poll was
    /// already waiting on the slow vendor and still came back in its answer).
    pub poll_wait_ms: f64,
}

fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from)
        .num_microseconds()
        .map(|us| us as f64 / 1000.0)
        .unwrap_or(f64::NAN)
}

fn sample(injected: &Injected, poll: Option<&PollSeen>, card: &CardPost) -> Sample {
    let poll_at = poll.map(|p| p.at);
    Sample {
        raw_ms: ms_between(injected.at, card.visible_at),
        from_poll_ms: poll_at
            .map(|p| ms_between(p, card.visible_at))
            .unwrap_or(f64::NAN),
        poll_wait_ms: poll_at
            .map(|p| ms_between(injected.at, p))
            .unwrap_or(f64::NAN),
    }
}

/// The vendor calls between the poll that fetched an alert and its card's `chat.postMessage`,
/// both included: what the card has to wait for, one call after another.
#[derive(Debug, Clone)]
pub struct CriticalPath {
    /// The calls, in the order they arrived.
    pub calls: Vec<Recorded>,
    /// The injected latency of every call.
    pub latency_ms: u64,
    /// The probe alert's own timings.
    pub probe: Sample,
    /// The probe's card.
    pub card: CardPost,
}

impl CriticalPath {
    /// Sequential vendor round trips on this path: the longest chain of calls in which each
    /// one started only after the one before it was answered (calls that overlapped count
    /// once). Read from the recorded arrival times and the injected latency.
    pub fn rounds(&self) -> usize {
        rounds(&self.calls, self.latency_ms)
    }

    /// Round trips × latency: the time the vendors alone take on this path, the baseline the
    /// card latency is compared with.
    pub fn ms(&self) -> f64 {
        self.rounds() as f64 * self.latency_ms as f64
    }
}

/// The fewest sequential round trips flow 1 allows from the alert fetched to its card: the
/// poll; host details ∥ asset; the asset's owner; GitHub issue ∥ the owner's Slack user; the
/// card (SPEC §2.3).
pub const MINIMAL_ROUNDS: usize = 5;

/// The longest chain of calls (sorted by arrival) where each arrived after the previous one's
/// answer: a call arriving at least half the latency after another started is taken to have
/// waited for it (with every vendor slowed down equally, overlapping calls arrive within a
/// few milliseconds of each other and dependent ones a whole latency apart).
pub fn rounds(calls: &[Recorded], latency_ms: u64) -> usize {
    let gap = chrono::Duration::milliseconds(i64::try_from(latency_ms / 2).unwrap_or(i64::MAX));
    let mut depth: Vec<usize> = Vec::with_capacity(calls.len());
    for (i, c) in calls.iter().enumerate() {
        let before = calls[..i]
            .iter()
            .zip(&depth)
            .filter(|(d, _)| latency_ms > 0 && c.time - d.time >= gap)
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0);
        depth.push(before + 1);
    }
    if latency_ms == 0 {
        return calls.len();
    }
    depth.into_iter().max().unwrap_or(0)
}

/// The calls of one case's path, taken from every recorded request: those that arrived from the
/// fetching poll to the card's `chat.postMessage`, other polls left out. Meant for a case that
/// ran alone, so nothing else was calling the vendors meanwhile.
fn path_calls(all: &[Recorded], poll: &PollSeen, card: &CardPost) -> Vec<Recorded> {
    let mut calls: Vec<Recorded> = all
        .iter()
        .filter(|c| c.time >= poll.at && c.time <= card.call_at)
        .filter(|c| c.seq == poll.seq || !(c.service == "crowdstrike" && c.route() == ALERTS_POLL))
        .cloned()
        .collect();
    calls.sort_by_key(|c| (c.time, c.seq));
    calls
}

/// Sends one alert while nothing else happens, waits for its card, and reads back the vendor
/// calls its case made on the way.
pub async fn probe(
    control: &SandboxClient,
    store: &dyn Store,
    watch: &mut CardWatch,
    device_id: &str,
    latency_ms: u64,
) -> anyhow::Result<CriticalPath> {
    let injected = inject(control, device_id).await?;
    let wanted = HashSet::from([injected.composite_id.clone()]);
    let cards = watch
        .wait(control, store, &wanted, Instant::now() + PROBE_WAIT)
        .await?;
    let Some(card) = cards.get(&injected.composite_id).cloned() else {
        anyhow::bail!(
            "the probe alert {} got no card within {} s; the pipeline is not working, so nothing can be measured",
            injected.composite_id,
            PROBE_WAIT.as_secs()
        );
    };
    watch.refresh(control).await?;
    let Some(poll) = watch.polls.get(&injected.composite_id).copied() else {
        anyhow::bail!(
            "no recorded CrowdStrike poll returned the probe alert {}",
            injected.composite_id
        );
    };
    let all = control.requests(None, 0).await?;
    Ok(CriticalPath {
        calls: path_calls(&all, &poll, &card),
        latency_ms,
        probe: sample(&injected, Some(&poll), &card),
        card,
    })
}

/// What the batch measured.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Alerts sent.
    pub sent: usize,
    /// Timings of every alert whose card appeared.
    pub samples: Vec<Sample>,
    /// The batch's cards, oldest first.
    pub cards: Vec<CardPost>,
    /// First alert sent → last card visible, in seconds.
    pub wall_secs: f64,
}

/// Sends one alert per device, `interval` apart, and waits for their cards.
pub async fn batch(
    control: &SandboxClient,
    store: &dyn Store,
    watch: &mut CardWatch,
    devices: &[String],
    interval: Duration,
) -> anyhow::Result<Batch> {
    let mut sent = Vec::with_capacity(devices.len());
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for device in devices {
        ticks.tick().await;
        sent.push(inject(control, device).await?);
    }
    let wanted: HashSet<String> = sent.iter().map(|s| s.composite_id.clone()).collect();
    let cards = watch
        .wait(control, store, &wanted, Instant::now() + BATCH_GRACE)
        .await?;
    let samples = sent
        .iter()
        .filter_map(|s| {
            let card = cards.get(&s.composite_id)?;
            Some(sample(s, watch.polls.get(&s.composite_id), card))
        })
        .collect();
    let mut posted: Vec<CardPost> = cards.into_values().collect();
    posted.sort_by_key(|c| c.visible_at);
    let wall_secs = match (sent.first(), posted.last()) {
        (Some(first), Some(last)) => ms_between(first.at, last.visible_at) / 1000.0,
        _ => f64::NAN,
    };
    Ok(Batch {
        sent: sent.len(),
        samples,
        cards: posted,
        wall_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(
        seq: u64,
        ms: i64,
        service: &str,
        path: &str,
        body: Value,
        response: Value,
    ) -> Recorded {
        Recorded {
            seq,
            time: DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap_or_default(),
            service: service.into(),
            method: "POST".into(),
            path: path.into(),
            status: 200,
            body,
            response,
        }
    }

    fn card_call(seq: u64, ms: i64, kind: &str) -> Recorded {
        call(
            seq,
            ms,
            "slack",
            "/api/chat.postMessage",
            json!({"channel": "C1", "metadata": {"event_type": "vigil_case",
                "event_payload": {"case_id": "VIG-2", "kind": kind}}}),
            json!({"ok": true, "ts": "1700000004.250000"}),
        )
    }

    #[test]
    fn only_successful_card_posts_count() {
        let card = card_post(&card_call(1, 0, "card"));
        assert_eq!(card.as_ref().map(|c| c.case_id.as_str()), Some("VIG-2"));
        assert_eq!(
            card.map(|c| c.visible_at.timestamp_millis()),
            Some(1_700_000_004_250)
        );
        assert!(card_post(&card_call(1, 0, "dm")).is_none());
        let mut limited = card_call(1, 0, "card");
        limited.status = 429;
        assert!(card_post(&limited).is_none());
        let mut refused = card_call(1, 0, "card");
        refused.response = json!({"ok": false, "error": "ratelimited"});
        assert!(card_post(&refused).is_none());
        let mut form = card_call(1, 0, "card");
        form.body =
            json!({"metadata": "{\"event_payload\":{\"case_id\":\"VIG-2\",\"kind\":\"card\"}}"});
        assert!(card_post(&form).is_some());
    }

    #[test]
    fn the_path_runs_from_the_fetching_poll_to_the_card_without_later_polls() {
        let poll_call = call(1, 0, "crowdstrike", ALERTS_POLL, Value::Null, Value::Null);
        let poll = PollSeen {
            seq: poll_call.seq,
            at: poll_call.time,
        };
        let all = vec![
            call(0, -10, "crowdstrike", ALERTS_POLL, Value::Null, Value::Null),
            poll_call.clone(),
            call(
                2,
                500,
                "crowdstrike",
                "/devices/entities/devices/v2?ids=x",
                Value::Null,
                Value::Null,
            ),
            call(
                3,
                1000,
                "oomnitza",
                "/api/v3/assets?filter=x",
                Value::Null,
                Value::Null,
            ),
            call(
                4,
                1200,
                "crowdstrike",
                ALERTS_POLL,
                Value::Null,
                Value::Null,
            ),
            call(
                5,
                1500,
                "github",
                "/repos/a/b/issues",
                Value::Null,
                Value::Null,
            ),
            card_call(6, 2000, "card"),
            call(
                7,
                2500,
                "slack",
                "/api/conversations.open",
                Value::Null,
                Value::Null,
            ),
        ];
        let card = card_post(&all[6]);
        let calls = card
            .map(|c| path_calls(&all, &poll, &c))
            .unwrap_or_default();
        let seqs: Vec<u64> = calls.iter().map(|c| c.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 5, 6]);
    }

    #[test]
    fn overlapping_calls_count_as_one_round_trip() {
        let at = |seq, ms| call(seq, ms, "x", "/p", Value::Null, Value::Null);
        // poll; host ∥ asset; owner; issue ∥ Slack user; card.
        let parallel = vec![
            at(1, 0),
            at(2, 502),
            at(3, 503),
            at(4, 1006),
            at(5, 1510),
            at(6, 1511),
            at(7, 2015),
        ];
        assert_eq!(rounds(&parallel, 500), 5);
        let sequential: Vec<Recorded> = (0..7).map(|i| at(i, i as i64 * 505)).collect();
        assert_eq!(rounds(&sequential, 500), 7);
        assert_eq!(rounds(&[], 500), 0);
        assert_eq!(rounds(&parallel, 0), 7, "without latency every call counts");
    }

    #[test]
    fn device_ids_look_like_crowdstrike_ids() {
        for i in [0, 7, 4095] {
            let id = device_id(i);
            assert_eq!(id.len(), 32);
            assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        }
        assert_ne!(device_id(1), device_id(2));
    }
}
