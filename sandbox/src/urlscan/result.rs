//! The urlscan.io result document (`GET /api/v1/result/{uuid}/`, vendor-apis §11): `task`,
//! `page`, `lists`, `stats`, `meta`, `data`, `verdicts`, built from the URL's intel profile
//! and any record added for that URL.
//!
//! Invariant: `verdicts.overall.malicious` is true exactly when the score is above 0 and the
//! intel verdict (or the record) says malicious; scores are −100…100 as urlscan's.

use serde_json::{Map, Value, json};

use crate::intel::{self, Kind, Verdict};

/// What a scan was asked for.
pub struct Task<'a> {
    /// Scan UUID, as `task.uuid` and in the result URLs.
    pub uuid: &'a str,
    /// URL as submitted (`task.url`); the verdict is derived from it by [`intel`].
    pub url: &'a str,
    /// Visibility the scan got (`task.visibility`), possibly not the one asked for.
    pub visibility: &'a str,
    /// Tags submitted (`task.tags`).
    pub tags: &'a [String],
    /// Submission time (RFC 3339).
    pub time: &'a str,
    /// `http://host/urlscan`, for `reportURL`, `screenshotURL`, `domURL`.
    pub root: &'a str,
}

/// The full result for a task; `record` fields (`score`, `malicious`, `categories`, `brands`,
/// `tags`, `page`) override the rendered ones.
pub fn build(task: &Task, record: Option<&Map<String, Value>>) -> Value {
    let p = intel::profile(Kind::Url, task.url);
    let host = intel::url_host(task.url).unwrap_or_default();
    let apex = apex(&host);
    let label = intel::label(Kind::Url, task.url, p.verdict);
    let (mut score, mut malicious, mut categories, brands) = match p.verdict {
        Verdict::Malicious if label.contains("phish") => (
            100,
            true,
            vec!["phishing"],
            vec![
                json!({"key": "acme", "name": "Acme Corp", "country": ["US"], "vertical": ["technology"]}),
            ],
        ),
        Verdict::Malicious => (100, true, vec!["malware"], vec![]),
        Verdict::Suspicious => (i64::from(p.score), false, vec!["suspicious"], vec![]),
        Verdict::Harmless => (0, false, vec![], vec![]),
    };
    let mut tags: Vec<Value> = task.tags.iter().map(|t| json!(t)).collect();
    let mut page = json!({
        "url": task.url,
        "domain": host,
        "apexDomain": apex,
        "ip": resolve(&host, &p.bytes),
        "country": "NL",
        "asn": "AS20473",
        "asnname": "EXAMPLE-HOSTING, NL",
        "server": "nginx",
        "status": "200",
        "title": if malicious && categories.contains(&"phishing") { "Sign in to your account" } else { "Welcome" },
        "mimeType": "text/html",
        "redirected": Value::Null,
        "tlsIssuer": "R11",
        "tlsValidDays": 89,
        "tlsAgeDays": if p.verdict == Verdict::Harmless { 40 } else { 1 },
        "umbrellaRank": if p.verdict == Verdict::Harmless { json!(10_000 + u64::from(p.bytes[3]) * 100) } else { Value::Null },
    });
    let mut brands = brands;
    if let Some(rec) = record {
        if let Some(s) = rec.get("score").and_then(Value::as_i64) {
            score = s.clamp(-100, 100);
        }
        if let Some(m) = rec.get("malicious").and_then(Value::as_bool) {
            malicious = m;
        }
        if let Some(c) = rec.get("categories").and_then(Value::as_array) {
            categories = c.iter().filter_map(Value::as_str).collect();
        }
        if let Some(b) = rec.get("brands").and_then(Value::as_array) {
            brands = b.clone();
        }
        if let Some(t) = rec.get("tags").and_then(Value::as_array) {
            tags = t.clone();
        }
        if let (Some(Value::Object(extra)), Value::Object(target)) = (rec.get("page"), &mut page) {
            target.extend(extra.clone());
        }
    }
    let ip = page["ip"].clone();
    let verdict = json!({
        "score": score,
        "categories": categories,
        "brands": brands,
        "tags": [],
        "malicious": malicious,
    });
    let root = task.root;
    let uuid = task.uuid;
    json!({
        "task": {
            "uuid": uuid,
            "time": task.time,
            "url": task.url,
            "visibility": task.visibility,
            "method": "api",
            "source": "api",
            "tags": tags,
            "reportURL": format!("{root}/result/{uuid}/"),
            "screenshotURL": format!("{root}/screenshots/{uuid}.png"),
            "domURL": format!("{root}/dom/{uuid}/"),
        },
        "page": page,
        "lists": {
            "ips": [ip],
            "countries": ["NL"],
            "asns": ["20473"],
            "domains": [host],
            "servers": ["nginx"],
            "urls": [task.url],
            "linkDomains": [],
            "certificates": [],
            "hashes": [],
        },
        "stats": {
            "uniqIPs": 1,
            "uniqCountries": 1,
            "dataLength": 4_096,
            "encodedDataLength": 2_048,
            "requests": 1,
            "malicious": if malicious { 1 } else { 0 },
            "adBlocked": 0,
            "securePercentage": if task.url.starts_with("https") { 100 } else { 0 },
        },
        "meta": {"processors": {}},
        "data": {"requests": [], "cookies": [], "console": [], "links": [], "timing": {}, "globals": []},
        "verdicts": {
            "overall": {
                "score": verdict["score"],
                "categories": verdict["categories"],
                "brands": verdict["brands"],
                "tags": verdict["tags"],
                "malicious": malicious,
                "hasVerdicts": score != 0 || malicious,
            },
            "urlscan": verdict,
            "engines": {"score": 0, "categories": [], "enginesTotal": 0, "maliciousTotal": 0, "benignTotal": 0, "maliciousVerdicts": [], "benignVerdicts": [], "malicious": false},
            "community": {"score": 0, "votesTotal": 0, "votesMalicious": 0, "votesBenign": 0, "tags": [], "categories": [], "malicious": false},
        },
    })
}

/// The last two labels of a host (good enough for the sandbox's `.example` names).
fn apex(host: &str) -> String {
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() <= 2 {
        host.to_string()
    } else {
        labels[labels.len() - 2..].join(".")
    }
}

/// The IP a host "resolves" to: itself for IP hosts, the C2 server for the seeded C2 domain,
/// otherwise a documentation address from the digest.
fn resolve(host: &str, b: &[u8; 32]) -> String {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host.to_string();
    }
    if host == "cdn-telemetry-sync.example" {
        return "198.51.100.77".into();
    }
    format!("192.0.2.{}", 1 + b[19] % 250)
}
