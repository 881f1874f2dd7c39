//! `vigil demo`: the sandbox and the bot in one process, a scripted scenario, and a verdict.
//!
//! Every expectation is read back from the sandbox the way a person or a vendor would see it:
//! Slack messages through `conversations.history`/`replies`, issues through GitHub's REST API,
//! incidents through PagerDuty's, alerts through CrowdStrike's Alerts API (with an OAuth2 token,
//! like the client). Falcon does not return an alert's comments, so the comment a close carried
//! is read from what CrowdStrike received. Nothing is read from Vigil's internals, and each
//! verdict checks the thing it names: a card is matched to the alert that opened it, a label
//! or an answer is looked for by its words.

use std::cell::RefCell;
use std::time::Duration;

use serde_json::Value;

use crate::config::Config;
use crate::sandbox_config as write_config;
use vigil_sandbox as sandbox;
use vigil_sandbox::client::SandboxClient;

/// Options for one demo run.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Leave the sandbox and bot running after the scenario (until Ctrl-C).
    pub keep_running: bool,
}

/// How long any one expectation may take to come true.
const WAIT: Duration = Duration::from_secs(30);

/// One step's verdict.
struct Check {
    name: String,
    ok: bool,
    detail: String,
}

mod analyst;
mod drive;
mod owner;
mod readback;
mod text;

/// The running scenario: where things are and what has been checked.
struct Demo {
    /// The sandbox's control API and Slack with the bot token.
    client: SandboxClient,
    /// Plain HTTP for the vendor reads made with other vendors' credentials (GitHub,
    /// PagerDuty, Falcon), as a person with those accounts would.
    http: reqwest::Client,
    base: String,
    creds: Value,
    alerts: String,
    checks: RefCell<Vec<Check>>,
    /// (case id, composite id) of every case the scenario opened.
    cases: RefCell<Vec<(String, String)>>,
    /// The CrowdStrike bearer token, once issued (Falcon limits token requests per IP).
    falcon_token: RefCell<Option<String>>,
}

/// Seeded people and devices the scenario uses.
mod cast {
    pub const ANA: &str = "U0ANA00001";
    pub const BEN: &str = "U0BEN00002";
    pub const CAROL: &str = "U0CAROL003";
    pub const DAN: &str = "U0DAN00004";
    pub const ERIN: &str = "U0ERIN0005";
    pub const CAROL_MBP: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f01";
    pub const DAN_WIN: &str = "b2c3d4e5f60718293a4b5c6d7e8f0102";
    pub const ERIN_LNX: &str = "c3d4e5f60718293a4b5c6d7e8f010203";
}

/// Runs the scenario; `Ok(true)` when every step happened.
pub async fn run(opts: DemoOptions) -> anyhow::Result<bool> {
    let sandbox = sandbox::start("127.0.0.1:0".parse()?).await?;
    let base = sandbox.base_url();
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("vigil.toml");
    write_config::write(&config_path, &sandbox.served())?;
    let mut config = Config::load(&config_path)?;
    config.triage.reminder_after = Duration::from_secs(2);
    config.triage.escalate_after = Duration::from_secs(5);
    println!("sandbox  {base}");
    println!(
        "config   {} (demo timers: reminder 2 s, escalation 5 s)",
        config_path.display()
    );
    let bot = crate::run::start(&config).await?;

    let http = crate::vendors::http::client()?;
    let client = SandboxClient::with_http(http.clone(), base.clone())
        .with_bot_token(sandbox.sandbox.credentials.slack.bot_token.clone());
    let demo = Demo {
        client,
        http,
        creds: serde_json::to_value(&sandbox.sandbox.credentials)?,
        alerts: config.slack.alerts_channel.clone(),
        base: base.clone(),
        checks: RefCell::new(vec![]),
        cases: RefCell::new(vec![]),
        falcon_token: RefCell::new(None),
    };
    let connected = demo
        .wait("bot connects over Socket Mode (2 connections)", || async {
            Ok(sandbox.sandbox.slack.socket.connections() >= 2)
        })
        .await;
    if connected {
        demo.scenario().await;
    }

    println!("\n== verdict");
    let checks = demo.checks.take();
    for c in checks.iter() {
        println!(
            "{} {}{}",
            if c.ok { "PASS" } else { "FAIL" },
            c.name,
            if c.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", c.detail)
            }
        );
    }
    let all = !checks.is_empty() && checks.iter().all(|c| c.ok);
    println!(
        "\n{}",
        if all {
            "demo: every step happened"
        } else {
            "demo: some steps did not happen"
        }
    );
    if opts.keep_running {
        println!(
            "--keep-running: sandbox on {base}, config {}; Ctrl-C to stop",
            config_path.display()
        );
        crate::run::shutdown_signal().await;
    }
    bot.shutdown().await;
    sandbox.shutdown().await;
    Ok(all)
}

impl Demo {
    pub(super) async fn scenario(&self) {
        self.triage_help().await;
        let seq = self.last_seq().await;
        let carol_case = self.owner_confirms().await;
        self.print_vendor_log(seq).await;
        let seq = self.last_seq().await;
        self.duplicate_and_grouped(carol_case.as_deref()).await;
        self.print_vendor_log(seq).await;
        let seq = self.last_seq().await;
        self.owner_denies().await;
        self.print_vendor_log(seq).await;
        let seq = self.last_seq().await;
        self.high_identity_alert().await;
        self.print_vendor_log(seq).await;
        let seq = self.last_seq().await;
        self.silent_owner().await;
        self.print_vendor_log(seq).await;
        self.refusals().await;
        if let Some(case) = carol_case {
            let seq = self.last_seq().await;
            self.resolve_by_command(&case).await;
            self.print_vendor_log(seq).await;
        }
        let seq = self.last_seq().await;
        self.resolve_by_modal().await;
        self.print_vendor_log(seq).await;
    }
}
