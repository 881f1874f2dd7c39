//! GitHub REST client for the case repository: issues, comments, labels, and the look-ups that
//! make ticket creation exactly-once (SPEC §5: list issues created since an intent, because
//! search is eventually consistent).
//!
//! Content creation (new issues and comments) waits on GitHub's 80/min limiter, new issues
//! ahead of comments (`Outbound::call_ahead`); search on its
//! own 30/min limiter; other calls are only retried. Rate-limit answers (403/429 with
//! `retry-after`, or with `x-ratelimit-remaining: 0`) are transient; any other 403 is not.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Method, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::config::GitHubConfig;
use super::models::{Comment, Issue, next_link};
use crate::vendors::VendorError;
use crate::vendors::http;
use crate::vendors::outbound::{self, Outbound, RetryPolicy};

const VENDOR: &str = "github";
/// The REST API version Vigil is written against.
pub const API_VERSION: &str = "2022-11-28";
/// Items per page on list calls (GitHub's maximum).
const PER_PAGE: &str = "100";
/// Most pages one listing follows (10 000 items): a guard against a `Link` loop.
const MAX_PAGES: usize = 100;
/// How far before a create call a duplicate is looked for (clock skew between us and GitHub).
const CREATE_LOOKBACK: chrono::Duration = chrono::Duration::minutes(5);
/// GitHub's advice for a secondary limit that names no wait: at least a minute.
const SECONDARY_WAIT: Duration = Duration::from_secs(60);
/// Limiter key of content creation.
const CONTENT: &str = "content";
/// Limiter key of search.
const SEARCH: &str = "search";

/// A GitHub client bound to one repository.
pub struct GitHubClient {
    http: reqwest::Client,
    config: GitHubConfig,
    /// Content creation (80/min); also runs unmetered calls with the same retry policy.
    content: Outbound,
    /// Search (30/min).
    search: Outbound,
    /// Issue slots on the content limit's clock: in a storm, low-priority cases wait for theirs
    /// off the runner (SPEC §5 "Storms").
    issue_slots: outbound::Pacer,
}

/// What Vigil needs to know about the repository.
#[derive(Debug, Clone, Deserialize)]
pub struct Repository {
    /// `owner/name`.
    pub full_name: String,
    /// Whether issues are turned on.
    #[serde(default)]
    pub has_issues: bool,
    /// What the token may do, when GitHub says.
    #[serde(default)]
    pub permissions: Option<Permissions>,
}

/// Token permissions on the repository.
#[derive(Debug, Clone, Deserialize)]
pub struct Permissions {
    /// Write access (needed to open and close issues).
    #[serde(default)]
    pub push: bool,
    /// Triage access (enough for issues and labels).
    #[serde(default)]
    pub triage: bool,
}

#[derive(Deserialize)]
struct SearchResult {
    #[serde(default)]
    items: Vec<Issue>,
}

/// GitHub's error text: `message`, plus the details of a 422's `errors`
/// (`Validation Failed: Issue.title missing_field`).
pub fn error_message(v: &Value) -> Option<String> {
    let message = v.get("message")?.as_str()?.to_string();
    let details: Vec<String> = v
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| errors.iter().filter_map(error_detail).collect())
        .unwrap_or_default();
    Some(if details.is_empty() {
        message
    } else {
        format!("{message}: {}", details.join("; "))
    })
}

fn error_detail(e: &Value) -> Option<String> {
    if let Some(s) = e.as_str() {
        return Some(s.to_string());
    }
    if let Some(m) = e.get("message").and_then(Value::as_str) {
        return Some(m.to_string());
    }
    let part = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
    Some(format!(
        "{}.{} {}",
        part("resource"),
        part("field"),
        part("code")
    ))
}

/// How long a 403/429 answer asks us to wait, if it is a rate limit at all: `retry-after`
/// seconds; else `x-ratelimit-reset` when `x-ratelimit-remaining` is 0; else a minute when the
/// message names a secondary limit.
fn rate_limit_wait(status: u16, headers: &HeaderMap, message: &str) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    let header = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    if let Some(secs) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    if header("x-ratelimit-remaining") == Some("0") {
        let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok());
        let secs = reset.map_or(60, |at| at - Utc::now().timestamp()).max(1);
        return Some(Duration::from_secs(u64::try_from(secs).unwrap_or(60)));
    }
    let lower = message.to_ascii_lowercase();
    if lower.contains("secondary rate limit") || lower.contains("rate limit exceeded") {
        return Some(SECONDARY_WAIT);
    }
    None
}

