//! The container image and the compose file agree with the binary: the port the Dockerfile
//! exposes is the default `[server] listen` port, the config path the image runs and checks is
//! on its volume with the store's default path inside it, the user is not root, the health
//! check is `vigil health`, and `vigil health` itself tells a healthy bot from a missing one.
//! CI has no Docker daemon, so the files are read, not built.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{sandbox, start_bot};

fn repo_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Dockerfile's instructions, continuation lines joined and comments dropped.
fn instructions() -> Vec<(String, String)> {
    let text = repo_file("Dockerfile");
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(t);
        let full = std::mem::take(&mut pending);
        if let Some((op, rest)) = full.split_once(' ') {
            out.push((op.to_uppercase(), rest.trim().to_string()));
        }
    }
    out
}

fn one(ins: &[(String, String)], op: &str) -> String {
    let all: Vec<&String> = ins
        .iter()
        .filter(|(o, _)| o == op)
        .map(|(_, a)| a)
        .collect();
    assert_eq!(all.len(), 1, "exactly one {op} in the final image: {all:?}");
    all[0].clone()
}

/// A JSON-array instruction's words (`CMD ["run", "--config", "x"]`).
fn words(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json} is not exec form: {e}"))
}

/// The value after `flag` in `args`.
fn after(args: &[String], flag: &str) -> String {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| panic!("{flag} missing in {args:?}"))
}

#[test]
fn the_dockerfile_matches_the_binarys_defaults() {
    let ins = instructions();
    let stages = ins.iter().filter(|(o, _)| o == "FROM").count();
    assert!(stages >= 2, "a multi-stage build: {stages} FROM");
    let last_from = ins.iter().rposition(|(o, _)| o == "FROM").expect("FROM");
    let (_, base) = &ins[last_from];
    assert!(
        base.contains("distroless") || base.starts_with("scratch"),
        "the final stage is distroless or static: {base}"
    );
    let last = &ins[last_from..];

    let user = one(last, "USER");
    let uid = user.split(':').next().unwrap_or_default();
    assert!(uid != "0" && uid != "root", "runs as non-root: {user}");

    let port: u16 = one(last, "EXPOSE").parse().expect("EXPOSE is one port");
    let default_listen = vigil::config::ServerConfig::default().listen;
    assert_eq!(
        port,
        default_listen.port(),
        "EXPOSE is the default [server] listen port"
    );

    let volume = words(&one(last, "VOLUME"));
    assert_eq!(volume.len(), 1, "one volume: {volume:?}");
    let volume = PathBuf::from(&volume[0]);

    let entry = words(&one(last, "ENTRYPOINT"));
    let cmd = words(&one(last, "CMD"));
    assert_eq!(cmd.first().map(String::as_str), Some("run"), "{cmd:?}");
    let config = PathBuf::from(after(&cmd, "--config"));
    assert_eq!(
        config.parent(),
        Some(volume.as_path()),
        "the config is on the volume"
    );
    let store = vigil::config::StoreConfig::default().path;
    assert!(
        store.is_relative(),
        "the default store path is relative to the config, so it lands on the volume: {store:?}"
    );

    let health = one(last, "HEALTHCHECK");
    let check = words(
        health
            .split_once("CMD")
            .map(|(_, c)| c.trim())
            .unwrap_or(""),
    );
    assert_eq!(
        check.first(),
        entry.first(),
        "the health check runs the same binary"
    );
    assert_eq!(
        check.get(1).map(String::as_str),
        Some("health"),
        "{check:?}"
    );
    assert_eq!(
        PathBuf::from(after(&check, "--config")),
        config,
        "the health check reads the config the bot runs with"
    );
}

#[test]
fn compose_runs_the_sandbox_and_the_bot_on_one_volume() {
    let compose = repo_file("compose.yaml");
    let ins = instructions();
    let cmd = words(&one(&ins, "CMD"));
    let config = after(&cmd, "--config");
    let volume = words(&one(&ins, "VOLUME")).remove(0);
    for needle in [
        "  sandbox:".to_string(),
        "  vigil:".to_string(),
        "- --public-url\n      - http://sandbox:8700".to_string(),
        format!("- --write-config\n      - {config}"),
        format!("command: [\"run\", \"--config\", \"{config}\"]"),
        format!("- vigil-data:{volume}"),
        "restart: on-failure".to_string(),
    ] {
        assert!(compose.contains(&needle), "compose.yaml lacks {needle:?}");
    }
    assert_eq!(
        compose.matches(&format!("- vigil-data:{volume}")).count(),
        2,
        "both services mount the shared volume"
    );
}

fn health(config: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("health")
        .arg("--config")
        .arg(config)
        .env("VIGIL_LOG", "error")
        .output()
        .expect("vigil health runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vigil_health_fails_without_a_bot_and_passes_once_it_is_connected() {
    let ts = sandbox().await;
    let bot = start_bot(&ts).await;
    let config = bot.dir.path().join("vigil.toml");
    let ok = tokio::task::spawn_blocking({
        let config = config.clone();
        move || health(&config)
    })
    .await
    .expect("health");
    assert!(
        ok.status.success(),
        "healthy bot: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("healthy"));
    bot.running.shutdown().await;
    let down = tokio::task::spawn_blocking(move || health(&config))
        .await
        .expect("health");
    assert!(
        !down.status.success(),
        "no bot: exit status {:?}",
        down.status
    );
    let err = String::from_utf8_lossy(&down.stderr);
    assert!(
        err.contains("unhealthy") && err.contains("/healthz"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_url_replaces_the_listen_address_in_the_written_config() {
    let ts = sandbox().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vigil.toml");
    let served = ts.running.served();
    vigil::sandbox_config::announce(&served, Some(&path), Some("http://sandbox:8700/"))
        .expect("written");
    let text = std::fs::read_to_string(&path).expect("config");
    assert!(text.contains("\"http://sandbox:8700/slack/api\""), "{text}");
    assert!(
        !text.contains(&served.base),
        "no listen address left: {text}"
    );
    let config = vigil::config::Config::load(&path).expect("the written config loads");
    assert!(config.slack.base_url.starts_with("http://sandbox:8700/"));
    let bad = vigil::sandbox_config::announce(&served, Some(&path), Some("sandbox:8700"));
    assert!(bad.is_err_and(|e| e.to_string().contains("--public-url")));
}
