//! `vigil sandbox`: serve the simulators, print where they are and a matching config.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::write_config::{self, Target};

/// Serves until Ctrl-C; with `write_config`, writes a ready-to-run `vigil.toml` once listening.
pub async fn serve(listen: SocketAddr, write_config: Option<PathBuf>) -> anyhow::Result<()> {
    let running = super::start(listen)
        .await
        .map_err(|e| anyhow::anyhow!("--listen: cannot bind {listen}: {e}"))?;
    let base = running.base_url();
    println!("vigil sandbox listening on {base}");
    for (name, path) in [
        ("slack web api", "/slack/api"),
        ("slack socket mode", "/slack/socket"),
        ("crowdstrike", "/crowdstrike"),
        ("oomnitza", "/oomnitza"),
        ("github", "/github"),
        ("pagerduty events", "/pagerduty/events"),
        ("pagerduty rest", "/pagerduty/api"),
        ("control api", "/_sandbox"),
    ] {
        println!("  {name:<18} {base}{path}");
    }
    let target = Target {
        base: &base,
        credentials: &running.sandbox.credentials,
        seed: &running.sandbox.seed,
    };
    match write_config {
        Some(path) => {
            write_config::write(&path, &target)?;
            println!(
                "\nwrote {} (run: vigil run --config {})",
                path.display(),
                path.display()
            );
        }
        None => {
            println!("\n# credentials: GET {base}/_sandbox/credentials");
            println!(
                "# a ready-to-run config with secret files: vigil sandbox --write-config DIR/vigil.toml"
            );
        }
    }
    crate::run::shutdown_signal().await;
    running.shutdown().await;
    Ok(())
}
