//! `vigil doctor`: checks every configured integration and says, one plain line per check,
//! what works and what to fix.

use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::config::Config;
use crate::slack::client::{self, Slack};
use crate::vendors::VendorError;
use crate::vendors::abuseipdb::client::AbuseIpDbClient;
use crate::vendors::confluence::client::ConfluenceClient;
use crate::vendors::confluence::cql;
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
use crate::vendors::virustotal::models::Lookup;

/// How one check went; only a `Fail` makes [`all_ok`] false, and `vigil doctor` exit non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Works; what was seen.
    Ok(String),
    /// Broken; what is wrong and what to do about it.
    Fail {
        /// What went wrong, in the vendor's terms where it answered (status, message).
        problem: String,
        /// What the operator should change (a key, a scope, a permission).
        fix: String,
    },
    /// Not checked; why.
    Skipped(String),
}

/// One line of the report: which integration and call was tried, and how it went.
#[derive(Debug, Clone)]
pub struct Check {
    /// `slack auth.test`, `github repository`, …
    pub name: String,
    /// How it went, printed by [`Check::line`].
    pub outcome: Outcome,
}

impl Check {
    fn new(name: &str, outcome: Outcome) -> Self {
        Check {
            name: name.to_string(),
            outcome,
        }
    }

    /// The line printed for it: `ok`, `FAIL` (with its fix) or `skip`, then the name.
    pub fn line(&self) -> String {
        match &self.outcome {
            Outcome::Ok(detail) => format!("ok    {}: {detail}", self.name),
            Outcome::Fail { problem, fix } => format!("FAIL  {}: {problem}. Fix: {fix}", self.name),
            Outcome::Skipped(why) => format!("skip  {}: {why}", self.name),
        }
    }
}

/// Runs every check for the configured integrations.
pub async fn run(config: &Config) -> Vec<Check> {
    let mut checks = vec![store_check(config)];
    checks.extend(slack_checks(config).await);
    checks.push(socket_link_check(config).await);
    checks.push(crowdstrike_check(config).await);
    checks.push(oomnitza_check(config).await);
    checks.push(github_check(config).await);
    checks.extend(pagerduty_checks(config).await);
    checks.push(confluence_check(config).await);
    checks.push(okta_check(config).await);
    checks.push(llm_check(config).await);
    checks.extend(intel_checks(config).await);
    checks
}

/// Whether every check passed or was skipped.
pub fn all_ok(checks: &[Check]) -> bool {
    checks
        .iter()
        .all(|c| !matches!(c.outcome, Outcome::Fail { .. }))
}

fn store_check(config: &Config) -> Check {
    let path = &config.store.path;
    let outcome = match std::fs::create_dir_all(path) {
        Ok(()) => {
            let probe = path.join(".vigil-doctor-probe");
            match std::fs::write(&probe, b"ok") {
                Ok(()) => {
                    let _ = std::fs::remove_file(&probe);
                    Outcome::Ok(format!("{} is writable", path.display()))
                }
                Err(e) => fail(
                    format!("cannot write in {}: {e}", path.display()),
                    "give the vigil user write access to store.path, or point store.path elsewhere",
                ),
            }
        }
        Err(e) => fail(
            format!("cannot create {}: {e}", path.display()),
            "set store.path to a folder vigil may create",
        ),
    };
    Check::new("store", outcome)
}

