//! Okta's users, their sessions, their Okta Verify push factor and push transactions.
//! Invariants: a user's `status` only changes through Okta's lifecycle rules (suspend needs
//! `ACTIVE`, unsuspend needs `SUSPENDED`); a push transaction is decided once (`WAITING` →
//! `SUCCESS` | `REJECTED` | `TIMEOUT`) and never changes after that.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::seed::SlackSeed;

/// How long an Okta Verify push waits for an answer before it times out (Okta: 5 minutes).
pub const PUSH_LIFETIME_SECS: i64 = 300;

/// One user of the org, built from a seeded Slack person (same email) or the control API.
#[derive(Debug, Clone)]
pub struct User {
    /// `00u…` id, what every `/api/v1/users/{id}` path takes besides the login.
    pub id: String,
    /// Lifecycle status (`ACTIVE`, `SUSPENDED`, …); suspend and unsuspend move it.
    pub status: String,
    /// The `profile` object as served (`login`, `email`, names, org fields).
    pub profile: Map<String, Value>,
    /// `created`, fixed at creation.
    pub created: DateTime<Utc>,
    /// Last change of `status`.
    pub status_changed: DateTime<Utc>,
    /// `lastUpdated` (also served as `lastLogin`): bumped by every status change.
    pub last_updated: DateTime<Utc>,
    /// Open sessions (`DELETE …/sessions` empties it).
    pub sessions: u32,
    /// How many times sessions were cleared (for tests).
    pub sessions_cleared: u32,
    /// Whether the last clear also revoked OAuth tokens.
    pub oauth_tokens_revoked: bool,
    /// The Okta Verify push factor id (`opf…`).
    pub push_factor_id: String,
}

/// How the next push for a user resolves (set from the control API).
#[derive(Debug, Clone)]
pub struct PushScript {
    /// `SUCCESS`, `REJECTED` or `TIMEOUT`; `WAITING` keeps it waiting until decided by hand.
    pub result: String,
    /// Polls that still answer `WAITING` before the result shows.
    pub after_polls: u32,
    /// Pushes this script still answers (0 = until replaced).
    pub times: u32,
}

/// One Okta Verify push: what `POST …/factors/{fid}/verify` started and polls read.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// Transaction id (`v2mst.…`), the last segment of the poll link.
    pub id: String,
    /// The user it was sent to.
    pub user_id: String,
    /// The factor it was sent through.
    pub factor_id: String,
    /// When it was sent (`created`).
    pub created: DateTime<Utc>,
    /// `expiresAt`: [`PUSH_LIFETIME_SECS`] after sending; a poll after it answers `TIMEOUT`.
    pub expires_at: DateTime<Utc>,
    /// The decided result; `None` while waiting.
    pub result: Option<String>,
    /// The scripted end, shown after `polls_left` more polls.
    pub pending: Option<String>,
    /// Polls to answer `WAITING` before `pending` takes effect.
    pub polls_left: u32,
    /// Polls answered so far, so a test can tell Vigil kept polling.
    pub polls: u32,
}

impl Transaction {
    /// Settles the transaction for a poll at `now`: expiry first, then the scripted end.
    pub fn poll(&mut self, now: DateTime<Utc>) -> String {
        self.polls += 1;
        if self.result.is_none() && now >= self.expires_at {
            self.result = Some("TIMEOUT".into());
        }
        if self.result.is_none() {
            if self.polls_left > 0 {
                self.polls_left -= 1;
            } else if let Some(end) = self.pending.clone().filter(|e| e != "WAITING") {
                self.result = Some(end);
            }
        }
        self.result.clone().unwrap_or_else(|| "WAITING".into())
    }
}

/// Everything the Okta simulator stores for its one org; reset rebuilds it from the seed.
#[derive(Debug, Clone)]
pub struct Store {
    /// Users in creation order, the seeded ones first.
    pub users: Vec<User>,
    /// Push scripts by user id.
    pub scripts: Vec<(String, PushScript)>,
    /// Every push sent, oldest first; kept until a reset so tests can inspect them.
    pub transactions: Vec<Transaction>,
    /// Fixed one-minute rate window: (window start epoch minute, requests in it).
    pub window: (i64, u32),
}

fn seed_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_736_154_000, 0).unwrap_or_default()
}

/// A stable Okta-looking id: `prefix` + 17 characters from `seed`.
pub fn okta_id(prefix: &str, seed: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHA: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = prefix.to_string();
    for _ in 0..17 {
        out.push(char::from(ALPHA[(h % 62) as usize]));
        h = h.rotate_left(7).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995;
    }
    out
}

