//! Config loading: typos and missing secrets name their key; secrets come only from env/files.

use std::collections::HashMap;
use std::path::Path;

use super::*;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

const ALL_SECRETS: &[(&str, &str)] = &[
    ("VIGIL_SLACK_BOT_TOKEN", "xoxb-1-2-abc"),
    ("VIGIL_SLACK_APP_TOKEN", "xapp-1-A1-2-abc"),
    ("VIGIL_CROWDSTRIKE_CLIENT_SECRET", "s3cret"),
    ("VIGIL_OOMNITZA_TOKEN", "tok"),
    ("VIGIL_GITHUB_TOKEN", "ghp_x"),
    (
        "VIGIL_PAGERDUTY_ROUTING_KEY",
        "0123456789abcdef0123456789abcdef",
    ),
    (
        "VIGIL_VIRUSTOTAL_API_KEY",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ),
    ("VIGIL_ABUSEIPDB_API_KEY", "abuse-key"),
    ("VIGIL_EMAILREP_API_KEY", "emailrep-key"),
    (
        "VIGIL_URLSCAN_API_KEY",
        "0196d976-3a4f-7000-8000-0123456789ab",
    ),
    ("VIGIL_TAVILY_API_KEY", "tvly-dev-key"),
    ("VIGIL_CONFLUENCE_API_TOKEN", "ATATT-example"),
    ("VIGIL_OKTA_API_TOKEN", "00okta-example"),
    ("VIGIL_LLM_API_KEY", "sk-example"),
];

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml(text, "vigil.toml", Path::new("/etc/vigil"), &env_of(env))
}

#[test]
fn the_example_loads_with_secrets_from_the_environment() {
    let c = load(EXAMPLE, ALL_SECRETS).expect("example is valid");
    assert_eq!(c.slack.bot_token.expose(), "xoxb-1-2-abc");
    assert_eq!(c.store.path, Path::new("/etc/vigil/data"));
    assert_eq!(
        c.github.as_ref().map(|g| g.repo.as_str()),
        Some("acme/security")
    );
    assert!(c.server.webhook_secret.is_none());
    assert_eq!(
        c.triage.reminder_after,
        std::time::Duration::from_secs(1800)
    );
    assert_eq!(c.triage.rules.len(), 4);
    assert_eq!(
        c.triage.rules[3].hostname_patterns,
        vec!["SRV-BUILD-*".to_string()]
    );
}

#[test]
fn a_bad_duration_or_rule_names_the_key() {
    let text = EXAMPLE.replace("reminder_after = \"30m\"", "reminder_after = \"soonish\"");
    let err = load(&text, ALL_SECRETS).unwrap_err().to_string();
    assert!(err.contains("triage.reminder_after"), "{err}");
    let text = EXAMPLE.replace(
        "priority = \"high\"\nmin_severity",
        "priority = \"urgent\"\nmin_severity",
    );
    let err = load(&text, ALL_SECRETS).unwrap_err().to_string();
    assert!(err.contains("triage.rules"), "{err}");
    assert!(
        err.contains("low") && err.contains("high"),
        "says what is accepted: {err}"
    );
}

#[test]
fn a_typo_names_the_key_and_what_was_expected() {
    let text = EXAMPLE.replace("alerts_channel =", "alert_channel =");
    let err = load(&text, ALL_SECRETS).unwrap_err().to_string();
    assert!(err.contains("slack"), "{err}");
    assert!(err.contains("unknown field `alert_channel`"), "{err}");
    assert!(
        err.contains("alerts_channel"),
        "lists the expected keys: {err}"
    );
}

#[test]
fn a_wrong_type_names_the_key() {
    let text = EXAMPLE.replace("poll_interval_secs = 30", "poll_interval_secs = \"soon\"");
    let err = load(&text, ALL_SECRETS).unwrap_err().to_string();
    assert!(err.contains("crowdstrike.poll_interval_secs"), "{err}");
}

#[test]
fn a_missing_secret_names_the_key_and_the_env_var() {
    let env: Vec<_> = ALL_SECRETS
        .iter()
        .copied()
        .filter(|(k, _)| *k != "VIGIL_GITHUB_TOKEN")
        .collect();
    let text = EXAMPLE.replace("token_file = \"secrets/github_token\"\n", "");
    let err = load(&text, &env).unwrap_err().to_string();
    assert!(err.contains("github.token"), "{err}");
    assert!(err.contains("VIGIL_GITHUB_TOKEN"), "{err}");
}

