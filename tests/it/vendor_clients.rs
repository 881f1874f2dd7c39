//! Vigil's vendor clients against the real sandbox: CrowdStrike, Oomnitza, GitHub and PagerDuty,
//! including the sandbox's injected faults, so a client and its simulator are checked against
//! each other end to end.

use chrono::Utc;
use serde_json::{Value, json};
use vigil::config::secret::Secret;
use vigil::pipeline::ingest::alert_from_falcon;
use vigil::vendors::crowdstrike::client::CrowdStrikeClient;
use vigil::vendors::crowdstrike::config::CrowdStrikeConfig;
use vigil::vendors::crowdstrike::models::updated_since_filter;
use vigil::vendors::github::client::GitHubClient;
use vigil::vendors::github::config::GitHubConfig;
use vigil::vendors::oomnitza::client::OomnitzaClient;
use vigil::vendors::oomnitza::config::OomnitzaConfig;
use vigil::vendors::outbound::capture_retries;
use vigil::vendors::pagerduty::client::PagerDutyClient;
use vigil::vendors::pagerduty::config::PagerDutyConfig;
use vigil::vendors::pagerduty::models::{Severity, TriggerEvent};

use crate::common::{TestSandbox, sandbox};
use crate::vendor_support::{cred, fast};

fn crowdstrike(ts: &TestSandbox) -> CrowdStrikeClient {
    let config = CrowdStrikeConfig {
        base_url: ts.url("/crowdstrike"),
        client_id: cred(ts, "crowdstrike", "client_id"),
        client_secret_file: None,
        poll_interval_secs: 2,
        client_secret: Secret::new(cred(ts, "crowdstrike", "client_secret")),
    };
    CrowdStrikeClient::new(config)
        .expect("crowdstrike client")
        .with_retry_policy(fast())
}

fn oomnitza(ts: &TestSandbox) -> OomnitzaClient {
    let config = OomnitzaConfig {
        base_url: ts.url("/oomnitza"),
        token_file: None,
        token: Secret::new(cred(ts, "oomnitza", "token")),
    };
    OomnitzaClient::new(config)
        .expect("oomnitza client")
        .with_retry_policy(fast())
}

fn github(ts: &TestSandbox) -> GitHubClient {
    let config = GitHubConfig {
        base_url: ts.url("/github"),
        repo: cred(ts, "github", "repo"),
        token_file: None,
        labels: vec![],
        token: Secret::new(cred(ts, "github", "token")),
    };
    GitHubClient::new(config)
        .expect("github client")
        .with_retry_policy(fast())
}

fn pagerduty(ts: &TestSandbox) -> PagerDutyClient {
    let config = PagerDutyConfig {
        base_url: ts.url("/pagerduty/events"),
        api_base_url: ts.url("/pagerduty/api"),
        routing_key_file: None,
        api_token_file: None,
        routing_key: Secret::new(cred(ts, "pagerduty", "routing_key")),
        api_token: Some(Secret::new(cred(ts, "pagerduty", "api_token"))),
    };
    PagerDutyClient::new(config)
        .expect("pagerduty client")
        .with_retry_policy(fast())
}

fn seed_device(ts: &TestSandbox, i: usize) -> Value {
    ts.seed["crowdstrike"]["devices"][i].clone()
}

async fn fault(ts: &TestSandbox, spec: Value) {
    let answer = ts.control("/faults", spec).await;
    assert!(answer["id"].is_string(), "fault accepted: {answer}");
}

#[tokio::test]
async fn crowdstrike_finds_device_ids_by_host_name() {
    let ts = sandbox().await;
    let cs = crowdstrike(&ts);
    let ids = cs
        .device_ids_by_hostname("ws-carol-mbp")
        .await
        .expect("device search");
    assert_eq!(ids, ["a1b2c3d4e5f60718293a4b5c6d7e8f01"]);
    // A quote in the name stays inside the FQL string: it matches nothing, widens nothing.
    let none = cs
        .device_ids_by_hostname("x' OR hostname:'*")
        .await
        .expect("device search");
    assert!(none.is_empty(), "{none:?}");
    let sent: Vec<String> = ts
        .requests("crowdstrike")
        .await
        .iter()
        .filter_map(|r| r["path"].as_str().map(str::to_string))
        .filter(|p| p.contains("/devices/queries/devices/v1"))
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
}

