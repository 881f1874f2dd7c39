//! Shared test helpers: a sandbox on a random loopback port and a plain HTTP client.

#![allow(dead_code)]

use serde_json::Value;
use vigil::sandbox::{self, RunningSandbox};

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
    /// A plain client (no vendor logic).
    pub http: reqwest::Client,
}

/// Starts a fresh sandbox on 127.0.0.1:0.
pub async fn sandbox() -> TestSandbox {
    let running = sandbox::start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sandbox starts");
    let base = running.base_url();
    let http = client();
    let creds = get_json(&http, &format!("{base}/_sandbox/credentials")).await;
    let seed = get_json(&http, &format!("{base}/_sandbox/seed")).await;
    TestSandbox {
        running,
        base,
        creds,
        seed,
        http,
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

    /// POST JSON to the control API and parse the answer.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        self.http
            .post(self.url(&format!("/_sandbox{path}")))
            .json(&body)
            .send()
            .await
            .expect("control request")
            .json()
            .await
            .expect("control json")
    }

    /// Recorded requests for a service.
    pub async fn requests(&self, service: &str) -> Vec<Value> {
        let v = get_json(
            &self.http,
            &self.url(&format!("/_sandbox/requests?service={service}")),
        )
        .await;
        v["requests"].as_array().cloned().unwrap_or_default()
    }
}
