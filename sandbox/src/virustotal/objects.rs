//! Rendering VirusTotal v3 objects (`file`, `url`, `domain`, `ip_address`, `analysis`) from an
//! indicator's intel profile (`sandbox::intel`), in the shapes of VT's object reference
//! (vendor-apis §8).
//!
//! Invariant: an object is a pure function of (type, canonical id, verdict); the engine table,
//! counts and dates come from the indicator's digest, so two lookups of one indicator agree and
//! `last_analysis_stats` always sums to the engines in `last_analysis_results`. Every `*_date`
//! is an integer epoch (vt-py converts those to datetimes).

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::intel::{self, Kind, Profile, Verdict};

/// The engines every analysis lists (names as VT spells them).
pub const ENGINES: &[&str] = &[
    "Kaspersky",
    "ESET-NOD32",
    "Microsoft",
    "BitDefender",
    "Sophos",
    "Avast",
    "ClamAV",
    "DrWeb",
    "Fortinet",
    "McAfee",
    "Symantec",
    "TrendMicro",
    "Webroot",
    "Emsisoft",
    "GData",
    "Ikarus",
    "Malwarebytes",
    "Panda",
    "Cynet",
    "Zillya",
];

/// 2026-01-05T00:00:00Z: the sandbox's "latest analysis" day; older dates count back from it.
const ANALYSIS_EPOCH: i64 = 1_767_571_200;

/// VT's object type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjType {
    /// `file`, id = SHA-256.
    File,
    /// `url`, id = SHA-256 of the URL.
    Url,
    /// `domain`, id = the domain.
    Domain,
    /// `ip_address`, id = the address.
    IpAddress,
}

impl ObjType {
    /// The `type` field and the record call's `type`.
    pub fn name(self) -> &'static str {
        match self {
            ObjType::File => "file",
            ObjType::Url => "url",
            ObjType::Domain => "domain",
            ObjType::IpAddress => "ip_address",
        }
    }

    /// The collection in the path (`/files/{id}` …).
    pub fn collection(self) -> &'static str {
        match self {
            ObjType::File => "files",
            ObjType::Url => "urls",
            ObjType::Domain => "domains",
            ObjType::IpAddress => "ip_addresses",
        }
    }

    /// Parses the record call's `type` (`ip` is accepted for `ip_address`).
    pub fn parse(s: &str) -> Option<ObjType> {
        match s {
            "file" => Some(ObjType::File),
            "url" => Some(ObjType::Url),
            "domain" => Some(ObjType::Domain),
            "ip_address" | "ip" => Some(ObjType::IpAddress),
            _ => None,
        }
    }

    /// The intel kind behind it.
    pub fn kind(self) -> Kind {
        match self {
            ObjType::File => Kind::File,
            ObjType::Url => Kind::Url,
            ObjType::Domain => Kind::Domain,
            ObjType::IpAddress => Kind::Ip,
        }
    }
}

/// SHA-256 hex of a text (VT's URL object id).
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Per-engine results and their stats for a verdict.
pub fn analysis(p: &Profile, kind: Kind, label: &str) -> (Value, Value) {
    let b = p.bytes;
    let n = ENGINES.len();
    let (malicious, suspicious) = match p.verdict {
        Verdict::Malicious => (8 + usize::from(b[3] % 10), usize::from(b[4] % 2)),
        Verdict::Suspicious => (1 + usize::from(b[3] % 2), 1 + usize::from(b[4] % 2)),
        Verdict::Harmless => (0, 0),
    };
    let rest_category = if kind == Kind::File {
        "undetected"
    } else {
        "harmless"
    };
    let start = usize::from(b[5]) % n;
    let mut results = Map::new();
    let mut stats =
        json!({"harmless": 0, "malicious": 0, "suspicious": 0, "undetected": 0, "timeout": 0});
    for i in 0..n {
        let engine = ENGINES[(start + i) % n];
        let category = if i < malicious {
            "malicious"
        } else if i < malicious + suspicious {
            "suspicious"
        } else if kind != Kind::File && i % 5 == 4 {
            "undetected"
        } else {
            rest_category
        };
        let result = match category {
            "malicious" | "suspicious" => json!(label_or(label, category)),
            _ if kind == Kind::File => Value::Null,
            _ => json!("clean"),
        };
        results.insert(
            engine.to_string(),
            json!({
                "category": category,
                "engine_name": engine,
                "engine_version": format!("{}.{}.{}", 1 + b[6] % 9, b[7] % 20, b[8]),
                "engine_update": "20260104",
                "method": "blacklist",
                "result": result,
            }),
        );
        if let Some(v) = stats.get(category).and_then(Value::as_u64) {
            stats[category] = json!(v + 1);
        }
    }
    if kind == Kind::File
        && let Value::Object(m) = &mut stats
    {
        m.insert("type-unsupported".into(), json!(0));
        m.insert("failure".into(), json!(0));
        m.insert("confirmed-timeout".into(), json!(0));
    }
    (Value::Object(results), stats)
}

fn label_or(label: &str, category: &str) -> String {
    if label.is_empty() {
        category.to_string()
    } else {
        label.to_string()
    }
}

