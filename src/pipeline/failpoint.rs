//! Named failpoints for crash tests: `VIGIL_FAILPOINT=create_issue.done` makes the process
//! abort at that point (no destructors, no flush), exactly like a SIGKILL there. Several names
//! may be given, comma-separated. Unset, this costs one cached lookup.
//!
//! Every step kind (`case::step::KINDS`) has `<kind>.intent` (effect not yet performed; for a
//! step that records an intent, just after it is flushed) and `<kind>.done` (effect performed,
//! result not yet recorded); the SPEC's names are aliases:
//! `github.issue.created`, `slack.card.posted`, `slack.dm.posted`, `pagerduty.triggered`.

use std::sync::OnceLock;

static ARMED: OnceLock<Vec<String>> = OnceLock::new();

fn armed() -> &'static [String] {
    ARMED.get_or_init(|| {
        std::env::var("VIGIL_FAILPOINT")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Aborts the process if `name` is armed.
pub fn hit(name: &str) {
    if armed().iter().any(|a| a == name) {
        eprintln!("vigil: failpoint {name} reached; aborting");
        std::process::abort();
    }
}

/// The SPEC's name for a step's `done` point, if it has one.
pub fn alias(kind: &str) -> Option<&'static str> {
    match kind {
        "create_issue" => Some("github.issue.created"),
        "post_card" => Some("slack.card.posted"),
        "owner_dm" => Some("slack.dm.posted"),
        "page" => Some("pagerduty.triggered"),
        _ => None,
    }
}