#[test]
fn a_missing_secret_file_names_the_key_and_path() {
    let env: Vec<_> = ALL_SECRETS
        .iter()
        .copied()
        .filter(|(k, _)| *k != "VIGIL_OOMNITZA_TOKEN")
        .collect();
    let err = load(EXAMPLE, &env).unwrap_err().to_string();
    assert!(err.contains("oomnitza.token_file"), "{err}");
    assert!(err.contains("/etc/vigil/secrets/oomnitza_token"), "{err}");
}

#[test]
fn a_secret_in_the_file_is_refused() {
    let text = EXAMPLE.replace("[github]\n", "[github]\ntoken = \"ghp_inline\"\n");
    let err = load(&text, ALL_SECRETS).unwrap_err().to_string();
    assert!(err.contains("github.token"), "{err}");
    assert!(err.contains("VIGIL_GITHUB_TOKEN"), "{err}");
    assert!(!err.contains("ghp_inline"), "never echo a secret: {err}");
}

#[test]
fn a_malformed_token_says_what_it_should_look_like_without_echoing_it() {
    let mut env = ALL_SECRETS.to_vec();
    env[0] = ("VIGIL_SLACK_BOT_TOKEN", "xapp-wrong-kind");
    let err = load(EXAMPLE, &env).unwrap_err().to_string();
    assert!(err.contains("slack.bot_token"), "{err}");
    assert!(err.contains("xoxb-"), "{err}");
    assert!(!err.contains("xapp-wrong-kind"), "{err}");
}

#[test]
fn secrets_come_from_files_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/bot"), "xoxb-from-file\n").unwrap();
    std::fs::write(dir.path().join("secrets/app"), "xapp-from-file").unwrap();
    let text = "[slack]\nbot_token_file = \"secrets/bot\"\napp_token_file = \"secrets/app\"\nalerts_channel = \"C0ALERTS01\"\n";
    let path = dir.path().join("vigil.toml");
    std::fs::write(&path, text).unwrap();
    let c = Config::load_with_env(&path, &|_| None).unwrap();
    assert_eq!(c.slack.bot_token.expose(), "xoxb-from-file");
    assert!(c.crowdstrike.is_none());
    assert!(
        !format!("{c:?}").contains("xoxb-from-file"),
        "Debug redacts"
    );
}

#[test]
fn a_bad_url_names_the_key() {
    let text = EXAMPLE.replace(
        "base_url = \"https://api.github.com\"",
        "base_url = \"api.github.com\"",
    );
    let err = load(&text, ALL_SECRETS).unwrap_err().to_string();
    assert!(err.contains("github.base_url"), "{err}");
}

#[test]
fn toml_syntax_errors_are_reported() {
    let err = load("[slack\n", ALL_SECRETS).unwrap_err().to_string();
    assert!(err.contains("vigil.toml"), "{err}");
}

#[test]
fn a_channel_name_is_refused_with_where_to_find_the_id() {
    let text = EXAMPLE.replace(
        "alerts_channel = \"C0123456789\"",
        "alerts_channel = \"#alerts\"",
    );
    let err = load(&text, ALL_SECRETS).unwrap_err().to_string();
    assert!(err.contains("slack.alerts_channel"), "{err}");
    assert!(err.contains("channel id"), "{err}");
}

#[test]
fn dedupe_retention_defaults_to_a_week_and_refuses_less_than_an_hour() {
    let c = load(EXAMPLE, ALL_SECRETS).expect("example is valid");
    assert_eq!(
        c.store.dedupe_retention,
        std::time::Duration::from_secs(7 * 24 * 3600)
    );
    let text = EXAMPLE.replace("dedupe_retention = \"7d\"", "dedupe_retention = \"2h\"");
    let c = load(&text, ALL_SECRETS).expect("2h is fine");
    assert_eq!(
        c.store.dedupe_retention,
        std::time::Duration::from_secs(7200)
    );
    let text = EXAMPLE.replace("dedupe_retention = \"7d\"", "dedupe_retention = \"5m\"");
    let err = load(&text, ALL_SECRETS).unwrap_err().to_string();
    assert!(err.contains("store.dedupe_retention"), "{err}");
}

