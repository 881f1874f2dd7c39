//! The `vigil` command line. Only argument parsing and exit codes live here; every command's
//! work is in the library so the tests run the same code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use vigil::config::{self, Config};

/// Vigil: Slack-first security-alert triage.
#[derive(Parser)]
#[command(name = "vigil", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the sandbox and the bot together and run a scripted scenario; exits 0 only if
    /// every step happened.
    Demo {
        /// Leave the sandbox and bot running after the scenario (Ctrl-C stops them).
        #[arg(long)]
        keep_running: bool,
    },
    /// Benchmark the bot against the in-process sandbox with slow vendors: Socket Mode ack
    /// latency, alert-to-card latency against the vendor calls on its path, cases per second,
    /// Slack 429s and peak memory. Prints PASS/MISS per target and exits 0 whenever the run
    /// itself worked.
    Bench {
        /// Socket Mode envelopes to push (slash commands, card clicks, owner DM replies).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        envelopes: u64,
        /// Alerts to inject, each on its own device, for the card latency.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1_000))]
        alerts: u64,
        /// How long every vendor (Slack, CrowdStrike, Oomnitza, GitHub, PagerDuty) takes to
        /// answer, in milliseconds.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(0..=10_000))]
        latency_ms: u64,
        /// Envelopes in flight at once: one ack phase of `--envelopes` per level, comma
        /// separated. 2 is one per Socket Mode connection (the ack itself); 32 and 128 add
        /// whatever queueing the transport has under load.
        #[arg(long, default_values_t = vec![2u64, 32, 128], value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=1_000))]
        concurrency: Vec<u64>,
        /// Gap between alerts in milliseconds. Slack allows about one message per second in the
        /// alerts channel, so a shorter gap measures the channel's queue rather than Vigil.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
        alert_interval_ms: u64,
        /// Instead of the phases above: a storm of this many distinct alerts at once (one in
        /// ten high priority), with the bot as a child `vigil run` process; reports time to
        /// every case, to the last card and issue against Slack's and GitHub's limits, Slack
        /// 429s reaching a case, Tier 3 reads, and the bot's own peak memory.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000))]
        storm: Option<u64>,
    },
    /// Serve the vendor simulators (Slack, CrowdStrike, Oomnitza, GitHub, PagerDuty) on one
    /// loopback port.
    Sandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: SocketAddr,
        /// Write a vigil.toml pointing at this sandbox to PATH (secrets in files beside it).
        #[arg(long, value_name = "PATH")]
        write_config: Option<PathBuf>,
        /// The sandbox's address as the bot reaches it, written into the config (default: the
        /// listen address). Set it when the bot runs elsewhere, e.g. `http://sandbox:8700`
        /// under docker compose, where the sandbox listens on `0.0.0.0:8700`.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
    /// Run the bot.
    Run {
        /// Path to vigil.toml.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Ask a running bot's `/healthz` (at the config's `[server] listen`) and exit 0 only if
    /// it is healthy: the container's HEALTHCHECK, which has no curl in a distroless image.
    Health {
        /// Path to vigil.toml.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Check every configured integration and say what to fix.
    Doctor {
        /// Path to vigil.toml.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a complete, commented vigil.toml.
    Example,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Config {
        command: ConfigCommand::Example,
    } = cli.command
    {
        print!("{}", config::EXAMPLE);
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo { keep_running } => {
            vigil::telemetry::init_logs(&config::LogConfig {
                level: "warn".into(),
                ..Default::default()
            });
            let ok = vigil::demo::run(vigil::demo::DemoOptions { keep_running }).await?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Bench {
            envelopes,
            alerts,
            latency_ms,
            concurrency,
            alert_interval_ms,
            storm,
        } => {
            vigil::telemetry::init_logs(&config::LogConfig {
                level: "error".into(),
                ..Default::default()
            });
            if let Some(n) = storm {
                vigil::bench::storm::run(usize::try_from(n)?).await?;
                return Ok(ExitCode::SUCCESS);
            }
            vigil::bench::run(vigil::bench::BenchOptions {
                envelopes: usize::try_from(envelopes)?,
                alerts: usize::try_from(alerts)?,
                latency_ms,
                concurrency: concurrency
                    .into_iter()
                    .map(usize::try_from)
                    .collect::<Result<_, _>>()?,
                alert_interval_ms,
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sandbox {
            listen,
            write_config,
            public_url,
        } => {
            vigil::telemetry::init_logs(&config::LogConfig::default());
            vigil_sandbox::cli::serve(
                listen,
                |served| {
                    vigil::sandbox_config::announce(
                        served,
                        write_config.as_deref(),
                        public_url.as_deref(),
                    )
                },
                vigil::run::shutdown_signal(),
            )
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { config } => {
            let config = load(&config)?;
            vigil::telemetry::init_logs(&config.log);
            vigil::run::run(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Health { config } => {
            let config = load(&config)?;
            match vigil::server::probe_health(config.server.listen).await {
                Ok(body) => {
                    println!("healthy: {body}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("unhealthy: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Doctor { config } => {
            let config = load(&config)?;
            let checks = vigil::doctor::run(&config).await;
            for c in &checks {
                println!("{}", c.line());
            }
            Ok(if vigil::doctor::all_ok(&checks) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Config { .. } => Ok(ExitCode::SUCCESS),
    }
}

fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}
