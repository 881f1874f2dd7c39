//! Modal and App Home methods: `views.open` (single-use, 3-second `trigger_id`),
//! `views.update` (`hash_conflict` on a stale hash) and `views.publish`.

use rand::Rng;
use serde_json::{Map, Value, json};

use super::state::{self, TRIGGER_TTL, View, Workspace};
use super::{Answer, ApiError, Ctx, fail, fail_with, fields, required};
use crate::args;
use crate::slack::blocks;

/// A fresh view hash (`"1610241741.1a2b3c4d"`), new on every change.
pub(crate) fn new_hash() -> String {
    format!("{}.{:08x}", state::now_secs(), rand::rng().random::<u32>())
}

/// Reads and validates the `view` argument; `expected` limits its type.
fn parse_view(
    args: &Map<String, Value>,
    expected: Option<&str>,
) -> Result<Map<String, Value>, ApiError> {
    let view = match args::json_arg(args, "view") {
        Ok(Some(v)) => v,
        Ok(None) => {
            return Err(fail_with(
                "invalid_arguments",
                vec!["[ERROR] missing required field: view [json-pointer:/view]".into()],
            ));
        }
        Err(_) => {
            return Err(fail_with(
                "invalid_arguments",
                vec!["[ERROR] failed to parse view as JSON [json-pointer:/view]".into()],
            ));
        }
    };
    blocks::validate_view(&view, expected).map_err(|m| fail_with("invalid_arguments", m))?;
    let Value::Object(mut spec) = view else {
        return Err(fail("invalid_arguments"));
    };
    if let Some(b) = spec.get_mut("blocks") {
        blocks::fill_ids(b);
    }
    Ok(spec)
}

/// A stored view as the Web API and payloads show it.
pub(crate) fn view_json(ctx: &Ctx<'_>, ws: &Workspace, v: &View) -> Value {
    view_json_with(ctx.sb, ws, v)
}

/// Same as [`view_json`] without a request context (control calls use it).
pub(crate) fn view_json_with(sb: &crate::Sandbox, ws: &Workspace, v: &View) -> Value {
    let c = &sb.credentials.slack;
    let mut o = v.spec.clone();
    let defaults = [
        ("callback_id", json!("")),
        ("private_metadata", json!("")),
        ("external_id", json!("")),
        ("clear_on_close", json!(false)),
        ("notify_on_close", json!(false)),
        ("submit", Value::Null),
        ("close", Value::Null),
        ("submit_disabled", json!(false)),
    ];
    for (k, d) in defaults {
        o.entry(k.to_string()).or_insert(d);
    }
    if v.kind() == "home" {
        o.entry("title".to_string())
            .or_insert(json!({"type": "plain_text", "text": "View Title", "emoji": true}));
    }
    o.insert("id".into(), json!(v.id));
    o.insert("team_id".into(), json!(ws.team_id));
    o.insert("state".into(), json!({ "values": v.values }));
    o.insert("hash".into(), json!(v.hash));
    o.insert("root_view_id".into(), json!(v.root_view_id));
    o.insert("previous_view_id".into(), json!(v.previous_view_id));
    o.insert("app_id".into(), json!(c.app_id));
    o.insert("app_installed_team_id".into(), json!(ws.team_id));
    o.insert("bot_id".into(), json!(c.bot_id));
    Value::Object(o)
}

