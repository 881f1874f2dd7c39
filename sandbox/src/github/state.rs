//! The one repository's contents: issues, comments and labels, and the lagging copies the
//! search index answers from (GitHub search is eventually consistent, SPEC §7.5).

use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};

/// Colour GitHub gives a label created on the fly by naming it on an issue.
pub const DEFAULT_LABEL_COLOR: &str = "ededed";
/// Most search snapshots kept per issue, so a busy issue cannot grow without bound.
const MAX_SNAPSHOTS: usize = 256;
/// First issue id (GitHub ids are large and unrelated to issue numbers).
const FIRST_ISSUE_ID: u64 = 3_100_000_001;
/// First comment id; comment ids count up from here, apart from issue ids.
const FIRST_COMMENT_ID: u64 = 2_900_000_001;
/// First label id: the default labels take the first ones, labels created on the fly the next.
const FIRST_LABEL_ID: u64 = 9_100_000_001;

/// The labels every new GitHub repository starts with (name, colour, description).
const DEFAULT_LABELS: &[(&str, &str, &str)] = &[
    ("bug", "d73a4a", "Something isn't working"),
    (
        "documentation",
        "0075ca",
        "Improvements or additions to documentation",
    ),
    (
        "duplicate",
        "cfd3d7",
        "This issue or pull request already exists",
    ),
    ("enhancement", "a2eeef", "New feature or request"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("invalid", "e4e669", "This doesn't seem right"),
    ("question", "d876e3", "Further information is requested"),
    ("wontfix", "ffffff", "This will not be worked on"),
];

/// A repository label: GitHub's defaults plus any an issue named (created on first use).
#[derive(Debug, Clone)]
pub struct Label {
    /// Label id (`id` in the label JSON), unique in the sandbox.
    pub id: u64,
    /// Name as first written (matching is case-insensitive).
    pub name: String,
    /// Six hex digits, no `#`.
    pub color: String,
    /// Description; `null` for labels created on the fly.
    pub description: Option<String>,
    /// Whether it is one of GitHub's default labels.
    pub default: bool,
}

/// Everything about an issue that its JSON and search read.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueData {
    /// Repository-scoped number, from 1.
    pub number: u64,
    /// The issue's `id`: large and unrelated to its number, as on GitHub.
    pub id: u64,
    /// Title; never empty (creation and `PATCH` refuse an empty one with 422).
    pub title: String,
    /// Markdown body, `null` allowed.
    pub body: Option<String>,
    /// `closed` rather than `open`.
    pub closed: bool,
    /// `completed`, `not_planned`, `duplicate`, `reopened` or none.
    pub state_reason: Option<String>,
    /// Label names as the repository spells them.
    pub labels: Vec<String>,
    /// Assignee logins; each must be a collaborator.
    pub assignees: Vec<String>,
    /// Number of comments (`comments` in the issue JSON).
    pub comments: u64,
    /// When it was opened (whole seconds, as GitHub stores them).
    pub created_at: DateTime<Utc>,
    /// Last change to the issue or a new comment on it.
    pub updated_at: DateTime<Utc>,
    /// When it was last closed, if it is closed.
    pub closed_at: Option<DateTime<Utc>>,
}

/// What the search index holds about one issue at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The issue as it was at `taken`; search answers from the newest snapshot old enough.
    pub issue: IssueData,
    /// Its comments' bodies, for `in:comments`.
    pub comment_bodies: Vec<String>,
    /// When the change was made; it is searchable `github_search_delay` later.
    pub taken: Instant,
}

/// An issue with its search history.
#[derive(Debug, Clone)]
struct Issue {
    data: IssueData,
    history: Vec<Snapshot>,
}

/// An issue comment; GitHub numbers comments globally, not per issue.
#[derive(Debug, Clone)]
pub struct Comment {
    /// Comment id, what `…/issues/comments/{id}` takes.
    pub id: u64,
    /// Number of the issue it belongs to.
    pub issue_number: u64,
    /// Markdown body as sent (GitHub renders it; the sandbox does not).
    pub body: String,
    /// Creation time, whole seconds.
    pub created_at: DateTime<Utc>,
    /// Last edit (`PATCH …/comments/{id}`), or the creation time.
    pub updated_at: DateTime<Utc>,
}