#[test]
fn confluence_okta_and_llm_load_from_the_example_with_their_defaults() {
    let c = load(EXAMPLE, ALL_SECRETS).expect("example is valid");
    let wiki = c.confluence.expect("[confluence]");
    assert_eq!(wiki.base_url, "https://acme.atlassian.net");
    assert_eq!((wiki.space.as_str(), wiki.label.as_str()), ("SEC", "sop"));
    assert_eq!(wiki.api_token.expose(), "ATATT-example");
    let okta = c.okta.expect("[okta]");
    assert_eq!(okta.api_token.expose(), "00okta-example");
    let llm = c.llm.expect("[llm]");
    assert_eq!(llm.model, "gpt-4o-mini");
    assert_eq!(llm.timeout, std::time::Duration::from_secs(60));
    assert_eq!(llm.api_key.as_ref().map(|k| k.expose()), Some("sk-example"));

    // Defaults: space SEC, OpenAI's base, 60 s; a `/wiki` on the site URL is dropped; a local
    // server needs no key.
    let text = "[slack]\nalerts_channel = \"C0ALERTS01\"\n\
        [confluence]\nbase_url = \"https://acme.atlassian.net/wiki/\"\nemail = \"a@b.c\"\n\
        [llm]\nmodel = \"llama3.1\"\n";
    let env: Vec<_> = ALL_SECRETS
        .iter()
        .copied()
        .filter(|(k, _)| *k != "VIGIL_LLM_API_KEY")
        .collect();
    let c = load(text, &env).expect("minimal sections load");
    let wiki = c.confluence.expect("[confluence]");
    assert_eq!(wiki.base_url, "https://acme.atlassian.net");
    assert_eq!(wiki.space, "SEC");
    let llm = c.llm.expect("[llm]");
    assert_eq!(llm.base_url, "https://api.openai.com/v1");
    assert!(llm.api_key.is_none());
    assert!(c.okta.is_none());
}

#[test]
fn confluence_okta_and_llm_mistakes_name_their_key() {
    let cases = [
        (
            EXAMPLE.replace("model = \"gpt-4o-mini\"", "modle = \"gpt-4o-mini\""),
            "llm",
            "unknown field `modle`",
        ),
        (
            EXAMPLE.replace("timeout = \"60s\"", "timeout = \"1h\""),
            "llm.timeout",
            "1s to 10m",
        ),
        (
            EXAMPLE.replace("https://acme.okta.com", "acme.okta.com"),
            "okta.base_url",
            "absolute",
        ),
        (
            EXAMPLE.replace(
                "email = \"vigil-bot@acme.example\"",
                "email = \"vigil-bot\"",
            ),
            "confluence.email",
            "Atlassian account",
        ),
        (
            EXAMPLE.replace("space = \"SEC\"", "space = \"\""),
            "confluence.space",
            "non-empty",
        ),
    ];
    for (text, key, says) in cases {
        let err = load(&text, ALL_SECRETS).unwrap_err().to_string();
        assert!(err.contains(key) && err.contains(says), "{key}: {err}");
    }
    let env: Vec<_> = ALL_SECRETS
        .iter()
        .copied()
        .filter(|(k, _)| *k != "VIGIL_OKTA_API_TOKEN")
        .collect();
    let text = EXAMPLE.replace("api_token_file = \"secrets/okta_api_token\"\n", "");
    let err = load(&text, &env).unwrap_err().to_string();
    assert!(
        err.contains("okta.api_token") && err.contains("VIGIL_OKTA_API_TOKEN"),
        "{err}"
    );
    let text = EXAMPLE.replace("[okta]\n", "[okta]\napi_token = \"00inline\"\n");
    let err = load(&text, ALL_SECRETS).unwrap_err().to_string();
    assert!(
        err.contains("VIGIL_OKTA_API_TOKEN") && !err.contains("00inline"),
        "{err}"
    );
}

