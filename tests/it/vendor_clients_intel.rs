//! The threat-intelligence clients against the real sandbox: VirusTotal, AbuseIPDB, EmailRep,
//! urlscan.io and Tavily. Per client the happy path on the seeded indicators, then each
//! documented error the simulator produces (bad key, not found, bad request, the vendor's
//! rate-limit or quota signal), asserting the client waited or reported as the vendor says.
//!
//! The sandbox is reached only through `common::TestSandbox` (its URL, credentials, seed and
//! control API), never through the sandbox's Rust types.

use std::time::{Duration, Instant};

use serde_json::json;
use vigil::config::secret::Secret;
use vigil::vendors::VendorError;
use vigil::vendors::abuseipdb::client::AbuseIpDbClient;
use vigil::vendors::abuseipdb::config::AbuseIpDbConfig;
use vigil::vendors::emailrep::client::EmailRepClient;
use vigil::vendors::emailrep::config::EmailRepConfig;
use vigil::vendors::emailrep::models::Reputation;
use vigil::vendors::outbound::{RetryPolicy, capture_retries};
use vigil::vendors::tavily::client::TavilyClient;
use vigil::vendors::tavily::config::TavilyConfig;
use vigil::vendors::urlscan::client::UrlscanClient;
use vigil::vendors::urlscan::config::UrlscanConfig;
use vigil::vendors::urlscan::models::ScanOutcome;
use vigil::vendors::virustotal::client::VirusTotalClient;
use vigil::vendors::virustotal::config::VirusTotalConfig;
use vigil::vendors::virustotal::models::{IndicatorKind, Lookup, Verdict};

use crate::common::{TestSandbox, sandbox};
use crate::vendor_support::{assert_auth_error, cred, fault, limit, waits};

fn key(ts: &TestSandbox, vendor: &str) -> String {
    cred(ts, vendor, "api_key")
}

/// Seeded indicators of `kind` with `verdict` (`/_sandbox/seed` `indicators`).
fn seeded(ts: &TestSandbox, kind: &str, verdict: &str) -> Vec<String> {
    ts.seed["indicators"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["kind"] == kind && i["verdict"] == verdict)
        .filter_map(|i| i["value"].as_str().map(str::to_string))
        .collect()
}

// ------------------------------------------------------------------ VirusTotal

fn virustotal_with(
    ts: &TestSandbox,
    api_key: &str,
    submit: bool,
    policy: RetryPolicy,
) -> VirusTotalClient {
    let mut config = VirusTotalConfig::new(ts.url("/virustotal"), Secret::new(api_key));
    config.requests_per_minute = 6000;
    config.submit_unknown_urls = submit;
    config.analysis_poll_interval = Duration::from_millis(20);
    config.analysis_max_wait = Duration::from_secs(5);
    VirusTotalClient::new(config)
        .expect("virustotal client")
        .with_retry_policy(policy)
}

fn virustotal(ts: &TestSandbox) -> VirusTotalClient {
    virustotal_with(ts, &key(ts, "virustotal"), false, waits())
}

fn found(lookup: Lookup) -> vigil::vendors::virustotal::models::Report {
    match lookup {
        Lookup::Found(r) => r,
        other => panic!("expected a report, got {other:?}"),
    }
}

#[tokio::test]
async fn virustotal_reports_every_seeded_indicator_as_malicious() {
    let ts = sandbox().await;
    let vt = virustotal(&ts);
    let hashes = seeded(&ts, "file", "malicious");
    assert!(!hashes.is_empty());
    for h in &hashes {
        let r = found(vt.file(h).await.expect("file"));
        assert_eq!(
            (r.kind, r.verdict()),
            (IndicatorKind::File, Verdict::Malicious),
            "{h}"
        );
        assert_eq!(&r.id, h, "the object id is the sha256");
    }
    for d in seeded(&ts, "domain", "malicious") {
        let r = found(vt.domain(&d).await.expect("domain"));
        assert_eq!(
            (r.kind, r.verdict()),
            (IndicatorKind::Domain, Verdict::Malicious),
            "{d}"
        );
    }
    for ip in seeded(&ts, "ip", "malicious") {
        let r = found(vt.ip_address(&ip).await.expect("ip"));
        assert_eq!(r.verdict(), Verdict::Malicious, "{ip}");
    }
    for u in seeded(&ts, "url", "malicious") {
        let r = found(vt.url(&u).await.expect("url"));
        assert_eq!(r.verdict(), Verdict::Malicious, "{u}");
    }
    let own = found(vt.ip_address("203.0.113.10").await.expect("ip"));
    assert_eq!(own.stats.malicious, 0, "Acme's own egress IP is clean");
}

