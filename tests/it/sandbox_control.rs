//! The control API (SPEC §7.2–7.5): credentials, seed, settings, recording, faults, limits, reset.

use serde_json::{Value, json};

use crate::common::{get_json, sandbox};

#[tokio::test]
async fn credentials_have_every_key_as_strings() {
    let ts = sandbox().await;
    let want: &[(&str, &[&str])] = &[
        (
            "slack",
            &[
                "bot_token",
                "app_token",
                "team_id",
                "app_id",
                "bot_user_id",
                "bot_id",
            ],
        ),
        ("crowdstrike", &["client_id", "client_secret"]),
        ("oomnitza", &["token"]),
        ("github", &["token", "repo"]),
        ("pagerduty", &["routing_key", "api_token"]),
    ];
    for (vendor, keys) in want {
        for k in *keys {
            assert!(
                ts.creds[vendor][k].is_string(),
                "{vendor}.{k} in {}",
                ts.creds
            );
        }
    }
    assert_eq!(
        ts.creds["pagerduty"]["routing_key"].as_str().map(str::len),
        Some(32)
    );
    assert!(
        ts.creds["slack"]["bot_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("xoxb-"))
    );
    assert!(
        ts.creds["slack"]["app_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("xapp-"))
    );
}

#[tokio::test]
async fn seed_matches_the_spec() {
    let ts = sandbox().await;
    let s = &ts.seed;
    let users = s["slack"]["users"].as_array().expect("users");
    assert_eq!(
        users
            .iter()
            .filter(|u| u["is_analyst"] == json!(true))
            .count(),
        2
    );
    assert!(
        users
            .iter()
            .filter(|u| u["is_analyst"] == json!(false))
            .count()
            >= 2
    );
    for u in users {
        for k in ["id", "name", "real_name", "email", "is_analyst"] {
            assert!(!u[k].is_null(), "user {k}: {u}");
        }
    }
    let roles: Vec<&str> = s["slack"]["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .filter_map(|c| c["role"].as_str())
        .collect();
    assert!(
        roles.contains(&"alerts") && roles.contains(&"general"),
        "{roles:?}"
    );
    let secops = &s["slack"]["usergroups"][0];
    assert_eq!(secops["handle"], json!("secops"));
    assert_eq!(secops["users"].as_array().map(Vec::len), Some(2));
    let devices = s["crowdstrike"]["devices"].as_array().expect("devices");
    assert!(devices.len() >= 4);
    for d in devices {
        for k in [
            "device_id",
            "hostname",
            "serial_number",
            "platform_name",
            "os_version",
            "local_ip",
            "external_ip",
            "mac_address",
            "status",
            "tags",
            "last_seen",
        ] {
            assert!(!d[k].is_null(), "device {k}: {d}");
        }
    }
    let assets = s["oomnitza"]["assets"].as_array().expect("assets");
    assert_eq!(
        assets
            .iter()
            .filter(|a| a["assigned_to"].is_string())
            .count(),
        3
    );
    assert!(
        assets.iter().any(|a| a["assigned_to"].is_null()),
        "one device has no owner"
    );
}

#[tokio::test]
async fn settings_patch_and_reset() {
    let ts = sandbox().await;
    let v = ts
        .control("/settings", json!({"github_search_delay_ms": 10}))
        .await;
    assert_eq!(v["github_search_delay_ms"], json!(10));
    assert_eq!(v["slack_ack_timeout_ms"], json!(3000));
    let bad = ts
        .http
        .post(ts.url("/_sandbox/settings"))
        .json(&json!({"no_such_knob": 1}))
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), 400, "unknown settings are refused");
    ts.control("/reset", json!({})).await;
    let v = get_json(&ts.http, &ts.url("/_sandbox/settings")).await;
    assert_eq!(v["github_search_delay_ms"], json!(5000));
    assert_eq!(v["slack_retry_delays_ms"], json!([3000, 60000, 300000]));
    assert_eq!(v["slack_refresh_after_warning_ms"], json!(10000));
}

async fn post_enqueue(ts: &crate::common::TestSandbox, body: Value) -> reqwest::Response {
    ts.http
        .post(ts.url("/pagerduty/events/v2/enqueue"))
        .json(&body)
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn requests_are_recorded_without_secrets_and_filtered_by_since() {
    let ts = sandbox().await;
    let key = ts.creds["pagerduty"]["routing_key"]
        .as_str()
        .unwrap_or_default();
    let body = json!({"routing_key": key, "event_action": "trigger", "dedup_key": "case-1",
        "payload": {"summary": "s", "source": "h", "severity": "info"}});
    post_enqueue(&ts, body.clone()).await;
    let recs = ts.requests("pagerduty").await;
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r["method"], json!("POST"));
    assert_eq!(r["path"], json!("/events/v2/enqueue"));
    assert_eq!(r["service"], json!("pagerduty"));
    assert_eq!(r["body"]["dedup_key"], json!("case-1"));
    assert_ne!(
        r["body"]["routing_key"],
        json!(key),
        "secrets are not recorded"
    );
    assert!(r["seq"].as_u64().is_some() && r["time"].is_string() && r["status"].is_u64());
    let seq = r["seq"].as_u64().unwrap_or(0);
    let later = get_json(
        &ts.http,
        &ts.url(&format!("/_sandbox/requests?service=pagerduty&since={seq}")),
    )
    .await;
    assert_eq!(later["requests"].as_array().map(Vec::len), Some(0));
    assert!(
        ts.requests("github").await.is_empty(),
        "filtered by service"
    );
}

#[tokio::test]
async fn faults_answer_the_vendor_shape_for_the_set_number_of_times() {
    let ts = sandbox().await;
    let v = ts
        .control(
            "/faults",
            json!({"service": "slack", "path": "/api/auth.test", "status": 429, "retry_after": 7, "times": 2}),
        )
        .await;
    assert!(v["id"].is_string(), "{v}");
    let token = ts.creds["slack"]["bot_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for _ in 0..2 {
        let r = ts
            .http
            .post(ts.url("/slack/api/auth.test"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 429);
        assert_eq!(
            r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
            Some("7")
        );
        let body: Value = r.json().await.expect("json");
        assert_eq!(body, json!({"ok": false, "error": "ratelimited"}));
    }
    let r = ts
        .http
        .post(ts.url("/slack/api/auth.test"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "fault used up after `times`");
    let recs = ts.requests("slack").await;
    assert_eq!(
        recs.iter().filter(|r| r["status"] == json!(429)).count(),
        2,
        "faulted answers are recorded"
    );
}

#[tokio::test]
async fn a_delay_only_fault_passes_the_request_on_and_delete_clears_faults() {
    let ts = sandbox().await;
    ts.control(
        "/faults",
        json!({"service": "github", "path": "/repos/*/*", "delay_ms": 300, "times": 0}),
    )
    .await;
    let repo = ts.creds["github"]["repo"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let token = ts.creds["github"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let get = || {
        ts.http
            .get(ts.url(&format!("/github/repos/{repo}")))
            .bearer_auth(&token)
            .send()
    };
    let started = std::time::Instant::now();
    let r = get().await.expect("send");
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let r = ts
        .http
        .delete(ts.url("/_sandbox/faults"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let started = std::time::Instant::now();
    get().await.expect("send");
    assert!(started.elapsed() < std::time::Duration::from_millis(300));
}

#[tokio::test]
async fn limits_can_be_listed_set_and_turned_off() {
    let ts = sandbox().await;
    let v = get_json(&ts.http, &ts.url("/_sandbox/limits")).await;
    let names: Vec<String> = v["limits"]
        .as_array()
        .expect("limits")
        .iter()
        .map(|l| {
            format!(
                "{}/{}",
                l["service"].as_str().unwrap_or(""),
                l["method"].as_str().unwrap_or("")
            )
        })
        .collect();
    for want in [
        "slack/chat.postMessage",
        "github/content",
        "github/search",
        "pagerduty/enqueue",
        "crowdstrike/api",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    let v = ts
        .control("/limits", json!({"service": "slack", "method": "apps.connections.open", "per_minute": 1, "burst": 1}))
        .await;
    assert!(v["limits"].as_array().is_some_and(|l| {
        l.iter()
            .any(|l| l["method"] == json!("apps.connections.open"))
    }));
    let v = ts
        .control(
            "/limits",
            json!({"service": "slack", "method": "chat.postMessage", "per_minute": 0}),
        )
        .await;
    assert!(
        !v["limits"]
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l["method"] == json!("chat.postMessage")))
    );
    let bad = ts
        .http
        .post(ts.url("/_sandbox/limits"))
        .body("{")
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn reset_clears_recorded_requests_and_faults() {
    let ts = sandbox().await;
    ts.control(
        "/faults",
        json!({"service": "pagerduty", "path": "/events/v2/enqueue", "status": 500, "times": 0}),
    )
    .await;
    let r = post_enqueue(&ts, json!({})).await;
    assert_eq!(r.status(), 500);
    ts.control("/reset", json!({})).await;
    assert!(ts.requests("pagerduty").await.is_empty());
    let r = post_enqueue(&ts, json!({})).await;
    assert_eq!(
        r.status(),
        400,
        "fault gone; the simulator validates the empty event"
    );
}

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let ts = sandbox().await;
    let r = ts.http.get(ts.url("/nowhere")).send().await.expect("send");
    assert_eq!(r.status(), 404);
    let _: Value = r.json().await.expect("json body");
}

/// Tokens the sandbox hands out in its answers (a CrowdStrike `access_token`, the `ticket` of a
/// Socket Mode URL) are no more recorded than the credentials sent in requests.
#[tokio::test]
async fn tokens_in_vendor_answers_are_not_recorded() {
    let ts = sandbox().await;
    let id = ts.creds["crowdstrike"]["client_id"].as_str().unwrap_or("");
    let secret = ts.creds["crowdstrike"]["client_secret"]
        .as_str()
        .unwrap_or("");
    let answer: Value = ts
        .http
        .post(ts.url("/crowdstrike/oauth2/token"))
        .form(&[("client_id", id), ("client_secret", secret)])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("json");
    let access = answer["access_token"].as_str().unwrap_or_default();
    assert!(access.len() > 8, "a real token was answered: {answer}");
    let app_token = ts.creds["slack"]["app_token"].as_str().unwrap_or_default();
    let open: Value = ts
        .http
        .post(ts.url("/slack/api/apps.connections.open"))
        .bearer_auth(app_token)
        .send()
        .await
        .expect("apps.connections.open")
        .json()
        .await
        .expect("json");
    let url = open["url"].as_str().unwrap_or_default();
    let ticket = url
        .split_once("ticket=")
        .map(|(_, t)| t.split('&').next().unwrap_or_default())
        .unwrap_or_default();
    assert!(ticket.len() > 4, "a real ticket was answered: {open}");

    let cs = ts.requests("crowdstrike").await;
    assert_eq!(cs.len(), 1, "{cs:?}");
    assert_eq!(cs[0]["response"]["access_token"], json!("[redacted]"));
    assert_eq!(
        cs[0]["response"]["token_type"],
        json!("bearer"),
        "the rest of the answer is kept"
    );
    assert_eq!(cs[0]["body"]["client_secret"], json!("[redacted]"));
    let slack = ts.requests("slack").await;
    assert_eq!(slack.len(), 1, "{slack:?}");
    let recorded_url = slack[0]["response"]["url"].as_str().unwrap_or_default();
    assert!(
        recorded_url.contains("ticket=[redacted]") && recorded_url.contains("app_id="),
        "{recorded_url}"
    );
    let everything = format!("{cs:?}{slack:?}");
    for secret in [access, ticket, secret] {
        assert!(
            !everything.contains(secret),
            "{secret} recorded: {everything}"
        );
    }
}
