//! Confluence's stored pages and their version history. Invariant: a page's versions are
//! numbered 1, 2, 3… with no gaps, the last one is the current page, and replacing a page
//! always adds a version (never rewrites an old one), so "the SOP that was followed" stays
//! provable by id and version number.

use chrono::{DateTime, Utc};

use super::cql::Subject;
use super::sops;

/// The account id every sandbox page is authored by (Atlassian account ids are opaque).
pub const AUTHOR_ID: &str = "5b10ac8d82e05b22cc7d4ef5";

/// A space: key, numeric id (v2 `spaceId`), display name.
#[derive(Debug, Clone)]
pub struct Space {
    /// Space key (`SEC` for the seeded site): what CQL `space =` and v1 `space.key` use.
    pub key: String,
    /// Numeric id as a string: v2's `spaceId`.
    pub id: String,
    /// Display name shown in the web UI.
    pub name: String,
}

/// One version of a page.
#[derive(Debug, Clone)]
pub struct Version {
    /// Version number, 1 for the first; what `?version=N` asks for.
    pub number: u64,
    /// The title at that version.
    pub title: String,
    /// Labels at that version.
    pub labels: Vec<String>,
    /// Storage-format body.
    pub body: String,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// The version comment (`version.message`); `Seeded SOP` for seeded pages, empty for control-API edits.
    pub message: String,
}

/// A page with its whole history.
#[derive(Debug, Clone)]
pub struct Page {
    /// Numeric id as a string; stable across versions.
    pub id: String,
    /// Key of the space it is in; a page never moves.
    pub space: String,
    /// Oldest first; never empty.
    pub versions: Vec<Version>,
}

impl Page {
    /// The current version.
    pub fn current(&self) -> &Version {
        // `versions` is never empty: pages are only built with one version and only grow.
        &self.versions[self.versions.len() - 1]
    }

    /// Version `n`, if it exists.
    pub fn version(&self, n: u64) -> Option<&Version> {
        self.versions.iter().find(|v| v.number == n)
    }

    /// When the first version was saved.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.versions[0].created_at
    }
}

impl Subject for Page {
    fn space(&self) -> &str {
        &self.space
    }
    fn title(&self) -> &str {
        &self.current().title
    }
    fn labels(&self) -> &[String] {
        &self.current().labels
    }
    fn text(&self) -> String {
        plain_text(&self.current().body)
    }
    fn id(&self) -> &str {
        &self.id
    }
}

/// The body with markup removed (tags dropped, CDATA kept as text, entities decoded).
pub fn plain_text(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut in_tag = false;
    let mut rest = body;
    while let Some(c) = rest.chars().next() {
        if !in_tag && rest.starts_with("<![CDATA[") {
            let inner = &rest[9..];
            let end = inner.find("]]>").unwrap_or(inner.len());
            out.push(' ');
            out.push_str(&inner[..end]);
            out.push(' ');
            rest = inner.get(end + 3..).unwrap_or("");
            continue;
        }
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
        rest = &rest[c.len_utf8()..];
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// All pages and spaces of the site.
#[derive(Debug, Clone)]
pub struct Store {
    /// Spaces, in creation order.
    pub spaces: Vec<Space>,
    /// Pages, in creation order.
    pub pages: Vec<Page>,
    next_id: u64,
}

/// What `POST /_sandbox/confluence/pages` supplies.
#[derive(Debug, Clone)]
pub struct PageInput {
    /// Replace this page; absent = the page with the same space and title, or a new one.
    pub id: Option<String>,
    /// Space key; a missing space is created.
    pub space: String,
    /// Title of the new version (also how a page without `id` is matched).
    pub title: String,
    /// Labels of the new version (replacing the old set).
    pub labels: Vec<String>,
    /// Storage-format XHTML body of the new version.
    pub body: String,
}

/// Seeded pages were "created" at 2025-01-06T09:00:00Z.
fn seed_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_736_154_000, 0).unwrap_or_default()
}