/// The error for a non-2xx answer, with GitHub's rate-limit rules applied.
async fn status_error(call: &'static str, resp: Response) -> VendorError {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| error_message(&v))
        .unwrap_or_else(|| {
            let snippet: String = text.chars().take(200).collect();
            if snippet.trim().is_empty() {
                format!("HTTP {status}")
            } else {
                snippet
            }
        });
    match rate_limit_wait(status, &headers, &message) {
        Some(wait) => VendorError::RateLimited {
            vendor: VENDOR,
            call,
            status,
            message,
            retry_after: Some(wait),
        },
        None => VendorError::Status {
            vendor: VENDOR,
            call,
            status,
            message,
            retry_after: None,
        },
    }
}

/// Decodes a 2xx JSON answer, or builds the error.
async fn read<T: DeserializeOwned>(call: &'static str, resp: Response) -> Result<T, VendorError> {
    if !resp.status().is_success() {
        return Err(status_error(call, resp).await);
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| http::transport(VENDOR, call, e))?;
    serde_json::from_slice(&bytes).map_err(|e| VendorError::Decode {
        vendor: VENDOR,
        call,
        message: e.to_string(),
    })
}

/// Checks a 2xx answer whose body Vigil does not need.
async fn expect_success(call: &'static str, resp: Response) -> Result<(), VendorError> {
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(status_error(call, resp).await)
    }
}

/// GitHub timestamps have whole seconds; compare against `since` cut to whole seconds.
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(0)
}

impl GitHubClient {
    /// A client for the configured repository with the default retry policy. It makes no call,
    /// so a bad credential shows on first use (or in `vigil doctor`); it fails only if the HTTP
    /// client cannot be built.
    pub fn new(config: GitHubConfig) -> Result<Self, VendorError> {
        Self::with_policy(config, RetryPolicy::default())
    }

    /// The same client with another retry policy (tests, or a pipeline with its own budget).
    pub fn with_retry_policy(self, policy: RetryPolicy) -> Self {
        GitHubClient {
            content: Outbound::new("GitHub", outbound::github_content_quota(), policy.clone()),
            search: Outbound::new("GitHub", outbound::per_minute(30, 5), policy),
            ..self
        }
    }

    fn with_policy(config: GitHubConfig, policy: RetryPolicy) -> Result<Self, VendorError> {
        Ok(GitHubClient {
            http: http::client()?,
            config,
            content: Outbound::new("GitHub", outbound::github_content_quota(), policy.clone()),
            search: Outbound::new("GitHub", outbound::per_minute(30, 5), policy),
            issue_slots: outbound::Pacer::per_minute(80, 10),
        })
    }

    /// Reserves the next issue slot at the content-creation pace (80/min after a burst of 10)
    /// and answers how far ahead it is, so a storm's low-priority issues can wait for their
    /// slot without holding a runner, while high-priority ones go at once.
    pub fn reserve_issue_slot(&self) -> std::time::Duration {
        self.issue_slots.reserve()
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.request_url(method, &format!("{}{}", self.config.base_url, path))
    }

    fn request_url(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(self.config.token.expose())
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
    }

    fn repo_path(&self, rest: &str) -> String {
        let (owner, name) = self.config.owner_and_name();
        format!("/repos/{owner}/{name}{rest}")
    }

    async fn send(
        &self,
        call: &'static str,
        builder: reqwest::RequestBuilder,
    ) -> Result<Response, VendorError> {
        builder
            .send()
            .await
            .map_err(|e| http::transport(VENDOR, call, e))
    }

    /// `GET /repos/{owner}/{repo}`: proves the token can see the repository.
    pub async fn repository(&self) -> Result<Repository, VendorError> {
        const CALL: &str = "get repository";
        let path = self.repo_path("");
        self.content
            .call_unmetered(CALL, || async {
                read(
                    CALL,
                    self.send(CALL, self.request(Method::GET, &path)).await?,
                )
                .await
            })
            .await
    }

