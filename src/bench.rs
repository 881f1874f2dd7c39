//! `vigil bench`: the bot against the in-process sandbox with every vendor slowed down, to show
//! the numbers the reliability rules promise (SPEC §5): Socket Mode acks that do not wait on any
//! vendor, cards as fast as the vendor calls on their path allow, Slack's rate limits absorbed
//! without a case noticing, and the memory it all takes.
//!
//! The wiring is the demo's: the sandbox and the bot start in one process, the sandbox writes
//! the bot's config, and results are read back through the sandbox (recorded requests, the
//! Slack Web API). The one thing read from Vigil itself is its case store, to link a card's
//! case to the alert that opened it and to read case timelines for rate-limit errors.
//!
//! Phases, in order: a lone probe alert (to read the critical path off the recorded calls), a
//! paced batch of alerts (card latency, cases per second), then a burst of Socket Mode
//! envelopes while the cards' follow-up work still runs (ack latency). A benchmark reports;
//! it does not gate: misses are printed, and only a run that could not measure is an error.

mod acks;
mod cards;
mod control;
mod report;
pub mod stats;
pub mod storm;

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::Config;
use crate::run::Running;
use crate::sandbox_config as write_config;
use vigil_sandbox::{self as sandbox, RunningSandbox, Seed};

use control::SERVICES;
use vigil_sandbox::client::SandboxClient;

/// What `vigil bench` is asked to do.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Socket Mode envelopes pushed in the ack phase, at each level of `concurrency`.
    pub envelopes: usize,
    /// Alerts in the card batch.
    pub alerts: usize,
    /// How long every vendor takes to answer, ms.
    pub latency_ms: u64,
    /// Envelopes in flight at once, one ack phase per level (default 2, 32 and 128): 2 is one
    /// per connection, the ack itself; more adds whatever queueing the transport has.
    pub concurrency: Vec<usize>,
    /// Gap between batch alerts, ms.
    pub alert_interval_ms: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            envelopes: 1000,
            alerts: 50,
            latency_ms: 500,
            concurrency: vec![2, 32, 128],
            alert_interval_ms: 1000,
        }
    }
}

/// How long the bot may take to open its two Socket Mode connections.
const CONNECT_WAIT: Duration = Duration::from_secs(30);
/// How long the bot and the sandbox get to stop at the end.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);
/// Pause after the envelopes so in-flight Slack calls are answered and recorded.
const SETTLE: Duration = Duration::from_secs(2);

/// The seeded people the bench acts as.
pub struct Cast {
    /// An analyst's Slack user id.
    pub analyst: String,
    /// A device owner's Slack user id (not an analyst).
    pub owner: String,
    /// The same owner's Oomnitza username, assigned to every bench device.
    pub owner_username: String,
}

impl Cast {
    /// Picks the first analyst, and the first non-analyst whose email is also an Oomnitza user.
    fn from_seed(seed: &Seed) -> anyhow::Result<Cast> {
        let users = &seed.slack.users;
        let analyst = users
            .iter()
            .find(|u| u.is_analyst)
            .ok_or_else(|| anyhow::anyhow!("the sandbox seed has no analyst"))?;
        let owner = users.iter().filter(|u| !u.is_analyst).find_map(|u| {
            let inventory = seed.oomnitza.users.iter().find(|o| {
                o.get("email")
                    .and_then(Value::as_str)
                    .is_some_and(|e| e.eq_ignore_ascii_case(&u.email))
            })?;
            let username = inventory.get("username").and_then(Value::as_str)?;
            Some((u.id.clone(), username.to_string()))
        });
        let (owner, owner_username) = owner.ok_or_else(|| {
            anyhow::anyhow!("the sandbox seed has no non-analyst who is also an Oomnitza user")
        })?;
        Ok(Cast {
            analyst: analyst.id.clone(),
            owner,
            owner_username,
        })
    }
}

/// Runs the benchmark and prints its report. `Err` only when the run itself failed (the
/// sandbox or bot did not start, the probe alert never became a card); missed targets are
/// reported as MISS and still answer `Ok`.
pub async fn run(opts: BenchOptions) -> anyhow::Result<()> {
    if opts.alerts == 0
        || opts.envelopes == 0
        || opts.concurrency.is_empty()
        || opts.concurrency.contains(&0)
    {
        anyhow::bail!("--alerts, --envelopes and --concurrency must each be at least 1");
    }
    let sandbox = sandbox::start("127.0.0.1:0".parse()?).await?;
    let dir = tempfile::tempdir()?;
    let result = with_sandbox(&sandbox, dir.path(), &opts).await;
    bounded("the sandbox", sandbox.shutdown()).await;
    result
}

async fn with_sandbox(
    sandbox: &RunningSandbox,
    dir: &std::path::Path,
    opts: &BenchOptions,
) -> anyhow::Result<()> {
    let base = sandbox.base_url();
    let config_path = dir.join("vigil.toml");
    write_config::write(&config_path, &sandbox.served())?;
    let config = Config::load(&config_path)?;
    println!(
        "vigil bench: {} envelopes at each of {:?} in flight, {} alerts {} ms apart; every vendor answers in {} ms",
        opts.envelopes, opts.concurrency, opts.alerts, opts.alert_interval_ms, opts.latency_ms
    );
    println!("sandbox {base} and the bot in this process; store in a temporary folder");
    let bot = crate::run::start(&config).await?;
    let result = measure(sandbox, &bot, &config, opts).await;
    bounded("the bot", bot.shutdown()).await;
    result
}