#[tokio::test]
async fn virustotal_never_seen_is_unknown_and_submission_makes_it_known() {
    let ts = sandbox().await;
    let vt = virustotal(&ts);
    let mut unseen_hash = false;
    for i in 0..64u64 {
        let hash = format!("{:064x}", i * 0x9e37_79b9 + 7);
        if vt.file(&hash).await.expect("file") == Lookup::Unknown {
            unseen_hash = true;
            break;
        }
    }
    assert!(
        unseen_hash,
        "NotFoundError is Lookup::Unknown, not an error"
    );

    let mut unseen_url = None;
    for i in 0..64 {
        let u = format!("https://never-seen-{i}.example.org/login");
        if vt.url(&u).await.expect("url") == Lookup::Unknown {
            unseen_url = Some(u);
            break;
        }
    }
    let u = unseen_url.expect("some URL was never seen");
    let submitting = virustotal_with(&ts, &key(&ts, "virustotal"), true, waits());
    let r = found(submitting.url(&u).await.expect("submitted and analysed"));
    assert_eq!(r.kind, IndicatorKind::Url);
    let posts = ts
        .requests("virustotal")
        .await
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/api/v3/urls")
        .count();
    assert_eq!(posts, 1, "one submission");
    assert!(
        matches!(vt.url(&u).await.expect("url"), Lookup::Found(_)),
        "known now"
    );

    let err = vt.file("not-a-hash").await.expect_err("checked locally");
    assert!(matches!(err, VendorError::Invalid { .. }), "{err}");
}

#[tokio::test]
async fn virustotal_wrong_key_and_quota_exceeded_backoff() {
    let ts = sandbox().await;
    let bad = "f".repeat(64);
    let err = virustotal_with(&ts, &bad, false, waits())
        .domain("example.org")
        .await
        .expect_err("a 401");
    assert_auth_error(&err, "virustotal");
    assert!(err.to_string().contains("WrongCredentialsError"), "{err}");

    // QuotaExceededError carries no wait header: the scheduler backs off and tries again.
    fault(
        &ts,
        json!({"service": "virustotal", "path": "/api/v3/domains/*", "status": 429}),
    )
    .await;
    let vt = virustotal(&ts);
    let (r, retries) = capture_retries(vt.domain("example.org")).await;
    assert!(matches!(r, Ok(Lookup::Found(_))), "{r:?}");
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].error.retry_after(), None);
    assert_eq!(
        retries[0].wait,
        Duration::from_millis(5),
        "the first backoff step"
    );
    assert!(retries[0].error.to_string().contains("QuotaExceededError"));

    limit(&ts, "virustotal", "api", 1).await;
    let once = virustotal_with(&ts, &key(&ts, "virustotal"), false, RetryPolicy::no_retry());
    let _ = once.domain("example.org").await;
    let err = once.domain("example.org").await.expect_err("quota");
    assert_eq!(err.status(), Some(429));
    assert!(err.is_transient());
    assert!(err.to_string().contains("QuotaExceededError"), "{err}");
}

// ------------------------------------------------------------------- AbuseIPDB

fn abuseipdb_with(ts: &TestSandbox, api_key: &str) -> AbuseIpDbClient {
    let mut config = AbuseIpDbConfig::new(ts.url("/abuseipdb"), Secret::new(api_key));
    config.requests_per_minute = 6000;
    AbuseIpDbClient::new(config)
        .expect("abuseipdb client")
        .with_retry_policy(waits())
}