/// A new issue whose body passed GitHub's checks (types, lengths, assignees).
#[derive(Debug, Clone, Default)]
pub struct NewIssue {
    /// Title: non-empty, at most [`MAX_TITLE_CHARS`](super::input::MAX_TITLE_CHARS).
    pub title: String,
    /// Markdown body; `None` for a `null` or missing `body`.
    pub body: Option<String>,
    /// Label names (created when missing).
    pub labels: Vec<String>,
    /// Assignee logins (already checked).
    pub assignees: Vec<String>,
}

/// A validated `PATCH` of an issue; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct IssueEdit {
    /// New title (already checked non-empty).
    pub title: Option<String>,
    /// New body (`Some(None)` clears it).
    pub body: Option<Option<String>>,
    /// `Some(true)` closes, `Some(false)` reopens.
    pub closed: Option<bool>,
    /// Reason given with a state change.
    pub state_reason: Option<String>,
    /// Replacement label set (`labels` in the `PATCH` replaces, it does not add).
    pub labels: Option<Vec<String>>,
    /// Replacement assignee set.
    pub assignees: Option<Vec<String>>,
}

/// The repository's mutable contents: issues with their search history, comments, labels.
#[derive(Debug)]
pub struct Repo {
    issues: Vec<Issue>,
    comments: Vec<Comment>,
    labels: Vec<Label>,
    collaborators: Vec<String>,
    next_comment_id: u64,
    next_label_id: u64,
}

/// Now, in whole seconds (GitHub timestamps carry no fractions).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

impl Repo {
    /// A fresh repository: GitHub's default labels, no issues, the bot as only collaborator.
    pub fn new(bot_login: &str) -> Self {
        let mut repo = Repo {
            issues: Vec::new(),
            comments: Vec::new(),
            labels: Vec::new(),
            collaborators: vec![bot_login.to_string()],
            next_comment_id: FIRST_COMMENT_ID,
            next_label_id: FIRST_LABEL_ID,
        };
        for (name, color, description) in DEFAULT_LABELS {
            let id = repo.take_label_id();
            repo.labels.push(Label {
                id,
                name: (*name).to_string(),
                color: (*color).to_string(),
                description: Some((*description).to_string()),
                default: true,
            });
        }
        repo
    }

    fn take_label_id(&mut self) -> u64 {
        let id = self.next_label_id;
        self.next_label_id += 1;
        id
    }

    /// The label called `name` (case-insensitive).
    pub fn label(&self, name: &str) -> Option<&Label> {
        self.labels
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }

    /// Every repository label, in creation order.
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    /// The repository's spelling of `name`, creating the label with the default colour if new.
    fn ensure_label(&mut self, name: &str) -> String {
        if let Some(l) = self.label(name) {
            return l.name.clone();
        }
        let id = self.take_label_id();
        self.labels.push(Label {
            id,
            name: name.to_string(),
            color: DEFAULT_LABEL_COLOR.to_string(),
            description: None,
            default: false,
        });
        name.to_string()
    }