    /// `POST /repos/{o}/{r}/issues`. A retry after a failure first looks for an issue with this
    /// exact title and body created since the first attempt (GitHub may have created it before
    /// failing), so a retried create never opens a second issue.
    pub async fn create_issue(
        &self,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Issue, VendorError> {
        const CALL: &str = "create issue";
        let since = Utc::now() - CREATE_LOOKBACK;
        let path = self.repo_path("/issues");
        let payload = json!({"title": title, "body": body, "labels": labels});
        let attempts = AtomicU32::new(0);
        self.content
            .call_ahead(CONTENT, CALL, || {
                let retry = attempts.fetch_add(1, Ordering::SeqCst) > 0;
                let (path, payload) = (&path, &payload);
                async move {
                    if retry && let Some(found) = self.created_twin(since, title, body).await? {
                        tracing::info!(
                            number = found.number,
                            "issue was created by a failed attempt; using it"
                        );
                        return Ok(found);
                    }
                    let req = self.request(Method::POST, path).json(payload);
                    read(CALL, self.send(CALL, req).await?).await
                }
            })
            .await
    }

    async fn created_twin(
        &self,
        since: DateTime<Utc>,
        title: &str,
        body: &str,
    ) -> Result<Option<Issue>, VendorError> {
        let recent = self.issues_created_since(since).await?;
        Ok(recent.into_iter().find(|i| {
            i.title == title && i.body.as_deref().unwrap_or_default().trim() == body.trim()
        }))
    }

    /// `GET /repos/{o}/{r}/issues/{number}`.
    pub async fn issue(&self, number: u64) -> Result<Issue, VendorError> {
        const CALL: &str = "get issue";
        let path = self.repo_path(&format!("/issues/{number}"));
        self.content
            .call_unmetered(CALL, || async {
                read(
                    CALL,
                    self.send(CALL, self.request(Method::GET, &path)).await?,
                )
                .await
            })
            .await
    }

    /// Issues (not pull requests) created at or after `since`, newest first. Lists
    /// `state=all&sort=created&direction=desc&since=…` (GitHub's `since` filters on *updated*,
    /// so creation dates are checked here) and stops at the first older issue.
    pub async fn issues_created_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<Issue>, VendorError> {
        const CALL: &str = "list issues";
        let since = whole_seconds(since);
        let first = self.first_page_url(
            &self.repo_path("/issues"),
            &[
                ("state", "all"),
                ("sort", "created"),
                ("direction", "desc"),
                ("since", &since.to_rfc3339_opts(SecondsFormat::Secs, true)),
                ("per_page", PER_PAGE),
            ],
        )?;
        let mut found = Vec::new();
        let mut next = Some(first);
        for _ in 0..MAX_PAGES {
            let Some(url) = next.take() else { break };
            let (page, link): (Vec<Issue>, _) = self.page(CALL, &url).await?;
            let mut reached_older = false;
            for issue in page {
                if issue.created_at < since {
                    reached_older = true;
                    break;
                }
                if !issue.is_pull_request() {
                    found.push(issue);
                }
            }
            if reached_older {
                break;
            }
            next = link;
        }
        Ok(found)
    }

    /// `GET /search/issues?q=…`: every issue (not pull request) the search returns. Search is
    /// eventually consistent: a just-created issue may be missing (use
    /// [`GitHubClient::issues_created_since`] to find recent ones).
    pub async fn search_issues(&self, q: &str) -> Result<Vec<Issue>, VendorError> {
        const CALL: &str = "search issues";
        let first = self.first_page_url("/search/issues", &[("q", q), ("per_page", PER_PAGE)])?;
        let mut found = Vec::new();
        let mut next = Some(first);
        // Search serves at most 1000 results: 10 pages of 100.
        for _ in 0..10 {
            let Some(url) = next.take() else { break };
            let (result, link): (SearchResult, _) = self
                .search
                .call(SEARCH, CALL, || self.fetch_page(CALL, &url))
                .await?;
            found.extend(result.items.into_iter().filter(|i| !i.is_pull_request()));
            next = link;
        }
        Ok(found)
    }

    /// `POST /repos/{o}/{r}/issues/{number}/comments`. Like [`GitHubClient::create_issue`], a
    /// retry first looks for the same comment created by a failed attempt.
    pub async fn comment(&self, number: u64, body: &str) -> Result<Comment, VendorError> {
        const CALL: &str = "add comment";
        let since = Utc::now() - CREATE_LOOKBACK;
        let path = self.repo_path(&format!("/issues/{number}/comments"));
        let payload = json!({ "body": body });
        let attempts = AtomicU32::new(0);
        self.content
            .call(CONTENT, CALL, || {
                let retry = attempts.fetch_add(1, Ordering::SeqCst) > 0;
                let (path, payload) = (&path, &payload);
                async move {
                    if retry {
                        let recent = self.comments_since(number, since).await?;
                        if let Some(found) =
                            recent.into_iter().find(|c| c.body.trim() == body.trim())
                        {
                            return Ok(found);
                        }
                    }
                    let req = self.request(Method::POST, path).json(payload);
                    read(CALL, self.send(CALL, req).await?).await
                }
            })
            .await
    }

    /// Comments on issue `number` created at or after `since`, oldest first (Link paging).
    pub async fn comments_since(
        &self,
        number: u64,
        since: DateTime<Utc>,
    ) -> Result<Vec<Comment>, VendorError> {
        const CALL: &str = "list comments";
        let since = whole_seconds(since);
        let first = self.first_page_url(
            &self.repo_path(&format!("/issues/{number}/comments")),
            &[
                ("since", &since.to_rfc3339_opts(SecondsFormat::Secs, true)),
                ("per_page", PER_PAGE),
            ],
        )?;
        let mut found = Vec::new();
        let mut next = Some(first);
        for _ in 0..MAX_PAGES {
            let Some(url) = next.take() else { break };
            let (page, link): (Vec<Comment>, _) = self.page(CALL, &url).await?;
            found.extend(page.into_iter().filter(|c| c.created_at >= since));
            next = link;
        }
        Ok(found)
    }

    /// `POST /repos/{o}/{r}/issues/{number}/labels`: adds labels, keeping the ones it has.
    pub async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), VendorError> {
        const CALL: &str = "add labels";
        if labels.is_empty() {
            return Ok(());
        }
        let path = self.repo_path(&format!("/issues/{number}/labels"));
        let payload = json!({ "labels": labels });
        self.content
            .call_unmetered(CALL, || async {
                let req = self.request(Method::POST, &path).json(&payload);
                expect_success(CALL, self.send(CALL, req).await?).await
            })
            .await
    }