fn abuseipdb(ts: &TestSandbox) -> AbuseIpDbClient {
    abuseipdb_with(ts, &key(ts, "abuseipdb"))
}

#[tokio::test]
async fn abuseipdb_scores_seeded_and_private_addresses() {
    let ts = sandbox().await;
    let a = abuseipdb(&ts);
    let bad = seeded(&ts, "ip", "malicious");
    assert!(!bad.is_empty());
    for ip in &bad {
        let r = a.check(ip).await.expect("check");
        assert_eq!(&r.ip_address, ip);
        assert!(r.abuse_confidence_score >= 75, "{ip}: {r:?}");
        assert!(r.total_reports > 0);
    }
    let private = a.check("10.20.1.15").await.expect("check");
    assert_eq!(private.abuse_confidence_score, 0);
    assert_eq!(private.is_public, Some(false));
    let sent = ts.requests("abuseipdb").await;
    assert!(
        sent.iter().all(|r| r["path"]
            .as_str()
            .is_some_and(|p| p.contains("maxAgeInDays=90"))),
        "the configured age goes out: {sent:?}"
    );
    let err = a.check("300.1.2.3").await.expect_err("checked locally");
    assert!(matches!(err, VendorError::Invalid { .. }), "{err}");
}

#[tokio::test]
async fn abuseipdb_bad_key_short_waits_and_the_daily_quota() {
    let ts = sandbox().await;
    let err = abuseipdb_with(&ts, "wrong-key")
        .check("8.8.8.8")
        .await
        .expect_err("a 401");
    assert_auth_error(&err, "abuseipdb");

    fault(
        &ts,
        json!({"service": "abuseipdb", "path": "/api/v2/check", "status": 429, "retry_after": 1}),
    )
    .await;
    let a = abuseipdb(&ts);
    let started = Instant::now();
    let (r, retries) = capture_retries(a.check("8.8.8.8")).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(retries.len(), 1);
    assert_eq!(
        retries[0].wait,
        Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert!(started.elapsed() >= Duration::from_millis(950));

    // The daily quota resets at UTC midnight: reported at once, with when, never waited.
    ts.control("/settings", json!({"abuseipdb_daily_limit": 1}))
        .await;
    let _ = a.check("8.8.8.8").await;
    let (r, retries) = capture_retries(a.check("8.8.8.8")).await;
    let err = r.expect_err("quota used up");
    assert_eq!(err.status(), Some(429));
    assert!(retries.is_empty(), "{retries:?}");
    assert!(err.to_string().contains("Daily rate limit of 1"), "{err}");
    assert!(err.to_string().contains("daily quota resets in"), "{err}");
}

// -------------------------------------------------------------------- EmailRep

fn emailrep_with(ts: &TestSandbox, api_key: &str) -> EmailRepClient {
    let mut config = EmailRepConfig::new(ts.url("/emailrep"), Secret::new(api_key));
    config.requests_per_minute = 6000;
    EmailRepClient::new(config)
        .expect("emailrep client")
        .with_retry_policy(waits())
}

fn emailrep(ts: &TestSandbox) -> EmailRepClient {
    emailrep_with(ts, &key(ts, "emailrep"))
}

#[tokio::test]
async fn emailrep_rates_the_phishing_sender_low_and_staff_high() {
    let ts = sandbox().await;
    let e = emailrep(&ts);
    let phish = e
        .query("it-helpdesk@acme-sso-login.example")
        .await
        .expect("query");
    assert_eq!(phish.reputation, Reputation::Low);
    assert!(phish.suspicious && phish.details.blacklisted && phish.details.new_domain);
    let staff = ts.seed["slack"]["users"][2]["email"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = e.query(&staff).await.expect("query");
    assert_eq!(r.email, staff);
    assert_eq!(r.reputation, Reputation::High);
    assert!(!r.suspicious);
    let tagged = e
        .query("carol.diaz+alerts@acme.example")
        .await
        .expect("query");
    assert_eq!(
        tagged.email, "carol.diaz+alerts@acme.example",
        "+ kept in one segment"
    );

    let err = e.query("not-an-email").await.expect_err("checked locally");
    assert!(matches!(err, VendorError::Invalid { .. }), "{err}");
    let sent = ts.requests("emailrep").await;
    assert_eq!(sent.len(), 3, "the malformed address was never sent");
}

#[tokio::test]
async fn emailrep_bad_key_and_the_daily_limit_is_not_retried() {
    let ts = sandbox().await;
    let err = emailrep_with(&ts, "wrong-key")
        .query("a@b.example")
        .await
        .expect_err("a 401");
    assert_auth_error(&err, "emailrep");

    limit(&ts, "emailrep", "query", 1).await;
    let e = emailrep(&ts);
    e.query("x@y.example").await.expect("first");
    let (r, retries) = capture_retries(e.query("x@y.example")).await;
    let err = r.expect_err("daily limit");
    assert_eq!(err.status(), Some(429));
    assert!(retries.is_empty(), "EmailRep says wait a day: {retries:?}");
    assert!(err.to_string().contains("not retried"), "{err}");
}

// -------------------------------------------------------------------- urlscan.io

fn urlscan_with(ts: &TestSandbox, api_key: &str, policy: RetryPolicy) -> UrlscanClient {
    let mut config = UrlscanConfig::new(ts.url("/urlscan"), Secret::new(api_key));
    config.requests_per_minute = 6000;
    config.poll_interval = Duration::from_millis(50);
    config.max_wait = Duration::from_secs(5);
    UrlscanClient::new(config)
        .expect("urlscan client")
        .with_retry_policy(policy)
}

fn urlscan(ts: &TestSandbox) -> UrlscanClient {
    urlscan_with(ts, &key(ts, "urlscan"), waits())
}

#[tokio::test]
async fn urlscan_scans_unlisted_and_waits_for_the_result() {
    let ts = sandbox().await;
    ts.control("/settings", json!({"urlscan_result_delay_ms": 300}))
        .await;
    let u = urlscan(&ts);
    let url = "https://acme-sso-login.example/oauth/verify?session=renew";
    let outcome = u.scan(url).await.expect("scan");
    let ScanOutcome::Done { submission, result } = outcome else {
        panic!("finished within the wait: {outcome:?}")
    };
    assert_eq!(submission.visibility.as_deref(), Some("unlisted"));
    assert_eq!(result.task.uuid.as_deref(), Some(submission.uuid.as_str()));
    assert!(result.verdicts.overall.malicious);
    assert_eq!(result.verdicts.overall.categories, ["phishing"]);
    assert_eq!(
        result.page.domain.as_deref(),
        Some("acme-sso-login.example")
    );
    let reads = ts
        .requests("urlscan")
        .await
        .into_iter()
        .filter(|r| r["method"] == "GET")
        .count();
    assert!(reads >= 2, "polled through the 404s: {reads}");

    assert_eq!(
        u.result("00000000-0000-4000-8000-000000000000")
            .await
            .expect("result"),
        None,
        "an unknown scan reads as not finished"
    );
}

#[tokio::test]
async fn urlscan_errors_bad_key_bad_url_and_the_reset_after_wait() {
    let ts = sandbox().await;
    let other = "8d3e1c2a-0000-4000-8000-000000000000";
    let err = urlscan_with(&ts, other, waits())
        .submit("https://a.example.org/")
        .await
        .expect_err("a 401");
    assert_auth_error(&err, "urlscan");
    let err = urlscan_with(&ts, "not-a-uuid", waits())
        .submit("https://a.example.org/")
        .await
        .expect_err("a 400");
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("API key"), "{err}");

    let u = urlscan(&ts);
    let err = u.submit("https://host.invalid/").await.expect_err("DNS");
    assert_eq!(err.status(), Some(400));
    assert!(!err.is_transient());
    assert!(err.to_string().contains("DNS"), "{err}");

    fault(
        &ts,
        json!({"service": "urlscan", "path": "/api/v1/scan/", "status": 429, "retry_after": 1}),
    )
    .await;
    let started = Instant::now();
    let (r, retries) = capture_retries(u.submit("https://a.example.org/")).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].wait, Duration::from_secs(1));
    assert!(started.elapsed() >= Duration::from_millis(950));

    // The real per-action limit sends only X-Rate-Limit-Reset-After, which is the wait.
    limit(&ts, "urlscan", "unlisted", 1).await;
    let once = urlscan_with(&ts, &key(&ts, "urlscan"), RetryPolicy::no_retry());
    let _ = once.submit("https://b.example.org/").await;
    let err = once
        .submit("https://b.example.org/")
        .await
        .expect_err("limited");
    assert_eq!(err.status(), Some(429));
    let wait = err.retry_after().expect("X-Rate-Limit-Reset-After read");
    assert!(
        wait >= Duration::from_secs(1) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
}

