//! Plain HTTP to the sandbox: its control API (seeding, faults, pushes, recorded requests) and
//! the Slack Web API with the bot token, the way the demo reads results back.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The five vendors Vigil calls in flow 1; each gets the injected latency.
pub const SERVICES: [&str; 5] = ["slack", "crowdstrike", "oomnitza", "github", "pagerduty"];

/// A client for one running sandbox.
pub struct Control {
    http: reqwest::Client,
    base: String,
    bot_token: String,
}

/// One vendor request the sandbox recorded (`GET /_sandbox/requests`).
#[derive(Debug, Clone)]
pub struct Call {
    /// Sequence number (given when the answer was recorded, so `since=` pages forward).
    pub seq: u64,
    /// When the request arrived, before any injected delay.
    pub at: DateTime<Utc>,
    /// `slack`, `github`, …
    pub service: String,
    /// HTTP method.
    pub method: String,
    /// Path after the service prefix, with the query string.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// What was sent.
    pub body: Value,
    /// What was answered.
    pub response: Value,
}

impl Call {
    /// Parses one recorded request; `None` when a field the bench relies on is missing.
    fn from_json(v: &Value) -> Option<Call> {
        let at = DateTime::parse_from_rfc3339(v.get("time")?.as_str()?).ok()?;
        Some(Call {
            seq: v.get("seq")?.as_u64()?,
            at: at.with_timezone(&Utc),
            service: v.get("service")?.as_str()?.to_string(),
            method: v.get("method")?.as_str()?.to_string(),
            path: v.get("path")?.as_str()?.to_string(),
            status: u16::try_from(v.get("status")?.as_u64()?).ok()?,
            body: v.get("body").cloned().unwrap_or(Value::Null),
            response: v.get("response").cloned().unwrap_or(Value::Null),
        })
    }

    /// The path without its query string.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or(&self.path)
    }
}

impl Control {
    /// A client for the sandbox at `base` (`http://127.0.0.1:PORT`) with the bot's token.
    pub fn new(base: String, bot_token: String) -> anyhow::Result<Control> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the bench's HTTP client: {e}"))?;
        Ok(Control {
            http,
            base,
            bot_token,
        })
    }

    /// `POST path` with a JSON body; an error names the call, the status and the answer.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("POST {path}: sandbox unreachable: {e}"))?;
        read(resp, "POST", path).await
    }

    /// `GET path`; an error names the call, the status and the answer.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("GET {path}: sandbox unreachable: {e}"))?;
        read(resp, "GET", path).await
    }

    /// A Slack Web API call with the bot token; an error when Slack answers `ok: false`.
    pub async fn slack(&self, method: &str, args: &[(&str, &str)]) -> anyhow::Result<Value> {
        let path = format!("/slack/api/{method}");
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.bot_token)
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

    /// Makes every request to `service` wait `latency_ms` before it is answered, until removed
    /// (a delay-only fault on `/**`).
    pub async fn add_latency(&self, service: &str, latency_ms: u64) -> anyhow::Result<()> {
        self.post(
            "/_sandbox/faults",
            &json!({"service": service, "path": "/**", "delay_ms": latency_ms, "times": 0}),
        )
        .await
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("adding {latency_ms} ms of latency to {service}: {e}"))
    }

    /// Recorded requests with `seq > since` (of one service, or all), oldest first.
    pub async fn calls(&self, service: Option<&str>, since: u64) -> anyhow::Result<Vec<Call>> {
        let path = match service {
            Some(s) => format!("/_sandbox/requests?service={s}&since={since}"),
            None => format!("/_sandbox/requests?since={since}"),
        };
        let v = self.get(&path).await?;
        let Some(list) = v.get("requests").and_then(Value::as_array) else {
            anyhow::bail!("GET {path}: the answer has no `requests` list");
        };
        Ok(list.iter().filter_map(Call::from_json).collect())
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

/// A Slack `ts` (`"1712345678.123456"`) as a moment; `None` if it is not one.
pub fn slack_ts(ts: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(6).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let micros: u32 = format!("{digits:0<6}").parse().ok()?;
    DateTime::from_timestamp(secs, micros.checked_mul(1000)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_ts_keeps_microseconds() {
        let t = slack_ts("1712345678.123456");
        assert_eq!(t.map(|t| t.timestamp()), Some(1_712_345_678));
        assert_eq!(t.map(|t| t.timestamp_subsec_micros()), Some(123_456));
        assert_eq!(
            slack_ts("1712345678.5").map(|t| t.timestamp_subsec_micros()),
            Some(500_000)
        );
        assert_eq!(
            slack_ts("1712345678").map(|t| t.timestamp()),
            Some(1_712_345_678)
        );
        assert!(slack_ts("abc.123").is_none());
        assert!(slack_ts("1.x").is_none());
    }

    #[test]
    fn recorded_requests_parse_and_incomplete_ones_are_skipped() {
        let v = json!({"seq": 3, "time": "2025-01-02T03:04:05.678Z", "service": "slack",
            "method": "POST", "path": "/api/chat.postMessage?x=1", "status": 200,
            "body": {"channel": "C1"}, "response": {"ok": true}});
        let call = Call::from_json(&v);
        assert_eq!(
            call.as_ref().map(Call::route),
            Some("/api/chat.postMessage")
        );
        assert_eq!(call.map(|c| c.at.timestamp_subsec_millis()), Some(678));
        assert!(Call::from_json(&json!({"seq": 1})).is_none());
    }
}
