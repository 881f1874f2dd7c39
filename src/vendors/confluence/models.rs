//! Confluence's answers (vendor-apis §6), read leniently (Atlassian adds fields all the time),
//! and [`Page`], the few facts a case records about the SOP it followed: id, title, version and
//! the URL a person opens, so the SOP that was used is provable later.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::vendors::http::lenient_text;

/// `_links` of an answer or a content object (every field optional).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Links {
    /// The site's wiki URL (`https://acme.atlassian.net/wiki`), on top-level answers.
    #[serde(default)]
    pub base: Option<String>,
    /// The wiki's path on the site (`/wiki`).
    #[serde(default)]
    pub context: Option<String>,
    /// The next page of a list, relative to `base`.
    #[serde(default)]
    pub next: Option<String>,
    /// The page's path in the web UI, relative to `base`.
    #[serde(default)]
    pub webui: Option<String>,
    /// Short link, relative to `base`.
    #[serde(default)]
    pub tinyui: Option<String>,
}

/// One page of `GET /wiki/rest/api/search`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    /// The hits of this page, in the order Confluence returned them.
    #[serde(default)]
    pub results: Vec<SearchResult>,
    /// Offset of the first hit.
    #[serde(default)]
    pub start: u64,
    /// Hits on this page.
    #[serde(default)]
    pub size: u64,
    /// Hits in all, when Confluence says.
    #[serde(default)]
    pub total_size: Option<u64>,
    /// `base`, `context` and `next`.
    #[serde(default, rename = "_links")]
    pub links: Links,
}

/// One search hit.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    /// The content hit (absent for spaces and users).
    #[serde(default)]
    pub content: Option<ContentRef>,
    /// Title as shown.
    #[serde(default, deserialize_with = "lenient_text")]
    pub title: Option<String>,
    /// Excerpt with `@@@hl@@@` markers.
    #[serde(default, deserialize_with = "lenient_text")]
    pub excerpt: Option<String>,
    /// Web UI path of the hit.
    #[serde(default, deserialize_with = "lenient_text")]
    pub url: Option<String>,
    /// `content`, `space`, `user`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub entity_type: Option<String>,
    /// ISO 8601 time of the last change.
    #[serde(default, deserialize_with = "lenient_text")]
    pub last_modified: Option<String>,
}

/// The content inside a search hit.
#[derive(Debug, Clone, Deserialize)]
pub struct ContentRef {
    /// Content id (Confluence sends a string; numbers are accepted).
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// `page`, `blogpost`, `attachment`.
    #[serde(default, rename = "type", deserialize_with = "lenient_text")]
    pub kind: Option<String>,
    /// `current`, `archived`, ….
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: Option<String>,
    /// The page title as plain text (escape it before display).
    #[serde(default, deserialize_with = "lenient_text")]
    pub title: Option<String>,
    /// `webui`, `tinyui`.
    #[serde(default, rename = "_links")]
    pub links: Links,
}

/// `version` of v1 content and of a v2 page.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    /// 1 for the first version.
    pub number: u64,
    /// v1: when it was saved.
    #[serde(default, deserialize_with = "lenient_text")]
    pub when: Option<String>,
    /// v2: when it was saved.
    #[serde(default, deserialize_with = "lenient_text")]
    pub created_at: Option<String>,
}

/// One body representation (`{"value","representation"}`).
#[derive(Debug, Clone, Deserialize)]
pub struct BodyValue {
    /// The markup.
    #[serde(default)]
    pub value: String,
    /// `storage`, `view`, ….
    #[serde(default, deserialize_with = "lenient_text")]
    pub representation: Option<String>,
}

/// `body` of v1 content or a v2 page; only the storage format is read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Body {
    /// XHTML storage format, where the `vigil-runbook` code macro is.
    #[serde(default)]
    pub storage: Option<BodyValue>,
}

