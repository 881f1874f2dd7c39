//! The ack phase: many Socket Mode envelopes pushed through the sandbox at once, each answered
//! with the ack latency the sandbox measured between sending the frame and receiving the ack.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use vigil_sandbox::client::SandboxClient;

/// Who and what the envelopes are about.
pub struct Targets {
    /// An analyst's Slack user id (commands, card buttons).
    pub analyst: String,
    /// The device owner's Slack user id (DM replies).
    pub owner: String,
    /// The owner's IM channel with the bot.
    pub owner_dm: String,
    /// The ts of each case's DM to the owner; replies go into these threads, spread over the
    /// cases as owners answer their own alert (empty: replies go to the channel itself).
    pub dm_threads: Vec<String>,
    /// The alerts channel id, where card buttons are clicked.
    pub alerts_channel: String,
    /// Card message ts values to click on.
    pub cards: Vec<String>,
    /// A case id for `/triage show`, so the slash-command envelopes hit a real case.
    pub show_case: String,
}

/// One envelope to push.
struct Envelope {
    /// What it is, for the per-kind counts.
    label: &'static str,
    /// The sandbox control path that pushes it (`/_sandbox/slack/…`).
    path: &'static str,
    /// The payload to push, as the control API takes it.
    body: Value,
}

/// The mix, by position in a cycle of ten: four slash commands (`list`, `help`, `show`,
/// `list mine`), four card button clicks and two free-text DM replies from the owner.
///
/// Clicks press buttons the card still shows: the first click on each card is Acknowledge
/// (which removes that button), later ones Assign to me, and Resolve, which opens a modal on
/// the fast lane; both stay on an open card.
fn envelope(i: usize, t: &Targets) -> Envelope {
    let command = |label, text: String| Envelope {
        label,
        path: "/_sandbox/slack/command",
        body: json!({"user": t.analyst, "channel": t.alerts_channel, "command": "/triage", "text": text}),
    };
    let cards = t.cards.len().max(1);
    let click = |label, action: &str, nth: usize| {
        let ts = t.cards.get(nth % cards).cloned().unwrap_or_default();
        Envelope {
            label,
            path: "/_sandbox/slack/click",
            body: json!({"user": t.analyst, "channel": t.alerts_channel, "ts": ts, "action_id": action}),
        }
    };
    let round = i / 10;
    match i % 10 {
        0 => command("/triage list", "list".into()),
        1 => command("/triage help", "help".into()),
        2 => command("/triage show", format!("show {}", t.show_case)),
        3 => command("/triage list mine", "list mine".into()),
        4 if round < cards => click("click Acknowledge", "case_ack", round),
        4 | 5 => click("click Assign to me", "case_assign", round + i % 10),
        6 | 7 => click("click Resolve (modal)", "case_resolve", round + i % 10),
        _ => {
            let mut body = json!({"user": t.owner, "channel": t.owner_dm,
                "text": format!("That was me, installing build tools (reply {i})")});
            if let Some(ts) = t.dm_threads.get(i % t.dm_threads.len().max(1)) {
                body["thread_ts"] = json!(ts);
            }
            Envelope {
                label: "owner DM reply",
                path: "/_sandbox/slack/message",
                body,
            }
        }
    }
}

/// What the ack phase measured.
#[derive(Debug, Default)]
pub struct Acks {
    /// Ack latency of every acked envelope, ms.
    pub ack_ms: Vec<f64>,
    /// Envelopes sent, by kind (each envelope's label: a command, a click, an owner DM reply).
    pub by_kind: BTreeMap<&'static str, usize>,
    /// Envelopes pushed but not acked within the sandbox's ack timeout.
    pub not_acked: usize,
    /// Push calls that failed outright (no socket, sandbox error).
    pub failed: usize,
    /// The first `MAX_ERRORS` (3) failures, in words; the rest are only counted.
    pub errors: Vec<String>,
    /// Wall time of the phase, first push to last answer.
    pub wall: Duration,
    /// Envelopes in flight at once (this phase's level of `--concurrency`).
    pub concurrency: usize,
}