    /// Canonical, de-duplicated label names, creating missing labels.
    fn ensure_labels(&mut self, names: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in names {
            let canonical = self.ensure_label(n);
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&canonical)) {
                out.push(canonical);
            }
        }
        out
    }

    /// Whether `login` may be assigned issues (a collaborator; case-insensitive).
    pub fn is_collaborator(&self, login: &str) -> bool {
        self.collaborators
            .iter()
            .any(|c| c.eq_ignore_ascii_case(login))
    }

    /// The collaborator's login as GitHub spells it.
    pub fn collaborator(&self, login: &str) -> Option<String> {
        self.collaborators
            .iter()
            .find(|c| c.eq_ignore_ascii_case(login))
            .cloned()
    }

    /// Adds an assignable user (control API).
    pub fn add_collaborator(&mut self, login: &str) {
        if !self.is_collaborator(login) {
            self.collaborators.push(login.to_string());
        }
    }

    /// One issue's current data.
    pub fn issue(&self, number: u64) -> Option<&IssueData> {
        self.issues
            .get(usize::try_from(number).ok()?.checked_sub(1)?)
            .map(|i| &i.data)
    }

    fn issue_mut(&mut self, number: u64) -> Option<&mut Issue> {
        let idx = usize::try_from(number).ok()?.checked_sub(1)?;
        self.issues.get_mut(idx)
    }

    /// Every issue, in number order.
    pub fn issues(&self) -> impl Iterator<Item = &IssueData> {
        self.issues.iter().map(|i| &i.data)
    }

    /// Opens a new issue; numbers count from 1.
    pub fn create_issue(&mut self, new: NewIssue) -> IssueData {
        let labels = self.ensure_labels(&new.labels);
        let number = self.issues.len() as u64 + 1;
        let at = now();
        let data = IssueData {
            number,
            id: FIRST_ISSUE_ID + number - 1,
            title: new.title,
            body: new.body,
            closed: false,
            state_reason: None,
            labels,
            assignees: new.assignees,
            comments: 0,
            created_at: at,
            updated_at: at,
            closed_at: None,
        };
        self.issues.push(Issue {
            data: data.clone(),
            history: Vec::new(),
        });
        self.index(number);
        data
    }

    /// Applies an edit; `None` when there is no such issue. `updated_at` moves only on change.
    pub fn edit_issue(&mut self, number: u64, edit: IssueEdit) -> Option<IssueData> {
        let labels = edit.labels.as_ref().map(|l| self.ensure_labels(l));
        let issue = self.issue_mut(number)?;
        let before = issue.data.clone();
        apply_edit(&mut issue.data, edit, labels);
        if issue.data != before {
            issue.data.updated_at = now();
            self.index(number);
        }
        self.issue(number).cloned()
    }

    /// Adds labels to an issue (creating them); answers the issue's labels.
    pub fn add_labels(&mut self, number: u64, names: &[String]) -> Option<Vec<String>> {
        self.issue(number)?;
        let names = self.ensure_labels(names);
        let issue = self.issue_mut(number)?;
        let mut changed = false;
        for n in names {
            if !issue.data.labels.iter().any(|l| l.eq_ignore_ascii_case(&n)) {
                issue.data.labels.push(n);
                changed = true;
            }
        }
        self.touch_if(number, changed)
    }

    /// Replaces an issue's labels; answers the new set.
    pub fn set_labels(&mut self, number: u64, names: &[String]) -> Option<Vec<String>> {
        self.issue(number)?;
        let names = self.ensure_labels(names);
        let issue = self.issue_mut(number)?;
        let changed = issue.data.labels != names;
        issue.data.labels = names;
        self.touch_if(number, changed)
    }

    /// Removes one label. `None`: no issue; `Some(None)`: the label is not on it.
    pub fn remove_label(&mut self, number: u64, name: &str) -> Option<Option<Vec<String>>> {
        let issue = self.issue_mut(number)?;
        let Some(pos) = issue
            .data
            .labels
            .iter()
            .position(|l| l.eq_ignore_ascii_case(name))
        else {
            return Some(None);
        };
        issue.data.labels.remove(pos);
        Some(self.touch_if(number, true))
    }

    /// Bumps `updated_at` and re-indexes when something changed; answers the labels.
    fn touch_if(&mut self, number: u64, changed: bool) -> Option<Vec<String>> {
        if changed {
            self.issue_mut(number)?.data.updated_at = now();
            self.index(number);
        }
        self.issue(number).map(|d| d.labels.clone())
    }

    /// Adds a comment; bumps the issue's comment count and `updated_at`.
    pub fn add_comment(&mut self, number: u64, body: String) -> Option<Comment> {
        let id = self.next_comment_id;
        let issue = self.issue_mut(number)?;
        let at = now();
        issue.data.comments += 1;
        issue.data.updated_at = at;
        self.next_comment_id += 1;
        let comment = Comment {
            id,
            issue_number: number,
            body,
            created_at: at,
            updated_at: at,
        };
        self.comments.push(comment.clone());
        self.index(number);
        Some(comment)
    }

    /// One comment by id.
    pub fn comment(&self, id: u64) -> Option<&Comment> {
        self.comments.iter().find(|c| c.id == id)
    }

    /// Edits a comment's body; re-indexes its issue.
    pub fn edit_comment(&mut self, id: u64, body: String) -> Option<Comment> {
        let comment = self.comments.iter_mut().find(|c| c.id == id)?;
        if comment.body != body {
            comment.body = body;
            comment.updated_at = now();
        }
        let (number, out) = (comment.issue_number, comment.clone());
        self.index(number);
        Some(out)
    }

    /// An issue's comments, oldest first.
    pub fn comments_of(&self, number: u64) -> Vec<&Comment> {
        self.comments
            .iter()
            .filter(|c| c.issue_number == number)
            .collect()
    }

    /// Records what the search index will see of issue `number` once the delay has passed.
    fn index(&mut self, number: u64) {
        let comment_bodies: Vec<String> = self
            .comments_of(number)
            .into_iter()
            .map(|c| c.body.clone())
            .collect();
        let Some(issue) = self.issue_mut(number) else {
            return;
        };
        issue.history.push(Snapshot {
            issue: issue.data.clone(),
            comment_bodies,
            taken: Instant::now(),
        });
        if issue.history.len() > MAX_SNAPSHOTS {
            issue.history.remove(0);
        }
    }

    /// What search sees now: per issue, the newest snapshot at least `delay` old. Older
    /// snapshots that can never be answered again are dropped.
    pub fn search_view(&mut self, delay: Duration) -> Vec<Snapshot> {
        let mut out = Vec::new();
        for issue in &mut self.issues {
            let Some(pos) = issue
                .history
                .iter()
                .rposition(|s| s.taken.elapsed() >= delay)
            else {
                continue;
            };
            issue.history.drain(..pos);
            if let Some(s) = issue.history.first() {
                out.push(s.clone());
            }
        }
        out
    }
}