impl User {
    /// A new active user with one open session and an Okta Verify factor.
    pub fn new(profile: Map<String, Value>, created: DateTime<Utc>) -> User {
        let login = profile
            .get("login")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        User {
            id: okta_id("00u", &login),
            status: "ACTIVE".into(),
            profile,
            created,
            status_changed: created,
            last_updated: created,
            sessions: 1,
            sessions_cleared: 0,
            oauth_tokens_revoked: false,
            push_factor_id: okta_id("opf", &login),
        }
    }

    /// `profile.login` (the email for seeded users), or "" when absent: what a by-login lookup matches (case-insensitively).
    pub fn login(&self) -> &str {
        self.profile
            .get("login")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The user in Okta's JSON shape, links under `base` (`http://HOST/okta`).
    pub fn to_json(&self, base: &str) -> Value {
        let t = |d: &DateTime<Utc>| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let me = format!("{base}/api/v1/users/{}", self.id);
        let mut links = json!({
            "self": {"href": me},
            "type": {"href": format!("{base}/api/v1/meta/types/user/oty1vigilsandbox0001")},
            "schema": {"href": format!("{base}/api/v1/meta/schemas/user/osc1vigilsandbox0001")},
            "resetPassword": {"href": format!("{me}/lifecycle/reset_password"), "method": "POST"},
            "expirePassword": {"href": format!("{me}/lifecycle/expire_password"), "method": "POST"},
            "deactivate": {"href": format!("{me}/lifecycle/deactivate"), "method": "POST"},
        });
        match self.status.as_str() {
            "ACTIVE" => {
                links["suspend"] =
                    json!({"href": format!("{me}/lifecycle/suspend"), "method": "POST"})
            }
            "SUSPENDED" => {
                links["unsuspend"] =
                    json!({"href": format!("{me}/lifecycle/unsuspend"), "method": "POST"})
            }
            _ => {}
        }
        let email = self.profile.get("email").cloned().unwrap_or(Value::Null);
        json!({
            "id": self.id,
            "status": self.status,
            "created": t(&self.created),
            "activated": t(&self.created),
            "statusChanged": t(&self.status_changed),
            "lastLogin": t(&self.last_updated),
            "lastUpdated": t(&self.last_updated),
            "passwordChanged": t(&self.created),
            "type": {"id": "oty1vigilsandbox0001"},
            "profile": self.profile,
            "credentials": {
                "password": {},
                "emails": [{"value": email, "status": "VERIFIED", "type": "PRIMARY"}],
                "provider": {"type": "OKTA", "name": "OKTA"},
            },
            "_links": links,
        })
    }

    /// The user's Okta Verify push factor in Okta's shape.
    pub fn push_factor(&self, base: &str) -> Value {
        let t = self
            .created
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let me = format!(
            "{base}/api/v1/users/{}/factors/{}",
            self.id, self.push_factor_id
        );
        json!({
            "id": self.push_factor_id,
            "factorType": "push",
            "provider": "OKTA",
            "vendorName": "OKTA",
            "status": "ACTIVE",
            "created": t,
            "lastUpdated": t,
            "profile": {
                "credentialId": self.login(),
                "deviceType": "SmartPhone_IPhone",
                "keys": [],
                "name": "iPhone",
                "platform": "IOS",
                "version": "17.5",
            },
            "_links": {
                "self": {"href": me, "hints": {"allow": ["GET", "DELETE"]}},
                "verify": {"href": format!("{me}/verify"), "hints": {"allow": ["POST"]}},
                "user": {"href": format!("{base}/api/v1/users/{}", self.id)},
            },
        })
    }
}

impl Store {
    /// One user per Slack seed person, login = their email.
    pub fn seeded(slack: &SlackSeed) -> Store {
        let users = slack
            .users
            .iter()
            .map(|p| {
                let (first, last) = p.real_name.split_once(' ').unwrap_or((&p.real_name, ""));
                let mut profile = Map::new();
                profile.insert("login".into(), json!(p.email));
                profile.insert("email".into(), json!(p.email));
                profile.insert("firstName".into(), json!(first));
                profile.insert("lastName".into(), json!(last));
                profile.insert("displayName".into(), json!(p.real_name));
                profile.insert("secondEmail".into(), Value::Null);
                profile.insert("mobilePhone".into(), Value::Null);
                profile.insert(
                    "department".into(),
                    json!(if p.is_analyst {
                        "Security"
                    } else {
                        "Engineering"
                    }),
                );
                profile.insert(
                    "title".into(),
                    json!(if p.is_analyst {
                        "Security Analyst"
                    } else {
                        "Engineer"
                    }),
                );
                User::new(profile, seed_time())
            })
            .collect();
        Store {
            users,
            scripts: Vec::new(),
            transactions: Vec::new(),
            window: (0, 0),
        }
    }