    /// Closes issue `number` with `state_reason` (`completed` or `not_planned`).
    pub async fn close(&self, number: u64, state_reason: &str) -> Result<Issue, VendorError> {
        self.set_state(
            "close issue",
            number,
            json!({"state": "closed", "state_reason": state_reason}),
        )
        .await
    }

    /// Reopens issue `number` (`state: open`, `state_reason: reopened`); reopening an open issue
    /// changes nothing, so a retry is harmless.
    pub async fn reopen(&self, number: u64) -> Result<Issue, VendorError> {
        self.set_state(
            "reopen issue",
            number,
            json!({"state": "open", "state_reason": "reopened"}),
        )
        .await
    }

    async fn set_state(
        &self,
        call: &'static str,
        number: u64,
        payload: Value,
    ) -> Result<Issue, VendorError> {
        let path = self.repo_path(&format!("/issues/{number}"));
        self.content
            .call_unmetered(call, || async {
                let req = self.request(Method::PATCH, &path).json(&payload);
                read(call, self.send(call, req).await?).await
            })
            .await
    }

    /// `{base}{path}?{query}`, encoded.
    fn first_page_url(&self, path: &str, query: &[(&str, &str)]) -> Result<String, VendorError> {
        let base = format!("{}{}", self.config.base_url, path);
        url::Url::parse_with_params(&base, query)
            .map(String::from)
            .map_err(|e| VendorError::Decode {
                vendor: VENDOR,
                call: "build url",
                message: format!("{base}: {e}"),
            })
    }

    /// One page of a listing, retried under the scheduler (unmetered).
    async fn page<T: DeserializeOwned>(
        &self,
        call: &'static str,
        url: &str,
    ) -> Result<(T, Option<String>), VendorError> {
        self.content
            .call_unmetered(call, || self.fetch_page(call, url))
            .await
    }

    /// GETs `url` and returns its items and the `rel="next"` URL. A next URL outside the
    /// configured API is refused: the token is never sent anywhere else.
    async fn fetch_page<T: DeserializeOwned>(
        &self,
        call: &'static str,
        url: &str,
    ) -> Result<(T, Option<String>), VendorError> {
        let resp = self.send(call, self.request_url(Method::GET, url)).await?;
        let next = resp
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(next_link);
        if let Some(n) = &next
            && !n.starts_with(&format!("{}/", self.config.base_url))
        {
            return Err(VendorError::Decode {
                vendor: VENDOR,
                call,
                message: format!("next page link leaves the configured API: {n}"),
            });
        }
        let items = read(call, resp).await?;
        Ok((items, next))
    }
}
