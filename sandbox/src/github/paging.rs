//! `per_page`/`page` pagination and GitHub's `Link` header
//! (`<url>; rel="prev", <url>; rel="next", <url>; rel="last", <url>; rel="first"`), which
//! PyGithub follows for lists and reads for `totalCount`.

use crate::args::query_one;

/// Items per page when `per_page` is absent.
const DEFAULT_PER_PAGE: usize = 30;
/// Most items GitHub puts on a page.
const MAX_PER_PAGE: usize = 100;

/// A requested page of a list, as `per_page` and `page` ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Items per page, 1..=100.
    pub per_page: usize,
    /// Page number from 1.
    pub page: usize,
}

impl Page {
    /// Reads `per_page` and `page` from a query the way GitHub does: missing, zero or
    /// unparsable values fall back to the defaults; `per_page` above 100 is capped.
    pub fn from_query(query: Option<&str>) -> Self {
        let num = |name| query_one(query, name).and_then(|v| v.trim().parse::<usize>().ok());
        let per_page = match num("per_page") {
            Some(0) | None => DEFAULT_PER_PAGE,
            Some(n) => n.min(MAX_PER_PAGE),
        };
        let page = num("page").filter(|p| *p > 0).unwrap_or(1);
        Page { per_page, page }
    }

    /// The items of this page; empty past the end (GitHub answers `[]`, not 404).
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = self.per_page.saturating_mul(self.page - 1).min(items.len());
        let end = start.saturating_add(self.per_page).min(items.len());
        &items[start..end]
    }

    /// How many pages `total` items make (at least 1).
    pub fn last(&self, total: usize) -> usize {
        total.div_ceil(self.per_page).max(1)
    }
}

/// The `Link` header for `page` of a list of `total` items at `url` (absolute, no query);
/// `None` when everything fits on one page.
pub fn link_header(url: &str, query: Option<&str>, page: Page, total: usize) -> Option<String> {
    let last = page.last(total);
    if last <= 1 {
        return None;
    }
    let mut rels = Vec::new();
    if page.page > 1 {
        rels.push((page.page.min(last + 1) - 1, "prev"));
    }
    if page.page < last {
        rels.push((page.page + 1, "next"));
        rels.push((last, "last"));
    }
    if page.page > 1 {
        rels.push((1, "first"));
    }
    let parts: Vec<String> = rels
        .into_iter()
        .map(|(n, rel)| format!("<{}>; rel=\"{rel}\"", page_url(url, query, n)))
        .collect();
    Some(parts.join(", "))
}

/// `url` with the original query, its `page` replaced by `n`.
fn page_url(url: &str, query: Option<&str>, n: usize) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    if let Some(q) = query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            if k != "page" {
                out.append_pair(&k, &v);
            }
        }
    }
    out.append_pair("page", &n.to_string());
    format!("{url}?{}", out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_caps_page_parameters() {
        assert_eq!(
            Page::from_query(None),
            Page {
                per_page: 30,
                page: 1
            }
        );
        assert_eq!(
            Page::from_query(Some("per_page=500&page=3")),
            Page {
                per_page: 100,
                page: 3
            }
        );
        assert_eq!(Page::from_query(Some("per_page=x&page=0")).page, 1);
    }

    #[test]
    fn link_header_has_githubs_order_and_format() {
        let p = Page {
            per_page: 2,
            page: 2,
        };
        let link = link_header(
            "http://h/github/x",
            Some("state=all&page=2&per_page=2"),
            p,
            7,
        )
        .unwrap_or_default();
        assert_eq!(
            link,
            "<http://h/github/x?state=all&per_page=2&page=1>; rel=\"prev\", \
             <http://h/github/x?state=all&per_page=2&page=3>; rel=\"next\", \
             <http://h/github/x?state=all&per_page=2&page=4>; rel=\"last\", \
             <http://h/github/x?state=all&per_page=2&page=1>; rel=\"first\""
        );
        let one = Page {
            per_page: 30,
            page: 1,
        };
        assert_eq!(link_header("u", None, one, 30), None);
    }

    #[test]
    fn slices_past_the_end_are_empty() {
        let p = Page {
            per_page: 2,
            page: 9,
        };
        assert!(p.slice(&[1, 2, 3]).is_empty());
    }
}
