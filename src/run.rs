//! `vigil run`: start every part of the bot from a loaded config, and stop it cleanly.
//!
//! Order matters: the store opens first (a store that cannot be read stops start-up, SPEC §5),
//! then the engine recovers every unfinished case before Slack events, polls or webhooks add
//! new work.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::bot::Bot;
use crate::config::Config;
use crate::pipeline::Engine;
use crate::pipeline::engine::{Remediation, Vendors};
use crate::pipeline::webhook::WebhookState;
use crate::server::{self, ServerState};
use crate::slack::api::SlackApi;
use crate::slack::client;
use crate::slack::socket::{SocketHealth, SocketMode};
use crate::store::{SledStore, Store};
use crate::vendors::abuseipdb::client::AbuseIpDbClient;
use crate::vendors::confluence::client::ConfluenceClient;
use crate::vendors::crowdstrike::client::CrowdStrikeClient;
use crate::vendors::emailrep::client::EmailRepClient;
use crate::vendors::github::client::GitHubClient;
use crate::vendors::llm::client::LlmClient;
use crate::vendors::okta::client::OktaClient;
use crate::vendors::oomnitza::client::OomnitzaClient;
use crate::vendors::outbound::RetryPolicy;
use crate::vendors::pagerduty::client::PagerDutyClient;
use crate::vendors::tavily::client::TavilyClient;
use crate::vendors::urlscan::client::UrlscanClient;
use crate::vendors::virustotal::client::VirusTotalClient;

/// How often timers and retries are checked.
const TICK: Duration = Duration::from_millis(500);
/// How often the `seen` dedupe tree is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How often the analyst group is re-read.
const ANALYSTS_REFRESH: Duration = Duration::from_secs(300);
/// How soon a failed read of the analyst group is tried again (until one succeeds; then the
/// normal refresh). Well inside `usergroups.users.list`'s Tier 2 (20 per minute).
const ANALYSTS_RETRY: Duration = Duration::from_secs(15);

/// A running bot.
pub struct Running {
    socket: SocketMode,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: watch::Sender<bool>,
    /// The engine, for the demo and tests.
    pub engine: Arc<Engine>,
}

impl Running {
    /// Socket Mode health counters.
    pub fn socket_health(&self) -> Arc<SocketHealth> {
        self.socket.health.clone()
    }

    /// Closes the Slack connections, the poller, the timers and the HTTP server, then lets
    /// case work in flight finish (up to 10 s) so nothing touches the store after this returns.
    /// A step cut short here is finished on the next start, from its recorded intent.
    pub async fn shutdown(self) {
        self.socket.shutdown().await;
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.engine.busy() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if self.engine.busy() > 0 {
            tracing::warn!(
                cases = self.engine.busy(),
                "stopped with case work still running; it resumes on the next start"
            );
        }
    }
}

/// Owner lookups sit between an alert and its card: an inventory outage is noted on the case
/// within seconds instead of holding the card back for the default two-minute retry budget.
fn lookup_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        max_total_wait: Duration::from_secs(5),
        max_retry_after: Duration::from_secs(5),
        ..RetryPolicy::default()
    }
}

fn vendors(config: &Config) -> anyhow::Result<Vendors> {
    Ok(Vendors {
        crowdstrike: config
            .crowdstrike
            .clone()
            .map(CrowdStrikeClient::new)
            .transpose()?,
        oomnitza: config
            .oomnitza
            .clone()
            .map(|c| OomnitzaClient::new(c).map(|c| c.with_retry_policy(lookup_policy())))
            .transpose()?,
        github: config.github.clone().map(GitHubClient::new).transpose()?,
        pagerduty: config
            .pagerduty
            .clone()
            .map(PagerDutyClient::new)
            .transpose()?,
        confluence: config
            .confluence
            .clone()
            .map(ConfluenceClient::new)
            .transpose()?,
        okta: config.okta.clone().map(OktaClient::new).transpose()?,
        llm: config.llm.clone().map(LlmClient::new).transpose()?,
        virustotal: config
            .virustotal
            .clone()
            .map(VirusTotalClient::new)
            .transpose()?,
        abuseipdb: config
            .abuseipdb
            .clone()
            .map(AbuseIpDbClient::new)
            .transpose()?,
        emailrep: config
            .emailrep
            .clone()
            .map(EmailRepClient::new)
            .transpose()?,
        urlscan: config.urlscan.clone().map(UrlscanClient::new).transpose()?,
        tavily: config.tavily.clone().map(TavilyClient::new).transpose()?,
    })
}

/// Flow 2's settings, with the classifier prompt read now: a missing prompt file stops the
/// start with the key to fix instead of failing every case later.
fn remediation(config: &Config) -> anyhow::Result<Remediation> {
    let path = config.remediation.classify_prompt.as_deref();
    let classify_prompt = crate::triage::llm_classify::load_prompt(path).map_err(|e| {
        anyhow::anyhow!(
            "remediation.classify_prompt: cannot read {}: {e}",
            path.map(|p| p.display().to_string()).unwrap_or_default()
        )
    })?;
    let path = config.remediation.agent_prompt.as_deref();
    let agent_prompt =
        crate::triage::llm_classify::load_prompt_or(path, crate::triage::agent::DEFAULT_PROMPT)
            .map_err(|e| {
                anyhow::anyhow!(
                    "remediation.agent_prompt: cannot read {}: {e}",
                    path.map(|p| p.display().to_string()).unwrap_or_default()
                )
            })?;
    Ok(Remediation {
        config: config.remediation.clone(),
        approvals: config.approvals.clone(),
        classify_prompt,
        agent_prompt,
    })
}

