//! Read-side and identity methods: `auth.test`, `apps.connections.open`,
//! `conversations.{open,info,history,replies}`, `users.info`, `users.lookupByEmail` and
//! `usergroups.users.list`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use super::state::{self, Channel, Message, Workspace};
use super::{Answer, ApiError, Ctx, bot_user_json, fail, fail_with, fields, required, user_json};
use crate::args;

/// Default page size of `conversations.history`/`replies`.
const DEFAULT_LIMIT: usize = 100;
/// Largest page Slack serves.
const MAX_LIMIT: usize = 999;

/// `auth.test`: who the bot token belongs to (Bolt needs `user_id`, `bot_id`, `team_id`).
pub(super) fn auth_test(ctx: &Ctx<'_>, _args: &Map<String, Value>) -> Answer {
    let c = &ctx.sb.credentials.slack;
    let team_id = ctx.sb.slack.web.lock().team_id.clone();
    Ok(fields(json!({
        "url": format!("http://{}/slack/", ctx.host),
        "team": state::TEAM_NAME,
        "user": "vigil",
        "team_id": team_id,
        "user_id": c.bot_user_id,
        "bot_id": c.bot_id,
        "is_enterprise_install": false
    })))
}

/// `apps.connections.open`: a Socket Mode URL on the host the request came to.
pub(super) fn connections_open(ctx: &Ctx<'_>, _args: &Map<String, Value>) -> Answer {
    let ticket = ctx.sb.slack.socket.issue_ticket();
    let url = format!(
        "ws://{}/slack/socket?ticket={ticket}&app_id={}",
        ctx.host, ctx.sb.credentials.slack.app_id
    );
    Ok(fields(json!({ "url": url })))
}

/// Reads `users` as Slack takes it: comma-separated text or (JSON clients) an array.
fn user_list(args: &Map<String, Value>) -> Vec<String> {
    match args.get("users") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        _ => vec![],
    }
}

/// `conversations.open`: the one IM between the bot and a person (`D…`, stable per person).
pub(super) fn open(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let mut ws = ctx.sb.slack.web.lock();
    let return_im = args::bool_arg(args, "return_im");
    let (id, existed) = match args::str_arg(args, "channel").filter(|c| !c.is_empty()) {
        Some(ch) => match ws.channels.get(&ch) {
            Some(c) if c.im_user.is_some() => (ch, true),
            _ => return Err(fail("channel_not_found")),
        },
        None => open_for_users(ctx, &mut ws, &user_list(args))?,
    };
    let channel = match ws.channels.get(&id) {
        Some(c) if return_im => channel_json(&ws, c),
        _ => json!({ "id": id }),
    };
    let mut out = fields(json!({ "channel": channel }));
    if existed {
        out.insert("no_op".into(), json!(true));
        out.insert("already_open".into(), json!(true));
    }
    Ok(out)
}

fn open_for_users(
    ctx: &Ctx<'_>,
    ws: &mut Workspace,
    users: &[String],
) -> Result<(String, bool), ApiError> {
    let user = match users {
        [] => return Err(fail("users_list_not_supplied")),
        [one] => one,
        _ => {
            return Err(fail_with(
                "invalid_arguments",
                vec!["[ERROR] the sandbox opens 1:1 IMs only".into()],
            ));
        }
    };
    if user == ctx.bot_user() {
        return Err(fail("cannot_dm_bot"));
    }
    match ws.users.get(user) {
        Some(u) if u.deleted => Err(fail("user_disabled")),
        Some(_) => Ok(ws.open_im(user)),
        None => Err(fail("user_not_found")),
    }
}

