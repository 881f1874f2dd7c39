//! Okta management API client (vendor-apis §7): users by id or login, search, clear
//! sessions, suspend / unsuspend, factors and an Okta Verify push with its polled transaction.
//! `Authorization: SSWS <token>`. Every call goes through the vendor's [`Outbound`] scheduler.
//!
//! Rate limits: Okta sends `X-Rate-Limit-Reset` (epoch seconds) on every answer, so it is read
//! only on a 429, where it is the wait; elsewhere a `Retry-After`, if any, counts.
//! Invariant: a poll link from Okta is never fetched as given; only its transaction id is
//! taken, and the poll goes to the configured org.

use std::time::Duration;

use reqwest::{Method, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::config::OktaConfig;
use super::models::{Factor, PushResult, PushTransaction, User, VerifyAnswer};
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};
use crate::vendors::outbound::{self, Outbound, RetryPolicy};

const VENDOR: &str = "okta";
/// Largest page of `GET /api/v1/users`.
pub const MAX_LIMIT: u32 = 200;
/// The header that says when a 429's window resets.
const RESET: &str = "x-rate-limit-reset";

/// An Okta client for one org.
pub struct OktaClient {
    http: reqwest::Client,
    config: OktaConfig,
    outbound: Outbound,
}

/// Okta's error text: `errorSummary`, the `errorCauses`, and the `errorCode`
/// (`Api validation failed: suspend: Cannot suspend a user that is not active [E0000001]`).
pub fn error_message(v: &Value) -> Option<String> {
    let summary = v.get("errorSummary")?.as_str()?;
    let causes: Vec<&str> = v
        .get("errorCauses")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter_map(|c| c.get("errorSummary").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let mut out = summary.to_string();
    if !causes.is_empty() {
        out = format!("{out}: {}", causes.join("; "));
    }
    if let Some(code) = v.get("errorCode").and_then(Value::as_str) {
        out = format!("{out} [{code}]");
    }
    Some(out)
}

/// The search expression `attr eq "value"`, the value quoted so it stays one value.
pub fn eq_search(attr: &str, value: &str) -> String {
    let escaped: String = value
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("{attr} eq \"{escaped}\"")
}

/// Okta's org-wide default for the users API is 600 requests a minute.
fn quota() -> governor::Quota {
    outbound::per_minute(600, 20)
}

/// A path segment with everything but unreserved characters percent-encoded
/// (`alice@acme.example` → `alice%40acme.example`).
fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn signal(resp: &Response) -> RetrySignal {
    if resp.status().as_u16() == 429 {
        RetrySignal::EpochHeader(RESET)
    } else {
        RetrySignal::RetryAfterSeconds
    }
}

async fn read<T: DeserializeOwned>(call: &'static str, resp: Response) -> Result<T, VendorError> {
    let signal = signal(&resp);
    http::decode(VENDOR, call, resp, signal, error_message).await
}

async fn expect_success(call: &'static str, resp: Response) -> Result<(), VendorError> {
    if resp.status().is_success() {
        return Ok(());
    }
    let signal = signal(&resp);
    Err(http::status_error(VENDOR, call, resp, signal, error_message).await)
}

impl OktaClient {
    /// A client for the configured org with the default retry policy. It makes no call,
    /// so a bad credential shows on first use (or in `vigil doctor`); it fails only if the HTTP
    /// client cannot be built.
    pub fn new(config: OktaConfig) -> Result<Self, VendorError> {
        Ok(OktaClient {
            http: http::client()?,
            config,
            outbound: Outbound::new("Okta", quota(), RetryPolicy::default()),
        })
    }

    /// The same client with another retry policy (tests, or a pipeline with its own budget).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.outbound = Outbound::new("Okta", quota(), policy);
        self
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.config.base_url))
            .header(
                "authorization",
                format!("SSWS {}", self.config.api_token.expose()),
            )
            .header("accept", "application/json")
    }

    async fn send(
        &self,
        call: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<Response, VendorError> {
        req.send()
            .await
            .map_err(|e| http::transport(VENDOR, call, e))
    }

    /// Sends one request (rebuilt per attempt) under the scheduler and decodes its JSON.
    async fn json<T: DeserializeOwned>(
        &self,
        call: &'static str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, VendorError> {
        self.outbound
            .call("org", call, || async {
                read(call, self.send(call, build()).await?).await
            })
            .await
    }

    /// Sends one request whose answer has no body Vigil needs.
    async fn empty(
        &self,
        call: &'static str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(), VendorError> {
        self.outbound
            .call("org", call, || async {
                expect_success(call, self.send(call, build()).await?).await
            })
            .await
    }

    /// `GET /api/v1/users/{id or login}` (the login URL-encoded); a login with `/` cannot be
    /// a path segment, so it is found by search instead. `None` when there is no such user.
    pub async fn user(&self, id_or_login: &str) -> Result<Option<User>, VendorError> {
        const CALL: &str = "get user";
        let key = id_or_login.trim();
        if key.is_empty() {
            return Ok(None);
        }
        if key.contains('/') {
            let found = self.search(&eq_search("profile.login", key), 2).await?;
            return Ok(found.into_iter().next());
        }
        let path = format!("/api/v1/users/{}", segment(key));
        match self.json(CALL, || self.request(Method::GET, &path)).await {
            Ok(u) => Ok(Some(u)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v1/users?search=…&limit=…`: the first page of users matching an Okta search
    /// expression (build values with [`eq_search`]).
    pub async fn search(&self, expression: &str, limit: u32) -> Result<Vec<User>, VendorError> {
        let query = [
            ("search", expression.to_string()),
            ("limit", limit.clamp(1, MAX_LIMIT).to_string()),
        ];
        self.json("search users", || {
            self.request(Method::GET, "/api/v1/users").query(&query)
        })
        .await
    }

    /// `GET /api/v1/users?limit=N`: any N users (what `vigil doctor` reads to prove the token).
    pub async fn list_users(&self, limit: u32) -> Result<Vec<User>, VendorError> {
        let query = [("limit", limit.clamp(1, MAX_LIMIT).to_string())];
        self.json("list users", || {
            self.request(Method::GET, "/api/v1/users").query(&query)
        })
        .await
    }

    /// `DELETE /api/v1/users/{id}/sessions?oauthTokens=…` → 204: signs the user out of every
    /// Okta session, and with `oauth_tokens` also revokes their OAuth/OIDC tokens.
    pub async fn clear_sessions(
        &self,
        user_id: &str,
        oauth_tokens: bool,
    ) -> Result<(), VendorError> {
        let path = format!("/api/v1/users/{}/sessions", segment(user_id));
        let query = [("oauthTokens", oauth_tokens.to_string())];
        self.empty("clear sessions", || {
            self.request(Method::DELETE, &path).query(&query)
        })
        .await
    }

    /// `POST /api/v1/users/{id}/lifecycle/suspend`. Only an `ACTIVE` user can be suspended;
    /// Okta's 400 for any other status comes back as the error, with its cause.
    pub async fn suspend(&self, user_id: &str) -> Result<(), VendorError> {
        self.lifecycle("suspend user", user_id, "suspend").await
    }

    /// `POST /api/v1/users/{id}/lifecycle/unsuspend`. Only a `SUSPENDED` user.
    pub async fn unsuspend(&self, user_id: &str) -> Result<(), VendorError> {
        self.lifecycle("unsuspend user", user_id, "unsuspend").await
    }

    async fn lifecycle(
        &self,
        call: &'static str,
        user_id: &str,
        action: &str,
    ) -> Result<(), VendorError> {
        let path = format!("/api/v1/users/{}/lifecycle/{action}", segment(user_id));
        self.empty(call, || self.request(Method::POST, &path)).await
    }

    /// `GET /api/v1/users/{id}/factors`: the user's enrolled factors.
    pub async fn factors(&self, user_id: &str) -> Result<Vec<Factor>, VendorError> {
        let path = format!("/api/v1/users/{}/factors", segment(user_id));
        self.json("list factors", || self.request(Method::GET, &path))
            .await
    }

    /// `POST /api/v1/users/{id}/factors/{fid}/verify`: sends an Okta Verify push. Okta answers
    /// `WAITING` with a poll link; the transaction id is taken from it.
    pub async fn verify_push(
        &self,
        user_id: &str,
        factor_id: &str,
    ) -> Result<PushTransaction, VendorError> {
        const CALL: &str = "verify push";
        let path = format!(
            "/api/v1/users/{}/factors/{}/verify",
            segment(user_id),
            segment(factor_id)
        );
        // No retries: a retried verify would send the person a second push.
        let answer: VerifyAnswer = read(
            CALL,
            self.send(
                CALL,
                self.request(Method::POST, &path)
                    .json(&serde_json::json!({})),
            )
            .await?,
        )
        .await?;
        let result = PushResult::parse(&answer.factor_result);
        let transaction_id = answer
            .links
            .poll
            .as_ref()
            .and_then(|p| transaction_id(&p.href));
        if result.is_waiting() && transaction_id.is_none() {
            return Err(VendorError::Decode {
                vendor: VENDOR,
                call: CALL,
                message: "WAITING without a poll link to a transaction".into(),
            });
        }
        Ok(PushTransaction {
            user_id: user_id.to_string(),
            factor_id: factor_id.to_string(),
            transaction_id,
            result,
        })
    }

    /// `GET /api/v1/users/{id}/factors/{fid}/transactions/{tid}`: where the push stands now.
    pub async fn poll_push(&self, tx: &PushTransaction) -> Result<PushResult, VendorError> {
        let Some(tid) = &tx.transaction_id else {
            return Ok(tx.result.clone());
        };
        let path = format!(
            "/api/v1/users/{}/factors/{}/transactions/{}",
            segment(&tx.user_id),
            segment(&tx.factor_id),
            segment(tid)
        );
        let answer: VerifyAnswer = self
            .json("poll push", || self.request(Method::GET, &path))
            .await?;
        Ok(PushResult::parse(&answer.factor_result))
    }

    /// Sends an Okta Verify push to the user's active push factor and polls every `every`
    /// until the person answers or Okta gives up (`SUCCESS`, `REJECTED`, `TIMEOUT`), or
    /// `max_wait` passes (then `WAITING`). An error when the user has no such factor.
    pub async fn push_and_wait(
        &self,
        user_id: &str,
        every: Duration,
        max_wait: Duration,
    ) -> Result<PushResult, VendorError> {
        let factors = self.factors(user_id).await?;
        let Some(push) = factors.iter().find(|f| f.is_okta_verify_push()) else {
            return Err(VendorError::Invalid {
                vendor: VENDOR,
                call: "verify push",
                message: format!("user {user_id} has no active Okta Verify push factor"),
            });
        };
        let tx = self.verify_push(user_id, &push.id).await?;
        let deadline = tokio::time::Instant::now() + max_wait;
        let mut result = tx.result.clone();
        while result.is_waiting() {
            if tokio::time::Instant::now() + every > deadline {
                break;
            }
            tokio::time::sleep(every).await;
            result = self.poll_push(&tx).await?;
        }
        Ok(result)
    }
}

/// The transaction id at the end of a poll link (`…/transactions/{tid}`).
fn transaction_id(href: &str) -> Option<String> {
    let path = href.split(['?', '#']).next()?;
    let (_, tid) = path.rsplit_once("/transactions/")?;
    (!tid.is_empty() && !tid.contains('/')).then(|| tid.to_string())
}
