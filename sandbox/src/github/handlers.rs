//! The REST endpoints of the one repository: the repository itself, issues, comments and
//! labels, plus `GET /user` and `GET /rate_limit`. Each handler runs behind [`serve`], which
//! does auth, rate limits and headers; handlers only check the repository and do the work.

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::call::{Answer, Call, Reply, Resource, search_limit, serve};
use super::error::{DOC_COMMENTS, DOC_ISSUES, DOC_LABELS, DOC_REST, GhError};
use super::filter::{IssueFilter, since};
use super::input;
use super::paging::{Page, link_header};
use super::render;
use crate::Sandbox;
use crate::limits::retry_after_secs;

/// `{owner}/{repo}` path parameters.
type RepoPath = Path<(String, String)>;
/// `{owner}/{repo}/{number}` path parameters.
type ItemPath = Path<(String, String, String)>;
/// `{owner}/{repo}/{number}/{label}` path parameters.
type LabelPath = Path<(String, String, String, String)>;

/// 404 unless the caller has a token and names the sandbox repository (case-insensitive);
/// a private repository is invisible without a token.
fn check_repo(
    sb: &Sandbox,
    call: &Call,
    owner: &str,
    repo: &str,
    doc: &str,
) -> Result<(), GhError> {
    let wanted = format!("{owner}/{repo}");
    if call.token.is_none() || !wanted.eq_ignore_ascii_case(&sb.credentials.github.repo) {
        return Err(GhError::not_found(doc));
    }
    Ok(())
}

/// An issue or comment number from the path; anything not numeric is a 404.
fn number(s: &str, doc: &str) -> Result<u64, GhError> {
    s.parse::<u64>().map_err(|_| GhError::not_found(doc))
}

/// The secondary limit on content creation (issues, comments): 80 per minute per token.
fn content_limit(sb: &Sandbox, call: &Call) -> Result<(), GhError> {
    sb.limits
        .check("github", "content", call.key())
        .map_err(|wait| GhError::secondary_limit(&call.request_id, retry_after_secs(wait)))
}

/// One page of `items` rendered with `render`, with the `Link` header for the whole list.
fn paged<T>(
    call: &Call,
    uri: &OriginalUri,
    query: Option<&str>,
    items: &[T],
    render: impl Fn(&T) -> Value,
) -> Answer {
    let page = Page::from_query(query);
    let path = uri.path();
    let url = format!(
        "{}{}",
        call.urls.api,
        path.strip_prefix("/github").unwrap_or(path)
    );
    Answer {
        status: StatusCode::OK,
        body: Value::Array(page.slice(items).iter().map(render).collect()),
        link: link_header(&url, query, page, items.len()),
    }
}

/// `GET /repos/{owner}/{repo}`.
pub async fn get_repo(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((o, r)): RepoPath,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(
            &sb,
            call,
            &o,
            &r,
            "https://docs.github.com/rest/repos/repos#get-a-repository",
        )?;
        let open = sb.github.repo.lock().issues().filter(|i| !i.closed).count();
        Ok(Answer::ok(render::repository(&call.urls, open as u64)))
    })
}

/// `POST /repos/{owner}/{repo}/issues` → 201.
pub async fn create_issue(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((o, r)): RepoPath,
    body: Bytes,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_ISSUES)?;
        let fields = input::parse_object(&body, DOC_ISSUES)?;
        let mut repo = sb.github.repo.lock();
        let new = input::new_issue(&repo, &fields, DOC_ISSUES)?;
        content_limit(&sb, call)?;
        let issue = repo.create_issue(new);
        Ok(Answer::created(render::issue(&call.urls, &repo, &issue)))
    })
}

/// `GET /repos/{owner}/{repo}/issues` with its filters and pagination.
pub async fn list_issues(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
    Path((o, r)): RepoPath,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_ISSUES)?;
        let filter = IssueFilter::from_query(query.as_deref(), DOC_ISSUES)?;
        let repo = sb.github.repo.lock();
        let issues = filter.apply(repo.issues());
        Ok(paged(call, &uri, query.as_deref(), &issues, |d| {
            render::issue(&call.urls, &repo, d)
        }))
    })
}

