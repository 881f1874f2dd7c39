//! GitHub's JSON objects (repository, issue, comment, label, user). Every `url`-like field is
//! built from the request's `Host` plus `/github`, because PyGithub refuses to follow a URL
//! outside its base (SPEC §7.1).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::state::{Comment, IssueData, Label, Repo};

/// The login of the token's owner.
pub const BOT_LOGIN: &str = "vigil-bot";
/// The token owner's user id (also named in rate-limit messages).
pub const BOT_ID: u64 = 149_023_117;
/// The repository's `id` (and the seed of its `node_id`) in its JSON; fixed, so answers are stable.
pub const REPO_ID: u64 = 874_512_390;
/// The owning organisation's `id`: the repository owner is rendered as an `Organization`.
pub const ORG_ID: u64 = 98_765_432;

/// Where this request's URLs point: API root, web root and the repository's full name.
#[derive(Debug, Clone)]
pub struct Urls {
    /// `http://HOST/github`, like `https://api.github.com`.
    pub api: String,
    /// Web root for `html_url`s (kept under the same base).
    pub web: String,
    /// `owner/name` as GitHub spells it.
    pub full_name: String,
}

impl Urls {
    /// URLs for a request that arrived with `host`.
    pub fn new(host: &str, full_name: &str) -> Self {
        let root = format!("http://{host}/github");
        Urls {
            api: root.clone(),
            web: root,
            full_name: full_name.to_string(),
        }
    }

    /// `{api}/repos/{owner}/{name}`.
    pub fn repo(&self) -> String {
        format!("{}/repos/{}", self.api, self.full_name)
    }

    /// `{api}/repos/{owner}/{name}/issues/{n}`.
    pub fn issue(&self, number: u64) -> String {
        format!("{}/issues/{number}", self.repo())
    }

    /// The repository owner's login.
    pub fn owner(&self) -> &str {
        self.full_name.split('/').next().unwrap_or("")
    }

    /// The repository's short name.
    pub fn name(&self) -> &str {
        self.full_name.split('/').nth(1).unwrap_or("")
    }
}

/// GitHub's timestamp format: `2024-05-01T12:00:00Z`.
pub fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn opt_ts(t: &Option<DateTime<Utc>>) -> Value {
    t.as_ref().map_or(Value::Null, |t| Value::String(ts(t)))
}

/// A stable, opaque `node_id` for (kind prefix, numeric id).
pub fn node_id(prefix: &str, id: u64) -> String {
    format!("{prefix}_kwDO{id:010X}")
}

/// A deterministic id for a user who is not the bot.
fn user_id(login: &str) -> u64 {
    let hash = login
        .to_ascii_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    10_000_000 + hash % 90_000_000
}