fn fail(problem: impl Into<String>, fix: impl Into<String>) -> Outcome {
    Outcome::Fail {
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// The advice for a vendor error, by what kind of failure it was.
fn vendor_fail(err: &VendorError, credential: &str, base_url_key: &str) -> Outcome {
    let fix = match err.status() {
        Some(401) | Some(403) => format!("check {credential}: it was refused"),
        Some(404) => format!("check {base_url_key} and that the credential can see the resource"),
        Some(429) => "the vendor is rate limiting; run doctor again in a minute".to_string(),
        Some(_) => {
            "the vendor answered with an error; try again, and check the vendor's status page"
                .to_string()
        }
        None if matches!(err, VendorError::Transport { .. }) => {
            format!("check {base_url_key} and that this machine can reach it")
        }
        None => format!("check {base_url_key} points at the right API"),
    };
    fail(err.to_string(), fix)
}

fn slack_fail(err: &SlackClientError, fix: &str) -> Outcome {
    let problem = match err {
        SlackClientError::ApiError(e) => format!("Slack answered `{}`", e.code),
        other => other.to_string(),
    };
    fail(problem, fix)
}

async fn slack_checks(config: &Config) -> Vec<Check> {
    let slack: Slack = match client::build(&config.slack) {
        Ok(s) => s,
        Err(e) => {
            return vec![Check::new(
                "slack client",
                fail(
                    e.to_string(),
                    "install the system CA certificates (ca-certificates)",
                ),
            )];
        }
    };
    let bot = client::bot_token(&config.slack);
    let session = slack.open_session(&bot);
    let mut checks = vec![];
    let auth = session.auth_test().await;
    checks.push(Check::new(
        "slack auth.test",
        match &auth {
            Ok(a) => Outcome::Ok(format!(
                "bot {} ({}) in team {} ({})",
                a.user.as_deref().unwrap_or("?"),
                a.user_id,
                a.team,
                a.team_id
            )),
            Err(e) => slack_fail(e, "check VIGIL_SLACK_BOT_TOKEN / slack.bot_token_file (an xoxb- token of this app) and slack.base_url"),
        },
    ));
    let app = client::app_token(&config.slack);
    let opened = slack
        .open_session(&app)
        .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
        .await;
    checks.push(Check::new(
        "slack apps.connections.open",
        match opened {
            Ok(_) => Outcome::Ok("the app token can open Socket Mode connections".into()),
            Err(e) => slack_fail(&e, "check VIGIL_SLACK_APP_TOKEN / slack.app_token_file (xapp- with connections:write) and that Socket Mode is enabled for the app"),
        },
    ));
    if auth.is_ok() {
        checks.push(alerts_channel_check(&session, &config.slack.alerts_channel).await);
        if let Some(group) = &config.slack.analyst_usergroup {
            checks.push(usergroup_check(&session, group).await);
        }
    }
    checks
}

/// What a running bot's `/healthz` says about its Socket Mode link. Slack's `link_disabled`
/// (Socket Mode turned off for the app) stops Vigil for good, and only a person can fix it.
async fn socket_link_check(config: &Config) -> Check {
    const NAME: &str = "slack socket mode link";
    crate::tls::init();
    let url = format!("http://{}/healthz", config.server.listen);
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
    {
        Ok(c) => c,
        Err(e) => return Check::new(NAME, Outcome::Skipped(format!("no HTTP client: {e}"))),
    };
    let body: serde_json::Value = match client.get(&url).send().await {
        Ok(resp) => match resp.json().await {
            Ok(v) => v,
            Err(e) => {
                return Check::new(
                    NAME,
                    Outcome::Skipped(format!("{url} did not answer JSON: {e}")),
                );
            }
        },
        Err(_) => {
            return Check::new(
                NAME,
                Outcome::Skipped(format!("no vigil running at {url} to ask")),
            );
        }
    };
    let outcome = match body.get("status").and_then(serde_json::Value::as_str) {
        Some("link_disabled") => fail(
            body.get("reason")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("Slack disabled the app's Socket Mode link")
                .to_string(),
            "in the app's settings (api.slack.com/apps) turn Socket Mode back on, reinstall the app to the workspace if Slack asks, check that VIGIL_SLACK_APP_TOKEN / slack.app_token_file is an xapp- token of this app with connections:write, then restart vigil",
        ),
        Some("ok") => Outcome::Ok(format!(
            "the running vigil has {} live socket(s)",
            body.get("slack_sockets_live")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        )),
        Some(other) => Outcome::Ok(format!("the running vigil reports `{other}`")),
        None => Outcome::Skipped(format!("{url} is not a vigil /healthz")),
    };
    Check::new(NAME, outcome)
}

async fn alerts_channel_check(
    session: &SlackClientSession<'_, SlackClientHyperHttpsConnector>,
    channel: &str,
) -> Check {
    const NAME: &str = "slack alerts channel";
    let req = SlackApiConversationsInfoRequest::new(channel.into());
    let outcome = match session.conversations_info(&req).await {
        Ok(info) if info.channel.flags.is_member == Some(true) => Outcome::Ok(format!(
            "bot is a member of #{}",
            info.channel.name.as_deref().unwrap_or(channel)
        )),
        Ok(_) => fail(
            format!("the bot is not a member of {channel}"),
            format!("invite the bot: /invite @vigil in {channel}"),
        ),
        Err(e) => slack_fail(
            &e,
            "check slack.alerts_channel is a channel id the bot can see",
        ),
    };
    Check::new(NAME, outcome)
}

async fn usergroup_check(
    session: &SlackClientSession<'_, SlackClientHyperHttpsConnector>,
    group: &str,
) -> Check {
    let req = SlackApiUserGroupsUsersListRequest::new(group.into());
    let outcome = match session.usergroups_users_list(&req).await {
        Ok(r) if r.users.is_empty() => fail(
            format!("user group {group} has no members, so nobody could act on cases"),
            "add the analysts to the group, or list them in slack.analyst_users",
        ),
        Ok(r) => Outcome::Ok(format!("{} analysts in {group}", r.users.len())),
        Err(e) => slack_fail(
            &e,
            "check slack.analyst_usergroup (an S… id) and the usergroups:read scope",
        ),
    };
    Check::new("slack analyst group", outcome)
}

async fn crowdstrike_check(config: &Config) -> Check {
    const NAME: &str = "crowdstrike oauth2 token";
    let Some(cfg) = config.crowdstrike.clone() else {
        return Check::new(NAME, Outcome::Skipped("no [crowdstrike] section".into()));
    };
    let outcome = match CrowdStrikeClient::new(cfg) {
        Ok(c) => match c.token().await {
            Ok(_) => Outcome::Ok("client credentials accepted".into()),
            Err(e) => vendor_fail(
                &e,
                "crowdstrike.client_id and VIGIL_CROWDSTRIKE_CLIENT_SECRET / crowdstrike.client_secret_file",
                "crowdstrike.base_url (your cloud's API host)",
            ),
        },
        Err(e) => fail(e.to_string(), "see the error"),
    };
    Check::new(NAME, outcome)
}

async fn oomnitza_check(config: &Config) -> Check {
    const NAME: &str = "oomnitza users";
    let Some(cfg) = config.oomnitza.clone() else {
        return Check::new(NAME, Outcome::Skipped("no [oomnitza] section".into()));
    };
    let outcome = match OomnitzaClient::new(cfg) {
        Ok(c) => match c.users(None, 1).await {
            Ok(_) => Outcome::Ok("token accepted; users readable".into()),
            Err(e) => vendor_fail(
                &e,
                "VIGIL_OOMNITZA_TOKEN / oomnitza.token_file",
                "oomnitza.base_url (https://TENANT.oomnitza.com)",
            ),
        },
        Err(e) => fail(e.to_string(), "see the error"),
    };
    Check::new(NAME, outcome)
}

async fn github_check(config: &Config) -> Check {
    const NAME: &str = "github repository";
    let Some(cfg) = config.github.clone() else {
        return Check::new(NAME, Outcome::Skipped("no [github] section".into()));
    };
    let repo = cfg.repo.clone();
    let outcome = match GitHubClient::new(cfg) {
        Ok(c) => match c.repository().await {
            Ok(r) if !r.has_issues => fail(
                format!("issues are turned off in {}", r.full_name),
                "turn on Issues in the repository settings",
            ),
            Ok(r) if r.permissions.as_ref().is_some_and(|p| !p.push && !p.triage) => fail(
                format!("the token can read {} but not write issues", r.full_name),
                "give the token Issues: read and write on the repository",
            ),
            Ok(r) => Outcome::Ok(format!("{} reachable, issues on", r.full_name)),
            Err(e) => vendor_fail(
                &e,
                &format!(
                    "VIGIL_GITHUB_TOKEN / github.token_file (needs Issues read/write on {repo})"
                ),
                "github.base_url and github.repo",
            ),
        },
        Err(e) => fail(e.to_string(), "see the error"),
    };
    Check::new(NAME, outcome)
}

async fn pagerduty_checks(config: &Config) -> Vec<Check> {
    let Some(cfg) = config.pagerduty.clone() else {
        return vec![Check::new(
            "pagerduty",
            Outcome::Skipped("no [pagerduty] section".into()),
        )];
    };
    let mut checks = vec![Check::new(
        "pagerduty routing key",
        Outcome::Ok("32-character integration key present (the Events API has no dry run)".into()),
    )];
    let client = match PagerDutyClient::new(cfg) {
        Ok(c) => c,
        Err(e) => {
            checks.push(Check::new(
                "pagerduty incidents",
                fail(e.to_string(), "see the error"),
            ));
            return checks;
        }
    };
    let outcome = if !client.can_read() {
        Outcome::Skipped("no pagerduty.api_token; incidents cannot be read back".into())
    } else {
        match client.incidents(1, 0).await {
            Ok(_) => Outcome::Ok("REST token accepted; incidents readable".into()),
            Err(e) => vendor_fail(
                &e,
                "VIGIL_PAGERDUTY_API_TOKEN / pagerduty.api_token_file",
                "pagerduty.api_base_url",
            ),
        }
    };
    checks.push(Check::new("pagerduty incidents", outcome));
    checks
}

async fn confluence_check(config: &Config) -> Check {
    const NAME: &str = "confluence search";
    let Some(cfg) = config.confluence.clone() else {
        return Check::new(NAME, Outcome::Skipped("no [confluence] section".into()));
    };
    let space = cfg.space.clone();
    let outcome = match ConfluenceClient::new(cfg) {
        Ok(c) => match c.search_page(&cql::in_space(&space), 1, 0).await {
            Ok(page) if page.results.is_empty() => fail(
                format!("the account sees no pages in space {space}"),
                "check confluence.space (the space key) and that the account may read that space",
            ),
            Ok(page) => Outcome::Ok(format!(
                "credentials accepted; {} page(s) in space {space}",
                page.total_size.unwrap_or(page.size)
            )),
            Err(e) => vendor_fail(
                &e,
                "confluence.email and VIGIL_CONFLUENCE_API_TOKEN / confluence.api_token_file (an API token of that account)",
                "confluence.base_url (https://SITE.atlassian.net)",
            ),
        },
        Err(e) => fail(e.to_string(), "see the error"),
    };
    Check::new(NAME, outcome)
}

async fn okta_check(config: &Config) -> Check {
    const NAME: &str = "okta users";
    let Some(cfg) = config.okta.clone() else {
        return Check::new(NAME, Outcome::Skipped("no [okta] section".into()));
    };
    let outcome = match OktaClient::new(cfg) {
        Ok(c) => match c.list_users(1).await {
            Ok(_) => Outcome::Ok("API token accepted; users readable".into()),
            Err(e) => vendor_fail(
                &e,
                "VIGIL_OKTA_API_TOKEN / okta.api_token_file (an Okta API token)",
                "okta.base_url (https://ORG.okta.com)",
            ),
        },
        Err(e) => fail(e.to_string(), "see the error"),
    };
    Check::new(NAME, outcome)
}

async fn llm_check(config: &Config) -> Check {
    const NAME: &str = "llm models";
    let Some(cfg) = config.llm.clone() else {
        return Check::new(NAME, Outcome::Skipped("no [llm] section".into()));
    };
    let outcome = match LlmClient::new(cfg) {
        Ok(c) => match c.models().await {
            Ok(models) if models.iter().any(|m| m == c.model()) => {
                Outcome::Ok(format!("key accepted; model {} is served", c.model()))
            }
            Ok(models) => fail(
                format!(
                    "the endpoint does not serve model {} (it serves: {})",
                    c.model(),
                    if models.is_empty() {
                        "none".to_string()
                    } else {
                        models.join(", ")
                    }
                ),
                "set llm.model to one of the models the endpoint serves",
            ),
            Err(e) => vendor_fail(
                &e,
                "VIGIL_LLM_API_KEY / llm.api_key_file (the endpoint's API key)",
                "llm.base_url (the API base with its version, e.g. https://api.openai.com/v1)",
            ),
        },
        Err(e) => fail(e.to_string(), "see the error"),
    };
    Check::new(NAME, outcome)
}

// ------------------------------------------------------------------ threat intelligence
// One check per configured intel vendor, each a single cheap authenticated call that the
// vendor (and the sandbox) answers for any valid key. Doctor makes one attempt: a person is
// waiting, and a retry would only spend scarce quota (VirusTotal's 4 a minute).

/// The indicator the VirusTotal and AbuseIPDB checks look up: every service knows it.
const DOCTOR_IP: &str = "8.8.8.8";

async fn intel_checks(config: &Config) -> Vec<Check> {
    vec![
        virustotal_check(config).await,
        abuseipdb_check(config).await,
        emailrep_check(config).await,
        urlscan_check(config).await,
        tavily_check(config).await,
    ]
}

/// Like [`vendor_fail`], but a 400 about the key (urlscan's "Invalid API key format") is a
/// credential problem too.
fn intel_fail(err: &VendorError, credential: &str, base_url_key: &str) -> Outcome {
    let about_key =
        err.status() == Some(400) && err.to_string().to_ascii_lowercase().contains("api key");
    if about_key {
        return fail(
            err.to_string(),
            format!("check {credential}: it was refused"),
        );
    }
    vendor_fail(err, credential, base_url_key)
}

async fn virustotal_check(config: &Config) -> Check {
    const NAME: &str = "virustotal ip lookup";
    const KEY: &str = "VIGIL_VIRUSTOTAL_API_KEY / virustotal.api_key_file";
    const URL: &str = "virustotal.base_url (https://www.virustotal.com)";
    let Some(cfg) = config.virustotal.clone() else {
        return Check::new(NAME, Outcome::Skipped("no [virustotal] section".into()));
    };
    let outcome = match VirusTotalClient::new(cfg) {
        Ok(c) => match c
            .with_retry_policy(RetryPolicy::no_retry())
            .ip_address(DOCTOR_IP)
            .await
        {
            Ok(Lookup::Found(r)) => Outcome::Ok(format!(
                "key accepted; {DOCTOR_IP}: {} of {} engines malicious",
                r.stats.malicious,
                r.stats.engines()
            )),
            Ok(_) => fail(
                format!("VirusTotal has no report for {DOCTOR_IP}, which it always has"),
                format!("check {URL} points at the API host"),
            ),
            Err(e) => intel_fail(&e, KEY, URL),
        },
        Err(e) => fail(e.to_string(), "see the error"),
    };
    Check::new(NAME, outcome)
}

async fn abuseipdb_check(config: &Config) -> Check {
    const NAME: &str = "abuseipdb check";
    let Some(cfg) = config.abuseipdb.clone() else {
        return Check::new(NAME, Outcome::Skipped("no [abuseipdb] section".into()));
    };
    let outcome = match AbuseIpDbClient::new(cfg) {
        Ok(c) => match c
            .with_retry_policy(RetryPolicy::no_retry())
            .check(DOCTOR_IP)
            .await
        {
            Ok(r) => Outcome::Ok(format!(
                "key accepted; {DOCTOR_IP} has abuse confidence {}",
                r.abuse_confidence_score
            )),
            Err(e) => intel_fail(
                &e,
                "VIGIL_ABUSEIPDB_API_KEY / abuseipdb.api_key_file (an APIv2 key)",
                "abuseipdb.base_url (https://api.abuseipdb.com)",
            ),
        },
        Err(e) => fail(e.to_string(), "see the error"),
    };
    Check::new(NAME, outcome)
}

async fn emailrep_check(config: &Config) -> Check {
    const NAME: &str = "emailrep query";
    /// The address EmailRep's own documentation queries.
    const ADDRESS: &str = "bill@microsoft.com";
    let Some(cfg) = config.emailrep.clone() else {
        return Check::new(NAME, Outcome::Skipped("no [emailrep] section".into()));
    };
    let outcome = match EmailRepClient::new(cfg) {
        Ok(c) => match c
            .with_retry_policy(RetryPolicy::no_retry())
            .query(ADDRESS)
            .await
        {
            Ok(r) => Outcome::Ok(format!(
                "key accepted; {ADDRESS}: {:?} reputation",
                r.reputation
            )),
            Err(e) => intel_fail(
                &e,
                "VIGIL_EMAILREP_API_KEY / emailrep.api_key_file",
                "emailrep.base_url (https://emailrep.io)",
            ),
        },
        Err(e) => fail(e.to_string(), "see the error"),
    };
    Check::new(NAME, outcome)
}

async fn urlscan_check(config: &Config) -> Check {
    const NAME: &str = "urlscan result api";
    /// A scan id nobody has: the key is checked, no scan is spent, and 404 means "accepted".
    const NO_SCAN: &str = "00000000-0000-4000-8000-000000000000";
    let Some(cfg) = config.urlscan.clone() else {
        return Check::new(NAME, Outcome::Skipped("no [urlscan] section".into()));
    };
    let outcome = match UrlscanClient::new(cfg) {
        Ok(c) => match c
            .with_retry_policy(RetryPolicy::no_retry())
            .result(NO_SCAN)
            .await
        {
            Ok(_) => Outcome::Ok("key accepted by the result API (no scan submitted)".into()),
            Err(e) => intel_fail(
                &e,
                "VIGIL_URLSCAN_API_KEY / urlscan.api_key_file (a UUID from Settings & API)",
                "urlscan.base_url (https://urlscan.io)",
            ),
        },
        Err(e) => fail(e.to_string(), "see the error"),
    };
    Check::new(NAME, outcome)
}

async fn tavily_check(config: &Config) -> Check {
    const NAME: &str = "tavily search";
    let Some(cfg) = config.tavily.clone() else {
        return Check::new(NAME, Outcome::Skipped("no [tavily] section".into()));
    };
    let outcome = match TavilyClient::new(cfg) {
        Ok(c) => match c
            .with_retry_policy(RetryPolicy::no_retry())
            .search_n("vigil doctor connectivity check", 1)
            .await
        {
            Ok(r) => Outcome::Ok(format!(
                "key accepted; a search answered {} result(s)",
                r.results.len()
            )),
            Err(e) => intel_fail(
                &e,
                "VIGIL_TAVILY_API_KEY / tavily.api_key_file (tvly-…)",
                "tavily.base_url (https://api.tavily.com)",
            ),
        },
        Err(e) => fail(e.to_string(), "see the error"),
    };
    Check::new(NAME, outcome)
}