fn external_id(spec: &Map<String, Value>) -> Option<&str> {
    spec.get("external_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `views.open`: a modal on the screen of the person whose action issued the trigger.
pub(super) fn open(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let trigger_id = required(args, "trigger_id", "invalid_trigger_id")?;
    let spec = parse_view(args, Some("modal"))?;
    let mut ws = ctx.sb.slack.web.lock();
    let trigger = ws
        .triggers
        .get(&trigger_id)
        .cloned()
        .ok_or_else(|| fail("invalid_trigger_id"))?;
    if trigger.used || trigger.issued.elapsed() > TRIGGER_TTL {
        return Err(fail("expired_trigger_id"));
    }
    if let Some(ext) = external_id(&spec)
        && ws.views.iter().any(|v| external_id(&v.spec) == Some(ext))
    {
        return Err(fail("duplicate_external_id"));
    }
    if let Some(t) = ws.triggers.get_mut(&trigger_id) {
        t.used = true;
    }
    let id = state::random_id("V", 10);
    let view = View {
        id: id.clone(),
        user: trigger.user,
        spec,
        hash: new_hash(),
        root_view_id: id,
        previous_view_id: None,
        values: json!({}),
    };
    let out = view_json(ctx, &ws, &view);
    ws.views.push(view);
    Ok(fields(json!({ "view": out })))
}

/// `views.update`: replaces an open view by `view_id` or `external_id`.
pub(super) fn update(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let view_id = args::str_arg(args, "view_id").filter(|s| !s.is_empty());
    let ext = args::str_arg(args, "external_id").filter(|s| !s.is_empty());
    if view_id.is_none() && ext.is_none() {
        return Err(fail_with(
            "invalid_arguments",
            vec!["[ERROR] either view_id or external_id is required".into()],
        ));
    }
    let spec = parse_view(args, None)?;
    let hash = args::str_arg(args, "hash").filter(|s| !s.is_empty());
    let mut ws = ctx.sb.slack.web.lock();
    let idx = ws
        .views
        .iter()
        .position(|v| match (&view_id, &ext) {
            (Some(id), _) => v.id == *id,
            (None, Some(e)) => external_id(&v.spec) == Some(e.as_str()),
            (None, None) => false,
        })
        .ok_or_else(|| fail("not_found"))?;
    let view = &mut ws.views[idx];
    if hash.is_some_and(|h| h != view.hash) {
        return Err(fail("hash_conflict"));
    }
    view.spec = spec;
    view.hash = new_hash();
    let snapshot = view.clone();
    Ok(fields(json!({ "view": view_json(ctx, &ws, &snapshot) })))
}

/// `views.publish`: sets a person's App Home (same view id across publishes).
pub(super) fn publish(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let user = required(args, "user_id", "user_not_found")?;
    let spec = parse_view(args, Some("home"))?;
    let hash = args::str_arg(args, "hash").filter(|s| !s.is_empty());
    let mut ws = ctx.sb.slack.web.lock();
    if !ws.users.contains_key(&user) {
        return Err(fail("user_not_found"));
    }
    let existing = ws
        .views
        .iter()
        .position(|v| v.user == user && v.kind() == "home");
    let snapshot = match existing {
        Some(i) => {
            let view = &mut ws.views[i];
            if hash.is_some_and(|h| h != view.hash) {
                return Err(fail("hash_conflict"));
            }
            view.spec = spec;
            view.hash = new_hash();
            view.clone()
        }
        None => {
            let id = state::random_id("V", 10);
            let view = View {
                id: id.clone(),
                user,
                spec,
                hash: new_hash(),
                root_view_id: id,
                previous_view_id: None,
                values: json!({}),
            };
            ws.views.push(view.clone());
            view
        }
    };
    Ok(fields(json!({ "view": view_json(ctx, &ws, &snapshot) })))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::Sandbox;

    fn modal_args(trigger: &str) -> Map<String, Value> {
        let args = json!({"trigger_id": trigger, "view": {"type": "modal",
            "title": {"type": "plain_text", "text": "Resolve"}, "blocks": []}});
        args.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_trigger_older_than_three_seconds_is_expired() {
        let sb = Sandbox::new();
        let ctx = Ctx {
            sb: &sb,
            host: "h".into(),
        };
        let (old, fresh) = {
            let mut ws = sb.slack.web.lock();
            let old = ws.issue_trigger("U0ANA00001");
            let fresh = ws.issue_trigger("U0ANA00001");
            if let Some(t) = ws.triggers.get_mut(&old) {
                t.issued = Instant::now() - Duration::from_millis(3_100);
            }
            (old, fresh)
        };
        let err = open(&ctx, &modal_args(&old)).unwrap_err();
        assert_eq!(err.code, "expired_trigger_id");
        let ok = open(&ctx, &modal_args(&fresh)).unwrap();
        assert_eq!(ok["view"]["type"], "modal");
        assert_eq!(sb.slack.web.lock().views[0].user, "U0ANA00001");
    }
}
