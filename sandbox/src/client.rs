//! The one typed client of a running sandbox: its control API (seeding, pushes, faults,
//! recorded requests) and the Slack Web API with the bot's token. The demo, the bench and the
//! integration tests all talk to the sandbox through it, so there is one reading of each answer
//! (recorded requests are [`Recorded`], the type the sandbox writes them with).
//!
//! Every error names the call, the status and what came back. The caller installs a TLS
//! provider if its `reqwest` needs one (the sandbox itself is plain HTTP).

use std::time::Duration;

use serde_json::{Value, json};

use crate::record::Recorded;

/// A client for one sandbox at `base` (`http://127.0.0.1:PORT`).
#[derive(Debug, Clone)]
pub struct SandboxClient {
    http: reqwest::Client,
    base: String,
    bot_token: Option<String>,
}

impl SandboxClient {
    /// A client with bounded timeouts and a pool large enough for a benchmark's concurrency.
    pub fn new(base: impl Into<String>) -> anyhow::Result<SandboxClient> {
        // reqwest is built with `rustls-no-provider` (crates.md §4.3): without a process
        // default provider, building a client panics. Err means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the sandbox client: {e}"))?;
        Ok(SandboxClient::with_http(http, base))
    }

    /// A client over an existing `reqwest` client (its timeouts and user agent are kept).
    pub fn with_http(http: reqwest::Client, base: impl Into<String>) -> SandboxClient {
        SandboxClient {
            http,
            base: base.into().trim_end_matches('/').to_string(),
            bot_token: None,
        }
    }

    /// The Slack bot token [`SandboxClient::slack`] calls with.
    pub fn with_bot_token(mut self, token: impl Into<String>) -> SandboxClient {
        self.bot_token = Some(token.into());
        self
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `{base}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`, a JSON answer; a non-2xx status is an error.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let resp = self
            .http
            .get(self.url(path))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("GET {path}: sandbox unreachable: {e}"))?;
        read(resp, "GET", path).await
    }

    /// `POST path` with a JSON body, a JSON answer; a non-2xx status is an error.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let resp = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("POST {path}: sandbox unreachable: {e}"))?;
        read(resp, "POST", path).await
    }

    /// `POST /_sandbox{path}`: one control call (`/slack/command`, `/faults`, …).
    pub async fn control(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.post(&format!("/_sandbox{path}"), body).await
    }

    /// `POST /_sandbox{path}` answered with its status, whatever it is: for callers that check
    /// refusals (a 400 for a bad fault, a 404 for an unknown user) as well as successes.
    pub async fn control_answer(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let path = format!("/_sandbox{path}");
        let resp = self
            .http
            .post(self.url(&path))
            .json(body)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("POST {path}: sandbox unreachable: {e}"))?;
        let status = resp.status().as_u16();
        let v = resp
            .json()
            .await
            .map_err(|e| anyhow::anyhow!("POST {path}: HTTP {status}, answer is not JSON: {e}"))?;
        Ok((status, v))
    }

    /// `GET /_sandbox/credentials`: the secrets every simulator accepts.
    pub async fn credentials(&self) -> anyhow::Result<Value> {
        self.get("/_sandbox/credentials").await
    }

    /// `GET /_sandbox/seed`: the data every reset goes back to.
    pub async fn seed(&self) -> anyhow::Result<Value> {
        self.get("/_sandbox/seed").await
    }

    /// Recorded requests with `seq > since` (of one service, or all), oldest first.
    pub async fn requests(
        &self,
        service: Option<&str>,
        since: u64,
    ) -> anyhow::Result<Vec<Recorded>> {
        let path = match service {
            Some(s) => format!("/_sandbox/requests?service={s}&since={since}"),
            None => format!("/_sandbox/requests?since={since}"),
        };
        let mut v = self.get(&path).await?;
        let list = v
            .get_mut("requests")
            .map(Value::take)
            .ok_or_else(|| anyhow::anyhow!("GET {path}: the answer has no `requests` list"))?;
        serde_json::from_value(list)
            .map_err(|e| anyhow::anyhow!("GET {path}: a recorded request does not parse: {e}"))
    }

    /// Makes every request to `service` wait `latency_ms` before it is answered, until the
    /// faults are cleared (a delay-only fault on `/**`).
    pub async fn add_latency(&self, service: &str, latency_ms: u64) -> anyhow::Result<()> {
        self.control(
            "/faults",
            &json!({"service": service, "path": "/**", "delay_ms": latency_ms, "times": 0}),
        )
        .await
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("adding {latency_ms} ms of latency to {service}: {e}"))
    }

    /// A Slack Web API call with the bot token; an error when Slack answers `ok: false`.
    pub async fn slack(&self, method: &str, args: &[(&str, &str)]) -> anyhow::Result<Value> {
        let path = format!("/slack/api/{method}");
        let token = self
            .bot_token
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("slack {method}: no bot token given"))?;
        let resp = self
            .http
            .post(self.url(&path))
            .bearer_auth(token)
            .form(args)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("slack {method}: sandbox unreachable: {e}"))?;
        let v = read(resp, "POST", &path).await?;
        if v.get("ok") != Some(&Value::Bool(true)) {
            anyhow::bail!(
                "slack {method}: answered {}",
                v.get("error").unwrap_or(&Value::Null)
            );
        }
        Ok(v)
    }
}

/// Reads a JSON answer, turning a non-2xx status into an error that says what came back.
async fn read(resp: reqwest::Response, method: &str, path: &str) -> anyhow::Result<Value> {
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| anyhow::anyhow!("{method} {path}: HTTP {status}, body unreadable: {e}"))?;
    if !status.is_success() {
        let short: String = text.chars().take(300).collect();
        anyhow::bail!("{method} {path}: HTTP {status}: {short}");
    }
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{method} {path}: HTTP {status}, answer is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_control_answers_recorded_requests_and_slack() {
        let running = crate::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let creds = serde_json::to_value(&running.sandbox.credentials).unwrap();
        let token = creds["slack"]["bot_token"].as_str().unwrap().to_string();
        let client = SandboxClient::new(running.base_url())
            .unwrap()
            .with_bot_token(token);
        assert_eq!(client.credentials().await.unwrap(), creds);
        let auth = client.slack("auth.test", &[]).await.unwrap();
        assert_eq!(auth["ok"], true);
        let calls = client.requests(Some("slack"), 0).await.unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].route(), "/api/auth.test");
        assert!(client.requests(Some("github"), 0).await.unwrap().is_empty());
        let missing = client.get("/_sandbox/nope").await.unwrap_err().to_string();
        assert!(missing.contains("HTTP 404"), "{missing}");
        let (status, answer) = client
            .control_answer("/settings", &json!({"no_such_knob": 1}))
            .await
            .unwrap();
        assert_eq!(status, 400, "{answer}");
        assert!(
            client
                .control("/settings", &json!({"no_such_knob": 1}))
                .await
                .is_err()
        );
        let refused = SandboxClient::new(running.base_url())
            .unwrap()
            .slack("auth.test", &[])
            .await;
        assert!(refused.is_err());
        running.shutdown().await;
    }
}