#[tokio::test]
async fn crowdstrike_polls_every_alert_shape_and_pages_with_after() {
    let ts = sandbox().await;
    let since = Utc::now() - chrono::Duration::minutes(5);
    let aid = seed_device(&ts, 0)["device_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let epp = ts
        .control(
            "/crowdstrike/alerts",
            json!({"device": {"device_id": aid}, "severity": 70, "technique_id": "T1059"}),
        )
        .await;
    let idp = ts
        .control(
            "/crowdstrike/alerts",
            json!({"product": "idp", "source_account_upn": "dana@acme.example"}),
        )
        .await;
    let cs = crowdstrike(&ts);
    let filter = updated_since_filter(&since);
    let mut alerts = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let page = cs
            .alerts_page(&filter, "updated_timestamp|asc", 1, after.as_deref())
            .await
            .expect("alerts page");
        alerts.extend(page.alerts);
        after = page.after;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(alerts.len(), 2, "both alerts, one per page");
    let mapped: Vec<_> = alerts
        .iter()
        .map(|a| alert_from_falcon(a).expect("maps"))
        .collect();
    let endpoint = mapped
        .iter()
        .find(|a| Some(a.id.as_str()) == epp["composite_id"].as_str())
        .expect("epp alert");
    let identity = mapped
        .iter()
        .find(|a| Some(a.id.as_str()) == idp["composite_id"].as_str())
        .expect("idp alert");
    assert_eq!(
        endpoint.device.as_ref().map(|d| d.device_id.as_str()),
        Some(aid.as_str())
    );
    assert!(identity.device.is_none());
    assert_eq!(identity.account_upn, "dana@acme.example");
    assert!(!endpoint.severity_name.is_empty());
}

#[tokio::test]
async fn crowdstrike_devices_update_and_containment() {
    let ts = sandbox().await;
    ts.control("/crowdstrike/settings", json!({"containment_delay_ms": 0}))
        .await;
    let device = seed_device(&ts, 1);
    let aid = device["device_id"].as_str().unwrap_or_default().to_string();
    let cs = crowdstrike(&ts);
    let found = cs
        .devices(&[aid.clone(), "0000000000000000000000000000dead".into()])
        .await
        .expect("devices");
    assert_eq!(found.len(), 1, "unknown id left out");
    assert_eq!(
        found[0].serial_number.as_deref(),
        device["serial_number"].as_str()
    );
    assert_eq!(found[0].hostname.as_deref(), device["hostname"].as_str());

    let id = ts
        .control("/crowdstrike/alerts", json!({"device": {"device_id": aid}}))
        .await["composite_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    cs.update_alerts(
        std::slice::from_ref(&id),
        &[
            ("update_status", "closed"),
            ("append_comment", "resolved by vigil"),
        ],
    )
    .await
    .expect("update");
    let after = cs.alerts_by_id(&[id]).await.expect("alerts by id");
    assert_eq!(
        after.first().map(|a| a["status"].clone()),
        Some(json!("closed"))
    );

    cs.contain(&aid).await.expect("contain");
    cs.contain(&aid)
        .await
        .expect("containing again is not an error");
    let now = cs
        .devices(std::slice::from_ref(&aid))
        .await
        .expect("devices");
    assert!(now.first().is_some_and(|d| d.is_contained()));
    cs.lift_containment(&aid).await.expect("lift");
}

#[tokio::test]
async fn crowdstrike_gets_a_new_token_after_a_revoked_one() {
    let ts = sandbox().await;
    let cs = crowdstrike(&ts);
    let old = cs.token().await.expect("token");
    let revoked = ts
        .http
        .post(ts.url("/crowdstrike/oauth2/revoke"))
        .basic_auth(
            cred(&ts, "crowdstrike", "client_id"),
            Some(cred(&ts, "crowdstrike", "client_secret")),
        )
        .form(&[("token", old.as_str())])
        .send()
        .await
        .expect("revoke");
    assert!(revoked.status().is_success());
    let page = cs
        .alerts_page("status:'new'", "created_timestamp|asc", 10, None)
        .await;
    assert!(page.is_ok(), "{page:?}");
    assert_ne!(cs.token().await.expect("token"), old);
}

#[tokio::test]
async fn crowdstrike_rides_out_a_429_with_its_epoch_header() {
    let ts = sandbox().await;
    fault(
        &ts,
        json!({"service": "crowdstrike", "path": "/alerts/combined/alerts/v1",
               "status": 429, "retry_after": 1}),
    )
    .await;
    let (page, retries) = capture_retries(crowdstrike(&ts).alerts_page(
        "status:'new'",
        "created_timestamp|asc",
        10,
        None,
    ))
    .await;
    assert!(page.is_ok(), "{page:?}");
    assert_eq!(retries.len(), 1);
    assert!(
        retries[0].error.retry_after().is_some(),
        "epoch header read"
    );
}

#[tokio::test]
async fn oomnitza_finds_assets_and_owners() {
    let ts = sandbox().await;
    let oom = oomnitza(&ts);
    let assets = ts.seed["oomnitza"]["assets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let owned = assets
        .iter()
        .find(|a| a["assigned_to"].is_string())
        .expect("an owned asset");
    let serial = owned["serial_number"].as_str().unwrap_or_default();
    let asset = oom
        .asset_by_serial(serial)
        .await
        .expect("lookup")
        .expect("found");
    let owner = asset.assigned_to.clone().expect("owner");
    let user = oom
        .user_by_username(&owner)
        .await
        .expect("lookup")
        .expect("user");
    let email = user.email.clone().expect("email");
    let again = oom.user_by_email(&email).await.expect("lookup");
    assert_eq!(again.and_then(|u| u.username), Some(owner));
    let by_name = oom
        .asset_by_hostname(owned["device_name"].as_str().unwrap_or_default())
        .await
        .expect("lookup");
    assert_eq!(
        by_name.and_then(|a| a.serial_number).as_deref(),
        Some(serial)
    );

    let unowned = assets
        .iter()
        .find(|a| a["assigned_to"].is_null())
        .expect("an unowned asset");
    let asset = oom
        .asset_by_serial(unowned["serial_number"].as_str().unwrap_or_default())
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(asset.assigned_to, None);

    assert!(
        oom.asset_by_serial("NOPE-404")
            .await
            .expect("lookup")
            .is_none()
    );
    let hostile = oom.asset_by_hostname("x' or device_name ne 'y").await;
    assert!(
        matches!(hostile, Ok(None)),
        "quoted, so no match: {hostile:?}"
    );
}

#[tokio::test]
async fn github_issue_lifecycle() {
    let ts = sandbox().await;
    let gh = github(&ts);
    let start = Utc::now() - chrono::Duration::seconds(2);
    let issue = gh
        .create_issue(
            "Malware on WS-1",
            "facts\n<!-- vigil:case=VGL-1 -->",
            &["security".into()],
        )
        .await
        .expect("create");
    assert_eq!(issue.labels, ["security"]);
    let recent = gh.issues_created_since(start).await.expect("list");
    assert!(recent.iter().any(|i| i.number == issue.number));

    let c = gh
        .comment(issue.number, "owner: it was me")
        .await
        .expect("comment");
    let comments = gh
        .comments_since(issue.number, start)
        .await
        .expect("comments");
    assert_eq!(comments.iter().map(|x| x.id).collect::<Vec<_>>(), [c.id]);

    gh.add_labels(issue.number, &["owner-confirmed".into()])
        .await
        .expect("labels");
    let closed = gh.close(issue.number, "completed").await.expect("close");
    assert_eq!(closed.state, "closed");
    let read = gh.issue(issue.number).await.expect("get");
    assert_eq!(read.state, "closed");
    assert!(read.labels.contains(&"owner-confirmed".to_string()));
    assert!(read.labels.contains(&"security".to_string()));
    assert_eq!(gh.reopen(issue.number).await.expect("reopen").state, "open");
}

#[tokio::test]
async fn github_create_survives_two_502s_with_exactly_one_issue() {
    let ts = sandbox().await;
    let repo = cred(&ts, "github", "repo");
    fault(
        &ts,
        json!({"service": "github", "method": "POST", "path": format!("/repos/{repo}/issues"),
               "status": 502, "times": 2}),
    )
    .await;
    let gh = github(&ts);
    let start = Utc::now() - chrono::Duration::seconds(2);
    let (issue, retries) =
        capture_retries(gh.create_issue("Only once", "body <!-- vigil:case=VGL-2 -->", &[])).await;
    let issue = issue.expect("created on the third attempt");
    let lines: Vec<String> = retries.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "GitHub create issue: HTTP 502, retried (2/5)",
            "GitHub create issue: HTTP 502, retried (3/5)"
        ]
    );
    let all = gh.issues_created_since(start).await.expect("list");
    assert_eq!(all.iter().filter(|i| i.title == "Only once").count(), 1);
    assert_eq!(all.first().map(|i| i.number), Some(issue.number));
}

