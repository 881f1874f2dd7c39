//! Confluence Cloud client (vendor-apis §6): CQL search (v1, the only API with CQL) following
//! `_links.next` up to a page cap, content by id (v1) and pages by id (v2, the preferred read
//! of a body). Basic auth with the account email and API token. Every call goes through the
//! vendor's [`Outbound`] scheduler; 429 and 503 carry `Retry-After` seconds, which is waited.
//!
//! Invariant: a `_links.next` is only ever followed on the configured site. It is joined to
//! `base_url` + `_links.context`, never fetched from wherever the answer points.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::config::ConfluenceConfig;
use super::cql;
use super::models::{Content, Page, PageV2, SearchPage, SearchResult};
use crate::vendors::VendorError;
use crate::vendors::http::{self, RetrySignal};
use crate::vendors::outbound::{self, Outbound, RetryPolicy};

const VENDOR: &str = "confluence";
/// Largest `limit` Confluence honours on search.
pub const MAX_LIMIT: u32 = 100;
/// Most pages one search follows unless the caller asks for fewer: a guard against a
/// `_links.next` loop.
pub const MAX_PAGES: usize = 20;

/// A Confluence Cloud client for one site.
pub struct ConfluenceClient {
    http: reqwest::Client,
    config: ConfluenceConfig,
    outbound: Outbound,
}