/// Waits for a shutdown, but not forever: the report is already printed, and work the bench
/// left queued (owner replies still being posted at Slack's pace) must not keep the process up.
async fn bounded(what: &str, shutdown: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(SHUTDOWN_WAIT, shutdown).await.is_err() {
        eprintln!(
            "bench: {what} did not stop within {} s; exiting anyway",
            SHUTDOWN_WAIT.as_secs()
        );
    }
}

async fn wait_for_sockets(sandbox: &RunningSandbox) -> anyhow::Result<()> {
    let started = Instant::now();
    while sandbox.sandbox.slack.socket.connections() < 2 {
        if started.elapsed() > CONNECT_WAIT {
            anyhow::bail!(
                "the bot did not open 2 Socket Mode connections within {} s",
                CONNECT_WAIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn measure(
    sandbox: &RunningSandbox,
    bot: &Running,
    config: &Config,
    opts: &BenchOptions,
) -> anyhow::Result<()> {
    wait_for_sockets(sandbox).await?;
    let cast = Cast::from_seed(&sandbox.sandbox.seed)?;
    let bot_token = sandbox.sandbox.credentials.slack.bot_token.clone();
    let control = SandboxClient::new(sandbox.base_url())?.with_bot_token(bot_token);
    let store = &*bot.engine.store;

    let devices = cards::add_fleet(&control, &cast, opts.alerts + 1).await?;
    if opts.latency_ms > 0 {
        for service in SERVICES {
            control.add_latency(service, opts.latency_ms).await?;
        }
    }
    let mut watch = cards::CardWatch::default();
    let (probe_device, batch_devices) = devices
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("no bench device was created"))?;
    println!("probe: one alert alone, to read its critical path");
    let path = cards::probe(&control, store, &mut watch, probe_device, opts.latency_ms).await?;
    println!(
        "batch: {} alerts, {} ms apart",
        batch_devices.len(),
        opts.alert_interval_ms
    );
    let batch = cards::batch(
        &control,
        store,
        &mut watch,
        batch_devices,
        Duration::from_millis(opts.alert_interval_ms),
    )
    .await?;

    let targets = ack_targets(&control, &cast, config, &path, &batch).await?;
    let mut acks = Vec::with_capacity(opts.concurrency.len());
    for (n, &level) in opts.concurrency.iter().enumerate() {
        println!("acks: {} envelopes, {level} in flight", opts.envelopes);
        let first = n.saturating_mul(opts.envelopes);
        acks.push(acks::run(&control, &targets, first, opts.envelopes, level).await);
    }
    tokio::time::sleep(SETTLE).await;

    watch.refresh(&control).await?;
    let cases = store
        .cases()
        .map_err(|e| anyhow::anyhow!("reading the cases' timelines: {e}"))?;
    let mut limits = std::mem::take(&mut watch.limits);
    limits.read_cases(&cases);
    drop(cases);
    report::Results {
        envelopes: opts.envelopes,
        latency_ms: opts.latency_ms,
        alert_interval_ms: opts.alert_interval_ms,
        poll_interval_secs: config
            .crowdstrike
            .as_ref()
            .map(|c| c.poll_interval_secs)
            .unwrap_or_default(),
        path: &path,
        batch: &batch,
        acks: &acks,
        limits: &limits,
        rss_kib: report::peak_rss_kib(),
    }
    .print();
    Ok(())
}

/// The ids the envelopes need: the owner's DM channel and the cases' DMs in it (through
/// `conversations.open` and `conversations.history`, as a person's client would), the cards to
/// click and a case to show.
async fn ack_targets(
    control: &SandboxClient,
    cast: &Cast,
    config: &Config,
    path: &cards::CriticalPath,
    batch: &cards::Batch,
) -> anyhow::Result<acks::Targets> {
    let opened = control
        .slack("conversations.open", &[("users", &cast.owner)])
        .await?;
    let owner_dm = opened
        .pointer("/channel/id")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("conversations.open answered no channel id: {opened}"))?;
    let history = control
        .slack(
            "conversations.history",
            &[
                ("channel", owner_dm),
                ("include_all_metadata", "true"),
                ("limit", "1000"),
            ],
        )
        .await?;
    let dm_threads: Vec<String> = history
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m.pointer("/metadata/event_payload/kind") == Some(&Value::from("dm")))
        .filter_map(|m| m.get("ts").and_then(Value::as_str).map(str::to_string))
        .collect();
    let mut cards: Vec<String> = batch.cards.iter().map(|c| c.ts.clone()).collect();
    cards.push(path.card.ts.clone());
    Ok(acks::Targets {
        analyst: cast.analyst.clone(),
        owner: cast.owner.clone(),
        owner_dm: owner_dm.to_string(),
        dm_threads,
        alerts_channel: config.slack.alerts_channel.clone(),
        cards,
        show_case: path.card.case_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cast_comes_from_the_seed() {
        let seed = Seed::standard();
        let cast = Cast::from_seed(&seed);
        assert!(cast.is_ok());
        if let Ok(cast) = cast {
            let analyst = seed.slack.users.iter().find(|u| u.id == cast.analyst);
            assert!(analyst.is_some_and(|u| u.is_analyst));
            let owner = seed.slack.users.iter().find(|u| u.id == cast.owner);
            assert!(owner.is_some_and(|u| !u.is_analyst));
            assert!(!cast.owner_username.is_empty());
        }
    }
}
