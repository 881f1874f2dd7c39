//! `GET /search/issues`: GitHub's issue search over an eventually consistent index. An issue
//! and each later change become visible only `github_search_delay` after they happen, and
//! results show the issue as the index last saw it (SPEC §5, §7.5).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::call::{Answer, Call, Resource, serve};
use super::error::{DOC_SEARCH, GhError};
use super::paging::{Page, link_header};
use super::render::{self, BOT_LOGIN};
use super::state::Snapshot;
use crate::Sandbox;
use crate::args::query_one;

/// Longest `q` GitHub accepts.
const MAX_QUERY_CHARS: usize = 256;
/// Most `AND`/`OR`/`NOT` operators in one query.
const MAX_OPERATORS: usize = 5;
/// Search never returns results past this many.
const MAX_RESULTS: usize = 1000;

/// Where bare words and phrases are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Body,
    Comments,
}

/// A parsed `q`.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    repos: Vec<String>,
    owners: Vec<String>,
    /// `Some(true)` for `is:issue`, `Some(false)` for `is:pr`.
    issues_only: Option<bool>,
    closed: Option<bool>,
    fields: Vec<Field>,
    /// Each entry is one `label:` qualifier; a comma list inside it means any of them.
    labels: Vec<Vec<String>>,
    authors: Vec<String>,
    assignees: Vec<String>,
    no_label: bool,
    no_assignee: bool,
    /// Bare words and quoted phrases, each as its word sequence.
    terms: Vec<Vec<String>>,
    operators: usize,
}

/// Lower-cased words of `text`, split on anything that is not a letter or digit (how the
/// index tokenizes; `vigil:case=abc` is the words `vigil case abc`).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `needle` occurs as consecutive words of `hay`.
fn contains_seq(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Splits `q` into (token, was a quoted phrase). Quotes inside a token (`label:"a b"`) keep
/// their spaces and are dropped.
fn tokens(q: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '"' {
            chars.next();
            let phrase: String = chars.by_ref().take_while(|&c| c != '"').collect();
            out.push((phrase, true));
            continue;
        }
        let mut token = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c == '"' {
                token.extend(chars.by_ref().take_while(|&c| c != '"'));
            } else {
                token.push(c);
            }
        }
        out.push((token, false));
    }
    out
}

impl SearchQuery {
    /// Parses a query string (already URL-decoded).
    pub fn parse(q: &str) -> Self {
        let mut s = SearchQuery::default();
        for (token, quoted) in tokens(q) {
            if quoted {
                s.add_term(&token);
            } else if matches!(token.as_str(), "AND" | "OR" | "NOT") {
                s.operators += 1;
            } else if !s.qualifier(&token) {
                s.add_term(&token);
            }
        }
        s
    }

    fn add_term(&mut self, text: &str) {
        let w = words(text);
        if !w.is_empty() {
            self.terms.push(w);
        }
    }

    /// Applies `key:value` when `key` is a qualifier this index knows; false otherwise.
    fn qualifier(&mut self, token: &str) -> bool {
        let Some((key, value)) = token.split_once(':') else {
            return false;
        };
        let value = value.to_string();
        match key.to_ascii_lowercase().as_str() {
            "repo" => self.repos.push(value),
            "user" | "org" => self.owners.push(value),
            "is" | "type" => self.is(&value.to_ascii_lowercase()),
            "state" => self.closed = Some(value.eq_ignore_ascii_case("closed")),
            "in" => self.fields.extend(value.split(',').filter_map(field)),
            "label" => self
                .labels
                .push(value.split(',').map(str::to_string).collect()),
            "author" => self.authors.push(value),
            "assignee" => self.assignees.push(value),
            "no" => match value.to_ascii_lowercase().as_str() {
                "label" => self.no_label = true,
                "assignee" => self.no_assignee = true,
                _ => {}
            },
            _ => return false,
        }
        true
    }

