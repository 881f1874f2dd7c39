//! Okta's records (vendor-apis §7): users, factors and the push-verify transaction. Orgs add
//! profile attributes, so profiles keep every unknown attribute in `extra`.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::vendors::http::lenient_text;

/// A user's profile: the standard attributes Vigil shows, plus the org's own.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Login (usually the email).
    #[serde(default, deserialize_with = "lenient_text")]
    pub login: Option<String>,
    /// Primary email, as the org stores it.
    #[serde(default, deserialize_with = "lenient_text")]
    pub email: Option<String>,
    /// `firstName`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub first_name: Option<String>,
    /// `lastName`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub last_name: Option<String>,
    /// `displayName`: the name to show, when the org fills it in.
    #[serde(default, deserialize_with = "lenient_text")]
    pub display_name: Option<String>,
    /// `title`: job title, free text.
    #[serde(default, deserialize_with = "lenient_text")]
    pub title: Option<String>,
    /// `department`, free text.
    #[serde(default, deserialize_with = "lenient_text")]
    pub department: Option<String>,
    /// `manager`: the manager's name as the org stores it (free text, not a user id).
    #[serde(default, deserialize_with = "lenient_text")]
    pub manager: Option<String>,
    /// `mobilePhone`, as the org stores it (not validated).
    #[serde(default, deserialize_with = "lenient_text")]
    pub mobile_phone: Option<String>,
    /// Every other attribute, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An Okta user as `GET /api/v1/users/{id or login}` returns it; times are ISO 8601 text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user id (`00u…`): what lifecycle, sessions and factor calls take.
    pub id: String,
    /// `ACTIVE`, `SUSPENDED`, `LOCKED_OUT`, `DEPROVISIONED`, …
    #[serde(default)]
    pub status: String,
    /// When the user was created (ISO 8601).
    #[serde(default, deserialize_with = "lenient_text")]
    pub created: Option<String>,
    /// Last status change.
    #[serde(default, deserialize_with = "lenient_text")]
    pub status_changed: Option<String>,
    /// Last sign-in.
    #[serde(default, deserialize_with = "lenient_text")]
    pub last_login: Option<String>,
    /// Last change to the user.
    #[serde(default, deserialize_with = "lenient_text")]
    pub last_updated: Option<String>,
    /// Last password change.
    #[serde(default, deserialize_with = "lenient_text")]
    pub password_changed: Option<String>,
    /// `profile`: the user's attributes (names, email, login, org fields).
    #[serde(default)]
    pub profile: Profile,
}

impl User {
    /// The name to show: display name, else first and last name, else the login.
    pub fn display_name(&self) -> String {
        let p = &self.profile;
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        if let Some(d) = non_empty(&p.display_name) {
            return d;
        }
        let parts: Vec<String> = [non_empty(&p.first_name), non_empty(&p.last_name)]
            .into_iter()
            .flatten()
            .collect();
        if !parts.is_empty() {
            return parts.join(" ");
        }
        non_empty(&p.login).unwrap_or_else(|| self.id.clone())
    }
}

/// An enrolled factor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Factor {
    /// Factor id: what verify takes.
    pub id: String,
    /// `push`, `token:software:totp`, `sms`, …
    #[serde(default)]
    pub factor_type: String,
    /// `OKTA`, `GOOGLE`, …
    #[serde(default)]
    pub provider: String,
    /// `ACTIVE`, `PENDING_ACTIVATION`, …
    #[serde(default)]
    pub status: String,
}

impl Factor {
    /// Whether this is an active Okta Verify push factor.
    pub fn is_okta_verify_push(&self) -> bool {
        self.factor_type == "push" && self.provider == "OKTA" && self.status == "ACTIVE"
    }
}

/// Where a push stands: `factorResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushResult {
    /// Sent; the person has not answered.
    Waiting,
    /// Approved on the phone.
    Success,
    /// Denied on the phone.
    Rejected,
    /// Not answered in time.
    Timeout,
    /// Any other value Okta sends (`CANCELLED`, `ERROR`, …), as sent.
    Other(String),
}

impl PushResult {
    /// From Okta's `factorResult`.
    pub fn parse(s: &str) -> PushResult {
        match s {
            "WAITING" => PushResult::Waiting,
            "SUCCESS" => PushResult::Success,
            "REJECTED" => PushResult::Rejected,
            "TIMEOUT" => PushResult::Timeout,
            other => PushResult::Other(other.to_string()),
        }
    }

    /// Whether polling should go on.
    pub fn is_waiting(&self) -> bool {
        *self == PushResult::Waiting
    }
}

/// `{"href"}` of a link.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Href {
    /// The absolute URL to call (Okta's `_links.*.href`).
    #[serde(default)]
    pub href: String,
}

/// `_links` of a verify answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VerifyLinks {
    /// Where to poll a waiting push.
    #[serde(default)]
    pub poll: Option<Href>,
}

/// The answer of verify and of each poll.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyAnswer {
    /// `WAITING`, `SUCCESS`, `REJECTED`, `TIMEOUT`.
    pub factor_result: String,
    /// When the push expires.
    #[serde(default, deserialize_with = "lenient_text")]
    pub expires_at: Option<String>,
    /// The poll link while waiting.
    #[serde(default, rename = "_links")]
    pub links: VerifyLinks,
}

/// A push that was sent: which user, factor and transaction to poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTransaction {
    /// Okta user id the push went to; the poll path
    /// `/api/v1/users/{id}/factors/{fid}/transactions/{tid}` needs it.
    pub user_id: String,
    /// The Okta Verify `push` factor's id (`fid` in that path).
    pub factor_id: String,
    /// The transaction id (last segment of the poll link); `None` when Okta decided at once.
    pub transaction_id: Option<String>,
    /// Its state when it was sent.
    pub result: PushResult,
}