/// Writes an edit into `data` (labels already made canonical).
fn apply_edit(data: &mut IssueData, edit: IssueEdit, labels: Option<Vec<String>>) {
    if let Some(t) = edit.title {
        data.title = t;
    }
    if let Some(b) = edit.body {
        data.body = b;
    }
    if let Some(l) = labels {
        data.labels = l;
    }
    if let Some(a) = edit.assignees {
        data.assignees = a;
    }
    apply_state(data, edit.closed, edit.state_reason);
}

/// Closing sets `closed_at` (reason `completed` unless given); reopening clears it with reason
/// `reopened`; a reason alone changes the reason of a closed issue and is ignored on an open one.
fn apply_state(data: &mut IssueData, closed: Option<bool>, reason: Option<String>) {
    match (data.closed, closed.unwrap_or(data.closed)) {
        (false, true) => {
            data.closed = true;
            data.closed_at = Some(now());
            data.state_reason = Some(reason.unwrap_or_else(|| "completed".into()));
        }
        (true, false) => {
            data.closed = false;
            data.closed_at = None;
            data.state_reason = Some("reopened".into());
        }
        (true, true) => {
            if let Some(r) = reason {
                data.state_reason = Some(r);
            }
        }
        (false, false) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(title: &str) -> NewIssue {
        NewIssue {
            title: title.into(),
            ..NewIssue::default()
        }
    }

    #[test]
    fn numbers_count_from_one_and_labels_are_created() {
        let mut r = Repo::new("bot");
        let a = r.create_issue(NewIssue {
            labels: vec!["Security".into(), "BUG".into(), "security".into()],
            ..new("a")
        });
        assert_eq!(a.number, 1);
        assert_eq!(a.labels, vec!["Security", "bug"]);
        assert_eq!(
            r.label("security").map(|l| l.color.as_str()),
            Some("ededed")
        );
        assert_eq!(r.create_issue(new("b")).number, 2);
    }

    #[test]
    fn close_and_reopen_move_closed_at_and_reason() {
        let mut r = Repo::new("bot");
        r.create_issue(new("a"));
        let closed = r
            .edit_issue(
                1,
                IssueEdit {
                    closed: Some(true),
                    ..IssueEdit::default()
                },
            )
            .unwrap();
        assert!(closed.closed_at.is_some());
        assert_eq!(closed.state_reason.as_deref(), Some("completed"));
        let open = r
            .edit_issue(
                1,
                IssueEdit {
                    closed: Some(false),
                    ..IssueEdit::default()
                },
            )
            .unwrap();
        assert!(open.closed_at.is_none());
        assert_eq!(open.state_reason.as_deref(), Some("reopened"));
    }

    #[test]
    fn search_sees_only_old_enough_snapshots() {
        let mut r = Repo::new("bot");
        r.create_issue(new("first"));
        assert!(r.search_view(Duration::from_secs(60)).is_empty());
        let view = r.search_view(Duration::ZERO);
        assert_eq!(view.len(), 1);
        assert_eq!(view[0].issue.title, "first");
    }

    #[test]
    fn removing_a_missing_label_is_reported() {
        let mut r = Repo::new("bot");
        r.create_issue(new("a"));
        assert_eq!(r.remove_label(1, "nope"), Some(None));
        assert_eq!(r.remove_label(9, "nope"), None);
    }
}
