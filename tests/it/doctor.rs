//! `vigil doctor` against the sandbox: with the config `vigil sandbox --write-config` writes,
//! every one of the thirteen vendors checks ok; with one wrong key, that vendor's line says
//! which setting to fix while the others stay ok, in-process and through the binary's exit code.

use std::path::Path;
use std::process::Command;

use vigil::config::Config;
use vigil::doctor::{self, Check, Outcome};

use crate::common::{TestSandbox, sandbox, write_config};

/// Each vendor and the prefix of its doctor check names.
const VENDORS: [&str; 13] = [
    "slack",
    "crowdstrike",
    "oomnitza",
    "github",
    "pagerduty",
    "confluence",
    "okta",
    "llm",
    "virustotal",
    "abuseipdb",
    "emailrep",
    "urlscan",
    "tavily",
];

fn of<'a>(checks: &'a [Check], vendor: &str) -> Vec<&'a Check> {
    checks
        .iter()
        .filter(|c| c.name.split(' ').next() == Some(vendor))
        .collect()
}

/// Ok, or the one check that needs a running bot to ask (`/healthz`), which none is here.
fn is_ok(c: &Check) -> bool {
    match &c.outcome {
        Outcome::Ok(_) => true,
        Outcome::Skipped(_) => c.name == "slack socket mode link",
        Outcome::Fail { .. } => false,
    }
}

fn report(checks: &[Check]) -> String {
    checks
        .iter()
        .map(Check::line)
        .collect::<Vec<_>>()
        .join("\n")
}

async fn run(path: &Path) -> Vec<Check> {
    let config = Config::load(path).expect("written config loads");
    doctor::run(&config).await
}

fn written(ts: &TestSandbox) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(ts, dir.path());
    (dir, path)
}

#[tokio::test]
async fn every_vendor_is_ok_against_the_sandbox() {
    let ts = sandbox().await;
    let (_dir, path) = written(&ts);
    let checks = run(&path).await;
    let all = report(&checks);
    for vendor in VENDORS {
        let mine = of(&checks, vendor);
        assert!(!mine.is_empty(), "a check for {vendor}:\n{all}");
        for c in mine {
            assert!(is_ok(c), "{vendor} is ok:\n{all}");
        }
    }
    assert!(doctor::all_ok(&checks), "{all}");
}

#[tokio::test]
async fn one_wrong_key_names_that_vendor_and_what_to_fix() {
    let ts = sandbox().await;
    let (dir, path) = written(&ts);
    // A well-formed key (64 hex) the sandbox does not know.
    std::fs::write(
        dir.path().join("secrets/virustotal_api_key"),
        "e".repeat(64),
    )
    .expect("key replaced");
    let checks = run(&path).await;
    let all = report(&checks);
    assert!(!doctor::all_ok(&checks), "{all}");
    let failed: Vec<&Check> = checks
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Fail { .. }))
        .collect();
    assert_eq!(failed.len(), 1, "only VirusTotal fails:\n{all}");
    let line = failed[0].line();
    assert!(failed[0].name.starts_with("virustotal"), "{line}");
    assert!(
        line.contains("401") && line.contains("WrongCredentialsError"),
        "{line}"
    );
    assert!(
        line.contains("Fix: check VIGIL_VIRUSTOTAL_API_KEY / virustotal.api_key_file"),
        "says which setting: {line}"
    );
    for vendor in VENDORS.iter().filter(|v| **v != "virustotal") {
        for c in of(&checks, vendor) {
            assert!(is_ok(c), "{vendor} stays ok:\n{all}");
        }
    }
}

#[tokio::test]
async fn the_binary_exits_non_zero_only_when_a_check_fails() {
    let ts = sandbox().await;
    let (dir, path) = written(&ts);
    let doctor = |path: &Path| {
        Command::new(env!("CARGO_BIN_EXE_vigil"))
            .arg("doctor")
            .arg("--config")
            .arg(path)
            .output()
            .expect("vigil doctor runs")
    };
    let path_for_ok = path.clone();
    let ok = tokio::task::spawn_blocking(move || doctor(&path_for_ok))
        .await
        .expect("joined");
    let out = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(ok.status.success(), "exit 0:\n{out}");
    assert!(out.lines().any(|l| l.starts_with("ok    tavily")), "{out}");

    std::fs::write(dir.path().join("secrets/okta_api_token"), "not-the-token")
        .expect("token replaced");
    let bad = tokio::task::spawn_blocking(move || doctor(&path))
        .await
        .expect("joined");
    let out = String::from_utf8_lossy(&bad.stdout).to_string();
    assert!(!bad.status.success(), "non-zero exit:\n{out}");
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert!(
        failed[0].starts_with("FAIL  okta") && failed[0].contains("okta.api_token_file"),
        "{out}"
    );
}
