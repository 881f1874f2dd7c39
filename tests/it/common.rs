//! Shared test helpers: a sandbox on a random loopback port and a plain HTTP client.

#![allow(dead_code)]

use serde_json::{Value, json};
use vigil_sandbox::client::SandboxClient;
use vigil_sandbox::{self as sandbox, RunningSandbox};

/// A running sandbox plus what tests usually need from it.
pub struct TestSandbox {
    /// The server.
    pub running: RunningSandbox,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `GET /_sandbox/credentials`.
    pub creds: Value,
    /// `GET /_sandbox/seed`.
    pub seed: Value,
    /// A plain client (no vendor logic), for the vendor APIs.
    pub http: reqwest::Client,
    /// The sandbox's control API, over `http`.
    pub client: SandboxClient,
}

/// Starts a fresh sandbox on 127.0.0.1:0.
pub async fn sandbox() -> TestSandbox {
    let running = sandbox::start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sandbox starts");
    let base = running.base_url();
    let http = client();
    let control = SandboxClient::with_http(http.clone(), base.clone());
    let creds = control.credentials().await.expect("credentials");
    let seed = control.seed().await.expect("seed");
    TestSandbox {
        running,
        base,
        creds,
        seed,
        http,
        client: control,
    }
}

/// A reqwest client with the TLS provider installed.
pub fn client() -> reqwest::Client {
    vigil::tls::init();
    reqwest::Client::builder()
        .user_agent("vigil-tests")
        .build()
        .expect("client")
}

/// GET a URL and parse JSON.
pub async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    http.get(url)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

impl TestSandbox {
    /// `{base}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POST JSON to the control API and parse the answer (a non-2xx answer is returned as
    /// it came, for tests that check refusals).
    pub async fn control(&self, path: &str, body: Value) -> Value {
        self.client
            .control_answer(path, &body)
            .await
            .expect("control request")
            .1
    }

    /// Recorded requests for a service, as the control API answers them.
    pub async fn requests(&self, service: &str) -> Vec<Value> {
        self.client
            .requests(Some(service), 0)
            .await
            .expect("recorded requests")
            .iter()
            .map(|r| serde_json::to_value(r).expect("recorded request serializes"))
            .collect()
    }
}

/// A bot running in-process against a test sandbox, with its config folder.
pub struct Bot {
    /// The running bot.
    pub running: vigil::run::Running,
    /// Its HTTP server (`/healthz`, `/metrics`, `/v1/alerts`).
    pub listen: std::net::SocketAddr,
    /// The folder of its config, secrets and store.
    pub dir: tempfile::TempDir,
}

/// Writes a config for `ts` into `dir` the way `vigil sandbox --write-config` does.
pub fn write_config(ts: &TestSandbox, dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("vigil.toml");
    vigil::sandbox_config::write(&path, &ts.running.served()).expect("config written");
    path
}

/// Starts the bot against `ts` and waits for both Socket Mode connections.
pub async fn start_bot(ts: &TestSandbox) -> Bot {
    start_bot_with(ts, |text| text).await
}

/// [`start_bot`] with the written config changed by `edit` first (a section dropped, a
/// setting pointed elsewhere), for tests of what a setting changes.
pub async fn start_bot_with(ts: &TestSandbox, edit: impl FnOnce(String) -> String) -> Bot {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(ts, dir.path());
    let text = std::fs::read_to_string(&path).expect("config read");
    std::fs::write(&path, edit(text)).expect("config rewritten");
    let config = vigil::config::Config::load(&path).expect("written config loads unchanged");
    let running = vigil::run::start(&config).await.expect("bot starts");
    wait_for_connections(ts, 2).await;
    Bot {
        running,
        listen: config.server.listen,
        dir,
    }
}

/// `text` without its `[name]` section (up to the next section header or the end).
pub fn drop_section(text: &str, name: &str) -> String {
    let header = format!("[{name}]");
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            skipping = trimmed == header;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(out.len() < text.len(), "the config has a [{name}] section");
    out
}