// ----------------------------------------------------------------------- Tavily

fn tavily_with(ts: &TestSandbox, api_key: &str, policy: RetryPolicy) -> TavilyClient {
    let mut config = TavilyConfig::new(ts.url("/tavily"), Secret::new(api_key));
    config.requests_per_minute = 6000;
    TavilyClient::new(config)
        .expect("tavily client")
        .with_retry_policy(policy)
}

fn tavily(ts: &TestSandbox) -> TavilyClient {
    tavily_with(ts, &key(ts, "tavily"), waits())
}

#[tokio::test]
async fn tavily_finds_write_ups_about_a_seeded_indicator() {
    let ts = sandbox().await;
    let t = tavily(&ts);
    let r = t
        .search_n("cdn-telemetry-sync.example", 3)
        .await
        .expect("search");
    assert_eq!(r.results.len(), 3);
    assert!(r.results[0].content.contains("Cobalt Strike"), "{r:?}");
    for hit in &r.results {
        assert!(!hit.title.is_empty() && hit.url.starts_with("https://"));
        assert!((0.0..=1.0).contains(&hit.score));
    }
    assert!(r.request_id.is_some());
    assert_eq!(
        t.search("cdn-telemetry-sync.example")
            .await
            .expect("search")
            .results
            .len(),
        5,
        "default max_results"
    );
    let err = t.search("   ").await.expect_err("checked locally");
    assert!(matches!(err, VendorError::Invalid { .. }), "{err}");
}

