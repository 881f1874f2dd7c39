//! Tests for the VirusTotal v3 simulator over plain HTTP, called the way vt-py calls it
//! (`x-apikey`, `/api/v3/...`, `POST /urls` as a form, `GET /analyses/{id}`).

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestSandbox, sandbox};

fn key(sb: &TestSandbox) -> String {
    sb.creds["virustotal"]["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn vt_get_with(sb: &TestSandbox, path: &str, key: Option<&str>) -> (StatusCode, Value) {
    let mut req = sb.http.get(sb.url(&format!("/virustotal/api/v3{path}")));
    if let Some(k) = key {
        req = req.header("x-apikey", k);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn vt_get(sb: &TestSandbox, path: &str) -> (StatusCode, Value) {
    vt_get_with(sb, path, Some(&key(sb))).await
}

fn url_id(u: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(u)
}

fn stats(v: &Value) -> &Value {
    &v["data"]["attributes"]["last_analysis_stats"]
}

#[tokio::test]
async fn seeded_indicators_are_malicious_on_every_object_type() {
    let sb = sandbox().await;
    let seeded = sb.seed["indicators"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let value = |kind: &str, verdict: &str| {
        seeded
            .iter()
            .filter(|i| i["kind"] == kind && i["verdict"] == verdict)
            .filter_map(|i| i["value"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    };
    let hashes = value("file", "malicious");
    assert!(!hashes.is_empty(), "the seed names a malware hash");
    let md5 = seeded
        .iter()
        .find_map(|i| i["md5"].as_str())
        .expect("the malware hash's md5");
    let (status, by_md5) = vt_get(&sb, &format!("/files/{md5}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_md5["data"]["type"], "file");
    assert_eq!(
        by_md5["data"]["id"],
        json!(hashes[0]),
        "object id is the sha256"
    );
    assert!(stats(&by_md5)["malicious"].as_u64().unwrap_or(0) >= 8);
    assert!(by_md5["data"]["attributes"]["last_analysis_date"].is_i64());

    for domain in value("domain", "malicious") {
        let (status, v) = vt_get(&sb, &format!("/domains/{domain}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["data"]["type"], "domain");
        assert!(
            stats(&v)["malicious"].as_u64().unwrap_or(0) >= 8,
            "{domain}"
        );
    }
    for ip in value("ip", "malicious") {
        let (_, v) = vt_get(&sb, &format!("/ip_addresses/{ip}")).await;
        assert_eq!(v["data"]["type"], "ip_address");
        assert!(stats(&v)["malicious"].as_u64().unwrap_or(0) >= 8, "{ip}");
    }
    for u in value("url", "malicious") {
        let (status, v) = vt_get(&sb, &format!("/urls/{}", url_id(&u))).await;
        assert_eq!(status, StatusCode::OK, "{u}");
        assert_eq!(v["data"]["attributes"]["url"], json!(u));
        // The same object by its SHA-256 id.
        let id = v["data"]["id"].as_str().unwrap_or_default().to_string();
        let (status, again) = vt_get(&sb, &format!("/urls/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["data"]["attributes"]["url"], json!(u));
    }
    // Acme's own egress IP is clean.
    let (_, own) = vt_get(&sb, "/ip_addresses/203.0.113.10").await;
    assert_eq!(stats(&own)["malicious"], 0);
}

#[tokio::test]
async fn stats_match_the_engine_results_and_answers_are_deterministic() {
    let sb = sandbox().await;
    let (_, a) = vt_get(&sb, "/domains/some-vendor.example.org").await;
    let (_, b) = vt_get(&sb, "/domains/some-vendor.example.org").await;
    assert_eq!(a, b);
    let results = a["data"]["attributes"]["last_analysis_results"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let total: u64 = [
        "harmless",
        "malicious",
        "suspicious",
        "undetected",
        "timeout",
    ]
    .iter()
    .map(|k| stats(&a)[*k].as_u64().unwrap_or(0))
    .sum();
    assert_eq!(total, results.len() as u64);
    assert!(
        a["data"]["links"]["self"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/virustotal/api/v3/domains/some-vendor.example.org")
    );
}

#[tokio::test]
async fn auth_errors_use_vt_codes() {
    let sb = sandbox().await;
    let (status, v) = vt_get_with(&sb, "/domains/example.org", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "AuthenticationRequiredError");
    let (status, v) = vt_get_with(&sb, "/domains/example.org", Some("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "WrongCredentialsError");
    // The key header is not recorded.
    let recorded = sb.requests("virustotal").await;
    assert_eq!(recorded.len(), 2);
    assert!(
        !serde_json::to_string(&recorded)
            .unwrap_or_default()
            .contains(&key(&sb))
    );
}

#[tokio::test]
async fn unknown_hash_is_not_found_and_bad_ids_are_invalid() {
    let sb = sandbox().await;
    let mut not_found = None;
    for i in 0..64u32 {
        let hash = format!("{:064x}", u64::from(i) * 0x9e37_79b9 + 1);
        let (status, v) = vt_get(&sb, &format!("/files/{hash}")).await;
        if status == StatusCode::NOT_FOUND {
            not_found = Some(v);
            break;
        }
        assert_eq!(status, StatusCode::OK);
    }
    let v = not_found.expect("a quarter of unseeded hashes were never seen");
    assert_eq!(v["error"]["code"], "NotFoundError");

    let (status, v) = vt_get(&sb, "/files/not-a-hash").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "InvalidArgumentError");
    let (status, v) = vt_get(&sb, "/ip_addresses/999.1.1.1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "InvalidArgumentError");
}

#[tokio::test]
async fn url_scan_gives_a_completed_analysis_and_makes_the_url_known() {
    let sb = sandbox().await;
    let submit = |body: Option<&'static str>| {
        let mut req = sb
            .http
            .post(sb.url("/virustotal/api/v3/urls"))
            .header("x-apikey", key(&sb));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(b);
        }
        req.send()
    };
    let resp = submit(None).await.expect("request");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(v["error"]["code"], "BadRequestError");

    let resp = submit(Some("url=https%3A%2F%2Fnever-seen.example.org%2Fa"))
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(v["data"]["type"], "analysis");
    let id = v["data"]["id"].as_str().unwrap_or_default().to_string();
    let (status, a) = vt_get(&sb, &format!("/analyses/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(a["data"]["attributes"]["status"], "completed");
    assert_eq!(
        a["meta"]["url_info"]["url"],
        "https://never-seen.example.org/a"
    );
    let (status, u) = vt_get(
        &sb,
        &format!("/urls/{}", url_id("https://never-seen.example.org/a")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        u["data"]["id"], a["meta"]["url_info"]["id"],
        "the URL object id is the analysis' url_info id"
    );
    let (status, _) = vt_get(&sb, "/analyses/u-nope-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn multipart_submission_is_accepted() {
    let sb = sandbox().await;
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\nhttps://mp.example.org/\r\n--XyZ--\r\n";
    let resp = sb
        .http
        .post(sb.url("/virustotal/api/v3/urls"))
        .header("x-apikey", key(&sb))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    let id = v["data"]["id"].as_str().unwrap_or_default().to_string();
    let (_, a) = vt_get(&sb, &format!("/analyses/{id}")).await;
    assert_eq!(a["meta"]["url_info"]["url"], "https://mp.example.org/");
}

#[tokio::test]
async fn quota_and_faults_answer_in_vt_shape() {
    let sb = sandbox().await;
    sb.control(
        "/limits",
        json!({"service": "virustotal", "method": "api", "per_minute": 1, "burst": 1}),
    )
    .await;
    let (status, _) = vt_get(&sb, "/domains/example.org").await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = vt_get(&sb, "/domains/example.org").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["error"]["code"], "QuotaExceededError");

    sb.control(
        "/limits",
        json!({"service": "virustotal", "method": "api", "per_minute": 0}),
    )
    .await;
    sb.control(
        "/faults",
        json!({"service": "virustotal", "path": "/api/v3/files/*", "status": 503}),
    )
    .await;
    let (status, v) = vt_get(&sb, &format!("/files/{}", "a".repeat(64))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["error"]["code"], "TransientError");
}

#[tokio::test]
async fn record_call_overrides_a_verdict_until_reset() {
    let sb = sandbox().await;
    let (_, before) = vt_get(&sb, "/domains/acme.example").await;
    assert_eq!(stats(&before)["malicious"], 0);
    let stored = sb
        .control(
            "/virustotal/indicators",
            json!({"type": "domain", "id": "acme.example", "verdict": "malicious",
                   "attributes": {"registrar": "Test Registrar"}}),
        )
        .await;
    assert_eq!(stored["id"], "acme.example");
    let (_, after) = vt_get(&sb, "/domains/acme.example").await;
    assert!(stats(&after)["malicious"].as_u64().unwrap_or(0) >= 8);
    assert_eq!(after["data"]["attributes"]["registrar"], "Test Registrar");
    sb.control("/reset", json!({})).await;
    let (_, reset) = vt_get(&sb, "/domains/acme.example").await;
    assert_eq!(stats(&reset)["malicious"], 0);
}
