//! GitHub REST simulator (`/github`, like `https://api.github.com`): one private repository
//! (`sb.credentials.github.repo`) with issues, comments and labels, issue search over an
//! eventually consistent index, and GitHub's auth, error shapes and rate-limit signals, so that
//! PyGithub and plain HTTP clients work against it given only a base URL.
//!
//! Layout: [`call`] (checks and headers every request goes through), [`handlers`] (repository,
//! issues, comments, labels), [`search`], [`filter`] (issue-list query), [`paging`] (`Link`),
//! [`input`] (body validation), [`render`] (JSON objects), [`state`], [`rate`] (primary
//! budgets), [`error`] (error bodies), [`html`] (the page behind `html_url`), [`control`]
//! (`/_sandbox/github`).

pub mod call;
pub mod control;
pub mod error;
pub mod filter;
pub mod handlers;
pub mod html;
pub mod input;
pub mod paging;
pub mod rate;
pub mod render;
pub mod search;
pub mod state;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use parking_lot::Mutex;
use serde_json::Value;

use super::{Sandbox, Seed};
use handlers as h;

/// State of the GitHub simulator: the repository and every caller's rate budgets.
pub struct GitHubSim {
    repo: Mutex<state::Repo>,
    rate: rate::RateBook,
}

impl Default for GitHubSim {
    fn default() -> Self {
        GitHubSim {
            repo: Mutex::new(state::Repo::new(render::BOT_LOGIN)),
            rate: rate::RateBook::default(),
        }
    }
}

impl GitHubSim {
    /// An empty repository with GitHub's default labels (the seed has no GitHub data).
    pub fn new(_seed: &Seed) -> Self {
        GitHubSim::default()
    }

    /// Back to an empty repository, full rate budgets and the default core limit.
    pub fn reset(&self, _seed: &Seed) {
        *self.repo.lock() = state::Repo::new(render::BOT_LOGIN);
        self.rate.reset();
    }
}

/// Vendor routes, mounted at `/github`. Unknown paths and methods answer GitHub's 404.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/repos/{owner}/{repo}", get(h::get_repo))
        .route(
            "/repos/{owner}/{repo}/issues",
            get(h::list_issues).post(h::create_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}",
            get(h::get_issue).patch(h::edit_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(h::list_comments).post(h::create_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}",
            get(h::get_comment).patch(h::edit_comment),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            get(h::list_issue_labels)
                .post(h::add_labels)
                .put(h::set_labels)
                .delete(h::clear_labels),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels/{name}",
            delete(h::remove_label),
        )
        .route("/repos/{owner}/{repo}/labels", get(h::list_repo_labels))
        .route("/search/issues", get(search::search_issues))
        .route("/user", get(h::get_user))
        .route("/rate_limit", get(h::rate_limit))
        .route("/{owner}/{repo}/issues/{number}", get(html::issue_page))
        .fallback(h::not_found)
        .method_not_allowed_fallback(h::not_found)
}

/// Control routes under `/_sandbox/github`.
pub fn control_routes() -> Router<Sandbox> {
    Router::new()
        .route("/issues", get(control::issues))
        .route("/rate_limit", post(control::set_rate_limit))
        .route("/collaborators", post(control::add_collaborator))
}

/// The answer to an injected fault: GitHub's error body for `status` (or `body` as given),
/// `retry-after` when set, and for a 429 (or a 403 with `retry_after`) the secondary-limit
/// message with `retry-after` (60 s when none was given for a 429).
pub fn fault_response(
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
) -> Response {
    let retry_after = match (status.as_u16(), retry_after) {
        (429, None) => Some(60),
        (_, r) => r,
    };
    let body = body.unwrap_or_else(|| error::fault_body(status, retry_after));
    call::respond(status, &body, None, retry_after, &call::request_id(), None)
}