#[tokio::test]
async fn tavily_errors_bad_key_plan_limit_and_429_backoff() {
    let ts = sandbox().await;
    let err = tavily_with(&ts, "tvly-wrong", waits())
        .search("x")
        .await
        .expect_err("a 401");
    assert_auth_error(&err, "tavily");

    let t = tavily(&ts);
    fault(
        &ts,
        json!({"service": "tavily", "path": "/search", "status": 432}),
    )
    .await;
    let (r, retries) = capture_retries(t.search("x")).await;
    let err = r.expect_err("plan limit");
    assert_eq!(err.status(), Some(432));
    assert!(retries.is_empty(), "a plan limit does not lift by waiting");
    assert!(err.to_string().contains("plan"), "{err}");

    fault(
        &ts,
        json!({"service": "tavily", "path": "/search", "status": 429}),
    )
    .await;
    let (r, retries) = capture_retries(t.search("x")).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].error.retry_after(), None, "Tavily sends no wait");
    assert_eq!(retries[0].wait, Duration::from_millis(5), "backoff");

    limit(&ts, "tavily", "search", 1).await;
    let once = tavily_with(&ts, &key(&ts, "tavily"), RetryPolicy::no_retry());
    let _ = once.search("x").await;
    let err = once.search("x").await.expect_err("limited");
    assert_eq!(err.status(), Some(429));
    assert!(err.is_transient());
}
