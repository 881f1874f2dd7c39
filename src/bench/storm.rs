//! `vigil bench --storm N` (issue 9 §3): N distinct alerts at once against the in-process
//! sandbox, with the bot as a separate `vigil run` child process (this same binary) so the
//! bot's peak memory is read apart from the sandbox's (`VmHWM` of each process).
//!
//! Everything is read back from outside the bot: cases opened from its `/metrics`, cards,
//! digests and issues from the sandbox's recorded requests, and, once the child has stopped,
//! the case timelines from its store (for Slack 429s that reached a case). Ratios compare the
//! time to the last card and the last issue with the vendors' physical limits for the messages
//! and issues actually created: `chat.postMessage` 1/s per channel after a burst of 4, GitHub
//! content creation 80/min.

use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::report::{self, SlackLimits};
use super::{Cast, cards};
use crate::config::Config;
use crate::sandbox_config as write_config;
use crate::store::Store;
use vigil_sandbox as sandbox;
use vigil_sandbox::client::SandboxClient;
use vigil_sandbox::record::Recorded;

/// Every alert must be a case within this (issue 9 §3).
const CASES_TARGET: Duration = Duration::from_secs(10);
/// Ratio targets for the last card and the last issue.
const RATIO_TARGET: f64 = 1.05;
/// Peak RSS target for the bot, KiB.
const RSS_TARGET_KIB: u64 = 64 * 1024;
/// One in this many alerts is high priority.
const HIGH_EVERY: usize = 10;
/// Devices the alerts spread over (alerts differ by technique, so none group).
const DEVICES: usize = 20;
/// Slack's Tier 3 (`conversations.history`, `conversations.replies`), per minute.
const TIER3_PER_MINUTE: usize = 50;

/// Runs the storm bench and prints its report.
pub async fn run(alerts: usize) -> anyhow::Result<()> {
    if alerts == 0 {
        anyhow::bail!("--storm must be at least 1");
    }
    crate::tls::init();
    let sandbox = sandbox::start("127.0.0.1:0".parse()?).await?;
    let dir = tempfile::tempdir()?;
    let base = sandbox.base_url();
    let config_path = dir.path().join("vigil.toml");
    write_config::write(&config_path, &sandbox.served())?;
    let config = Config::load(&config_path)?;
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(&exe)
        .arg("run")
        .arg("--config")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start `{} run`: {e}", exe.display()))?;
    let pid = child.id();
    println!(
        "vigil bench --storm {alerts}: sandbox {base} in this process, the bot as `vigil run` (pid {})",
        pid.map_or("?".into(), |p| p.to_string())
    );
    let result = storm(&sandbox, &config, alerts, pid).await;
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let outcome = match result {
        Ok(measured) => finish(measured, &config),
        Err(e) => Err(e),
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), sandbox.shutdown()).await;
    outcome
}

/// What was measured while the bot ran.
struct Measured {
    alerts: usize,
    high: usize,
    started: DateTime<Utc>,
    cases_after: Option<Duration>,
    calls: Vec<Recorded>,
    bot_rss_kib: Option<u64>,
    channel: String,
}

