//! Reading and validating GitHub request bodies the way GitHub does: any content type is read
//! as JSON; a body that does not parse is a 400 `Problems parsing JSON`; a wrong JSON type is a
//! 422 `Invalid request.`; a rule broken (missing title, unknown assignee, too long) is a 422
//! `Validation Failed` with an `errors` list. Unknown extra fields are ignored.

use serde_json::{Map, Value, json};

use super::error::GhError;
use super::state::{IssueEdit, NewIssue, Repo};

/// Longest issue title GitHub accepts.
pub const MAX_TITLE_CHARS: usize = 256;
/// Longest issue or comment body GitHub accepts.
pub const MAX_BODY_CHARS: usize = 65_536;

/// Parses a body as JSON (an empty body counts as `{}`).
pub fn parse_json(bytes: &[u8], doc: &str) -> Result<Value, GhError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(bytes).map_err(|_| GhError::parse_json(doc))
}

/// Parses a body that must be a JSON object.
pub fn parse_object(bytes: &[u8], doc: &str) -> Result<Map<String, Value>, GhError> {
    match parse_json(bytes, doc)? {
        Value::Object(m) => Ok(m),
        other => Err(GhError::invalid_request(
            &format!(
                "For 'links/0/schema', {} is not an object.",
                inspect(&other)
            ),
            doc,
        )),
    }
}

/// A value as GitHub's (Ruby) messages print it: `nil`, `"text"`, `5`, `[...]`.
fn inspect(v: &Value) -> String {
    match v {
        Value::Null => "nil".to_string(),
        other => other.to_string(),
    }
}

/// The schema error for `field` holding the wrong type.
fn wrong_type(field: &str, v: &Value, expected: &str, doc: &str) -> GhError {
    GhError::invalid_request(
        &format!(
            "For 'properties/{field}', {} is not {expected}.",
            inspect(v)
        ),
        doc,
    )
}

/// The `Validation Failed` error GitHub gives for a too-long text field.
fn too_long(resource: &str, field: &str, max: usize, doc: &str) -> GhError {
    GhError::validation(
        vec![json!({
            "resource": resource,
            "code": "custom",
            "field": field,
            "message": format!("{field} is too long (maximum is {max} characters)"),
        })],
        doc,
    )
}

/// A title: string or integer, non-blank, at most 256 characters.
fn title(v: Option<&Value>, doc: &str) -> Result<String, GhError> {
    let text = match v {
        None => {
            return Err(GhError::invalid_field(
                "Issue",
                "title",
                "missing_field",
                doc,
            ));
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        Some(other) => return Err(wrong_type("title", other, "a string or integer", doc)),
    };
    if text.trim().is_empty() {
        return Err(GhError::invalid_field(
            "Issue",
            "title",
            "missing_field",
            doc,
        ));
    }
    if text.chars().count() > MAX_TITLE_CHARS {
        return Err(too_long("Issue", "title", MAX_TITLE_CHARS, doc));
    }
    Ok(text)
}

/// An optional body: string or null, at most 65536 characters.
fn body(v: Option<&Value>, resource: &str, doc: &str) -> Result<Option<String>, GhError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > MAX_BODY_CHARS => {
            Err(too_long(resource, "body", MAX_BODY_CHARS, doc))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(wrong_type("body", other, "a string or null", doc)),
    }
}

/// Label names from an array of strings or `{"name"}` objects.
pub fn label_list(v: &Value, doc: &str) -> Result<Vec<String>, GhError> {
    let Value::Array(items) = v else {
        return Err(wrong_type("labels", v, "an array", doc));
    };
    let mut out = Vec::new();
    for item in items {
        let name = match item {
            Value::String(s) => s.trim().to_string(),
            Value::Object(m) => match m.get("name") {
                Some(Value::String(s)) => s.trim().to_string(),
                _ => return Err(wrong_type("labels", item, "a string", doc)),
            },
            other => return Err(wrong_type("labels", other, "a string", doc)),
        };
        if name.is_empty() {
            return Err(GhError::invalid_field(
                "Label",
                "name",
                "missing_field",
                doc,
            ));
        }
        out.push(name);
    }
    Ok(out)
}

/// The labels of `POST|PUT …/issues/{n}/labels`: a bare array (PyGithub) or `{"labels":[…]}`.
pub fn labels_body(bytes: &[u8], doc: &str) -> Result<Vec<String>, GhError> {
    let v = parse_json(bytes, doc)?;
    match &v {
        Value::Array(_) => label_list(&v, doc),
        Value::Object(m) => match m.get("labels") {
            Some(l) => label_list(l, doc),
            None => Err(GhError::invalid_request("\"labels\" wasn't supplied.", doc)),
        },
        other => Err(wrong_type("labels", other, "an array", doc)),
    }
}

/// Assignee logins; each must be able to be assigned (a collaborator).
fn assignee_list(repo: &Repo, v: &Value, doc: &str) -> Result<Vec<String>, GhError> {
    let Value::Array(items) = v else {
        return Err(wrong_type("assignees", v, "an array", doc));
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let Value::String(login) = item else {
            return Err(wrong_type("assignees", item, "a string", doc));
        };
        let Some(known) = repo.collaborator(login.trim()) else {
            return Err(GhError::validation(
                vec![
                    json!({"value": login, "resource": "Issue", "field": "assignees", "code": "invalid"}),
                ],
                doc,
            ));
        };
        if !out.contains(&known) {
            out.push(known);
        }
    }
    Ok(out)
}

