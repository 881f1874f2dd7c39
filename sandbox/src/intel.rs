//! The threat-intelligence picture the reputation simulators share (VirusTotal, AbuseIPDB,
//! EmailRep, urlscan.io, Tavily), so one indicator gets one story everywhere: an IP that
//! AbuseIPDB scores 100 is also malicious on VirusTotal.
//!
//! Invariant: every answer is a pure function of the indicator (plus records added through the
//! control API, which each simulator keeps itself). Nothing is random, so a test or the demo can
//! rely on a verdict without stubbing.
//!
//! How an indicator gets its verdict, first rule that applies:
//! 1. **Seeded** ([`KNOWN`]): the indicators the default CrowdStrike alert shapes carry (the
//!    payload host `198.51.100.23` and its URL `http://198.51.100.23/p.sh` in the `curl … | bash`
//!    command lines, and the seed devices' egress IP `203.0.113.10`, which is Acme's own and
//!    clean) and the ones the seeded SOP scenarios need: a C2 domain and its server IP, a
//!    password-spraying source IP, a phishing domain, URL and sender, and a malware hash (the
//!    EICAR test file, which real engines flag too). `GET /_sandbox/seed` lists them under
//!    `indicators`.
//! 2. **Own or private**: Acme's domain `acme.example` and its subdomains, addresses at it, and
//!    private, loopback or link-local IPs are harmless.
//! 3. **Everything else**: `d = SHA-256("<kind>:<canonical value>")`. `d[0] < 20` (about 8 %)
//!    is malicious, `d[0] < 40` (about 8 %) suspicious, otherwise harmless. `d[1] < 64` (a
//!    quarter) means "never seen" where the vendor can say so (VirusTotal files and URLs).
//!    Further bytes pick scores and counts (see [`Profile`]).
//!
//! Canonical values: hashes and domains lower-case (a trailing dot dropped), IPs as `std::net`
//! prints them, emails lower-case, URLs trimmed as given.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The kinds of indicator the simulators look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A file hash (MD5, SHA-1 or SHA-256).
    File,
    /// A URL, matched exactly as given (trimmed), not normalised.
    Url,
    /// A domain name, lower-case without a trailing dot.
    Domain,
    /// An IPv4 or IPv6 address, in `std::net`'s spelling.
    Ip,
    /// An email address, lower-case; its domain decides "own" (rule 2).
    Email,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Url => "url",
            Kind::Domain => "domain",
            Kind::Ip => "ip",
            Kind::Email => "email",
        }
    }
}

/// What the intelligence says about an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Flagged by every simulator: high scores, many engines, abuse reports.
    Malicious,
    /// Some engines or reporters flag it.
    Suspicious,
    /// Nothing against it: score 0, no malicious engines.
    Harmless,
}

/// One seeded indicator.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Known {
    /// Which lookup finds it (a file hash is found by its MD5, SHA-1 or SHA-256 alike only
    /// for EICAR).
    pub kind: Kind,
    /// The value in [`canonical`] spelling, as the lookups compare it.
    pub value: &'static str,
    /// Its verdict on every simulator (rule 1 wins over rules 2 and 3).
    pub verdict: Verdict,
    /// Threat label or owner shown by the vendors (VT threat label, AbuseIPDB ISP, …).
    pub label: &'static str,
    /// Why it is seeded (which alert or SOP scenario uses it).
    pub note: &'static str,
}

/// The EICAR test file's SHA-256, the seeded malware hash.
pub const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
/// The EICAR test file's SHA-1.
pub const EICAR_SHA1: &str = "3395856ce81f2b7382dee72602f798b642f14140";
/// The EICAR test file's MD5.
pub const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";

