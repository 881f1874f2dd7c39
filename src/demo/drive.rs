//! Driving the sandbox from the demo: every control and vendor call goes through the one
//! [`vigil_sandbox::client::SandboxClient`], plus the wait-and-check loop each verdict uses.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::text::*;
use super::{Check, Demo, WAIT};

impl Demo {
    /// The highest recorded request sequence number so far.
    pub(super) async fn last_seq(&self) -> u64 {
        self.client
            .requests(None, 0)
            .await
            .ok()
            .and_then(|r| r.last().map(|r| r.seq))
            .unwrap_or(0)
    }

    /// Prints what each vendor received since `since`: the writes Vigil made (reads, polls and
    /// the demo's own look-ups are left out).
    pub(super) async fn print_vendor_log(&self, since: u64) {
        let Ok(recorded) = self.client.requests(None, since).await else {
            return;
        };
        let lines: Vec<String> = recorded.iter().filter_map(vendor_line).collect();
        if lines.is_empty() {
            return;
        }
        println!("Vendors received:");
        for l in lines {
            println!("    {l}");
        }
    }

    pub(super) async fn wait<F, Fut>(&self, name: &str, f: F) -> bool
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<bool>>,
    {
        let started = Instant::now();
        let mut last_err = String::new();
        while started.elapsed() < WAIT {
            match f().await {
                Ok(true) => {
                    self.check(
                        name,
                        true,
                        &format!("after {} ms", started.elapsed().as_millis()),
                    );
                    return true;
                }
                Ok(false) => {}
                Err(e) => last_err = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.check(
            name,
            false,
            &format!("not seen within {} s {last_err}", WAIT.as_secs()),
        );
        false
    }

    pub(super) fn check(&self, name: &str, ok: bool, detail: &str) {
        self.checks.borrow_mut().push(Check {
            name: name.to_string(),
            ok,
            detail: detail.to_string(),
        });
    }

    pub(super) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.client.get(path).await
    }

    /// A control call whose answer the scene reads; a failure reads as `null` (the step that
    /// needed it then fails its own check, with its own name).
    pub(super) async fn post(&self, path: &str, body: Value) -> Value {
        self.client.post(path, &body).await.unwrap_or(Value::Null)
    }

    pub(super) async fn slack(&self, method: &str, args: &[(&str, &str)]) -> anyhow::Result<Value> {
        self.client.slack(method, args).await
    }

    pub(super) async fn github(&self, path: &str) -> anyhow::Result<Value> {
        let token = self.creds["github"]["token"].as_str().unwrap_or("");
        let repo = self.creds["github"]["repo"].as_str().unwrap_or("");
        Ok(self
            .http
            .get(format!("{}/github/repos/{repo}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?)
    }

    pub(super) async fn inject(&self, alert: Value) -> String {
        let v = self.post("/_sandbox/crowdstrike/alerts", alert).await;
        v["composite_id"].as_str().unwrap_or("").to_string()
    }

    pub(super) async fn command(&self, user: &str, channel: &str, text: &str) -> Value {
        self.post(
            "/_sandbox/slack/command",
            json!({"user": user, "channel": channel, "command": "/triage", "text": text}),
        )
        .await
    }

    pub(super) async fn click(
        &self,
        user: &str,
        channel: &str,
        ts: &str,
        action_id: &str,
    ) -> Value {
        self.post(
            "/_sandbox/slack/click",
            json!({"user": user, "channel": channel, "ts": ts, "action_id": action_id}),
        )
        .await
    }
}
