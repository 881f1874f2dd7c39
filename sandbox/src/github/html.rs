//! The page behind an issue's `html_url` (`/github/{owner}/{repo}/issues/{n}`): a plain HTML
//! view of the issue and its comments, so a link Vigil shows people in Slack opens something
//! readable while the sandbox runs (the web UI, not the API: no token needed).

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::render::ts;
use super::state::{Comment, IssueData};
use crate::Sandbox;

/// Escapes text for HTML element content and attribute values.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The page for one issue.
fn page(full_name: &str, d: &IssueData, comments: &[&Comment]) -> String {
    let state = if d.closed { "Closed" } else { "Open" };
    let labels: Vec<String> = d
        .labels
        .iter()
        .map(|l| format!("<code>{}</code>", escape(l)))
        .collect();
    let comments: String = comments
        .iter()
        .map(|c| {
            format!(
                "<article id=\"issuecomment-{}\"><p><b>vigil-bot</b> commented {}</p><pre>{}</pre></article>\n",
                c.id,
                ts(&c.created_at),
                escape(&c.body)
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title} · Issue #{n} · {repo}</title></head>\n\
         <body><h1>{title} <small>#{n}</small></h1>\n<p>{state} · opened {created} by vigil-bot · {labels}</p>\n\
         <pre>{body}</pre>\n{comments}</body></html>\n",
        title = escape(&d.title),
        n = d.number,
        repo = escape(full_name),
        created = ts(&d.created_at),
        labels = labels.join(" "),
        body = escape(d.body.as_deref().unwrap_or("")),
    )
}

/// `GET /github/{owner}/{repo}/issues/{number}`: the issue page, or a plain 404.
pub async fn issue_page(
    State(sb): State<Sandbox>,
    Path((o, r, n)): Path<(String, String, String)>,
) -> Response {
    let full_name = &sb.credentials.github.repo;
    let number = n.parse::<u64>().ok();
    let repo = sb.github.repo.lock();
    let found = number
        .filter(|_| format!("{o}/{r}").eq_ignore_ascii_case(full_name))
        .and_then(|n| repo.issue(n).map(|d| (d, repo.comments_of(n))));
    match found {
        Some((d, comments)) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page(full_name, d, &comments),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html><html><body><h1>404</h1><p>This is not the web page you are looking for.</p></body></html>\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_attacker_text() {
        assert_eq!(escape("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;");
    }
}