/// `assignees` (preferred) or the legacy single `assignee`; `None` when neither is present.
fn assignees(
    repo: &Repo,
    m: &Map<String, Value>,
    doc: &str,
) -> Result<Option<Vec<String>>, GhError> {
    if let Some(v) = m.get("assignees") {
        if v.is_null() {
            return Ok(Some(Vec::new()));
        }
        return assignee_list(repo, v, doc).map(Some);
    }
    match m.get("assignee") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Vec::new())),
        Some(v @ Value::String(_)) => {
            assignee_list(repo, &Value::Array(vec![v.clone()]), doc).map(Some)
        }
        Some(other) => Err(wrong_type("assignee", other, "a string or null", doc)),
    }
}

/// `milestone`: the repository has no milestones, so anything but null is invalid.
fn milestone(m: &Map<String, Value>, doc: &str) -> Result<(), GhError> {
    match m.get("milestone") {
        None | Some(Value::Null) => Ok(()),
        Some(v @ (Value::Number(_) | Value::String(_))) => Err(GhError::validation(
            vec![json!({"value": v, "resource": "Issue", "field": "milestone", "code": "invalid"})],
            doc,
        )),
        Some(other) => Err(wrong_type(
            "milestone",
            other,
            "a string, integer or null",
            doc,
        )),
    }
}

/// The body of `POST /repos/{o}/{r}/issues`.
pub fn new_issue(repo: &Repo, m: &Map<String, Value>, doc: &str) -> Result<NewIssue, GhError> {
    let title = title(m.get("title"), doc)?;
    let body = body(m.get("body"), "Issue", doc)?;
    let labels = match m.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => label_list(v, doc)?,
    };
    let assignees = assignees(repo, m, doc)?.unwrap_or_default();
    milestone(m, doc)?;
    Ok(NewIssue {
        title,
        body,
        labels,
        assignees,
    })
}

/// `state`: `open` or `closed`.
fn state(v: &Value, doc: &str) -> Result<bool, GhError> {
    match v.as_str() {
        Some("open") => Ok(false),
        Some("closed") => Ok(true),
        _ => Err(wrong_type("state", v, "one of [\"open\", \"closed\"]", doc)),
    }
}

/// `state_reason`: `completed`, `not_planned`, `duplicate`, `reopened` or null.
fn state_reason(v: Option<&Value>, doc: &str) -> Result<Option<String>, GhError> {
    const REASONS: &[&str] = &["completed", "not_planned", "duplicate", "reopened"];
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if REASONS.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(other) => Err(wrong_type(
            "state_reason",
            other,
            "one of [\"completed\", \"not_planned\", \"duplicate\", \"reopened\", nil]",
            doc,
        )),
    }
}

/// The body of `PATCH /repos/{o}/{r}/issues/{n}`.
pub fn issue_edit(repo: &Repo, m: &Map<String, Value>, doc: &str) -> Result<IssueEdit, GhError> {
    let title = match m.get("title") {
        None => None,
        Some(v) => Some(title(Some(v), doc)?),
    };
    let body = match m.get("body") {
        None => None,
        Some(v) => Some(body(Some(v), "Issue", doc)?),
    };
    let closed = match m.get("state") {
        None => None,
        Some(v) => Some(state(v, doc)?),
    };
    let labels = match m.get("labels") {
        None => None,
        Some(Value::Null) => Some(Vec::new()),
        Some(v) => Some(label_list(v, doc)?),
    };
    milestone(m, doc)?;
    Ok(IssueEdit {
        title,
        body,
        closed,
        state_reason: state_reason(m.get("state_reason"), doc)?,
        labels,
        assignees: assignees(repo, m, doc)?,
    })
}

/// The required `body` of a comment.
pub fn comment_body(m: &Map<String, Value>, doc: &str) -> Result<String, GhError> {
    match m.get("body") {
        None => Err(GhError::invalid_field(
            "IssueComment",
            "body",
            "missing_field",
            doc,
        )),
        Some(Value::String(s)) if s.trim().is_empty() => Err(GhError::invalid_field(
            "IssueComment",
            "body",
            "missing_field",
            doc,
        )),
        Some(Value::String(s)) if s.chars().count() > MAX_BODY_CHARS => {
            Err(too_long("IssueComment", "body", MAX_BODY_CHARS, doc))
        }
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(wrong_type("body", other, "a string", doc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_missing_title_is_a_validation_error() {
        let repo = Repo::new("vigil-bot");
        let e = new_issue(&repo, &obj(json!({"body": "x"})), "d").unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert_eq!(e.body["errors"][0]["code"], "missing_field");
        assert_eq!(e.body["errors"][0]["field"], "title");
    }

    #[test]
    fn unknown_assignees_and_bad_types_are_refused() {
        let repo = Repo::new("vigil-bot");
        let e = new_issue(
            &repo,
            &obj(json!({"title": "t", "assignees": ["ghost"]})),
            "d",
        )
        .unwrap_err();
        assert_eq!(e.body["errors"][0]["value"], "ghost");
        let e = new_issue(&repo, &obj(json!({"title": "t", "body": 5})), "d").unwrap_err();
        assert!(
            e.body["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("Invalid request.")
        );
        let ok = new_issue(
            &repo,
            &obj(json!({"title": 7, "assignees": ["VIGIL-bot"], "x": 1})),
            "d",
        )
        .unwrap();
        assert_eq!(
            (ok.title.as_str(), ok.assignees[0].as_str()),
            ("7", "vigil-bot")
        );
    }

    #[test]
    fn labels_come_bare_or_wrapped() {
        assert_eq!(labels_body(br#"["a","b"]"#, "d").unwrap(), vec!["a", "b"]);
        assert_eq!(
            labels_body(br#"{"labels":[{"name":"c"}]}"#, "d").unwrap(),
            vec!["c"]
        );
        assert_eq!(labels_body(b"{nope", "d").unwrap_err().status.as_u16(), 400);
    }
}