fn date(b: &[u8; 32], i: usize, max_days: i64) -> i64 {
    ANALYSIS_EPOCH - (i64::from(b[i]) * 256 + i64::from(b[i + 1])) % max_days * 86_400
}

fn reputation(p: &Profile) -> i64 {
    match p.verdict {
        Verdict::Malicious => -(20 + i64::from(p.bytes[9] % 60)),
        Verdict::Suspicious => -(i64::from(p.bytes[9] % 10)),
        Verdict::Harmless => i64::from(p.bytes[9] % 5),
    }
}

fn votes(p: &Profile) -> Value {
    let (bad, good) = match p.verdict {
        Verdict::Malicious => (3 + u64::from(p.bytes[10] % 20), u64::from(p.bytes[11] % 2)),
        Verdict::Suspicious => (u64::from(p.bytes[10] % 3), u64::from(p.bytes[11] % 3)),
        Verdict::Harmless => (0, u64::from(p.bytes[11] % 4)),
    };
    json!({"harmless": good, "malicious": bad})
}

/// The attributes every analysed object carries.
fn common(p: &Profile, kind: Kind, label: &str) -> Map<String, Value> {
    let (results, stats) = analysis(p, kind, label);
    let mut m = Map::new();
    m.insert(
        "last_analysis_date".into(),
        json!(ANALYSIS_EPOCH - i64::from(p.bytes[12]) * 3_600),
    );
    m.insert("last_analysis_stats".into(), stats);
    m.insert("last_analysis_results".into(), results);
    m.insert("reputation".into(), json!(reputation(p)));
    m.insert("total_votes".into(), votes(p));
    m.insert("last_modification_date".into(), json!(ANALYSIS_EPOCH));
    let tags: Vec<&str> = match p.verdict {
        Verdict::Malicious if kind == Kind::File => vec!["malware"],
        Verdict::Malicious => vec!["malicious"],
        _ => vec![],
    };
    m.insert("tags".into(), json!(tags));
    m
}

/// Hex of digest bytes, for the hashes a file lookup did not give.
fn derived_hex(value: &str, salt: &str, len: usize) -> String {
    let full = sha256_hex(&format!("{salt}:{value}"));
    full.chars().take(len).collect()
}

/// A `file` object for a canonical hash (any of MD5, SHA-1, SHA-256).
pub fn file(hash: &str, p: &Profile, label: &str) -> (String, Map<String, Value>) {
    let (sha256, sha1, md5) =
        if intel::known(Kind::File, hash).is_some_and(|k| k.value == intel::EICAR_SHA256) {
            (
                intel::EICAR_SHA256.to_string(),
                intel::EICAR_SHA1.to_string(),
                intel::EICAR_MD5.to_string(),
            )
        } else {
            match hash.len() {
                64 => (
                    hash.to_string(),
                    derived_hex(hash, "sha1", 40),
                    derived_hex(hash, "md5", 32),
                ),
                40 => (
                    derived_hex(hash, "sha256", 64),
                    hash.to_string(),
                    derived_hex(hash, "md5", 32),
                ),
                _ => (
                    derived_hex(hash, "sha256", 64),
                    derived_hex(hash, "sha1", 40),
                    hash.to_string(),
                ),
            }
        };
    let b = p.bytes;
    let eicar = sha256 == intel::EICAR_SHA256;
    let name = if eicar {
        "eicar.com".to_string()
    } else {
        format!("sample_{}.exe", &sha256[..8])
    };
    let mut m = common(p, Kind::File, label);
    m.insert("sha256".into(), json!(sha256));
    m.insert("sha1".into(), json!(sha1));
    m.insert("md5".into(), json!(md5));
    m.insert(
        "size".into(),
        json!(if eicar {
            68
        } else {
            4_096 + u64::from(b[13]) * 1_024
        }),
    );
    m.insert("meaningful_name".into(), json!(name));
    m.insert("names".into(), json!([name]));
    m.insert(
        "type_description".into(),
        json!(if eicar { "Text" } else { "Win32 EXE" }),
    );
    m.insert(
        "type_tag".into(),
        json!(if eicar { "text" } else { "peexe" }),
    );
    m.insert("first_submission_date".into(), json!(date(&b, 14, 900)));
    m.insert("last_submission_date".into(), json!(date(&b, 16, 30)));
    m.insert("times_submitted".into(), json!(1 + u64::from(b[18]) * 7));
    if p.verdict != Verdict::Harmless {
        m.insert(
            "popular_threat_classification".into(),
            json!({
                "suggested_threat_label": label_or(label, "suspicious"),
                "popular_threat_category": [{"count": 8, "value": if eicar { "virus" } else { "trojan" }}],
                "popular_threat_name": [{"count": 6, "value": label_or(label, "generic")}],
            }),
        );
    }
    (sha256, m)
}