/// `GET /repos/{owner}/{repo}/issues/{number}`.
pub async fn get_issue(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((o, r, n)): ItemPath,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_ISSUES)?;
        let n = number(&n, DOC_ISSUES)?;
        let repo = sb.github.repo.lock();
        let issue = repo
            .issue(n)
            .ok_or_else(|| GhError::not_found(DOC_ISSUES))?;
        Ok(Answer::ok(render::issue(&call.urls, &repo, issue)))
    })
}

/// `PATCH /repos/{owner}/{repo}/issues/{number}`.
pub async fn edit_issue(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((o, r, n)): ItemPath,
    body: Bytes,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_ISSUES)?;
        let n = number(&n, DOC_ISSUES)?;
        let fields = input::parse_object(&body, DOC_ISSUES)?;
        let mut repo = sb.github.repo.lock();
        repo.issue(n)
            .ok_or_else(|| GhError::not_found(DOC_ISSUES))?;
        let edit = input::issue_edit(&repo, &fields, DOC_ISSUES)?;
        let issue = repo
            .edit_issue(n, edit)
            .ok_or_else(|| GhError::not_found(DOC_ISSUES))?;
        Ok(Answer::ok(render::issue(&call.urls, &repo, &issue)))
    })
}

/// `POST /repos/{owner}/{repo}/issues/{number}/comments` → 201.
pub async fn create_comment(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((o, r, n)): ItemPath,
    body: Bytes,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_COMMENTS)?;
        let n = number(&n, DOC_COMMENTS)?;
        let fields = input::parse_object(&body, DOC_COMMENTS)?;
        let mut repo = sb.github.repo.lock();
        repo.issue(n)
            .ok_or_else(|| GhError::not_found(DOC_COMMENTS))?;
        let text = input::comment_body(&fields, DOC_COMMENTS)?;
        content_limit(&sb, call)?;
        let comment = repo
            .add_comment(n, text)
            .ok_or_else(|| GhError::not_found(DOC_COMMENTS))?;
        Ok(Answer::created(render::comment(&call.urls, &comment)))
    })
}

/// `GET /repos/{owner}/{repo}/issues/{number}/comments` (`since`, pagination), oldest first.
pub async fn list_comments(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
    Path((o, r, n)): ItemPath,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_COMMENTS)?;
        let n = number(&n, DOC_COMMENTS)?;
        let since = since(query.as_deref(), DOC_COMMENTS)?;
        let repo = sb.github.repo.lock();
        repo.issue(n)
            .ok_or_else(|| GhError::not_found(DOC_COMMENTS))?;
        let comments: Vec<_> = repo
            .comments_of(n)
            .into_iter()
            .filter(|c| since.is_none_or(|s| c.updated_at >= s))
            .collect();
        Ok(paged(call, &uri, query.as_deref(), &comments, |c| {
            render::comment(&call.urls, c)
        }))
    })
}

/// `GET /repos/{owner}/{repo}/issues/comments/{id}`.
pub async fn get_comment(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((o, r, id)): ItemPath,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_COMMENTS)?;
        let id = number(&id, DOC_COMMENTS)?;
        let repo = sb.github.repo.lock();
        let c = repo
            .comment(id)
            .ok_or_else(|| GhError::not_found(DOC_COMMENTS))?;
        Ok(Answer::ok(render::comment(&call.urls, c)))
    })
}

/// `PATCH /repos/{owner}/{repo}/issues/comments/{id}` `{"body"}`.
pub async fn edit_comment(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((o, r, id)): ItemPath,
    body: Bytes,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_COMMENTS)?;
        let id = number(&id, DOC_COMMENTS)?;
        let fields = input::parse_object(&body, DOC_COMMENTS)?;
        let mut repo = sb.github.repo.lock();
        repo.comment(id)
            .ok_or_else(|| GhError::not_found(DOC_COMMENTS))?;
        let text = input::comment_body(&fields, DOC_COMMENTS)?;
        let c = repo
            .edit_comment(id, text)
            .ok_or_else(|| GhError::not_found(DOC_COMMENTS))?;
        Ok(Answer::ok(render::comment(&call.urls, &c)))
    })
}

/// The label objects named by `names`.
fn label_answer(call: &Call, repo: &super::state::Repo, names: &[String]) -> Answer {
    Answer::ok(render::labels(&call.urls, repo, names))
}