/// A channel or IM object as `conversations.info` answers it.
pub(crate) fn channel_json(ws: &Workspace, c: &Channel) -> Value {
    if let Some(user) = &c.im_user {
        let deleted = ws.users.get(user).is_some_and(|u| u.deleted);
        return json!({
            "id": c.id, "created": c.created, "is_archived": false, "is_im": true,
            "is_org_shared": false, "context_team_id": ws.team_id, "updated": c.created * 1000,
            "user": user, "is_user_deleted": deleted, "priority": 0,
            "last_read": "0000000000.000000", "is_open": true
        });
    }
    let name = c.name.clone().unwrap_or_default();
    let mut out = json!({
        "id": c.id, "name": name, "is_channel": true, "is_group": false, "is_im": false,
        "is_mpim": false, "is_private": false, "created": c.created, "is_archived": false,
        "is_general": name == "general", "unlinked": 0, "name_normalized": name,
        "is_member": c.bot_member, "last_read": "0000000000.000000",
    });
    let more = json!({
        "is_shared": false, "is_org_shared": false, "is_pending_ext_shared": false,
        "pending_shared": [], "context_team_id": ws.team_id, "updated": c.created * 1000,
        "parent_conversation": null, "creator": "", "is_ext_shared": false,
        "shared_team_ids": [ws.team_id], "pending_connected_team_ids": [],
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
        "previous_names": []
    });
    if let (Value::Object(o), Value::Object(m)) = (&mut out, more) {
        o.extend(m);
    }
    out
}

/// `conversations.info`.
pub(super) fn info(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let ws = ctx.sb.slack.web.lock();
    let id = required(args, "channel", "channel_not_found")?;
    let c = ws
        .channels
        .get(&id)
        .ok_or_else(|| fail("channel_not_found"))?;
    Ok(fields(json!({ "channel": channel_json(&ws, c) })))
}

/// Paging and range arguments shared by `history` and `replies`.
struct Page {
    oldest: u64,
    latest: u64,
    inclusive: bool,
    limit: usize,
    cursor: Option<u64>,
    with_metadata: bool,
}

impl Page {
    fn parse(args: &Map<String, Value>) -> Result<Page, ApiError> {
        let ts_arg = |key: &str, default: u64, code: &str| -> Result<u64, ApiError> {
            match args::str_arg(args, key).filter(|s| !s.trim().is_empty()) {
                None => Ok(default),
                Some(s) => state::parse_ts(&s).ok_or_else(|| fail(code)),
            }
        };
        let limit = args::str_arg(args, "limit")
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_LIMIT)
            .min(MAX_LIMIT);
        let cursor = match args::str_arg(args, "cursor").filter(|s| !s.is_empty()) {
            None => None,
            Some(c) => Some(decode_cursor(&c).ok_or_else(|| fail("invalid_cursor"))?),
        };
        Ok(Page {
            oldest: ts_arg("oldest", 0, "invalid_ts_oldest")?,
            latest: ts_arg("latest", u64::MAX, "invalid_ts_latest")?,
            inclusive: args::bool_arg(args, "inclusive"),
            limit,
            cursor,
            with_metadata: args::bool_arg(args, "include_all_metadata"),
        })
    }

    fn in_range(&self, ts: u64) -> bool {
        if self.inclusive {
            ts >= self.oldest && ts <= self.latest
        } else {
            ts > self.oldest && ts < self.latest
        }
    }
}

/// Slack's opaque cursor: base64 of `next_ts:<ts digits>`.
fn encode_cursor(ts: u64) -> String {
    B64.encode(format!("next_ts:{ts}"))
}

fn decode_cursor(c: &str) -> Option<u64> {
    let bytes = B64.decode(c.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("next_ts:")?.parse().ok()
}

/// A readable channel the bot is in, by id (read methods take ids, not names).
fn readable<'a>(ws: &'a Workspace, args: &Map<String, Value>) -> Result<&'a Channel, ApiError> {
    let id = required(args, "channel", "channel_not_found")?;
    let c = ws
        .channels
        .get(&id)
        .ok_or_else(|| fail("channel_not_found"))?;
    if c.bot_member {
        Ok(c)
    } else {
        Err(fail("not_in_channel"))
    }
}

fn is_top_level(m: &Message) -> bool {
    m.thread_ts.as_ref().is_none_or(|t| *t == m.ts) || m.broadcast
}

