//! What an alert is about: its hosts, users, IPs, domains, URLs, hashes, emails and sender,
//! taken from the structured fields (the device, the account, the generic webhook's `entities`
//! and `sender`, Falcon's `ioc_context` and `source_endpoint_*`) and, bounded, from its text.
//!
//! Invariant: every value in an [`Entities`] passed its kind's validator and is in its
//! normalised form ([`normalise`]), each list is deduplicated and at most [`MAX_PER_KIND`]
//! long, and each value is at most [`MAX_VALUE_LEN`] characters. The guardrails rely on this:
//! a tool argument is in scope only if its normalised form is one of these values.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::case::Alert;

/// Longest list of one kind; more values are dropped (the first ones win).
pub const MAX_PER_KIND: usize = 20;
/// Longest value kept; longer ones are dropped, never truncated into another value.
pub const MAX_VALUE_LEN: usize = 2048;
/// Longest text scanned for entities (name plus description).
pub const MAX_SCAN: usize = 16 * 1024;

/// The kinds of entity a case has, which are also the kinds a tool argument can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// Device id or host name.
    Host,
    /// Account login, name or UPN.
    User,
    /// IPv4/IPv6 address.
    Ip,
    /// Domain name.
    Domain,
    /// http(s) URL.
    Url,
    /// md5/sha1/sha256 hex.
    Hash,
    /// Email address (the sender included).
    Email,
}

/// The entities of one case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entities {
    /// Device ids first, then host names: `{{host}}` expands to the device ids when there are
    /// any (the CrowdStrike tools take ids), else to the names.
    pub hosts: Vec<String>,
    /// Falcon device ids among `hosts`.
    #[serde(default)]
    pub device_ids: Vec<String>,
    /// Accounts (login, UPN or name), lower-cased.
    pub users: Vec<String>,
    /// Canonical IP text.
    pub ips: Vec<String>,
    /// Lower-cased domains.
    pub domains: Vec<String>,
    /// http(s) URLs, scheme and host lower-cased by the parser.
    pub urls: Vec<String>,
    /// Lower-cased hex hashes.
    pub hashes: Vec<String>,
    /// Lower-cased addresses.
    pub emails: Vec<String>,
    /// A reported email's From address, when there is one.
    pub sender: Option<String>,
}

/// The normalised form of `value` as a `kind`, or `None` when it is not a valid one.
pub fn normalise(kind: EntityKind, value: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > MAX_VALUE_LEN {
        return None;
    }
    match kind {
        EntityKind::Host => valid_host(v).then(|| v.to_lowercase()),
        EntityKind::User => valid_user(v).then(|| v.to_lowercase()),
        EntityKind::Ip => v
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok()
            .map(|ip| ip.to_string()),
        EntityKind::Domain => {
            let d = v.trim_end_matches('.').to_lowercase();
            valid_domain(&d).then_some(d)
        }
        EntityKind::Url => normal_url(v),
        EntityKind::Hash => valid_hash(v).then(|| v.to_lowercase()),
        EntityKind::Email => {
            let e = v.to_lowercase();
            valid_email(&e).then_some(e)
        }
    }
}

fn valid_host(v: &str) -> bool {
    v.len() <= 253
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        && v.chars().any(|c| c.is_ascii_alphanumeric())
}

fn valid_user(v: &str) -> bool {
    v.len() <= 256
        && !v.contains('*')
        && v.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | '@' | '\\' | '$' | '+' | '\'')
        })
        && v.chars().any(char::is_alphanumeric)
}

/// File extensions that read like a TLD in text (`invoice.exe`) and are never domains here.
const NOT_TLDS: &[&str] = &[
    "exe", "dll", "ps1", "bat", "cmd", "vbs", "scr", "msi", "zip", "rar", "doc", "docx", "xls",
    "xlsx", "pdf", "js", "sh", "py", "txt", "log", "tmp", "dat", "bin", "sys", "lnk", "iso", "jar",
    "json", "xml", "html", "htm", "png", "jpg", "gif", "csv", "ini", "cfg",
];

fn valid_domain(d: &str) -> bool {
    if d.len() > 253 || !d.contains('.') {
        return false;
    }
    let labels: Vec<&str> = d.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let tld = labels.last().copied().unwrap_or_default();
    labels.iter().all(label_ok)
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
        && !NOT_TLDS.contains(&tld)
}

fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-'".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && valid_domain(domain)
}

fn valid_hash(v: &str) -> bool {
    matches!(v.len(), 32 | 40 | 64) && v.chars().all(|c| c.is_ascii_hexdigit())
}

fn normal_url(v: &str) -> Option<String> {
    let u = url::Url::parse(v).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let host_ok = match u.host()? {
        url::Host::Domain(d) => valid_domain(d),
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => true,
    };
    let s = u.to_string();
    (host_ok && s.chars().count() <= MAX_VALUE_LEN).then_some(s)
}

impl Entities {
    /// The list of one kind (the sender is among the emails).
    pub fn of(&self, kind: EntityKind) -> &[String] {
        match kind {
            EntityKind::Host => &self.hosts,
            EntityKind::User => &self.users,
            EntityKind::Ip => &self.ips,
            EntityKind::Domain => &self.domains,
            EntityKind::Url => &self.urls,
            EntityKind::Hash => &self.hashes,
            EntityKind::Email => &self.emails,
        }
    }

    fn list_mut(&mut self, kind: EntityKind) -> &mut Vec<String> {
        match kind {
            EntityKind::Host => &mut self.hosts,
            EntityKind::User => &mut self.users,
            EntityKind::Ip => &mut self.ips,
            EntityKind::Domain => &mut self.domains,
            EntityKind::Url => &mut self.urls,
            EntityKind::Hash => &mut self.hashes,
            EntityKind::Email => &mut self.emails,
        }
    }

    /// Adds `value` as a `kind` if it is valid, new and the list has room; says whether it did.
    pub fn add(&mut self, kind: EntityKind, value: &str) -> bool {
        let Some(v) = normalise(kind, value) else {
            return false;
        };
        let list = self.list_mut(kind);
        if list.len() >= MAX_PER_KIND || list.contains(&v) {
            return false;
        }
        list.push(v);
        true
    }

    /// Whether `value`, normalised as a `kind`, is an entity of this case.
    pub fn contains(&self, kind: EntityKind, value: &str) -> bool {
        normalise(kind, value).is_some_and(|v| self.of(kind).contains(&v))
    }

    /// Adds a Falcon device id found after the alert (a host-name lookup), so `{{host}}`
    /// expands to it and the CrowdStrike tools may name it; says whether it was new.
    pub fn add_device_id(&mut self, id: &str) -> bool {
        if self.add(EntityKind::Host, id)
            && let Some(v) = normalise(EntityKind::Host, id)
        {
            self.device_ids.push(v);
            return true;
        }
        false
    }

    fn set_sender(&mut self, value: &str) {
        if self.sender.is_none()
            && let Some(v) = normalise(EntityKind::Email, value)
        {
            self.add(EntityKind::Email, &v);
            self.sender = Some(v);
        }
    }