async fn storm(
    sandbox: &sandbox::RunningSandbox,
    config: &Config,
    alerts: usize,
    pid: Option<u32>,
) -> anyhow::Result<Measured> {
    let started = Instant::now();
    while sandbox.sandbox.slack.socket.connections() < 2 {
        if started.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("the bot did not open 2 Socket Mode connections within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cast = Cast::from_seed(&sandbox.sandbox.seed)?;
    let control = SandboxClient::new(sandbox.base_url())?
        .with_bot_token(sandbox.sandbox.credentials.slack.bot_token.clone());
    let devices = cards::add_fleet(&control, &cast, DEVICES.min(alerts)).await?;
    let metrics = format!("http://{}/metrics", config.server.listen);
    let http = reqwest::Client::new();

    let t0 = Utc::now();
    let clock = Instant::now();
    let mut high = 0;
    for i in 0..alerts {
        let is_high = i % HIGH_EVERY == 0;
        high += usize::from(is_high);
        let device = &devices[i % devices.len()];
        control
            .post(
                "/_sandbox/crowdstrike/alerts",
                &json!({"device": {"device_id": device}, "severity": if is_high { 85 } else { 30 },
                    "name": format!("Storm alert {i}"), "tactic": "Execution",
                    "technique": "Command and Scripting Interpreter",
                    "technique_id": format!("T{}", 10_000 + i)}),
            )
            .await?;
    }
    println!(
        "injected {alerts} alerts ({high} high) in {:.1} s",
        clock.elapsed().as_secs_f64()
    );

    let mut seen = Seen::default();
    let mut cases_after = None;
    let issue_deadline =
        Duration::from_secs_f64(alerts as f64 * 0.75 * 1.5 + 120.0).min(Duration::from_secs(3600));
    loop {
        if cases_after.is_none() && cases_opened(&http, &metrics).await >= alerts {
            cases_after = Some(clock.elapsed());
            println!(
                "every alert is a case after {:.1} s",
                clock.elapsed().as_secs_f64()
            );
        }
        seen.read(&control).await?;
        let issues = seen.calls.iter().filter(|c| is_issue(c)).count();
        if cases_after.is_some() && issues >= alerts {
            break;
        }
        if clock.elapsed() > issue_deadline {
            println!("stopped waiting after {} s", clock.elapsed().as_secs());
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // Let the last card and digest updates land.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let bot_rss_kib = pid.and_then(|p| {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .ok()
            .and_then(|s| report::vm_hwm_kib(&s))
    });
    Ok(Measured {
        alerts,
        high,
        started: t0,
        cases_after,
        calls: {
            seen.read(&control).await?;
            seen.calls
        },
        bot_rss_kib,
        channel: config.slack.alerts_channel.clone(),
    })
}

/// The recorded requests the report needs, read incrementally (the request log of a storm is
/// large; only issue creations and Slack calls are kept, without their answers' bodies).
#[derive(Default)]
struct Seen {
    since: u64,
    calls: Vec<Recorded>,
}

impl Seen {
    async fn read(&mut self, control: &SandboxClient) -> anyhow::Result<()> {
        loop {
            let page = control.requests(None, self.since).await?;
            let Some(last) = page.iter().map(|c| c.seq).max() else {
                return Ok(());
            };
            self.since = last;
            for mut c in page {
                if is_issue(&c) || c.service == "slack" || c.status == 429 {
                    if c.service != "slack" {
                        c.body = serde_json::Value::Null;
                    }
                    c.response = json!({"ok": c.response.get("ok").cloned()});
                    self.calls.push(c);
                }
            }
        }
    }
}

/// `vigil_cases_opened_total` summed over its labels (0 when unreadable).
async fn cases_opened(http: &reqwest::Client, url: &str) -> usize {
    let Ok(resp) = http.get(url).send().await else {
        return 0;
    };
    let text = resp.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("vigil_cases_opened_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as usize
}

fn is_issue(c: &Recorded) -> bool {
    c.service == "github"
        && c.method == "POST"
        && c.route().ends_with("/issues")
        && (200..300).contains(&c.status)
}

fn to_alerts_channel(c: &Recorded, channel: &str, method: &str) -> bool {
    c.service == "slack"
        && c.route() == format!("/api/{method}")
        && c.status == 200
        && c.body.get("channel").and_then(|v| v.as_str()) == Some(channel)
        && c.response.get("ok") == Some(&json!(true))
}

fn secs_since(start: DateTime<Utc>, at: DateTime<Utc>) -> f64 {
    (at - start).num_milliseconds() as f64 / 1000.0
}

fn ratio(actual: f64, physical: f64) -> Option<f64> {
    (physical > 0.0).then(|| actual / physical)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn finish(m: Measured, config: &Config) -> anyhow::Result<()> {
    let posts: Vec<&Recorded> = m
        .calls
        .iter()
        .filter(|c| to_alerts_channel(c, &m.channel, "chat.postMessage"))
        .collect();
    let top: Vec<&&Recorded> = posts
        .iter()
        .filter(|c| c.body.get("thread_ts").is_none())
        .collect();
    let kind = |c: &Recorded| {
        c.body
            .pointer("/metadata/event_payload/kind")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let cards = top.iter().filter(|c| kind(c) == "card").count();
    let digests = top.iter().filter(|c| kind(c) == "digest").count();
    let last_top = top.iter().map(|c| c.time).max();
    let updates = m
        .calls
        .iter()
        .filter(|c| to_alerts_channel(c, &m.channel, "chat.update"))
        .map(|c| c.time)
        .max();
    // Messages the channel had to take up to the last top-level one, threads included.
    let before_last = last_top.map_or(0, |t| posts.iter().filter(|c| c.time <= t).count());
    let card_physical = before_last.saturating_sub(4) as f64;
    let issues: Vec<DateTime<Utc>> = m
        .calls
        .iter()
        .filter(|c| is_issue(c))
        .map(|c| c.time)
        .collect();
    let issue_physical = issues.len().saturating_sub(1) as f64 * 0.75;
    let last_issue = issues.iter().max().copied();
    let tier3: Vec<DateTime<Utc>> = m
        .calls
        .iter()
        .filter(|c| {
            c.service == "slack"
                && matches!(
                    c.route(),
                    "/api/conversations.history" | "/api/conversations.replies"
                )
        })
        .map(|c| c.time)
        .collect();
    let tier3_peak = tier3
        .iter()
        .map(|t| {
            tier3
                .iter()
                .filter(|u| **u >= *t && **u < *t + chrono::Duration::seconds(60))
                .count()
        })
        .max()
        .unwrap_or(0);
    let mut limits = SlackLimits::default();
    for c in &m.calls {
        limits.count(c);
    }
    match crate::store::sled_store::SledStore::open(&config.store.path).and_then(|s| s.cases()) {
        Ok(cases) => limits.read_cases(&cases),
        Err(e) => println!("cannot read the bot's store for case timelines: {e}"),
    }

    println!();
    println!("storm of {} alerts ({} high)", m.alerts, m.high);
    let cases = m.cases_after.map(|d| d.as_secs_f64());
    println!(
        "  every alert a case          {:>10}   target ≤ {} s  {}",
        cases.map_or("never".into(), |s| format!("{s:.1} s")),
        CASES_TARGET.as_secs(),
        verdict(m.cases_after.is_some_and(|d| d <= CASES_TARGET))
    );
    let card_secs = last_top.map(|t| secs_since(m.started, t));
    let card_ratio = card_secs.and_then(|s| ratio(s, card_physical));
    println!(
        "  last card or digest         {:>10}   {cards} cards, {digests} digests, {} posts in the channel; physical {card_physical:.0} s; ratio {}  {}",
        card_secs.map_or("none".into(), |s| format!("{s:.1} s")),
        before_last,
        card_ratio.map_or("n/a".into(), |r| format!("{r:.2}")),
        verdict(card_ratio.is_none_or(|r| r <= RATIO_TARGET))
    );
    if let Some(u) = updates {
        println!(
            "  last digest update          {:>10}",
            format!("{:.1} s", secs_since(m.started, u))
        );
    }
    let issue_secs = last_issue.map(|t| secs_since(m.started, t));
    let issue_ratio = issue_secs.and_then(|s| ratio(s, issue_physical));
    println!(
        "  last GitHub issue           {:>10}   {} issues; physical {issue_physical:.0} s; ratio {}  {}",
        issue_secs.map_or("none".into(), |s| format!("{s:.1} s")),
        issues.len(),
        issue_ratio.map_or("n/a".into(), |r| format!("{r:.2}")),
        verdict(issues.len() == m.alerts && issue_ratio.is_none_or(|r| r <= RATIO_TARGET))
    );
    println!(
        "  Slack 429s reaching a case  {:>10}   ({} answered by the simulator)  {}",
        limits.case_entries,
        limits.total(),
        verdict(limits.case_entries == 0)
    );
    println!(
        "  history/replies per minute  {:>10}   Tier 3 = {TIER3_PER_MINUTE}/min  {}",
        tier3_peak,
        verdict(tier3_peak <= TIER3_PER_MINUTE)
    );
    println!(
        "  bot peak RSS (VmHWM)        {:>10}   target ≤ {} MB  {}",
        m.bot_rss_kib
            .map_or("unknown".into(), |k| format!("{:.1} MB", k as f64 / 1024.0)),
        RSS_TARGET_KIB / 1024,
        verdict(m.bot_rss_kib.is_some_and(|k| k <= RSS_TARGET_KIB))
    );
    println!(
        "  sandbox + bench peak RSS    {:>10}",
        report::peak_rss_kib().map_or("unknown".into(), |k| format!("{:.1} MB", k as f64 / 1024.0))
    );
    for e in &limits.examples {
        println!("    {e}");
    }
    Ok(())
}