/// Failures kept in words for the report; enough to see the cause without flooding it.
const MAX_ERRORS: usize = 3;

/// Pushes `count` envelopes of the mix, starting at position `first` of it (so a later level
/// goes on where the one before stopped), `concurrency` at a time.
pub async fn run(
    control: &SandboxClient,
    targets: &Targets,
    first: usize,
    count: usize,
    concurrency: usize,
) -> Acks {
    let started = Instant::now();
    let positions = first..first.saturating_add(count);
    let results: Vec<(&'static str, anyhow::Result<Value>)> = futures_util::stream::iter(positions)
        .map(|i| async move {
            let e = envelope(i, targets);
            (e.label, control.post(e.path, &e.body).await)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut acks = Acks::default();
    for (label, result) in results {
        *acks.by_kind.entry(label).or_default() += 1;
        acks.record(label, result);
    }
    acks.wall = started.elapsed();
    acks.concurrency = concurrency;
    acks
}

impl Acks {
    fn record(&mut self, label: &str, result: anyhow::Result<Value>) {
        match result {
            Ok(v) if v.get("acked") == Some(&Value::Bool(true)) => {
                match v.get("ack_ms").and_then(Value::as_f64) {
                    Some(ms) => self.ack_ms.push(ms),
                    None => self.fail(format!("{label}: acked without an ack_ms: {v}")),
                }
            }
            Ok(_) => self.not_acked += 1,
            Err(e) => self.fail(format!("{label}: {e:#}")),
        }
    }

    fn fail(&mut self, error: String) {
        self.failed += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Targets {
        Targets {
            analyst: "UA".into(),
            owner: "UO".into(),
            owner_dm: "DO".into(),
            dm_threads: vec!["9.1".into(), "9.2".into(), "9.3".into()],
            alerts_channel: "CA".into(),
            cards: vec!["1.1".into(), "2.2".into()],
            show_case: "VIG-1".into(),
        }
    }

    #[test]
    fn the_mix_is_commands_clicks_and_dm_replies() {
        let t = targets();
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for i in 0..1000 {
            *kinds.entry(envelope(i, &t).path).or_default() += 1;
        }
        assert_eq!(kinds.get("/_sandbox/slack/command"), Some(&400));
        assert_eq!(kinds.get("/_sandbox/slack/click"), Some(&400));
        assert_eq!(kinds.get("/_sandbox/slack/message"), Some(&200));
        assert_eq!(envelope(2, &t).body["text"], json!("show VIG-1"));
        assert_eq!(envelope(8, &t).body["channel"], json!("DO"));
        assert_eq!(envelope(8, &t).body["thread_ts"], json!("9.3"));
        assert_eq!(envelope(9, &t).body["thread_ts"], json!("9.1"));
        let acks: Vec<Value> = (0..1000)
            .map(|i| envelope(i, &t).body)
            .filter(|b| b["action_id"] == json!("case_ack"))
            .map(|b| b["ts"].clone())
            .collect();
        assert_eq!(
            acks,
            vec![json!("1.1"), json!("2.2")],
            "each card acknowledged once"
        );
        assert_eq!(envelope(24, &t).body["action_id"], json!("case_assign"));
        assert_eq!(envelope(6, &t).body["action_id"], json!("case_resolve"));
    }

    #[test]
    fn outcomes_are_sorted_into_acked_unacked_and_failed() {
        let mut a = Acks::default();
        a.record("x", Ok(json!({"acked": true, "ack_ms": 3})));
        a.record("x", Ok(json!({"acked": false, "ack_ms": null})));
        a.record("x", Err(anyhow::anyhow!("POST /p: HTTP 409")));
        a.record("x", Ok(json!({"acked": true})));
        assert_eq!(a.ack_ms, vec![3.0]);
        assert_eq!(a.not_acked, 1);
        assert_eq!(a.failed, 2);
        assert_eq!(a.errors.len(), 2);
    }
}