    fn is(&mut self, value: &str) {
        match value {
            "issue" => self.issues_only = Some(true),
            "pr" | "pull-request" => self.issues_only = Some(false),
            "open" => self.closed = Some(false),
            "closed" => self.closed = Some(true),
            _ => {}
        }
    }

    /// Whether the query names a result type, as GitHub now requires.
    pub fn has_type(&self) -> bool {
        self.issues_only.is_some()
    }

    /// Whether an indexed issue matches.
    pub fn matches(&self, s: &Snapshot) -> bool {
        let d = &s.issue;
        let any_ci = |list: &[String], v: &str| list.iter().any(|x| x.eq_ignore_ascii_case(v));
        self.issues_only != Some(false)
            && self.closed.is_none_or(|c| c == d.closed)
            && self
                .labels
                .iter()
                .all(|alts| alts.iter().any(|a| any_ci(&d.labels, a)))
            && self
                .authors
                .iter()
                .all(|a| a.eq_ignore_ascii_case(BOT_LOGIN))
            && self.assignees.iter().all(|a| any_ci(&d.assignees, a))
            && (!self.no_label || d.labels.is_empty())
            && (!self.no_assignee || d.assignees.is_empty())
            && self.text_matches(s)
    }

    /// Every bare word and phrase appears in one of the searched fields.
    fn text_matches(&self, s: &Snapshot) -> bool {
        let fields = if self.fields.is_empty() {
            &[Field::Title, Field::Body][..]
        } else {
            &self.fields[..]
        };
        let texts: Vec<Vec<String>> = fields
            .iter()
            .flat_map(|f| match f {
                Field::Title => vec![words(&s.issue.title)],
                Field::Body => vec![words(s.issue.body.as_deref().unwrap_or(""))],
                Field::Comments => s.comment_bodies.iter().map(|b| words(b)).collect(),
            })
            .collect();
        self.terms
            .iter()
            .all(|t| texts.iter().any(|text| contains_seq(text, t)))
    }
}

/// `in:` values.
fn field(v: &str) -> Option<Field> {
    match v.trim().to_ascii_lowercase().as_str() {
        "title" => Some(Field::Title),
        "body" => Some(Field::Body),
        "comments" => Some(Field::Comments),
        _ => None,
    }
}

/// A `Validation Failed` about `q`.
fn invalid_q(message: &str, code: &str) -> GhError {
    let mut entry = json!({"resource": "Search", "field": "q", "code": code});
    if !message.is_empty() {
        entry["message"] = json!(message);
    }
    GhError::validation(vec![entry], DOC_SEARCH)
}

/// Checks `q` the way GitHub does before searching.
fn validate(sb: &Sandbox, call: &Call, q: Option<&str>) -> Result<SearchQuery, GhError> {
    let Some(q) = q.filter(|q| !q.trim().is_empty()) else {
        return Err(invalid_q("", "missing"));
    };
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid_q(
            "The search is longer than 256 characters.",
            "invalid",
        ));
    }
    let parsed = SearchQuery::parse(q);
    if parsed.operators > MAX_OPERATORS {
        return Err(invalid_q(
            "The search contains more than 5 AND / OR / NOT operators.",
            "invalid",
        ));
    }
    if !parsed.has_type() {
        return Err(GhError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Query must include 'is:issue' or 'is:pull-request'",
            DOC_SEARCH,
        ));
    }
    let ours = &sb.credentials.github.repo;
    let owner = ours.split('/').next().unwrap_or("");
    let visible = call.token.is_some();
    let repos_ok = parsed
        .repos
        .iter()
        .all(|r| visible && r.eq_ignore_ascii_case(ours));
    let owners_ok = parsed
        .owners
        .iter()
        .all(|o| visible && o.eq_ignore_ascii_case(owner));
    if !repos_ok || !owners_ok {
        return Err(invalid_q(
            "The listed users and repositories cannot be searched either because the resources do not exist or you do not have permission to view them.",
            "invalid",
        ));
    }
    Ok(parsed)
}