#[tokio::test]
async fn github_validation_error_is_not_retried() {
    let ts = sandbox().await;
    let err = github(&ts).create_issue("", "no title", &[]).await.err();
    let err = err.expect("a 422");
    assert_eq!(err.status(), Some(422));
    assert!(!err.is_transient());
    let posts = ts
        .requests("github")
        .await
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn pagerduty_trigger_is_idempotent_and_reads_back() {
    let ts = sandbox().await;
    let pd = pagerduty(&ts);
    let event = TriggerEvent {
        dedup_key: "VGL-0007".into(),
        summary: "High severity alert on WS-1".into(),
        source: "WS-1".into(),
        severity: Severity::Critical,
        component: Some("falcon".into()),
        group: Some("endpoints".into()),
        class: Some("malware".into()),
        custom_details: json!({"case": "VGL-0007"}),
        links: vec![("https://vigil.example/cases/VGL-0007".into(), "Case".into())],
        client: Some("Vigil".into()),
        client_url: None,
    };
    assert_eq!(pd.trigger(&event).await.expect("trigger"), "VGL-0007");
    assert_eq!(pd.trigger(&event).await.expect("again"), "VGL-0007");
    let incidents = pd.incidents_by_key("VGL-0007").await.expect("read back");
    assert_eq!(incidents.len(), 1, "a repeat never double-pages");
    pd.acknowledge("VGL-0007").await.expect("ack");
    pd.resolve("VGL-0007").await.expect("resolve");
    let incidents = pd.incidents_by_key("VGL-0007").await.expect("read back");
    assert_eq!(
        incidents.first().map(|i| i.status.as_str()),
        Some("resolved")
    );
}

#[tokio::test]
async fn pagerduty_throttle_is_retried_and_bad_events_are_not() {
    let ts = sandbox().await;
    fault(
        &ts,
        json!({"service": "pagerduty", "path": "/events/v2/enqueue", "status": 429}),
    )
    .await;
    let pd = pagerduty(&ts);
    let (result, retries) = capture_retries(pd.acknowledge("VGL-0008")).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(retries.len(), 1);

    let bad = TriggerEvent {
        dedup_key: "VGL-0009".into(),
        summary: String::new(),
        source: String::new(),
        severity: Severity::Info,
        component: None,
        group: None,
        class: None,
        custom_details: Value::Null,
        links: vec![],
        client: None,
        client_url: None,
    };
    let err = pd.trigger(&bad).await.expect_err("a 400");
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("summary"), "{err}");
}

#[tokio::test]
async fn client_futures_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let ts = sandbox().await;
    let (cs, oom, gh, pd) = (crowdstrike(&ts), oomnitza(&ts), github(&ts), pagerduty(&ts));
    assert_send(&cs.alerts_page("", "", 1, None));
    assert_send(&cs.devices(&[]));
    assert_send(&cs.contain("d"));
    assert_send(&oom.asset_by_serial("s"));
    assert_send(&gh.create_issue("t", "b", &[]));
    assert_send(&pd.resolve("k"));
    assert_send(&capture_retries(pd.resolve("k")));
}