/// The answer fields for one page: `messages`, `has_more`, `response_metadata.next_cursor`.
fn page_answer(ws: &Workspace, items: Vec<&Message>, page: &Page, more: Option<u64>) -> Answer {
    let messages: Vec<Value> = items
        .iter()
        .map(|m| ws.message_json(m, page.with_metadata))
        .collect();
    let next = more.map(encode_cursor).unwrap_or_default();
    Ok(fields(json!({
        "messages": messages,
        "has_more": more.is_some(),
        "pin_count": 0,
        "response_metadata": {"next_cursor": next}
    })))
}

/// `conversations.history`: top-level messages, newest first.
pub(super) fn history(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let ws = ctx.sb.slack.web.lock();
    let c = readable(&ws, args)?;
    let page = Page::parse(args)?;
    let mut matching = c.messages.values().rev().filter(|m| {
        let ts = state::parse_ts(&m.ts).unwrap_or(0);
        is_top_level(m) && page.in_range(ts) && page.cursor.is_none_or(|cur| ts <= cur)
    });
    let items: Vec<&Message> = matching.by_ref().take(page.limit).collect();
    let more = matching.next().and_then(|m| state::parse_ts(&m.ts));
    page_answer(&ws, items, &page, more)
}

/// `conversations.replies`: the parent (first page only), then replies oldest first.
pub(super) fn replies(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let ws = ctx.sb.slack.web.lock();
    let c = readable(&ws, args)?;
    let ts = required(args, "ts", "thread_not_found")?;
    let page = Page::parse(args)?;
    let root = c
        .messages
        .get(&ts)
        .map(|m| m.thread_ts.clone().unwrap_or(ts.clone()))
        .ok_or_else(|| fail("thread_not_found"))?;
    let parent = c
        .messages
        .get(&root)
        .ok_or_else(|| fail("thread_not_found"))?;
    let mut items: Vec<&Message> = vec![];
    if page.cursor.is_none() {
        items.push(parent);
    }
    let mut rest = c.messages.values().filter(|m| {
        let t = state::parse_ts(&m.ts).unwrap_or(0);
        m.ts != root
            && m.thread_ts.as_deref() == Some(root.as_str())
            && page.in_range(t)
            && page.cursor.is_none_or(|cur| t >= cur)
    });
    let room = page.limit.saturating_sub(items.len()).max(1);
    items.extend(rest.by_ref().take(room));
    let more = rest.next().and_then(|m| state::parse_ts(&m.ts));
    page_answer(&ws, items, &page, more)
}

/// `users.info`: a person or the bot user.
pub(super) fn users_info(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let ws = ctx.sb.slack.web.lock();
    let id = required(args, "user", "user_not_found")?;
    if id == ctx.bot_user() {
        return Ok(fields(
            json!({ "user": bot_user_json(ctx.sb, &ws.team_id) }),
        ));
    }
    let u = ws.users.get(&id).ok_or_else(|| fail("user_not_found"))?;
    Ok(fields(json!({ "user": user_json(u, &ws.team_id) })))
}

/// `users.lookupByEmail`: case-insensitive, active accounts only.
pub(super) fn lookup_by_email(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let ws = ctx.sb.slack.web.lock();
    let email = required(args, "email", "users_not_found")?.to_lowercase();
    let u = ws
        .users
        .values()
        .find(|u| !u.deleted && u.email.as_deref().map(str::to_lowercase) == Some(email.clone()))
        .ok_or_else(|| fail("users_not_found"))?;
    Ok(fields(json!({ "user": user_json(u, &ws.team_id) })))
}

/// `usergroups.users.list`.
pub(super) fn usergroup_users(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let ws = ctx.sb.slack.web.lock();
    let id = required(args, "usergroup", "no_such_subteam")?;
    let g = ws
        .usergroups
        .get(&id)
        .ok_or_else(|| fail("no_such_subteam"))?;
    Ok(fields(json!({ "users": g.users })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor(1_512_085_861_000_543);
        assert_eq!(c, "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz");
        assert_eq!(decode_cursor(&c), Some(1_512_085_861_000_543));
        assert_eq!(decode_cursor("nope!"), None);
    }
}