/// Every seeded indicator.
pub const KNOWN: &[Known] = &[
    Known {
        kind: Kind::Ip,
        value: "198.51.100.23",
        verdict: Verdict::Malicious,
        label: "Bulletproof Hosting BV",
        note: "payload host in the default alerts' `curl … | bash` command lines",
    },
    Known {
        kind: Kind::Url,
        value: "http://198.51.100.23/p.sh",
        verdict: Verdict::Malicious,
        label: "trojan.shell/downloader",
        note: "payload URL in the default alerts' command lines",
    },
    Known {
        kind: Kind::Ip,
        value: "203.0.113.10",
        verdict: Verdict::Harmless,
        label: "Acme Corp",
        note: "the seed devices' external (egress) IP: Acme's own",
    },
    Known {
        kind: Kind::Domain,
        value: "cdn-telemetry-sync.example",
        verdict: Verdict::Malicious,
        label: "Cobalt Strike C2",
        note: "c2 scenario: command-and-control domain",
    },
    Known {
        kind: Kind::Ip,
        value: "198.51.100.77",
        verdict: Verdict::Malicious,
        label: "Bulletproof Hosting BV",
        note: "c2 scenario: the C2 domain's server",
    },
    Known {
        kind: Kind::Ip,
        value: "203.0.113.66",
        verdict: Verdict::Malicious,
        label: "Tor exit relay",
        note: "suspicious_login scenario: password-spraying source",
    },
    Known {
        kind: Kind::Domain,
        value: "acme-sso-login.example",
        verdict: Verdict::Malicious,
        label: "phishing",
        note: "phishing scenario: look-alike login domain",
    },
    Known {
        kind: Kind::Url,
        value: "https://acme-sso-login.example/oauth/verify?session=renew",
        verdict: Verdict::Malicious,
        label: "phishing",
        note: "phishing scenario: credential-harvesting URL in the reported email",
    },
    Known {
        kind: Kind::Email,
        value: "it-helpdesk@acme-sso-login.example",
        verdict: Verdict::Malicious,
        label: "credential_phishing",
        note: "phishing scenario: the reported email's sender",
    },
    Known {
        kind: Kind::File,
        value: EICAR_SHA256,
        verdict: Verdict::Malicious,
        label: "virus.eicar/test",
        note: "malware scenario: the file hash (EICAR test file)",
    },
];

/// Acme's own domain: it and its subdomains are clean everywhere.
pub const OWN_DOMAIN: &str = "acme.example";

/// Numbers derived from an indicator's digest, so every vendor's scores agree with the verdict.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// The verdict by the first rule that applies (seeded, own or private, digest).
    pub verdict: Verdict,
    /// Whether the vendor has never seen it (only unseeded files and URLs can be unseen).
    pub unseen: bool,
    /// 0–100 badness: malicious 75–100, suspicious 25–60, harmless 0 (what AbuseIPDB calls
    /// `abuseConfidenceScore`).
    pub score: u8,
    /// Further digest bytes for counts and choices.
    pub bytes: [u8; 32],
}

/// The canonical spelling of an indicator; `None` when it is not a valid one of its kind.
pub fn canonical(kind: Kind, value: &str) -> Option<String> {
    let v = value.trim();
    match kind {
        Kind::File => {
            let ok = matches!(v.len(), 32 | 40 | 64) && v.chars().all(|c| c.is_ascii_hexdigit());
            ok.then(|| v.to_ascii_lowercase())
        }
        Kind::Ip => v.parse::<IpAddr>().ok().map(|ip| ip.to_string()),
        Kind::Domain => {
            let d = v.trim_end_matches('.').to_ascii_lowercase();
            valid_domain(&d).then_some(d)
        }
        Kind::Email => {
            let e = v.to_ascii_lowercase();
            let (local, domain) = e.rsplit_once('@')?;
            let ok = !local.is_empty()
                && !local.contains(char::is_whitespace)
                && valid_domain(domain)
                && domain.contains('.');
            ok.then_some(e)
        }
        Kind::Url => (!v.is_empty()).then(|| v.to_string()),
    }
}

/// Whether `d` is a syntactically valid host name (labels of letters, digits and hyphens).
pub fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The seeded record for an indicator, if any (`value` canonical).
pub fn known(kind: Kind, value: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| {
        k.kind == kind
            && (k.value == value
                || (kind == Kind::File && k.value == EICAR_SHA256 && is_eicar(value)))
    })
}

fn is_eicar(hash: &str) -> bool {
    hash == EICAR_SHA256 || hash == EICAR_SHA1 || hash == EICAR_MD5
}

/// SHA-256 of `"<kind>:<value>"`.
pub fn digest(kind: Kind, value: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(kind.tag().as_bytes());
    h.update(b":");
    h.update(value.as_bytes());
    h.finalize().into()
}

/// Whether an indicator is Acme's own or not routable: clean by rule 2.
fn own_or_private(kind: Kind, value: &str) -> bool {
    let own_domain = |d: &str| d == OWN_DOMAIN || d.ends_with(&format!(".{OWN_DOMAIN}"));
    match kind {
        Kind::Domain => own_domain(value),
        Kind::Email => value.rsplit_once('@').is_some_and(|(_, d)| own_domain(d)),
        Kind::Ip => !is_public(value),
        Kind::Url => url_host(value)
            .is_some_and(|h| own_domain(&h) || h.parse::<IpAddr>().is_ok_and(|_| !is_public(&h))),
        Kind::File => false,
    }
}