impl Store {
    /// The seeded site: space `SEC` with one SOP page per alert type.
    pub fn seeded() -> Self {
        let mut store = Store {
            spaces: vec![Space {
                key: sops::SPACE_KEY.into(),
                id: "32769".into(),
                name: "Security".into(),
            }],
            pages: Vec::new(),
            next_id: 99_000,
        };
        for p in sops::pages() {
            store.pages.push(Page {
                id: p.id.into(),
                space: sops::SPACE_KEY.into(),
                versions: vec![Version {
                    number: 1,
                    title: p.title.into(),
                    labels: vec!["sop".into(), format!("sop-{}", p.alert_type)],
                    body: p.body,
                    created_at: seed_time(),
                    message: "Seeded SOP".into(),
                }],
            });
        }
        store
    }

    /// The space with this key, created (with a fresh id) when missing.
    fn space_or_create(&mut self, key: &str) -> Space {
        if let Some(s) = self.spaces.iter().find(|s| s.key == key) {
            return s.clone();
        }
        let space = Space {
            key: key.into(),
            id: (32_769 + self.spaces.len() as u64).to_string(),
            name: key.into(),
        };
        self.spaces.push(space.clone());
        space
    }

    /// A space by key.
    pub fn space(&self, key: &str) -> Option<&Space> {
        self.spaces.iter().find(|s| s.key == key)
    }

    /// A page by id.
    pub fn page(&self, id: &str) -> Option<&Page> {
        self.pages.iter().find(|p| p.id == id)
    }

    /// Adds a page, or adds a version to the one it replaces; answers (id, version number).
    pub fn upsert(
        &mut self,
        input: PageInput,
        now: DateTime<Utc>,
    ) -> Result<(String, u64), String> {
        self.space_or_create(&input.space);
        let existing = match &input.id {
            Some(id) => self.pages.iter().position(|p| &p.id == id),
            None => self
                .pages
                .iter()
                .position(|p| p.space == input.space && p.current().title == input.title),
        };
        match existing {
            Some(i) => {
                let page = &mut self.pages[i];
                if page.space != input.space {
                    return Err(format!(
                        "page {} is in space {}, not {}",
                        page.id, page.space, input.space
                    ));
                }
                let number = page.current().number + 1;
                page.versions.push(Version {
                    number,
                    title: input.title,
                    labels: input.labels,
                    body: input.body,
                    created_at: now,
                    message: String::new(),
                });
                Ok((page.id.clone(), number))
            }
            None => {
                let id = match input.id {
                    Some(id) if id.chars().all(|c| c.is_ascii_digit()) && !id.is_empty() => id,
                    Some(id) => return Err(format!("id must be numeric, got '{id}'")),
                    None => {
                        self.next_id += 1;
                        self.next_id.to_string()
                    }
                };
                self.pages.push(Page {
                    id: id.clone(),
                    space: input.space,
                    versions: vec![Version {
                        number: 1,
                        title: input.title,
                        labels: input.labels,
                        body: input.body,
                        created_at: now,
                        message: String::new(),
                    }],
                });
                Ok((id, 1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_adds_a_version_and_keeps_the_old_one() {
        let mut s = Store::seeded();
        let input = |id: Option<&str>, body: &str| PageInput {
            id: id.map(str::to_string),
            space: "SEC".into(),
            title: "SOP: Malware on an endpoint".into(),
            labels: vec!["sop".into()],
            body: body.into(),
        };
        let (id, v) = s.upsert(input(None, "<p>v2</p>"), Utc::now()).unwrap();
        assert_eq!((id.as_str(), v), ("98301", 2));
        let (_, v) = s
            .upsert(input(Some("98301"), "<p>v3</p>"), Utc::now())
            .unwrap();
        assert_eq!(v, 3);
        let page = s.page("98301").unwrap();
        assert_eq!(page.current().body, "<p>v3</p>");
        assert!(page.version(1).unwrap().body.contains("vigil-runbook"));
        let (new, v) = s
            .upsert(
                PageInput {
                    title: "New".into(),
                    ..input(None, "x")
                },
                Utc::now(),
            )
            .unwrap();
        assert_eq!(v, 1);
        assert_ne!(new, "98301");
    }

    #[test]
    fn plain_text_drops_markup_and_keeps_cdata() {
        let t = plain_text("<p>a &amp; b</p><x><![CDATA[{\"tool\":1}]]></x>");
        assert!(t.contains("a & b"));
        assert!(t.contains("{\"tool\":1}"));
        assert!(!t.contains('<'));
    }
}
