//! EmailRep client (vendor-apis §10): `GET /{email}` for one address.
//!
//! Invariants: every call sends `Key` and a descriptive `User-Agent` (EmailRep refuses calls
//! without one); the address is checked locally and sent as one percent-encoded path segment,
//! so `+`, `/` or `?` in it cannot change the request; a 429 naming the daily limit comes back
//! at once (EmailRep says to wait a day), other 429s are retried by the scheduler.

use serde_json::Value;

use super::config::EmailRepConfig;
use super::models::{EmailReport, Wire};
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};
use crate::vendors::outbound::{self, Outbound, RetryPolicy};

const VENDOR: &str = "emailrep";
const CALL: &str = "query email";
/// Sent as `User-Agent`: EmailRep asks for one that says who is calling.
pub const USER_AGENT: &str = concat!(
    "vigil/",
    env!("CARGO_PKG_VERSION"),
    " (security alert triage bot)"
);

/// An EmailRep client for one API key.
pub struct EmailRepClient {
    http: reqwest::Client,
    config: EmailRepConfig,
    outbound: Outbound,
}

/// EmailRep's error text: `{"status":"fail","reason"}`.
pub fn error_message(v: &Value) -> Option<String> {
    v.get("reason")
        .or_else(|| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Why an address would be refused by EmailRep, checked before a call is spent on it.
pub fn invalid_email(email: &str) -> Option<&'static str> {
    if email.len() > 254 {
        return Some("an address is at most 254 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("an address has no spaces or control characters");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Some("an address has the form name@domain");
    };
    if local.is_empty() || local.contains('@') {
        return Some("an address has exactly one @ with a name before it");
    }
    let labels_ok = domain
        .split('.')
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    if !domain.contains('.') || !labels_ok {
        return Some("the domain after @ is a dotted host name like example.com");
    }
    None
}

impl EmailRepClient {
    /// A client with the configured pace and the default retry policy.
    pub fn new(config: EmailRepConfig) -> Result<Self, VendorError> {
        let outbound = Self::scheduler(&config, RetryPolicy::default());
        Ok(EmailRepClient {
            http: http::client()?,
            config,
            outbound,
        })
    }

    fn scheduler(config: &EmailRepConfig, policy: RetryPolicy) -> Outbound {
        let rate = config.requests_per_minute;
        Outbound::new("EmailRep", outbound::per_minute(rate, rate.min(5)), policy)
    }

    /// The same client with another retry policy (tests, or a pipeline with its own budget).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.outbound = Self::scheduler(&self.config, policy);
        self
    }

    /// The request URL: the base with the address appended as one encoded path segment.
    fn url_for(&self, email: &str) -> Result<url::Url, VendorError> {
        let bad_base = |why: &str| VendorError::Invalid {
            vendor: VENDOR,
            call: CALL,
            message: format!("emailrep.base_url {}: {why}", self.config.base_url),
        };
        let mut url =
            url::Url::parse(&self.config.base_url).map_err(|e| bad_base(&e.to_string()))?;
        url.path_segments_mut()
            .map_err(|()| bad_base("cannot take a path"))?
            .pop_if_empty()
            .push(email);
        Ok(url)
    }

    /// `GET /{email}`: the address's reputation.
    pub async fn query(&self, email: &str) -> Result<EmailReport, VendorError> {
        let email = email.trim();
        if let Some(why) = invalid_email(email) {
            return Err(VendorError::Invalid {
                vendor: VENDOR,
                call: CALL,
                message: format!("{email:?} is not an email address: {why}"),
            });
        }
        let url = self.url_for(email)?;
        let answer: Result<Wire, VendorError> = self
            .outbound
            .call("api", CALL, || async {
                let sent = http::send::<Wire>(
                    VENDOR,
                    CALL,
                    self.http
                        .get(url.clone())
                        .header("Key", self.config.api_key.expose())
                        .header("User-Agent", USER_AGENT)
                        .header("accept", "application/json"),
                    RetrySignal::RetryAfterSeconds,
                    error_message,
                )
                .await;
                match sent {
                    Ok(w) => Ok(Ok(w)),
                    // The daily limit does not lift within any retry budget.
                    Err(VendorError::Status {
                        status: 429,
                        message,
                        retry_after,
                        ..
                    }) if message.to_ascii_lowercase().contains("daily limit") => {
                        Ok(Err(VendorError::Status {
                            vendor: VENDOR,
                            call: CALL,
                            status: 429,
                            message: format!("{message} (daily quota used up; not retried)"),
                            retry_after,
                        }))
                    }
                    Err(e) => Err(e),
                }
            })
            .await
            .and_then(|inner| inner);
        answer.map(|w| w.into_report(email))
    }
}