/// `GET /repos/{owner}/{repo}/issues/{number}/labels`.
pub async fn list_issue_labels(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
    Path((o, r, n)): ItemPath,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_LABELS)?;
        let n = number(&n, DOC_LABELS)?;
        let repo = sb.github.repo.lock();
        let issue = repo
            .issue(n)
            .ok_or_else(|| GhError::not_found(DOC_LABELS))?;
        let labels: Vec<_> = issue.labels.iter().filter_map(|l| repo.label(l)).collect();
        Ok(paged(call, &uri, query.as_deref(), &labels, |l| {
            render::label(&call.urls, l)
        }))
    })
}

/// `POST /repos/{owner}/{repo}/issues/{number}/labels`: adds; body `["a"]` or `{"labels":["a"]}`.
pub async fn add_labels(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((o, r, n)): ItemPath,
    body: Bytes,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_LABELS)?;
        let n = number(&n, DOC_LABELS)?;
        let names = input::labels_body(&body, DOC_LABELS)?;
        let mut repo = sb.github.repo.lock();
        let labels = repo
            .add_labels(n, &names)
            .ok_or_else(|| GhError::not_found(DOC_LABELS))?;
        Ok(label_answer(call, &repo, &labels))
    })
}

/// `PUT /repos/{owner}/{repo}/issues/{number}/labels`: replaces the set.
pub async fn set_labels(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((o, r, n)): ItemPath,
    body: Bytes,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_LABELS)?;
        let n = number(&n, DOC_LABELS)?;
        let names = input::labels_body(&body, DOC_LABELS)?;
        let mut repo = sb.github.repo.lock();
        let labels = repo
            .set_labels(n, &names)
            .ok_or_else(|| GhError::not_found(DOC_LABELS))?;
        Ok(label_answer(call, &repo, &labels))
    })
}

/// `DELETE /repos/{owner}/{repo}/issues/{number}/labels`: removes all → 204.
pub async fn clear_labels(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((o, r, n)): ItemPath,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_LABELS)?;
        let n = number(&n, DOC_LABELS)?;
        sb.github
            .repo
            .lock()
            .set_labels(n, &[])
            .ok_or_else(|| GhError::not_found(DOC_LABELS))?;
        Ok(Answer {
            status: StatusCode::NO_CONTENT,
            body: Value::Null,
            link: None,
        })
    })
}

/// `DELETE /repos/{owner}/{repo}/issues/{number}/labels/{name}` → the remaining labels, or
/// 404 `Label does not exist` when it is not on the issue.
pub async fn remove_label(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((o, r, n, name)): LabelPath,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_LABELS)?;
        let n = number(&n, DOC_LABELS)?;
        let mut repo = sb.github.repo.lock();
        match repo.remove_label(n, &name) {
            None => Err(GhError::not_found(DOC_LABELS)),
            Some(None) => Err(GhError::new(
                StatusCode::NOT_FOUND,
                "Label does not exist",
                DOC_LABELS,
            )),
            Some(Some(labels)) => Ok(label_answer(call, &repo, &labels)),
        }
    })
}

/// `GET /repos/{owner}/{repo}/labels`: every repository label.
pub async fn list_repo_labels(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
    Path((o, r)): RepoPath,
) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        check_repo(&sb, call, &o, &r, DOC_LABELS)?;
        let repo = sb.github.repo.lock();
        Ok(paged(call, &uri, query.as_deref(), repo.labels(), |l| {
            render::label(&call.urls, l)
        }))
    })
}

/// `GET /user`: the token's owner; 401 `Requires authentication` without a token.
pub async fn get_user(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    serve(&sb, &headers, Resource::Core, |call| {
        if call.token.is_none() {
            return Err(GhError::requires_auth());
        }
        Ok(Answer::ok(render::authenticated_user(&call.urls)))
    })
}

/// `GET /rate_limit`: the caller's budgets; does not count against them.
pub async fn rate_limit(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    serve(&sb, &headers, Resource::Free, |call| {
        let core = sb.github.rate.peek_core(call.key(), call.token.is_some());
        let search = sb.github.rate.peek_search(call.key(), search_limit(&sb));
        Ok(Answer::ok(json!({
            "resources": {"core": core.to_json(), "search": search.to_json()},
            "rate": core.to_json(),
        })))
    })
}

/// Any other path: GitHub's 404 (after the same auth checks).
pub async fn not_found(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    serve(&sb, &headers, Resource::Core, |_| -> Reply {
        Err(GhError::not_found(DOC_REST))
    })
}