#[test]
fn the_intel_sections_load_with_their_defaults_and_keys() {
    use crate::vendors::urlscan::config::Visibility;
    let c = load(EXAMPLE, ALL_SECRETS).expect("example is valid");
    let vt = c.virustotal.expect("[virustotal] in the example");
    assert_eq!(vt.base_url, "https://www.virustotal.com");
    assert_eq!(vt.requests_per_minute, 4);
    assert!(!vt.submit_unknown_urls);
    assert_eq!(vt.api_key.expose().len(), 64);
    let abuse = c.abuseipdb.expect("[abuseipdb]");
    assert_eq!(abuse.max_age_in_days, 90);
    assert_eq!(abuse.api_key.expose(), "abuse-key");
    assert_eq!(
        c.emailrep.map(|e| e.base_url).as_deref(),
        Some("https://emailrep.io")
    );
    let scan = c.urlscan.expect("[urlscan]");
    assert_eq!(scan.visibility, Visibility::Unlisted);
    assert_eq!(scan.max_wait, std::time::Duration::from_secs(60));
    assert_eq!(c.tavily.map(|t| t.max_results), Some(5));

    let minimal = "[slack]\nalerts_channel = \"C0ALERTS01\"\n\n[urlscan]\n";
    let c = load(minimal, ALL_SECRETS).expect("a bare section takes the defaults");
    let scan = c.urlscan.expect("[urlscan]");
    assert_eq!(scan.base_url, "https://urlscan.io");
    assert_eq!(
        scan.visibility,
        Visibility::Unlisted,
        "never public by default"
    );
    assert!(c.virustotal.is_none() && c.tavily.is_none());
}

#[test]
fn a_bad_intel_knob_names_its_key() {
    let cases = [
        (
            "requests_per_minute = 4",
            "requests_per_minute = 0",
            "virustotal.requests_per_minute",
        ),
        (
            "max_age_in_days = 90",
            "max_age_in_days = 400",
            "abuseipdb.max_age_in_days",
        ),
        (
            "\nmax_wait = \"60s\"",
            "\nmax_wait = \"2h\"",
            "urlscan.max_wait",
        ),
        (
            "visibility = \"unlisted\"",
            "visibility = \"secret\"",
            "urlscan.visibility",
        ),
        ("max_results = 5", "max_results = 50", "tavily.max_results"),
        (
            "analysis_max_wait = \"60s\"",
            "analysis_max_wait = \"1h\"",
            "virustotal.analysis_max_wait",
        ),
    ];
    for (from, to, key) in cases {
        assert!(EXAMPLE.contains(from), "{from}");
        let err = load(&EXAMPLE.replacen(from, to, 1), ALL_SECRETS)
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
    let text = EXAMPLE.replace("[tavily]\n", "[tavily]\nsearch_depht = \"basic\"\n");
    let err = load(&text, ALL_SECRETS).unwrap_err().to_string();
    assert!(
        err.contains("tavily") && err.contains("search_depht"),
        "{err}"
    );
}

#[test]
fn intel_keys_come_only_from_env_or_files_and_are_checked() {
    let text = EXAMPLE.replace("[virustotal]\n", "[virustotal]\napi_key = \"abc\"\n");
    let err = load(&text, ALL_SECRETS).unwrap_err().to_string();
    assert!(err.contains("virustotal.api_key"), "{err}");
    assert!(err.contains("VIGIL_VIRUSTOTAL_API_KEY"), "{err}");

    let mut env = ALL_SECRETS.to_vec();
    for (k, v) in env.iter_mut() {
        if *k == "VIGIL_URLSCAN_API_KEY" {
            *v = "not-a-uuid-key";
        }
    }
    let err = load(EXAMPLE, &env).unwrap_err().to_string();
    assert!(
        err.contains("urlscan.api_key") && err.contains("UUID"),
        "{err}"
    );
    assert!(
        !err.contains("not-a-uuid-key"),
        "never echo a secret: {err}"
    );

    let env: Vec<_> = ALL_SECRETS
        .iter()
        .copied()
        .filter(|(k, _)| *k != "VIGIL_TAVILY_API_KEY")
        .collect();
    let err = load(EXAMPLE, &env).unwrap_err().to_string();
    assert!(err.contains("tavily.api_key_file"), "{err}");
    assert!(err.contains("/etc/vigil/secrets/tavily_api_key"), "{err}");
}