/// A simple user object; the bot is `type: "Bot"`, everyone else a `User`.
pub fn user(urls: &Urls, login: &str) -> Value {
    let is_bot = login.eq_ignore_ascii_case(BOT_LOGIN);
    let id = if is_bot { BOT_ID } else { user_id(login) };
    let kind = if is_bot { "Bot" } else { "User" };
    let base = format!("{}/users/{login}", urls.api);
    json!({
        "login": login,
        "id": id,
        "node_id": node_id(if is_bot { "BOT" } else { "U" }, id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": base,
        "html_url": format!("{}/{login}", urls.web),
        "followers_url": format!("{base}/followers"),
        "following_url": format!("{base}/following{{/other_user}}"),
        "gists_url": format!("{base}/gists{{/gist_id}}"),
        "starred_url": format!("{base}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{base}/subscriptions"),
        "organizations_url": format!("{base}/orgs"),
        "repos_url": format!("{base}/repos"),
        "events_url": format!("{base}/events{{/privacy}}"),
        "received_events_url": format!("{base}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// `GET /user`: the authenticated user, with the private fields GitHub adds.
pub fn authenticated_user(urls: &Urls) -> Value {
    let mut u = user(urls, BOT_LOGIN);
    if let Value::Object(m) = &mut u {
        let extra = json!({
            "name": "Vigil",
            "company": null,
            "blog": "",
            "location": null,
            "email": null,
            "hireable": null,
            "bio": "Security alert triage bot",
            "twitter_username": null,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": "2024-01-15T09:00:00Z",
            "updated_at": "2024-01-15T09:00:00Z",
        });
        if let Value::Object(e) = extra {
            m.extend(e);
        }
    }
    u
}

/// A label object.
pub fn label(urls: &Urls, l: &Label) -> Value {
    json!({
        "id": l.id,
        "node_id": node_id("LA", l.id),
        "url": format!("{}/labels/{}", urls.repo(), encode_segment(&l.name)),
        "name": l.name,
        "color": l.color,
        "default": l.default,
        "description": l.description,
    })
}

/// Label objects for names on an issue (names always exist in the repository).
pub fn labels(urls: &Urls, repo: &Repo, names: &[String]) -> Value {
    Value::Array(
        names
            .iter()
            .filter_map(|n| repo.label(n))
            .map(|l| label(urls, l))
            .collect(),
    )
}

/// Percent-encodes a path segment (label names contain spaces).
pub fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A full issue object.
pub fn issue(urls: &Urls, repo: &Repo, d: &IssueData) -> Value {
    let url = urls.issue(d.number);
    let bot = user(urls, BOT_LOGIN);
    let assignees: Vec<Value> = d.assignees.iter().map(|a| user(urls, a)).collect();
    json!({
        "url": url,
        "repository_url": urls.repo(),
        "labels_url": format!("{url}/labels{{/name}}"),
        "comments_url": format!("{url}/comments"),
        "events_url": format!("{url}/events"),
        "html_url": format!("{}/{}/issues/{}", urls.web, urls.full_name, d.number),
        "id": d.id,
        "node_id": node_id("I", d.id),
        "number": d.number,
        "title": d.title,
        "user": bot,
        "labels": labels(urls, repo, &d.labels),
        "state": if d.closed { "closed" } else { "open" },
        "locked": false,
        "assignee": assignees.first().cloned().unwrap_or(Value::Null),
        "assignees": assignees,
        "milestone": null,
        "comments": d.comments,
        "created_at": ts(&d.created_at),
        "updated_at": ts(&d.updated_at),
        "closed_at": opt_ts(&d.closed_at),
        "author_association": "MEMBER",
        "type": null,
        "active_lock_reason": null,
        "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
        "body": d.body,
        "closed_by": if d.closed { bot.clone() } else { Value::Null },
        "reactions": reactions(&format!("{url}/reactions")),
        "timeline_url": format!("{url}/timeline"),
        "performed_via_github_app": null,
        "state_reason": d.state_reason,
    })
}

/// An empty reactions rollup.
fn reactions(url: &str) -> Value {
    json!({
        "url": url, "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
        "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
    })
}

/// A comment object.
pub fn comment(urls: &Urls, c: &Comment) -> Value {
    let url = format!("{}/issues/comments/{}", urls.repo(), c.id);
    json!({
        "url": url,
        "html_url": format!("{}/{}/issues/{}#issuecomment-{}", urls.web, urls.full_name, c.issue_number, c.id),
        "issue_url": urls.issue(c.issue_number),
        "id": c.id,
        "node_id": node_id("IC", c.id),
        "user": user(urls, BOT_LOGIN),
        "created_at": ts(&c.created_at),
        "updated_at": ts(&c.updated_at),
        "author_association": "MEMBER",
        "body": c.body,
        "reactions": reactions(&format!("{url}/reactions")),
        "performed_via_github_app": null,
    })
}

/// The organisation that owns the repository, as a simple user object.
fn owner(urls: &Urls) -> Value {
    let mut o = user(urls, urls.owner());
    if let Value::Object(m) = &mut o {
        m.insert("id".into(), json!(ORG_ID));
        m.insert("node_id".into(), json!(node_id("O", ORG_ID)));
        m.insert("type".into(), json!("Organization"));
        m.insert(
            "avatar_url".into(),
            json!(format!(
                "https://avatars.githubusercontent.com/u/{ORG_ID}?v=4"
            )),
        );
    }
    o
}

/// The `*_url` templates of a repository object, relative to its API URL.
const REPO_URL_FIELDS: &[(&str, &str)] = &[
    ("forks_url", "/forks"),
    ("keys_url", "/keys{/key_id}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("teams_url", "/teams"),
    ("hooks_url", "/hooks"),
    ("issue_events_url", "/issues/events{/number}"),
    ("events_url", "/events"),
    ("assignees_url", "/assignees{/user}"),
    ("branches_url", "/branches{/branch}"),
    ("tags_url", "/tags"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("trees_url", "/git/trees{/sha}"),
    ("statuses_url", "/statuses/{sha}"),
    ("languages_url", "/languages"),
    ("stargazers_url", "/stargazers"),
    ("contributors_url", "/contributors"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("commits_url", "/commits{/sha}"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("comments_url", "/comments{/number}"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("contents_url", "/contents/{+path}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("merges_url", "/merges"),
    ("archive_url", "/{archive_format}{/ref}"),
    ("downloads_url", "/downloads"),
    ("issues_url", "/issues{/number}"),
    ("pulls_url", "/pulls{/number}"),
    ("milestones_url", "/milestones{/number}"),
    (
        "notifications_url",
        "/notifications{?since,all,participating}",
    ),
    ("labels_url", "/labels{/name}"),
    ("releases_url", "/releases{/id}"),
    ("deployments_url", "/deployments"),
];

/// A full repository object (`GET /repos/{owner}/{repo}`).
pub fn repository(urls: &Urls, open_issues: u64) -> Value {
    let api = urls.repo();
    let html = format!("{}/{}", urls.web, urls.full_name);
    let mut m = Map::new();
    let base = json!({
        "id": REPO_ID,
        "node_id": node_id("R", REPO_ID),
        "name": urls.name(),
        "full_name": urls.full_name,
        "private": true,
        "owner": owner(urls),
        "html_url": html,
        "description": "Security alerts and their triage",
        "fork": false,
        "url": api,
        "git_url": format!("git://127.0.0.1/{}.git", urls.full_name),
        "ssh_url": format!("git@127.0.0.1:{}.git", urls.full_name),
        "clone_url": format!("{html}.git"),
        "svn_url": html,
        "homepage": null,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": null,
    });
    let more = json!({
        "has_issues": true,
        "has_projects": false,
        "has_downloads": true,
        "has_wiki": false,
        "has_pages": false,
        "has_discussions": false,
        "forks_count": 0,
        "mirror_url": null,
        "archived": false,
        "disabled": false,
        "open_issues_count": open_issues,
        "license": null,
        "allow_forking": false,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": [],
        "visibility": "private",
        "forks": 0,
        "open_issues": open_issues,
        "watchers": 0,
        "default_branch": "main",
        "permissions": {"admin": false, "maintain": false, "push": true, "triage": true, "pull": true},
        "created_at": "2024-01-15T09:00:00Z",
        "updated_at": "2024-01-15T09:00:00Z",
        "pushed_at": "2024-01-15T09:00:00Z",
        "organization": owner(urls),
        "network_count": 0,
        "subscribers_count": 1,
    });
    for part in [base, more] {
        if let Value::Object(b) = part {
            m.extend(b);
        }
    }
    for (key, suffix) in REPO_URL_FIELDS {
        m.insert((*key).to_string(), json!(format!("{api}{suffix}")));
    }
    Value::Object(m)
}