    /// A user by id, by login (case-insensitive), or by the login's unambiguous short name.
    pub fn find(&self, key: &str) -> Option<usize> {
        if let Some(i) = self.users.iter().position(|u| u.id == key) {
            return Some(i);
        }
        if let Some(i) = self
            .users
            .iter()
            .position(|u| u.login().eq_ignore_ascii_case(key))
        {
            return Some(i);
        }
        let short: Vec<usize> = self
            .users
            .iter()
            .enumerate()
            .filter(|(_, u)| {
                u.login()
                    .split_once('@')
                    .is_some_and(|(s, _)| s.eq_ignore_ascii_case(key))
            })
            .map(|(i, _)| i)
            .collect();
        (short.len() == 1).then(|| short[0])
    }

    /// Adds or replaces (by login) a user; answers its index.
    pub fn upsert(
        &mut self,
        profile: Map<String, Value>,
        status: Option<String>,
        now: DateTime<Utc>,
    ) -> usize {
        let login = profile
            .get("login")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut user = User::new(profile, now);
        if let Some(s) = status {
            user.status = s;
        }
        match self
            .users
            .iter()
            .position(|u| u.login().eq_ignore_ascii_case(&login))
        {
            Some(i) => {
                user.id = self.users[i].id.clone();
                user.push_factor_id = self.users[i].push_factor_id.clone();
                self.users[i] = user;
                i
            }
            None => {
                self.users.push(user);
                self.users.len() - 1
            }
        }
    }

    /// Sends a push to user `i`: a new waiting transaction shaped by that user's script.
    pub fn push(&mut self, i: usize, now: DateTime<Utc>) -> Transaction {
        let user_id = self.users[i].id.clone();
        let factor_id = self.users[i].push_factor_id.clone();
        let mut script = PushScript {
            result: "SUCCESS".into(),
            after_polls: 1,
            times: 0,
        };
        if let Some(pos) = self.scripts.iter().position(|(u, _)| *u == user_id) {
            script = self.scripts[pos].1.clone();
            if script.times == 1 {
                self.scripts.remove(pos);
            } else if script.times > 1 {
                self.scripts[pos].1.times -= 1;
            }
        }
        let tx = Transaction {
            id: format!("v2mst.{}", uuid::Uuid::new_v4().simple()),
            user_id,
            factor_id,
            created: now,
            expires_at: now + Duration::seconds(PUSH_LIFETIME_SECS),
            result: None,
            pending: Some(script.result),
            polls_left: script.after_polls,
            polls: 0,
        };
        self.transactions.push(tx.clone());
        tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_waits_then_takes_its_scripted_end_and_times_out_when_unanswered() {
        let mut s = Store::seeded(&crate::Seed::standard().slack);
        let now = Utc::now();
        let t = s.push(0, now);
        let mut t = t;
        assert_eq!(t.poll(now), "WAITING", "default: one waiting poll");
        assert_eq!(t.poll(now), "SUCCESS");
        assert_eq!(
            t.poll(now + Duration::seconds(999)),
            "SUCCESS",
            "decided once"
        );
        let uid = s.users[1].id.clone();
        s.scripts.push((
            uid,
            PushScript {
                result: "WAITING".into(),
                after_polls: 0,
                times: 1,
            },
        ));
        let mut w = s.push(1, now);
        assert_eq!(w.poll(now), "WAITING");
        assert_eq!(
            w.poll(now + Duration::seconds(PUSH_LIFETIME_SECS)),
            "TIMEOUT"
        );
        assert!(s.scripts.is_empty(), "times: 1 is used up");
    }

    #[test]
    fn users_are_found_by_id_login_and_short_name() {
        let s = Store::seeded(&crate::Seed::standard().slack);
        let carol = s.find("carol.diaz@acme.example").unwrap();
        assert_eq!(s.find(&s.users[carol].id.clone()), Some(carol));
        assert_eq!(s.find("CAROL.DIAZ"), Some(carol));
        assert_eq!(s.find("nobody"), None);
        assert!(s.users[carol].id.starts_with("00u") && s.users[carol].id.len() == 20);
    }
}