/// Waits until `n` Socket Mode connections are open.
pub async fn wait_for_connections(ts: &TestSandbox, n: usize) {
    let started = std::time::Instant::now();
    while ts.running.sandbox.slack.socket.connections() < n {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "only {} of {n} sockets connected",
            ts.running.sandbox.slack.socket.connections()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

impl TestSandbox {
    /// A Slack Web API call with the bot token, as a person's client would read Slack.
    pub async fn slack(&self, method: &str, args: &[(&str, &str)]) -> Value {
        let token = self.creds["slack"]["bot_token"]
            .as_str()
            .unwrap_or_default();
        self.http
            .post(self.url(&format!("/slack/api/{method}")))
            .bearer_auth(token)
            .form(args)
            .send()
            .await
            .expect("slack")
            .json()
            .await
            .expect("json")
    }

    /// Every issue of the case repository, through GitHub's REST API.
    pub async fn issues(&self) -> Vec<Value> {
        self.github_list("issues?state=all&per_page=100").await
    }

    /// A JSON array that GitHub lists under the case repository (`path` after
    /// `/repos/{owner}/{name}/`), read with the sandbox's GitHub token.
    async fn github_list(&self, path: &str) -> Vec<Value> {
        let token = self.creds["github"]["token"].as_str().unwrap_or_default();
        let repo = self.creds["github"]["repo"].as_str().unwrap_or_default();
        self.http
            .get(self.url(&format!("/github/repos/{repo}/{path}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("github")
            .json::<Value>()
            .await
            .expect("json")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Every PagerDuty incident, through the REST API.
    pub async fn incidents(&self) -> Vec<Value> {
        let token = self.creds["pagerduty"]["api_token"]
            .as_str()
            .unwrap_or_default();
        let v: Value = self
            .http
            .get(self.url("/pagerduty/api/incidents?limit=100"))
            .header("authorization", format!("Token token={token}"))
            .send()
            .await
            .expect("pagerduty")
            .json()
            .await
            .expect("json");
        v["incidents"].as_array().cloned().unwrap_or_default()
    }
}

/// A seeded analyst (in `slack.analyst_users`).
pub const ANA: &str = "U0ANA00001";

/// The alerts channel of the seed.
pub const ALERTS: &str = "C0ALERTS01";

impl TestSandbox {
    /// Top-level messages of `channel` that carry Vigil's metadata of this `kind` (`card`,
    /// `dm`), newest first, read through `conversations.history`.
    pub async fn tagged(&self, channel: &str, kind: &str) -> Vec<Value> {
        let v = self
            .slack(
                "conversations.history",
                &[
                    ("channel", channel),
                    ("include_all_metadata", "true"),
                    ("limit", "200"),
                ],
            )
            .await;
        v["messages"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|m| m["metadata"]["event_payload"]["kind"] == serde_json::json!(kind))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The card of `case` in the alerts channel.
    pub async fn card_of(&self, case: &str) -> Option<Value> {
        self.tagged(ALERTS, "card")
            .await
            .into_iter()
            .find(|m| m["metadata"]["event_payload"]["case_id"] == serde_json::json!(case))
    }

    /// The replies of a thread, without its parent message, oldest first.
    pub async fn replies(&self, channel: &str, ts: &str) -> Vec<Value> {
        let v = self
            .slack("conversations.replies", &[("channel", channel), ("ts", ts)])
            .await;
        v["messages"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|m| m["ts"].as_str() != Some(ts))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The comments of issue `number` of the case repository, through GitHub's REST API.
    pub async fn issue_comments(&self, number: u64) -> Vec<Value> {
        self.github_list(&format!("issues/{number}/comments?per_page=100"))
            .await
    }

    /// `GET /_sandbox/slack/sockets`: open sockets and the last deliveries with their
    /// `retry_attempt`, connection and ack.
    pub async fn sockets(&self) -> Value {
        get_json(&self.http, &self.url("/_sandbox/slack/sockets")).await
    }

    /// What an analyst sees with `/triage show CASE` (the case's timeline among it).
    pub async fn show(&self, case: &str) -> String {
        let v = self
            .control(
                "/slack/command",
                serde_json::json!({"user": ANA, "channel": ALERTS, "command": "/triage", "text": format!("show {case}")}),
            )
            .await;
        v["response"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Polls `f` every 100 ms until it answers `Some`, for at most 30 s (then fails naming `what`):
/// how tests wait for an effect that shows up after the ack.
pub async fn until<F, Fut, T>(what: &str, f: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    until_within(std::time::Duration::from_secs(30), what, f).await
}

/// [`until`] with its own time limit, for scenarios that wait on vendors' rate limits.
pub async fn until_within<F, Fut, T>(limit: std::time::Duration, what: &str, f: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// `/triage` as Ana; the text of the ephemeral answer in the ack.
pub async fn triage_text(ts: &TestSandbox, text: &str) -> String {
    let v = ts
        .control(
            "/slack/command",
            json!({"user": ANA, "channel": ALERTS, "command": "/triage", "text": text}),
        )
        .await;
    v["response"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