/// Orders results: `sort` = `created`, `updated` or `comments` with `order` (desc default);
/// otherwise best match, newest first.
fn sort_results(results: &mut [Snapshot], query: Option<&str>) {
    let ascending = query_one(query, "order").as_deref() == Some("asc");
    let sort = query_one(query, "sort");
    results.sort_by(|a, b| {
        let (a, b) = (&a.issue, &b.issue);
        let key = match sort.as_deref() {
            Some("updated") => a.updated_at.cmp(&b.updated_at),
            Some("comments") => a.comments.cmp(&b.comments),
            _ => a.created_at.cmp(&b.created_at),
        };
        key.then(a.number.cmp(&b.number))
    });
    if !ascending {
        results.reverse();
    }
}

/// `GET /search/issues?q=…&sort&order&per_page&page`.
pub async fn search_issues(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    serve(&sb, &headers, Resource::Search, |call| {
        let q = query_one(query.as_deref(), "q");
        let parsed = validate(&sb, call, q.as_deref())?;
        let page = Page::from_query(query.as_deref());
        if page.per_page.saturating_mul(page.page - 1) >= MAX_RESULTS {
            return Err(GhError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Only the first 1000 search results are available",
                DOC_SEARCH,
            ));
        }
        let delay = sb.settings.github_search_delay();
        let mut repo = sb.github.repo.lock();
        let mut results: Vec<Snapshot> = if call.token.is_some() {
            repo.search_view(delay)
                .into_iter()
                .filter(|s| parsed.matches(s))
                .collect()
        } else {
            Vec::new()
        };
        sort_results(&mut results, query.as_deref());
        let total = results.len();
        let reachable = &results[..total.min(MAX_RESULTS)];
        let items: Vec<Value> = page
            .slice(reachable)
            .iter()
            .map(|s| {
                let mut v = render::issue(&call.urls, &repo, &s.issue);
                v["score"] = json!(1.0);
                v
            })
            .collect();
        let url = format!("{}/search/issues", call.urls.api);
        drop(repo);
        Ok(Answer {
            status: StatusCode::OK,
            body: json!({"total_count": total, "incomplete_results": false, "items": items}),
            link: link_header(&url, query.as_deref(), page, reachable.len()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::state::{NewIssue, Repo};
    use std::time::Duration;

    fn snapshot(title: &str, body: &str, labels: &[&str]) -> Snapshot {
        let mut repo = Repo::new("vigil-bot");
        repo.create_issue(NewIssue {
            title: title.into(),
            body: Some(body.into()),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            assignees: vec![],
        });
        repo.search_view(Duration::ZERO).remove(0)
    }

    #[test]
    fn parses_qualifiers_phrases_and_words() {
        let q = SearchQuery::parse(
            r#"repo:acme/security is:issue is:open in:body label:"high sev" "vigil:case=abc123" host"#,
        );
        assert_eq!(q.repos, vec!["acme/security"]);
        assert_eq!((q.issues_only, q.closed), (Some(true), Some(false)));
        assert_eq!(q.labels, vec![vec!["high sev".to_string()]]);
        assert_eq!(q.terms.len(), 2);
        assert_eq!(q.fields, vec![Field::Body]);
    }

    #[test]
    fn matches_marker_phrase_in_body_only() {
        let s = snapshot(
            "Malware on host-1",
            "details <!-- vigil:case=abc123 -->",
            &["sec"],
        );
        assert!(SearchQuery::parse(r#"is:issue in:body "vigil:case=abc123""#).matches(&s));
        assert!(!SearchQuery::parse(r#"is:issue in:title "vigil:case=abc123""#).matches(&s));
        assert!(SearchQuery::parse("is:issue MALWARE host").matches(&s));
        assert!(!SearchQuery::parse("is:issue malware ransomware").matches(&s));
        assert!(SearchQuery::parse("is:issue label:other,SEC").matches(&s));
        assert!(!SearchQuery::parse("is:pr malware").matches(&s));
        assert!(!SearchQuery::parse("is:issue is:closed").matches(&s));
    }
}