/// Opens the store, recovers unfinished cases, and starts Socket Mode, the poller, the timers
/// and the HTTP server.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    let _ = crate::telemetry::prometheus();
    let store: Arc<dyn Store> = Arc::new(
        SledStore::open(&config.store.path)
            .map_err(|e| anyhow::anyhow!("store.path {}: {e}", config.store.path.display()))?,
    );
    let slack = client::build(&config.slack)?;
    let bot_session_token = client::bot_token(&config.slack);
    let me = slack
        .open_session(&bot_session_token)
        .auth_test()
        .await
        .map_err(|e| anyhow::anyhow!("slack auth.test failed: {e}. Check VIGIL_SLACK_BOT_TOKEN / slack.bot_token_file and slack.base_url"))?;
    let labels = config
        .github
        .as_ref()
        .map(|g| g.labels.clone())
        .unwrap_or_default();
    let engine = Engine::new(
        store,
        SlackApi::new(slack.clone(), bot_session_token),
        vendors(config)?,
        config.triage.clone(),
        config.slack.alerts_channel.clone(),
        labels,
        remediation(config)?,
    );
    let group = refresh_analysts(&engine, config, &[]).await;
    engine.recover()?;
    prune_seen(&engine, config.store.dedupe_retention);

    let (stop, stopped) = watch::channel(false);
    let mut tasks = vec![];
    tasks.push(tokio::spawn(tick(engine.clone(), stopped.clone())));
    tasks.push(tokio::spawn(prune_loop(
        engine.clone(),
        config.store.dedupe_retention,
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(analysts_loop(
        engine.clone(),
        config.clone(),
        group,
        stopped.clone(),
    )));
    if let Some(cs) = &config.crowdstrike {
        let interval = Duration::from_secs(cs.poll_interval_secs);
        tasks.push(tokio::spawn(crate::pipeline::poller::run(
            engine.clone(),
            interval,
            stopped.clone(),
        )));
    }
    let bot = Arc::new(Bot::new(engine.clone(), me.user_id.to_string()));
    let socket = SocketMode::start(slack, &config.slack, bot).await?;
    let webhook = config
        .server
        .webhook_secret
        .clone()
        .map(|secret| WebhookState {
            engine: engine.clone(),
            secret,
        });
    let mut server_stop = stopped.clone();
    let server = server::serve(
        config.server.listen,
        ServerState {
            socket: socket.health.clone(),
        },
        webhook,
        async move {
            let _ = server_stop.wait_for(|s| *s).await;
        },
    )
    .await;
    match server {
        Ok(s) => tasks.push(s),
        Err(e) => {
            socket.shutdown().await;
            let _ = stop.send(true);
            return Err(e);
        }
    }
    tracing::info!(listen = %config.server.listen, "vigil is running");
    Ok(Running {
        socket,
        tasks,
        stop,
        engine,
    })
}

async fn tick(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => engine.kick_due(),
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Forgets dedupe keys older than `retention` (`store.dedupe_retention`).
fn prune_seen(engine: &Engine, retention: Duration) {
    let cutoff = chrono::Duration::from_std(retention)
        .ok()
        .and_then(|r| chrono::Utc::now().checked_sub_signed(r))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    match engine.store.prune_seen(cutoff) {
        Ok(0) => {}
        Ok(n) => tracing::info!(pruned = n, "forgot dedupe keys past store.dedupe_retention"),
        Err(e) => tracing::warn!(error = %e, "could not prune the dedupe keys; trying again later"),
    }
}

async fn prune_loop(engine: Arc<Engine>, retention: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(PRUNE_EVERY) => prune_seen(&engine, retention),
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// What the last read of the analyst group gave: its members, and whether that read worked.
#[derive(Debug, Clone, Default, PartialEq)]
struct GroupRead {
    /// The members last read (empty before the first successful read, or without a group).
    members: Vec<String>,
    /// Whether the last read worked (true without a group: there is nothing to retry).
    ok: bool,
}

impl GroupRead {
    /// When the group should be read next: soon after a failure, else the normal refresh.
    fn next_refresh(&self) -> Duration {
        if self.ok {
            ANALYSTS_REFRESH
        } else {
            ANALYSTS_RETRY
        }
    }
}

/// The analyst list: the configured users plus the group's members, sorted, no repeats.
fn analyst_list(configured: &[String], group: &[String]) -> Vec<String> {
    let mut users: Vec<String> = configured.iter().chain(group).cloned().collect();
    users.sort();
    users.dedup();
    users
}

/// Analysts = `slack.analyst_users` plus the members of `slack.analyst_usergroup`. When the
/// group cannot be read, the configured users still count and the group's last known members
/// (`last`) stay; the answer says whether to retry soon.
async fn refresh_analysts(engine: &Engine, config: &Config, last: &[String]) -> GroupRead {
    let read = match &config.slack.analyst_usergroup {
        None => GroupRead {
            members: vec![],
            ok: true,
        },
        Some(group) => match engine.slack.usergroup_members(group).await {
            Ok(members) => GroupRead { members, ok: true },
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    group = %group,
                    retry_in_secs = ANALYSTS_RETRY.as_secs(),
                    "could not read the analyst group (slack.analyst_usergroup); keeping \
                     slack.analyst_users and the group's last known members"
                );
                GroupRead {
                    members: last.to_vec(),
                    ok: false,
                }
            }
        },
    };
    engine
        .analysts
        .set(analyst_list(&config.slack.analyst_users, &read.members));
    read
}

async fn analysts_loop(
    engine: Arc<Engine>,
    config: Config,
    mut group: GroupRead,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(group.next_refresh()) => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        if stopping {
            return;
        }
        group = refresh_analysts(&engine, &config, &group.members).await;
    }
}

/// Runs until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let running = start(&config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