/// Confluence's error text: v1 `{"message"}`, v2 `{"errors":[{"title","detail","code"}]}`.
pub fn error_message(v: &Value) -> Option<String> {
    if let Some(m) = v.get("message").and_then(Value::as_str) {
        return Some(m.to_string());
    }
    let errors = v.get("errors")?.as_array()?;
    let parts: Vec<String> = errors
        .iter()
        .map(|e| {
            let text = |k: &str| e.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
            let head = text("title").or(text("code")).unwrap_or("error");
            match text("detail") {
                Some(d) => format!("{head}: {d}"),
                None => head.to_string(),
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Confluence's own limit for API-token traffic is unpublished; a pace that never floods a site.
fn quota() -> governor::Quota {
    outbound::per_minute(300, 20)
}

impl ConfluenceClient {
    /// A client for the configured site with the default retry policy. It makes no call,
    /// so a bad credential shows on first use (or in `vigil doctor`); it fails only if the HTTP
    /// client cannot be built.
    pub fn new(config: ConfluenceConfig) -> Result<Self, VendorError> {
        Ok(ConfluenceClient {
            http: http::client()?,
            config,
            outbound: Outbound::new("Confluence", quota(), RetryPolicy::default()),
        })
    }

    /// The same client with another retry policy (tests, or a pipeline with its own budget).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.outbound = Outbound::new("Confluence", quota(), policy);
        self
    }

    /// The configured space and SOP label.
    pub fn config(&self) -> &ConfluenceConfig {
        &self.config
    }

    /// `https://SITE/wiki`: what `_links.webui` is relative to when an answer names no base.
    pub fn wiki_base(&self) -> String {
        format!("{}/wiki", self.config.base_url)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        call: &'static str,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<T, VendorError> {
        self.outbound
            .call(&self.config.email, call, || async {
                http::send(
                    VENDOR,
                    call,
                    self.http
                        .get(url)
                        .basic_auth(&self.config.email, Some(self.config.api_token.expose()))
                        .header("accept", "application/json")
                        .query(query),
                    RetrySignal::RetryAfterSeconds,
                    error_message,
                )
                .await
            })
            .await
    }

    /// One page of `GET /wiki/rest/api/search?cql=…&limit=…&start=…`.
    pub async fn search_page(
        &self,
        cql: &str,
        limit: u32,
        start: u64,
    ) -> Result<SearchPage, VendorError> {
        let url = format!("{}/rest/api/search", self.wiki_base());
        let query = [
            ("cql", cql.to_string()),
            ("limit", limit.clamp(1, MAX_LIMIT).to_string()),
            ("start", start.to_string()),
        ];
        self.get("search", &url, &query).await
    }

    /// Every hit of a CQL search, `limit` per page, following `_links.next` for at most
    /// `max_pages` pages (at least one; [`MAX_PAGES`] is a sane cap).
    pub async fn search(
        &self,
        cql: &str,
        limit: u32,
        max_pages: usize,
    ) -> Result<Vec<SearchResult>, VendorError> {
        let mut page = self.search_page(cql, limit, 0).await?;
        let mut hits = std::mem::take(&mut page.results);
        for _ in 1..max_pages.max(1) {
            let Some(next) = page.links.next.as_deref() else {
                return Ok(hits);
            };
            let context = page.links.context.as_deref().unwrap_or("/wiki");
            let url = self.follow(context, next)?;
            page = self.get("search (next page)", &url, &[]).await?;
            hits.append(&mut page.results);
        }
        if page.links.next.is_some() {
            tracing::warn!(
                cql,
                pages = max_pages,
                "confluence search has more pages than the cap; using the first ones"
            );
        }
        Ok(hits)
    }

    /// The URL of a `_links.next`, on the configured site only.
    fn follow(&self, context: &str, next: &str) -> Result<String, VendorError> {
        let site = &self.config.base_url;
        if let Some(rest) = next.strip_prefix(site.as_str()) {
            return Ok(format!("{site}{rest}"));
        }
        if !next.starts_with('/') || next.starts_with("//") {
            return Err(VendorError::Decode {
                vendor: VENDOR,
                call: "search (next page)",
                message: format!("_links.next is not a path on {site}: {next}"),
            });
        }
        let context = context.trim_end_matches('/');
        let context = if context.is_empty() || context.starts_with('/') {
            context
        } else {
            "/wiki"
        };
        Ok(format!("{site}{context}{next}"))
    }

    /// v1 `GET /wiki/rest/api/content/{id}?expand=body.storage,version`.
    pub async fn content(&self, id: &str) -> Result<Page, VendorError> {
        const CALL: &str = "get content";
        let url = format!("{}/rest/api/content/{}", self.wiki_base(), segment(id));
        let query = [("expand", "body.storage,version".to_string())];
        let content: Content = self.get(CALL, &url, &query).await?;
        Page::from_v1(&content, &self.wiki_base()).ok_or(VendorError::Decode {
            vendor: VENDOR,
            call: CALL,
            message: format!("content {id} came without its version"),
        })
    }

    /// v2 `GET /wiki/api/v2/pages/{id}?body-format=storage`.
    pub async fn page(&self, id: &str) -> Result<Page, VendorError> {
        let url = format!("{}/api/v2/pages/{}", self.wiki_base(), segment(id));
        let query = [("body-format", "storage".to_string())];
        let page: PageV2 = self.get("get page", &url, &query).await?;
        Ok(Page::from_v2(&page, &self.wiki_base()))
    }

    /// The SOP page for an alert type: the first page in the configured space labelled
    /// `<label>-<type>`, else the first `<label>` page whose text has the words of `fallback`;
    /// its body read through v2. `None` when neither search finds a page.
    pub async fn find_sop(
        &self,
        alert_type: &str,
        fallback: &str,
    ) -> Result<Option<Page>, VendorError> {
        let (space, label) = (&self.config.space, &self.config.label);
        let typed = format!("{label}-{alert_type}");
        let mut hits = self.search(&cql::by_label(space, &typed), 1, 1).await?;
        if hits.iter().all(|h| h.content.is_none())
            && let Some(q) = cql::by_text(space, label, fallback)
        {
            hits = self.search(&q, 1, 1).await?;
        }
        match hits.into_iter().find_map(|h| h.content) {
            Some(c) => self.page(&c.id).await.map(Some),
            None => Ok(None),
        }
    }
}

/// A path segment with everything but unreserved characters percent-encoded.
fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