/// Whether an IP is publicly routable (not private, loopback, link-local, unspecified or
/// documentation-reserved for the own network).
pub fn is_public(ip: &str) -> bool {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast())
        }
        Ok(IpAddr::V6(v6)) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
        Err(_) => false,
    }
}

/// The host of a URL, lower-case, if it parses.
pub fn url_host(u: &str) -> Option<String> {
    let parsed = url::Url::parse(u).ok()?;
    let host = parsed.host_str()?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase(),
    )
}

/// The profile of a canonical indicator by the rules in the module header.
pub fn profile(kind: Kind, value: &str) -> Profile {
    let bytes = digest(kind, value);
    let (verdict, unseen) = if let Some(k) = known(kind, value) {
        (k.verdict, false)
    } else if own_or_private(kind, value) {
        (Verdict::Harmless, false)
    } else {
        let verdict = match bytes[0] {
            0..20 => Verdict::Malicious,
            20..40 => Verdict::Suspicious,
            _ => Verdict::Harmless,
        };
        (
            verdict,
            matches!(kind, Kind::File | Kind::Url) && bytes[1] < 64,
        )
    };
    let score = match verdict {
        Verdict::Malicious => 75 + bytes[2] % 26,
        Verdict::Suspicious => 25 + bytes[2] % 36,
        Verdict::Harmless => 0,
    };
    let score = if known(kind, value).is_some() && verdict == Verdict::Malicious {
        100
    } else {
        score
    };
    Profile {
        verdict,
        unseen,
        score,
        bytes,
    }
}

/// The label of a seeded indicator, or a generic one by verdict.
pub fn label(kind: Kind, value: &str, verdict: Verdict) -> String {
    match known(kind, value) {
        Some(k) => k.label.to_string(),
        None => match verdict {
            Verdict::Malicious => "trojan.generic".into(),
            Verdict::Suspicious => "suspicious.generic".into(),
            Verdict::Harmless => String::new(),
        },
    }
}

/// The seeded indicators as `GET /_sandbox/seed` lists them under `indicators`.
pub fn seed_json() -> Value {
    let list: Vec<Value> = KNOWN
        .iter()
        .map(|k| {
            let mut v = json!({
                "kind": k.kind,
                "value": k.value,
                "verdict": k.verdict,
                "label": k.label,
                "note": k.note,
            });
            if k.value == EICAR_SHA256 {
                v["sha1"] = json!(EICAR_SHA1);
                v["md5"] = json!(EICAR_MD5);
            }
            v
        })
        .collect();
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_indicators_keep_their_verdicts() {
        for k in KNOWN {
            let c = canonical(k.kind, k.value).expect("seeded values are canonical");
            assert_eq!(c, k.value);
            assert_eq!(profile(k.kind, k.value).verdict, k.verdict, "{}", k.value);
            assert!(!profile(k.kind, k.value).unseen);
        }
        assert_eq!(profile(Kind::File, EICAR_MD5).verdict, Verdict::Malicious);
        assert_eq!(profile(Kind::File, EICAR_SHA1).verdict, Verdict::Malicious);
    }

    #[test]
    fn own_and_private_are_clean_and_the_rest_is_stable() {
        assert_eq!(profile(Kind::Ip, "10.20.1.15").verdict, Verdict::Harmless);
        assert_eq!(
            profile(Kind::Domain, "corp.acme.example").verdict,
            Verdict::Harmless
        );
        assert_eq!(
            profile(Kind::Email, "carol.diaz@acme.example").verdict,
            Verdict::Harmless
        );
        let a = profile(Kind::Domain, "some-site.example.org");
        let b = profile(Kind::Domain, "some-site.example.org");
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.verdict, b.verdict);
        // Over many values the rule gives all three verdicts.
        let verdicts: Vec<Verdict> = (0..400)
            .map(|i| profile(Kind::Domain, &format!("host{i}.example.org")).verdict)
            .collect();
        for v in [Verdict::Malicious, Verdict::Suspicious, Verdict::Harmless] {
            assert!(verdicts.contains(&v), "{v:?}");
        }
    }

    #[test]
    fn canonical_rejects_malformed_values() {
        assert!(canonical(Kind::File, "xyz").is_none());
        assert!(canonical(Kind::Ip, "300.1.1.1").is_none());
        assert!(canonical(Kind::Email, "not-an-email").is_none());
        assert!(canonical(Kind::Email, "a@b").is_none());
        assert_eq!(
            canonical(Kind::Domain, "Example.COM.").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            canonical(Kind::Ip, "2001:DB8::1").as_deref(),
            Some("2001:db8::1")
        );
    }
}