/// A `url` object.
pub fn url(u: &str, p: &Profile, label: &str) -> (String, Map<String, Value>) {
    let b = p.bytes;
    let mut m = common(p, Kind::Url, label);
    let category = match p.verdict {
        Verdict::Malicious if label.contains("phish") => "phishing",
        Verdict::Malicious => "malicious",
        Verdict::Suspicious => "suspicious",
        Verdict::Harmless => "business and economy",
    };
    m.insert("url".into(), json!(u));
    m.insert("last_final_url".into(), json!(u));
    m.insert(
        "title".into(),
        json!(intel::url_host(u).unwrap_or_default()),
    );
    m.insert(
        "categories".into(),
        json!({"Forcepoint ThreatSeeker": category, "Sophos": category}),
    );
    m.insert("last_http_response_code".into(), json!(200));
    m.insert("first_submission_date".into(), json!(date(&b, 14, 400)));
    m.insert("last_submission_date".into(), json!(date(&b, 16, 20)));
    m.insert("times_submitted".into(), json!(1 + u64::from(b[18] % 40)));
    (sha256_hex(u), m)
}

/// A `domain` object.
pub fn domain(d: &str, p: &Profile, label: &str) -> Map<String, Value> {
    let b = p.bytes;
    let mut m = common(p, Kind::Domain, label);
    let bad = p.verdict != Verdict::Harmless;
    let ip = if d == "cdn-telemetry-sync.example" {
        "198.51.100.77".to_string()
    } else {
        format!("192.0.2.{}", 1 + b[19] % 250)
    };
    let created = if bad {
        date(&b, 20, 60)
    } else {
        date(&b, 20, 6_000)
    };
    m.insert(
        "tld".into(),
        json!(d.rsplit('.').next().unwrap_or_default()),
    );
    m.insert(
        "registrar".into(),
        json!(if bad {
            "NameSilo, LLC"
        } else {
            "MarkMonitor Inc."
        }),
    );
    m.insert("creation_date".into(), json!(created));
    m.insert(
        "categories".into(),
        json!({"Forcepoint ThreatSeeker": if bad { label_or(label, "suspicious") } else { "information technology".into() }}),
    );
    m.insert(
        "last_dns_records".into(),
        json!([{"type": "A", "value": ip, "ttl": 300}]),
    );
    m.insert("last_dns_records_date".into(), json!(ANALYSIS_EPOCH));
    m.insert(
        "popularity_ranks".into(),
        if bad {
            json!({})
        } else {
            json!({"Tranco": {"rank": 1_000 + u64::from(b[22]) * 300, "timestamp": ANALYSIS_EPOCH}})
        },
    );
    m.insert(
        "whois".into(),
        json!(format!(
            "Domain Name: {}\nRegistrar: {}\n",
            d.to_ascii_uppercase(),
            if bad {
                "NameSilo, LLC"
            } else {
                "MarkMonitor Inc."
            }
        )),
    );
    m.insert("jarm".into(), json!(derived_hex(d, "jarm", 62)));
    m
}

/// An `ip_address` object.
pub fn ip(addr: &str, p: &Profile, label: &str) -> Map<String, Value> {
    let b = p.bytes;
    let mut m = common(p, Kind::Ip, label);
    let public = intel::is_public(addr);
    let owner = match intel::known(Kind::Ip, addr) {
        Some(k) => k.label.to_string(),
        None if !public => String::new(),
        None => ["Example Hosting Ltd", "DigitalCloud Inc.", "Tele Net AS"][usize::from(b[23] % 3)]
            .to_string(),
    };
    let (country, continent) = if !public {
        ("", "")
    } else if addr == "203.0.113.10" {
        ("US", "NA")
    } else {
        [("NL", "EU"), ("RU", "EU"), ("US", "NA"), ("SG", "AS")][usize::from(b[24] % 4)]
    };
    m.insert("as_owner".into(), json!(owner));
    m.insert(
        "asn".into(),
        json!(if public {
            20_000 + u64::from(b[25]) * 100
        } else {
            0
        }),
    );
    m.insert("country".into(), json!(country));
    m.insert("continent".into(), json!(continent));
    m.insert("network".into(), json!(network(addr)));
    m.insert(
        "regional_internet_registry".into(),
        json!(if continent == "NA" {
            "ARIN"
        } else if continent == "AS" {
            "APNIC"
        } else {
            "RIPE NCC"
        }),
    );
    m.insert(
        "whois".into(),
        json!(format!("NetRange: {}\nOrgName: {}\n", network(addr), owner)),
    );
    m.insert("jarm".into(), json!(derived_hex(addr, "jarm", 62)));
    if !label.is_empty() && p.verdict != Verdict::Harmless {
        m.insert("tags".into(), json!([label]));
    }
    m
}

fn network(addr: &str) -> String {
    match addr.rsplit_once('.') {
        Some((prefix, _)) if !addr.contains(':') => format!("{prefix}.0/24"),
        _ => format!("{addr}/64"),
    }
}

/// The `data` object for any type: `{"id","type","links":{"self"},"attributes"}`.
pub fn data(root: &str, ty: ObjType, id: &str, attributes: Map<String, Value>) -> Value {
    json!({
        "id": id,
        "type": ty.name(),
        "links": {"self": format!("{root}/{}/{id}", ty.collection())},
        "attributes": attributes,
    })
}
