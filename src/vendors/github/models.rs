//! GitHub's issue and comment shapes (vendor-apis §4), reduced to what Vigil reads, plus the
//! `Link` header GitHub pages lists with.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The issue fields Vigil reads: enough to link it, find it again by the case marker in
/// its body after a crash, and see whether it is closed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Issue {
    /// Number in the repository (`#12`).
    pub number: u64,
    /// Link for people.
    pub html_url: String,
    /// The issue title (plain text, up to 256 characters).
    pub title: String,
    /// Body (Markdown); `None` when empty.
    #[serde(default)]
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// When it was created (GitHub's clock).
    pub created_at: DateTime<Utc>,
    /// Label names only (GitHub sends label objects; colours and ids are dropped).
    #[serde(default, deserialize_with = "label_names")]
    pub labels: Vec<String>,
    /// Present only on pull requests, which the issues API lists too.
    #[serde(default)]
    pub(crate) pull_request: Option<Value>,
}

impl Issue {
    /// Whether this "issue" is a pull request (the issues list includes them).
    pub fn is_pull_request(&self) -> bool {
        self.pull_request.is_some()
    }
}

/// A comment on an issue.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Comment {
    /// Comment id (global on GitHub, not per issue).
    pub id: u64,
    /// Link for people (`…/issues/12#issuecomment-…`).
    pub html_url: String,
    /// Body (Markdown).
    #[serde(default, deserialize_with = "text_or_empty")]
    pub body: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// `labels` as GitHub sends them: objects with `name` (or, from some endpoints, bare strings).
fn label_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Option::<Vec<Value>>::deserialize(d)?;
    Ok(v.unwrap_or_default()
        .iter()
        .filter_map(|l| match l {
            Value::String(s) => Some(s.clone()),
            other => other.get("name")?.as_str().map(str::to_string),
        })
        .collect())
}

fn text_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// The `rel="next"` URL of a `Link` header (`<url>; rel="next", <url>; rel="last"`).
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.trim().split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_string())
    })
}
