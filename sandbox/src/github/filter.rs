//! The query of `GET /repos/{o}/{r}/issues`: `state`, `labels`, `sort`, `direction`, `since`,
//! `creator`, `assignee`. Listing is immediate (no search delay), which is how Vigil finds an
//! issue it created just before a crash (SPEC §5).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::error::GhError;
use super::render::BOT_LOGIN;
use super::state::IssueData;
use crate::args::query_one;

/// Which issues by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateFilter {
    Open,
    Closed,
    All,
}

/// Sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Created,
    Updated,
    Comments,
}

/// A parsed issue-list query.
#[derive(Debug, Clone)]
pub struct IssueFilter {
    state: StateFilter,
    labels: Vec<String>,
    sort: Sort,
    ascending: bool,
    since: Option<DateTime<Utc>>,
    creator: Option<String>,
    assignee: Option<String>,
}

/// Parses an ISO 8601 time as GitHub's `since` accepts it: full RFC 3339, a naive date-time
/// (UTC) or a bare date (midnight UTC).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// `since` from a query; an unreadable value is a 422 like GitHub's schema check.
pub fn since(query: Option<&str>, doc: &str) -> Result<Option<DateTime<Utc>>, GhError> {
    match query_one(query, "since") {
        None => Ok(None),
        Some(s) => parse_time(&s).map(Some).ok_or_else(|| {
            GhError::invalid_request(
                &format!("For 'since', \"{s}\" is not a valid date-time."),
                doc,
            )
        }),
    }
}

/// One enumerated query parameter, with its default; anything else is a 422.
fn choice<T: Copy>(
    query: Option<&str>,
    name: &str,
    options: &[(&str, T)],
    default: T,
    doc: &str,
) -> Result<T, GhError> {
    let Some(v) = query_one(query, name) else {
        return Ok(default);
    };
    if let Some((_, t)) = options.iter().find(|(k, _)| *k == v) {
        return Ok(*t);
    }
    let names: Vec<String> = options.iter().map(|(k, _)| format!("\"{k}\"")).collect();
    Err(GhError::invalid_request(
        &format!(
            "For '{name}', \"{v}\" is not one of [{}].",
            names.join(", ")
        ),
        doc,
    ))
}

impl IssueFilter {
    /// Reads the list query.
    pub fn from_query(query: Option<&str>, doc: &str) -> Result<Self, GhError> {
        use StateFilter::{All, Closed, Open};
        let state = choice(
            query,
            "state",
            &[("open", Open), ("closed", Closed), ("all", All)],
            Open,
            doc,
        )?;
        let sort = choice(
            query,
            "sort",
            &[
                ("created", Sort::Created),
                ("updated", Sort::Updated),
                ("comments", Sort::Comments),
            ],
            Sort::Created,
            doc,
        )?;
        let ascending = choice(
            query,
            "direction",
            &[("asc", true), ("desc", false)],
            false,
            doc,
        )?;
        let labels = query_one(query, "labels")
            .map(|l| {
                l.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(IssueFilter {
            state,
            labels,
            sort,
            ascending,
            since: since(query, doc)?,
            creator: query_one(query, "creator"),
            assignee: query_one(query, "assignee"),
        })
    }

    /// Whether one issue passes every filter.
    fn keeps(&self, d: &IssueData) -> bool {
        let state_ok = match self.state {
            StateFilter::Open => !d.closed,
            StateFilter::Closed => d.closed,
            StateFilter::All => true,
        };
        let labels_ok = self
            .labels
            .iter()
            .all(|want| d.labels.iter().any(|l| l.eq_ignore_ascii_case(want)));
        let since_ok = self.since.is_none_or(|s| d.updated_at >= s);
        let creator_ok = self
            .creator
            .as_deref()
            .is_none_or(|c| c.eq_ignore_ascii_case(BOT_LOGIN));
        let assignee_ok = match self.assignee.as_deref() {
            None => true,
            Some("*") => !d.assignees.is_empty(),
            Some("none") => d.assignees.is_empty(),
            Some(login) => d.assignees.iter().any(|a| a.eq_ignore_ascii_case(login)),
        };
        state_ok && labels_ok && since_ok && creator_ok && assignee_ok
    }

    /// The matching issues in the requested order (ties broken by number, same direction).
    pub fn apply<'a>(&self, issues: impl Iterator<Item = &'a IssueData>) -> Vec<&'a IssueData> {
        let mut out: Vec<&IssueData> = issues.filter(|d| self.keeps(d)).collect();
        out.sort_by(|a, b| {
            let key = match self.sort {
                Sort::Created => a.created_at.cmp(&b.created_at),
                Sort::Updated => a.updated_at.cmp(&b.updated_at),
                Sort::Comments => a.comments.cmp(&b.comments),
            };
            key.then(a.number.cmp(&b.number))
        });
        if !self.ascending {
            out.reverse();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_githubs_time_forms() {
        assert!(parse_time("2024-05-01T10:00:00Z").is_some());
        assert!(parse_time("2024-05-01T10:00:00.123+02:00").is_some());
        assert!(parse_time("2024-05-01").is_some());
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn refuses_unknown_enum_values() {
        let e = IssueFilter::from_query(Some("state=weird"), "d").unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert!(IssueFilter::from_query(Some("state=all&sort=updated&direction=asc"), "d").is_ok());
    }
}