/// v1 `GET /wiki/rest/api/content/{id}?expand=body.storage,version`.
#[derive(Debug, Clone, Deserialize)]
pub struct Content {
    /// Numeric content id, kept as text (what `/content/{id}` and v2 `/pages/{id}` take).
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// `page`, `blogpost`.
    #[serde(default, rename = "type", deserialize_with = "lenient_text")]
    pub kind: Option<String>,
    /// `current` or `historical`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: Option<String>,
    /// The page title as plain text (escape it before display).
    #[serde(default)]
    pub title: String,
    /// Present when `version` was expanded.
    #[serde(default)]
    pub version: Option<Version>,
    /// Present when `body.storage` was expanded.
    #[serde(default)]
    pub body: Option<Body>,
    /// `webui`, `base`, `tinyui`.
    #[serde(default, rename = "_links")]
    pub links: Links,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// v2 `GET /wiki/api/v2/pages/{id}?body-format=storage`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageV2 {
    /// Numeric page id, kept as text; the same id v1 calls content id.
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    /// `current`, `draft`, `archived`, `historical`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: Option<String>,
    /// The page title as plain text (escape it before display).
    #[serde(default)]
    pub title: String,
    /// The space's numeric id (v2 names spaces by id, not key).
    #[serde(default, deserialize_with = "lenient_text")]
    pub space_id: Option<String>,
    /// The version shown.
    pub version: Version,
    /// The asked-for body format.
    #[serde(default)]
    pub body: Option<Body>,
    /// `webui`, `tinyui`, `base`.
    #[serde(default, rename = "_links")]
    pub links: Links,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An SOP page as a case records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Numeric content id, kept as text: how the case names the SOP it followed.
    pub id: String,
    /// The page title as read, plain text (escape it before display).
    pub title: String,
    /// Version number that was read.
    pub version: u64,
    /// Where a person opens it: `_links.base` + `_links.webui`.
    pub url: String,
    /// The storage-format body (empty when it was not asked for).
    pub storage: String,
}

/// `base` + `path`, or `fallback_base` + `path` when the answer named no base.
pub fn web_url(base: Option<&str>, fallback_base: &str, path: Option<&str>) -> String {
    let base = base
        .filter(|b| !b.trim().is_empty())
        .unwrap_or(fallback_base)
        .trim_end_matches('/');
    match path.filter(|p| !p.is_empty()) {
        Some(p) if p.starts_with("http://") || p.starts_with("https://") => p.to_string(),
        Some(p) if p.starts_with('/') => format!("{base}{p}"),
        Some(p) => format!("{base}/{p}"),
        None => base.to_string(),
    }
}

fn storage_of(body: Option<&Body>) -> String {
    body.and_then(|b| b.storage.as_ref())
        .map(|s| s.value.clone())
        .unwrap_or_default()
}

impl Page {
    /// From v1 content; `None` when it has no version (the call did not expand it).
    pub fn from_v1(content: &Content, fallback_base: &str) -> Option<Page> {
        Some(Page {
            id: content.id.clone(),
            title: content.title.clone(),
            version: content.version.as_ref()?.number,
            url: web_url(
                content.links.base.as_deref(),
                fallback_base,
                content.links.webui.as_deref(),
            ),
            storage: storage_of(content.body.as_ref()),
        })
    }

    /// From a v2 page.
    pub fn from_v2(page: &PageV2, fallback_base: &str) -> Page {
        Page {
            id: page.id.clone(),
            title: page.title.clone(),
            version: page.version.number,
            url: web_url(
                page.links.base.as_deref(),
                fallback_base,
                page.links.webui.as_deref(),
            ),
            storage: storage_of(page.body.as_ref()),
        }
    }
}

/// The storage-format body as plain text for people and the agent, at most `max` bytes: tags
/// dropped (block tags end a line), CDATA kept, the common entities decoded, blank runs
/// squeezed. The agent reads it as data inside a delimited field, so this only has to be
/// readable, not faithful.
pub fn storage_text(storage: &str, max: usize) -> String {
    let mut out = String::with_capacity(storage.len().min(max));
    let mut rest = storage;
    while !rest.is_empty() && out.len() < max {
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").unwrap_or(after.len());
            out.push_str(&after[..end]);
            rest = after.get(end + 3..).unwrap_or("");
        } else if rest.starts_with('<') {
            let end = rest.find('>').map(|i| i + 1).unwrap_or(rest.len());
            let tag = rest[..end]
                .trim_start_matches(['<', '/'])
                .to_ascii_lowercase();
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if matches!(
                name.as_str(),
                "p" | "br" | "li" | "tr" | "div" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
            ) {
                out.push('\n');
            }
            rest = &rest[end..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            out.push_str(&decode_entities(&rest[..end]));
            rest = &rest[end..];
        }
    }
    let squeezed: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut text = squeezed.join("\n");
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

fn decode_entities(text: &str) -> String {
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// An id Confluence sends as a string (or, from some proxies, a number).
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    crate::vendors::http::text_of(&v)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| serde::de::Error::custom("id must be a non-empty string or number"))
}
