//! `vigil sandbox --write-config PATH` (SPEC §7.2): a `vigil.toml` that points every vendor at
//! this sandbox, so `vigil run --config PATH` works with nothing else set.
//!
//! This is Vigil's side of the wall: the sandbox crate reports only plain data ([`Served`]:
//! address, credentials, seed) and knows none of Vigil's config keys; this module owns them.
//!
//! Secrets go to files under `secrets/` beside PATH (mode 0600) and are referenced by `*_file`
//! keys; the store goes to `data/` beside PATH; all paths are absolute; the file is written
//! atomically (temp file + rename) so a reader never sees half a config.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use vigil_sandbox::{Credentials, Served};

/// What `vigil sandbox` does once the sandbox listens: with `--write-config PATH`, writes the
/// config and says how to run against it; without, says where the credentials are.
/// `public_url` replaces the listen address in what is written, for a bot that reaches the
/// sandbox by another name (a compose service) than the address it listens on.
pub fn announce(
    served: &Served,
    write_config: Option<&Path>,
    public_url: Option<&str>,
) -> anyhow::Result<()> {
    let mut served = served.clone();
    if let Some(url) = public_url {
        let url = url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!(
                "--public-url: expected an http(s) URL like http://sandbox:8700, got {url:?}"
            );
        }
        served.base = url.to_string();
    }
    let base = &served.base;
    match write_config {
        Some(path) => {
            write(path, &served)?;
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
    Ok(())
}

/// A string as a TOML basic string, quotes and escapes included, so a path or token with `"` or
/// `\` cannot break the file.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A free loopback port for the bot's HTTP server, found by binding port 0. Racy by nature
/// (the port is freed before the bot binds it, so another process could take it in between).
pub fn free_loopback_addr() -> std::io::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    l.local_addr()
}

