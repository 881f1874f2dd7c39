//! Enrichment in parallel (SPEC §2.3): calls that do not depend on each other overlap. Each
//! pair is slowed down by a delay fault, and the recorded arrival times must show both calls
//! of a pair in flight at once (each arrived before the other's delayed answer could have
//! come back). A sequential pipeline cannot pass: the second call would arrive only after the
//! first was answered.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox, start_bot};

const CAROL_MBP: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f01";

/// One recorded call: when it arrived.
fn arrived(ts_requests: &[Value], path_prefix: &str, method: &str) -> Option<DateTime<Utc>> {
    ts_requests
        .iter()
        .find(|r| {
            r["method"] == json!(method)
                && r["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(path_prefix))
        })
        .and_then(|r| r["time"].as_str())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

async fn delay(ts: &TestSandbox, service: &str, method: &str, path: &str, ms: u64) {
    ts.control(
        "/faults",
        json!({"service": service, "method": method, "path": path, "delay_ms": ms, "times": 0}),
    )
    .await;
}

/// Whether two calls overlapped: `b` arrived before `a`'s answer (delayed `a_ms`) and `a`
/// arrived before `b`'s answer (delayed `b_ms`).
fn overlapped(a: DateTime<Utc>, a_ms: i64, b: DateTime<Utc>, b_ms: i64) -> bool {
    b < a + chrono::Duration::milliseconds(a_ms) && a < b + chrono::Duration::milliseconds(b_ms)
}

#[tokio::test]
async fn host_details_and_asset_overlap_and_so_do_the_issue_and_the_slack_lookup() {
    let ts = sandbox().await;
    let _bot = start_bot(&ts).await;
    delay(
        &ts,
        "crowdstrike",
        "POST",
        "/devices/entities/devices/v2",
        1500,
    )
    .await;
    delay(&ts, "oomnitza", "GET", "/api/v3/assets", 700).await;
    delay(&ts, "github", "POST", "/repos/*/*/issues", 1500).await;
    delay(&ts, "slack", "GET", "/api/users.lookupByEmail", 700).await;
    delay(&ts, "slack", "POST", "/api/users.lookupByEmail", 700).await;
    ts.control(
        "/crowdstrike/alerts",
        json!({"device": {"device_id": CAROL_MBP}, "severity": 30, "technique_id": "T1059"}),
    )
    .await;
    let started = Instant::now();
    loop {
        let slack = ts.requests("slack").await;
        if slack.iter().any(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/api/chat.postMessage"))
                && r["status"] == json!(200)
        }) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no card was posted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cs = ts.requests("crowdstrike").await;
    let oom = ts.requests("oomnitza").await;
    let gh = ts.requests("github").await;
    let slack = ts.requests("slack").await;
    let host = arrived(&cs, "/devices/entities/devices/v2", "POST").expect("host details asked");
    let asset = arrived(&oom, "/api/v3/assets", "GET").expect("asset asked");
    assert!(
        overlapped(host, 1500, asset, 700),
        "host details ({host}) and the asset lookup ({asset}) did not overlap"
    );
    let issue = arrived(&gh, "/repos/", "POST").expect("issue created");
    let lookup = arrived(&slack, "/api/users.lookupByEmail", "GET")
        .or_else(|| arrived(&slack, "/api/users.lookupByEmail", "POST"))
        .expect("owner looked up in Slack");
    assert!(
        overlapped(issue, 1500, lookup, 700),
        "the GitHub issue ({issue}) and users.lookupByEmail ({lookup}) did not overlap"
    );
    let dm_posted = |requests: &[Value]| {
        requests.iter().any(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/api/chat.postMessage"))
                && r["body"]["channel"]
                    .as_str()
                    .is_some_and(|c| c.starts_with('D'))
        })
    };
    let started = Instant::now();
    while !dm_posted(&ts.requests("slack").await) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the owner found beside the issue was never asked in a DM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
