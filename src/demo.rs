//! `vigil demo`: the sandbox and the bot in one process, a scripted scenario, and a verdict.
//!
//! Every expectation is read back from the sandbox the way a person or vendor would see it
//! (the ack a Slack user got, what a vendor received), never from Vigil's internals.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::Config;
use crate::sandbox::{self, write_config};

/// Options for one demo run.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Leave the sandbox and bot running after the scenario (until Ctrl-C).
    pub keep_running: bool,
}

/// One step's verdict.
struct Step {
    name: &'static str,
    ok: bool,
    detail: String,
}

/// Runs the scenario; `Ok(true)` when every step happened.
pub async fn run(opts: DemoOptions) -> anyhow::Result<bool> {
    let sandbox = sandbox::start("127.0.0.1:0".parse()?).await?;
    let base = sandbox.base_url();
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("vigil.toml");
    write_config::write(
        &config_path,
        &write_config::Target {
            base: &base,
            credentials: &sandbox.sandbox.credentials,
            seed: &sandbox.sandbox.seed,
        },
    )?;
    let config = Config::load(&config_path)?;
    println!("sandbox  {base}");
    println!("config   {}", config_path.display());
    let bot = crate::run::start(&config).await?;

    let http = crate::vendors::http::client()?;
    let mut steps = vec![];
    steps.push(wait_for_socket(&sandbox.sandbox).await);
    steps.push(triage_help(&http, &base, &sandbox.sandbox).await);
    steps.push(unknown_subcommand(&http, &base, &sandbox.sandbox).await);

    println!();
    for s in &steps {
        println!(
            "{} {}: {}",
            if s.ok { "PASS" } else { "FAIL" },
            s.name,
            s.detail
        );
    }
    let all = steps.iter().all(|s| s.ok);
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

async fn wait_for_socket(sb: &sandbox::Sandbox) -> Step {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if sb.slack.socket.connections() >= 2 {
            return Step {
                name: "bot connects over Socket Mode",
                ok: true,
                detail: format!(
                    "2 connections open after {} ms",
                    started.elapsed().as_millis()
                ),
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Step {
        name: "bot connects over Socket Mode",
        ok: false,
        detail: format!("{} connections after 15 s", sb.slack.socket.connections()),
    }
}

fn analyst(sb: &sandbox::Sandbox) -> (String, String) {
    sb.seed
        .slack
        .users
        .iter()
        .find(|u| u.is_analyst)
        .map(|u| (u.id.clone(), u.real_name.clone()))
        .unwrap_or_default()
}

fn alerts_channel(sb: &sandbox::Sandbox) -> String {
    sb.seed
        .slack
        .channels
        .iter()
        .find(|c| c.role == "alerts")
        .map(|c| c.id.clone())
        .unwrap_or_default()
}

async fn slash(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    channel: &str,
    text: &str,
) -> anyhow::Result<Value> {
    let resp = http
        .post(format!("{base}/_sandbox/slack/command"))
        .json(&json!({"user": user, "channel": channel, "command": "/triage", "text": text}))
        .send()
        .await?;
    Ok(resp.json().await?)
}

async fn triage_help(http: &reqwest::Client, base: &str, sb: &sandbox::Sandbox) -> Step {
    let (user, name) = analyst(sb);
    let name_step = "analyst types /triage help";
    match slash(http, base, &user, &alerts_channel(sb), "help").await {
        Ok(v) => {
            let text = v["response"]["text"].as_str().unwrap_or("").to_string();
            println!(
                "\n{name} typed `/triage help` and saw (ephemeral, acked in {} ms):",
                v["ack_ms"]
            );
            for line in text.lines() {
                println!("    {line}");
            }
            let ok = v["acked"] == json!(true) && text.contains("/triage help");
            Step {
                name: name_step,
                ok,
                detail: format!(
                    "acked={} ack_ms={} help shown={}",
                    v["acked"],
                    v["ack_ms"],
                    text.contains("/triage help")
                ),
            }
        }
        Err(e) => Step {
            name: name_step,
            ok: false,
            detail: e.to_string(),
        },
    }
}

async fn unknown_subcommand(http: &reqwest::Client, base: &str, sb: &sandbox::Sandbox) -> Step {
    let (user, name) = analyst(sb);
    let name_step = "unknown input answers usage, cannot ping";
    match slash(http, base, &user, &alerts_channel(sb), "<!channel> dance").await {
        Ok(v) => {
            let text = v["response"]["text"].as_str().unwrap_or("").to_string();
            println!("\n{name} typed `/triage <!channel> dance` and saw:");
            for line in text.lines().take(2) {
                println!("    {line}");
            }
            let ok = v["acked"] == json!(true)
                && !text.contains("<!channel>")
                && text.contains("/triage help");
            Step {
                name: name_step,
                ok,
                detail: format!(
                    "acked={} escaped={}",
                    v["acked"],
                    !text.contains("<!channel>")
                ),
            }
        }
        Err(e) => Step {
            name: name_step,
            ok: false,
            detail: e.to_string(),
        },
    }
}