/// Writes PATH (and its secrets) and returns the config text.
pub fn write(path: &Path, target: &Served) -> std::io::Result<String> {
    let path = std::path::absolute(path)?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    std::fs::create_dir_all(&dir)?;
    let secrets = dir.join("secrets");
    create_private_dir(&secrets)?;
    let c = &target.credentials;
    let webhook = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    for (name, value) in [
        ("slack_bot_token", c.slack.bot_token.as_str()),
        ("slack_app_token", c.slack.app_token.as_str()),
        (
            "crowdstrike_client_secret",
            c.crowdstrike.client_secret.as_str(),
        ),
        ("oomnitza_token", c.oomnitza.token.as_str()),
        ("github_token", c.github.token.as_str()),
        ("pagerduty_routing_key", c.pagerduty.routing_key.as_str()),
        ("pagerduty_api_token", c.pagerduty.api_token.as_str()),
        ("webhook_secret", webhook.as_str()),
    ] {
        write_private(&secrets.join(name), value)?;
    }
    write_intel_secrets(&secrets, c)?;
    let mut text = render(target, &dir, &secrets, free_loopback_addr()?);
    text.push_str(&confluence_okta_llm(target, &secrets)?);
    let tmp = dir.join(format!(".{}.tmp-{}", file_name(&path), std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(text)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vigil.toml".into())
}

/// The config text for a sandbox, with secrets in `secrets` and the store in `dir/data`.
pub fn render(target: &Served, dir: &Path, secrets: &Path, listen: SocketAddr) -> String {
    let base = target.base.trim_end_matches('/');
    let secret = |name: &str| q(&secrets.join(name).display().to_string());
    let seed = &target.seed;
    let alerts = seed
        .slack
        .channels
        .iter()
        .find(|ch| ch.role == "alerts")
        .map(|ch| ch.id.clone())
        .unwrap_or_else(|| "#alerts".into());
    let group = seed
        .slack
        .usergroups
        .iter()
        .find(|g| g.handle == "secops")
        .map(|g| g.id.clone());
    let analysts: Vec<String> = seed
        .slack
        .users
        .iter()
        .filter(|u| u.is_analyst)
        .map(|u| q(&u.id))
        .collect();
    let group_line = group
        .map(|g| format!("analyst_usergroup = {}\n", q(&g)))
        .unwrap_or_default();
    let c = &target.credentials;
    let intel = intel_sections(base, &secret);
    format!(
        r#"# Written by `vigil sandbox --write-config`: every vendor points at the sandbox on {base}.
# Secrets are in {secrets_dir} (mode 0600).

[server]
listen = {listen}
webhook_secret_file = {webhook}

[store]
path = {data}

[log]
level = "info"

[slack]
base_url = {slack}
bot_token_file = {bot}
app_token_file = {app}
alerts_channel = {alerts}
{group_line}analyst_users = [{analysts}]
socket_connections = 2

[crowdstrike]
base_url = {cs}
client_id = {client_id}
client_secret_file = {cs_secret}
poll_interval_secs = 2

[oomnitza]
base_url = {oom}
token_file = {oom_token}

[github]
base_url = {gh}
repo = {repo}
token_file = {gh_token}

[pagerduty]
base_url = {pd_events}
api_base_url = {pd_api}
routing_key_file = {pd_key}
api_token_file = {pd_token}
{intel}"#,
        secrets_dir = secrets.display(),
        listen = q(&listen.to_string()),
        webhook = secret("webhook_secret"),
        data = q(&dir.join("data").display().to_string()),
        slack = q(&format!("{base}/slack/api")),
        bot = secret("slack_bot_token"),
        app = secret("slack_app_token"),
        alerts = q(&alerts),
        analysts = analysts.join(", "),
        cs = q(&format!("{base}/crowdstrike")),
        client_id = q(&c.crowdstrike.client_id),
        cs_secret = secret("crowdstrike_client_secret"),
        oom = q(&format!("{base}/oomnitza")),
        oom_token = secret("oomnitza_token"),
        gh = q(&format!("{base}/github")),
        repo = q(&c.github.repo),
        gh_token = secret("github_token"),
        pd_events = q(&format!("{base}/pagerduty/events")),
        pd_api = q(&format!("{base}/pagerduty/api")),
        pd_key = secret("pagerduty_routing_key"),
        pd_token = secret("pagerduty_api_token"),
    )
}

/// `[confluence]`, `[okta]` and `[llm]` for this sandbox (flow 2's wiki, identity provider and
/// scripted model), their secrets written to `secrets` like the others. One block, so it can
/// move with this file.
fn confluence_okta_llm(target: &Served, secrets: &Path) -> std::io::Result<String> {
    let base = target.base.trim_end_matches('/');
    let c = &target.credentials;
    for (name, value) in [
        ("confluence_api_token", c.confluence.api_token.as_str()),
        ("okta_api_token", c.okta.api_token.as_str()),
        ("llm_api_key", c.llm.api_key.as_str()),
    ] {
        write_private(&secrets.join(name), value)?;
    }
    let secret = |name: &str| q(&secrets.join(name).display().to_string());
    Ok(format!(
        r#"
[confluence]
base_url = {confluence}
email = {email}
api_token_file = {confluence_token}
space = "SEC"
label = "sop"

[okta]
base_url = {okta}
api_token_file = {okta_token}

[llm]
base_url = {llm}
api_key_file = {llm_key}
model = {model}
timeout = "30s"
"#,
        confluence = q(&format!("{base}/confluence")),
        email = q(&c.confluence.email),
        confluence_token = secret("confluence_api_token"),
        okta = q(&format!("{base}/okta")),
        okta_token = secret("okta_api_token"),
        llm = q(&format!("{base}/llm/v1")),
        llm_key = secret("llm_api_key"),
        model = q(&c.llm.model),
    ))
}

// ---------------------------------------------------------------- threat-intel vendors
// VirusTotal, AbuseIPDB, EmailRep, urlscan.io and Tavily: one secret file and one section
// each. Kept as one block so it can move with the rest of this file.

/// The intel vendors' secret files and the credential each holds.
fn intel_secrets(c: &Credentials) -> [(&'static str, &str); 5] {
    [
        ("virustotal_api_key", c.virustotal.api_key.as_str()),
        ("abuseipdb_api_key", c.abuseipdb.api_key.as_str()),
        ("emailrep_api_key", c.emailrep.api_key.as_str()),
        ("urlscan_api_key", c.urlscan.api_key.as_str()),
        ("tavily_api_key", c.tavily.api_key.as_str()),
    ]
}

/// Writes the intel vendors' keys under `secrets` (mode 0600).
fn write_intel_secrets(secrets: &Path, c: &Credentials) -> std::io::Result<()> {
    for (name, value) in intel_secrets(c) {
        write_private(&secrets.join(name), value)?;
    }
    Ok(())
}

/// The intel sections, every `base_url` on the sandbox and every key in its file. Quotas are
/// raised above the vendors' free tiers (the sandbox enforces none unless a test asks) and
/// urlscan is polled often, so the demo does not wait on a public-API pace.
fn intel_sections(base: &str, secret: &dyn Fn(&str) -> String) -> String {
    format!(
        r#"
[virustotal]
base_url = {vt}
api_key_file = {vt_key}
requests_per_minute = 600
submit_unknown_urls = true
analysis_poll_interval = "1s"
analysis_max_wait = "10s"

[abuseipdb]
base_url = {abuse}
api_key_file = {abuse_key}
max_age_in_days = 90

[emailrep]
base_url = {emailrep}
api_key_file = {emailrep_key}
requests_per_minute = 600

[urlscan]
base_url = {urlscan}
api_key_file = {urlscan_key}
visibility = "unlisted"
poll_interval = "500ms"
max_wait = "30s"
requests_per_minute = 600

[tavily]
base_url = {tavily}
api_key_file = {tavily_key}
max_results = 5
requests_per_minute = 600
"#,
        vt = q(&format!("{base}/virustotal")),
        vt_key = secret("virustotal_api_key"),
        abuse = q(&format!("{base}/abuseipdb")),
        abuse_key = secret("abuseipdb_api_key"),
        emailrep = q(&format!("{base}/emailrep")),
        emailrep_key = secret("emailrep_api_key"),
        urlscan = q(&format!("{base}/urlscan")),
        urlscan_key = secret("urlscan_api_key"),
        tavily = q(&format!("{base}/tavily")),
        tavily_key = secret("tavily_api_key"),
    )
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(value.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