    /// The entities of `alert`: structured fields first (so they win the caps), then its text.
    pub fn from_alert(alert: &Alert) -> Entities {
        let mut e = Entities::default();
        if let Some(d) = &alert.device {
            e.add_device_id(&d.device_id);
            e.add(EntityKind::Host, &d.hostname);
            e.add(EntityKind::Ip, &d.local_ip);
        }
        e.set_sender(&alert.sender);
        e.add(EntityKind::User, &alert.account_upn);
        e.add(EntityKind::Email, &alert.account_upn);
        e.add(EntityKind::User, &alert.user_name);
        e.add(EntityKind::Hash, &alert.sha256);
        let g = &alert.entities;
        for (kind, list) in [
            (EntityKind::Host, &g.hosts),
            (EntityKind::User, &g.users),
            (EntityKind::Ip, &g.ips),
            (EntityKind::Domain, &g.domains),
            (EntityKind::Url, &g.urls),
            (EntityKind::Hash, &g.hashes),
            (EntityKind::Email, &g.emails),
        ] {
            for v in list {
                e.add(kind, v);
            }
        }
        e.add_raw(&alert.raw);
        let mut text = format!("{}\n{}", alert.name, alert.description);
        if text.len() > MAX_SCAN {
            let mut cut = MAX_SCAN;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        e.add_text(&text);
        for u in e.urls.clone() {
            if let Some(host) = url::Url::parse(&u)
                .ok()
                .and_then(|u| u.domain().map(str::to_string))
            {
                e.add(EntityKind::Domain, &host);
            }
        }
        e
    }

    /// Fields of the source's own object that the normalised alert does not carry yet: the
    /// generic webhook's `entities`/`sender`/`user_email`, Falcon's `ioc_context` and the
    /// identity alerts' `source_endpoint_*`.
    fn add_raw(&mut self, raw: &Value) {
        let s = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or_default();
        self.set_sender(s("sender"));
        self.add(EntityKind::User, s("user_email"));
        self.add(EntityKind::Email, s("user_email"));
        self.add(EntityKind::Host, s("source_endpoint_host_name"));
        self.add(EntityKind::Ip, s("source_endpoint_ip_address"));
        self.add(EntityKind::Ip, s("external_ip"));
        self.add(EntityKind::Hash, s("md5"));
        self.add(EntityKind::Hash, s("sha1"));
        if let Some(ents) = raw.get("entities") {
            for (key, kind) in [
                ("hosts", EntityKind::Host),
                ("users", EntityKind::User),
                ("ips", EntityKind::Ip),
                ("domains", EntityKind::Domain),
                ("urls", EntityKind::Url),
                ("hashes", EntityKind::Hash),
                ("emails", EntityKind::Email),
            ] {
                for v in ents
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(v) = v.as_str() {
                        self.add(kind, v);
                    }
                }
            }
        }
        for ioc in raw
            .get("ioc_context")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ty = ioc
                .get("ioc_type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let Some(v) = ioc.get("ioc_value").and_then(Value::as_str) else {
                continue;
            };
            let kind = match ty.to_lowercase().as_str() {
                "domain" => Some(EntityKind::Domain),
                "url" => Some(EntityKind::Url),
                "ipv4" | "ipv6" | "ip" | "ip_address" => Some(EntityKind::Ip),
                t if t.starts_with("hash") || matches!(t, "md5" | "sha1" | "sha256") => {
                    Some(EntityKind::Hash)
                }
                "email" => Some(EntityKind::Email),
                _ => None,
            };
            match kind {
                Some(k) => {
                    self.add(k, v);
                }
                None => self.add_token(v),
            }
        }
    }

    /// Entities in free text: each whitespace-separated token, stripped of surrounding
    /// punctuation, is tried as a URL, email, IP, hash and domain (first that validates).
    fn add_text(&mut self, text: &str) {
        for token in text.split_whitespace() {
            self.add_token(token);
        }
    }

    fn add_token(&mut self, token: &str) {
        let t = token.trim_matches(|c: char| {
            matches!(
                c,
                '"' | '\'' | '(' | ')' | '<' | '>' | ',' | ';' | '!' | '?' | '`' | '{' | '}'
            )
        });
        let t = t.trim_end_matches(['.', ':']);
        if t.is_empty() || t.len() > MAX_VALUE_LEN {
            return;
        }
        if t.starts_with("http://") || t.starts_with("https://") {
            self.add(EntityKind::Url, t);
        } else if t.contains('@') {
            self.add(EntityKind::Email, t);
        } else if normalise(EntityKind::Ip, t).is_some() {
            self.add(EntityKind::Ip, t);
        } else if valid_hash(t) {
            self.add(EntityKind::Hash, t);
        } else {
            self.add(EntityKind::Domain, t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::AlertDevice;
    use crate::case::alert::AlertEntities;
    use proptest::prelude::*;
    use serde_json::json;

    const SHA: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

    #[test]
    fn structured_fields_give_hosts_users_hashes_and_the_sender() {
        let alert = Alert {
            name: "Malware".into(),
            device: Some(AlertDevice {
                device_id: "ABC123".into(),
                hostname: "LAPTOP-7".into(),
                local_ip: "10.0.0.7".into(),
                ..Default::default()
            }),
            user_name: "Jdoe".into(),
            account_upn: "jdoe@corp.example".into(),
            sha256: SHA.to_uppercase(),
            sender: "Evil <x>".into(),
            entities: AlertEntities {
                domains: vec!["Bad.EXAMPLE.".into(), "not a domain".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let e = Entities::from_alert(&alert);
        assert_eq!(e.hosts, ["abc123", "laptop-7"]);
        assert_eq!(e.device_ids, ["abc123"]);
        assert_eq!(e.ips, ["10.0.0.7"]);
        assert_eq!(e.users, ["jdoe@corp.example", "jdoe"]);
        assert_eq!(e.hashes, [SHA]);
        assert_eq!(e.domains, ["bad.example"]);
        assert_eq!(e.sender, None, "an invalid sender is dropped");
    }

    #[test]
    fn raw_webhook_entities_falcon_iocs_and_text_are_read() {
        let alert = Alert {
            name: "Reported email".into(),
            description: "Link https://Login.Evil.example/path?a=1, from 203.0.113.9; md5 \
                          d41d8cd98f00b204e9800998ecf8427e and invoice.exe"
                .into(),
            raw: json!({
                "sender": "Boss@Evil.example",
                "user_email": "victim@corp.example",
                "entities": {"ips": ["2001:DB8::1", "999.1.1.1"], "urls": ["javascript:alert(1)"]},
                "ioc_context": [{"ioc_type": "domain", "ioc_value": "c2.bad.example"}],
            }),
            ..Default::default()
        };
        let e = Entities::from_alert(&alert);
        assert_eq!(e.sender.as_deref(), Some("boss@evil.example"));
        assert_eq!(e.emails, ["boss@evil.example", "victim@corp.example"]);
        assert_eq!(e.users, ["victim@corp.example"]);
        assert_eq!(e.ips, ["2001:db8::1", "203.0.113.9"]);
        assert_eq!(e.urls, ["https://login.evil.example/path?a=1"]);
        assert_eq!(e.domains, ["c2.bad.example", "login.evil.example"]);
        assert_eq!(e.hashes, ["d41d8cd98f00b204e9800998ecf8427e"]);
    }

    #[test]
    fn lists_are_deduplicated_and_capped() {
        let text: String = (0..50).map(|i| format!("10.0.0.{i} 10.0.0.{i} ")).collect();
        let e = Entities::from_alert(&Alert {
            description: text,
            ..Default::default()
        });
        assert_eq!(e.ips.len(), MAX_PER_KIND);
        assert_eq!(e.ips[0], "10.0.0.0");
        assert_eq!(e.ips[1], "10.0.0.1");
    }

    fn all_valid(e: &Entities) -> bool {
        [
            EntityKind::Host,
            EntityKind::User,
            EntityKind::Ip,
            EntityKind::Domain,
            EntityKind::Url,
            EntityKind::Hash,
            EntityKind::Email,
        ]
        .into_iter()
        .all(|k| {
            let l = e.of(k);
            l.len() <= MAX_PER_KIND
                && l.iter().all(|v| {
                    normalise(k, v).as_deref() == Some(v.as_str()) && independently_valid(k, v)
                })
        })
    }

    /// Checks that do not go through the module's own validators, so a broken validator is
    /// caught rather than agreed with.
    fn independently_valid(k: EntityKind, v: &str) -> bool {
        let no_space = !v.chars().any(char::is_whitespace) && v.len() <= MAX_VALUE_LEN;
        let domain_like = |d: &str| {
            d.contains('.')
                && d.split('.').all(|l| !l.is_empty())
                && d.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        };
        no_space
            && match k {
                EntityKind::Ip => v.parse::<IpAddr>().is_ok(),
                EntityKind::Hash => {
                    [32, 40, 64].contains(&v.len())
                        && v.chars()
                            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
                }
                EntityKind::Domain => domain_like(v),
                EntityKind::Email => v
                    .split_once('@')
                    .is_some_and(|(l, d)| !l.is_empty() && domain_like(d) && !d.contains('@')),
                EntityKind::Url => url::Url::parse(v)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()),
                EntityKind::Host | EntityKind::User => !v.is_empty(),
            }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics_nor_yields_an_invalid_entity(
            name in ".{0,200}",
            description in "(([a-z0-9.@:/-]{1,30}|\\PC{1,10}) ){0,60}",
        ) {
            let e = Entities::from_alert(&Alert { name, description, ..Default::default() });
            prop_assert!(all_valid(&e), "{e:?}");
        }

        #[test]
        fn arbitrary_raw_json_never_panics(s in "\\PC{0,300}") {
            let raw = json!({"entities": {"urls": [s.clone()], "hosts": [s.clone()]},
                "ioc_context": [{"ioc_type": "x", "ioc_value": s.clone()}], "sender": s});
            let e = Entities::from_alert(&Alert { raw, ..Default::default() });
            prop_assert!(all_valid(&e), "{e:?}");
        }
    }
}
