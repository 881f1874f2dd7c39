//! Message methods: `chat.postMessage`, `chat.update`, `chat.postEphemeral`,
//! `chat.getPermalink` and `reactions.add`, plus the message-content checks they share with
//! `response_url` replies (`no_text`, `msg_too_long`, `invalid_blocks`, `invalid_metadata`).

use serde_json::{Map, Value, json};

use super::state::{Ephemeral, Message, Reaction, Workspace};
use super::{Answer, ApiError, Ctx, fail, fail_with, fields, required};
use crate::args;
use crate::slack::blocks::{self, Surface};

/// Longest `text` Slack accepts.
pub const MAX_TEXT_CHARS: usize = 40_000;

/// The message content of a request, validated.
#[derive(Debug, Clone, Default)]
pub(crate) struct Content {
    /// `text`, if given.
    pub text: Option<String>,
    /// `blocks`, ids filled in.
    pub blocks: Option<Value>,
    /// `attachments` as given.
    pub attachments: Option<Value>,
    /// `metadata` as given.
    pub metadata: Option<Value>,
}

impl Content {
    /// Reads and validates `text`, `blocks`, `attachments` and `metadata`.
    pub fn parse(args: &Map<String, Value>) -> Result<Content, ApiError> {
        let text = args::str_arg(args, "text");
        if text
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS)
        {
            return Err(fail("msg_too_long"));
        }
        let blocks = parse_blocks(args)?;
        let attachments = match args::json_arg(args, "attachments") {
            Ok(Some(a @ Value::Array(_))) => Some(a),
            Ok(None) => None,
            Ok(Some(_)) | Err(_) => return Err(fail("invalid_attachments")),
        };
        let metadata = parse_metadata(args)?;
        Ok(Content {
            text,
            blocks,
            attachments,
            metadata,
        })
    }

    /// Slack's `no_text`: neither text nor blocks nor attachments.
    pub fn require_something(&self) -> Result<(), ApiError> {
        let has_text = self.text.as_ref().is_some_and(|t| !t.trim().is_empty());
        let has_blocks = self
            .blocks
            .as_ref()
            .and_then(Value::as_array)
            .is_some_and(|b| !b.is_empty());
        let has_attachments = self
            .attachments
            .as_ref()
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if has_text || has_blocks || has_attachments {
            Ok(())
        } else {
            Err(fail("no_text"))
        }
    }
}

fn parse_blocks(args: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    let Ok(blocks) = args::json_arg(args, "blocks") else {
        return Err(fail("invalid_blocks_format"));
    };
    let Some(mut blocks) = blocks else {
        return Ok(None);
    };
    if let Err(e) = blocks::validate(&blocks, Surface::Message, "/blocks") {
        return Err(fail_with(e.code(), e.messages()));
    }
    blocks::fill_ids(&mut blocks);
    Ok(Some(blocks))
}

/// `metadata` must be `{"event_type": non-empty string, "event_payload": object}`.
fn parse_metadata(args: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    let Ok(metadata) = args::json_arg(args, "metadata") else {
        return Err(fail("invalid_metadata_format"));
    };
    let Some(md) = metadata else { return Ok(None) };
    let event_type_ok = md
        .get("event_type")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty() && s.len() <= 255);
    let payload_ok = md.get("event_payload").is_none_or(Value::is_object);
    if !md.is_object() || !event_type_ok || !payload_ok {
        return Err(fail_with(
            "invalid_metadata",
            vec![
                "[ERROR] metadata must have a string event_type and an object event_payload".into(),
            ],
        ));
    }
    Ok(Some(md))
}

/// Resolves `channel` and checks the bot can post there.
fn bot_channel(ws: &mut Workspace, args: &Map<String, Value>) -> Result<String, ApiError> {
    let raw = required(args, "channel", "channel_not_found")?;
    let id = ws
        .resolve_channel(&raw)
        .ok_or_else(|| fail("channel_not_found"))?;
    let member = ws.channels.get(&id).is_some_and(|c| c.bot_member);
    if member {
        Ok(id)
    } else {
        Err(fail("not_in_channel"))
    }
}

fn non_empty(args: &Map<String, Value>, key: &str) -> Option<String> {
    args::str_arg(args, key)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `chat.postMessage`: stores a bot message (a reply with `thread_ts`).
pub(super) fn post_message(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let mut ws = ctx.sb.slack.web.lock();
    let channel = bot_channel(&mut ws, args)?;
    let content = Content::parse(args)?;
    content.require_something()?;
    let msg = bot_message(ctx, &mut ws, content, non_empty(args, "thread_ts"));
    let msg = Message {
        broadcast: args::bool_arg(args, "reply_broadcast"),
        ..msg
    };
    let stored = ws
        .store_message(&channel, msg)
        .ok_or_else(|| fail("channel_not_found"))?;
    let message = ws.message_json(&stored, true);
    Ok(fields(
        json!({"channel": channel, "ts": stored.ts, "message": message}),
    ))
}

/// A new message from the app's bot with a fresh ts.
pub(crate) fn bot_message(
    ctx: &Ctx<'_>,
    ws: &mut Workspace,
    content: Content,
    thread_ts: Option<String>,
) -> Message {
    let c = &ctx.sb.credentials.slack;
    Message {
        ts: ws.next_ts(),
        user: c.bot_user_id.clone(),
        bot_id: Some(c.bot_id.clone()),
        app_id: Some(c.app_id.clone()),
        text: content.text.unwrap_or_default(),
        blocks: content.blocks,
        attachments: content.attachments,
        metadata: content.metadata,
        thread_ts,
        ..Message::default()
    }
}

/// `chat.update`: changes a bot message in place; omitted `blocks`/`metadata` are kept.
pub(super) fn update(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let mut ws = ctx.sb.slack.web.lock();
    let channel = bot_channel(&mut ws, args)?;
    let ts = required(args, "ts", "message_not_found")?;
    let content = Content::parse(args)?;
    let own = ws
        .channels
        .get(&channel)
        .and_then(|c| c.messages.get(&ts))
        .map(|m| m.bot_id.as_deref() == Some(ctx.sb.credentials.slack.bot_id.as_str()))
        .ok_or_else(|| fail("message_not_found"))?;
    if !own {
        return Err(fail("cant_update_message"));
    }
    if content.text.is_none() && content.blocks.is_none() && content.attachments.is_none() {
        return Err(fail("no_text"));
    }
    let edited = ws.next_ts();
    let updated = {
        let Some(m) = ws
            .channels
            .get_mut(&channel)
            .and_then(|c| c.messages.get_mut(&ts))
        else {
            return Err(fail("message_not_found"));
        };
        apply_content(m, content);
        m.edited = Some(edited);
        m.clone()
    };
    let message = ws.message_json(&updated, true);
    let mut out = fields(json!({
        "channel": channel, "ts": ts, "text": updated.text, "message": message
    }));
    if let Some(t) = updated.thread_ts.filter(|t| *t != ts) {
        out.insert("thread_ts".into(), json!(t));
    }
    Ok(out)
}

/// Replaces what `content` carries; what it leaves out stays.
pub(crate) fn apply_content(m: &mut Message, content: Content) {
    if let Some(t) = content.text {
        m.text = t;
    }
    if let Some(b) = content.blocks {
        m.blocks = Some(b).filter(|b| b.as_array().is_some_and(|a| !a.is_empty()));
    }
    if let Some(a) = content.attachments {
        m.attachments = Some(a);
    }
    if let Some(md) = content.metadata {
        m.metadata = Some(md);
    }
}

/// `chat.postEphemeral`: shown only to `user`, who must be in the channel.
pub(super) fn post_ephemeral(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let mut ws = ctx.sb.slack.web.lock();
    let channel = bot_channel(&mut ws, args)?;
    let user = required(args, "user", "user_not_found")?;
    if !ws.users.contains_key(&user) {
        return Err(fail("user_not_found"));
    }
    let member = ws
        .channels
        .get(&channel)
        .is_some_and(|c| ws.is_member(c, &user));
    if !member {
        return Err(fail("user_not_in_channel"));
    }
    let content = Content::parse(args)?;
    content.require_something()?;
    let ts = ws.next_ts();
    ws.ephemerals.push(Ephemeral {
        user,
        channel,
        text: content.text.unwrap_or_default(),
        blocks: content.blocks.unwrap_or(Value::Null),
        source: "ephemeral",
        ts: ts.clone(),
    });
    Ok(fields(json!({"message_ts": ts})))
}

/// `chat.getPermalink`: a link to a stored message (replies carry `thread_ts` and `cid`).
pub(super) fn get_permalink(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let mut ws = ctx.sb.slack.web.lock();
    let raw = required(args, "channel", "channel_not_found")?;
    let channel = ws
        .resolve_channel(&raw)
        .ok_or_else(|| fail("channel_not_found"))?;
    let ts = required(args, "message_ts", "message_not_found")?;
    let msg = ws
        .channels
        .get(&channel)
        .and_then(|c| c.messages.get(&ts))
        .ok_or_else(|| fail("message_not_found"))?;
    let digits: String = ts.chars().filter(char::is_ascii_digit).collect();
    let mut link = format!("http://{}/slack/archives/{channel}/p{digits}", ctx.host);
    if let Some(thread) = msg.thread_ts.as_ref().filter(|t| **t != ts) {
        link.push_str(&format!("?thread_ts={thread}&cid={channel}"));
    }
    Ok(fields(json!({"channel": channel, "permalink": link})))
}

/// Emoji names Slack accepts: lower-case letters, digits, `_`, `-`, `+`, `'`, optionally
/// with a `::skin-tone-N` suffix; no colons around the name.
fn valid_emoji_name(name: &str) -> bool {
    let base = match name.split_once("::") {
        Some((base, tone)) => {
            let tone_ok = tone
                .strip_prefix("skin-tone-")
                .is_some_and(|n| matches!(n, "2" | "3" | "4" | "5" | "6"));
            if !tone_ok {
                return false;
            }
            base
        }
        None => name,
    };
    !base.is_empty()
        && base.len() <= 100
        && base
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-+'".contains(c))
}

/// `reactions.add`: the bot reacts once per emoji per message.
pub(super) fn reactions_add(ctx: &Ctx<'_>, args: &Map<String, Value>) -> Answer {
    let mut ws = ctx.sb.slack.web.lock();
    let channel = bot_channel(&mut ws, args)?;
    let name = args::str_arg(args, "name").unwrap_or_default();
    if !valid_emoji_name(&name) {
        return Err(fail("invalid_name"));
    }
    let ts = required(args, "timestamp", "message_not_found")?;
    let bot = ctx.bot_user().to_string();
    let msg = ws
        .channels
        .get_mut(&channel)
        .and_then(|c| c.messages.get_mut(&ts))
        .ok_or_else(|| fail("message_not_found"))?;
    match msg.reactions.iter_mut().find(|r| r.name == name) {
        Some(r) if r.users.contains(&bot) => return Err(fail("already_reacted")),
        Some(r) => r.users.push(bot),
        None => msg.reactions.push(Reaction {
            name,
            users: vec![bot],
        }),
    }
    Ok(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_names() {
        assert!(valid_emoji_name("white_check_mark"));
        assert!(valid_emoji_name("+1"));
        assert!(valid_emoji_name("thumbsup::skin-tone-3"));
        assert!(!valid_emoji_name(":eyes:"));
        assert!(!valid_emoji_name(""));
        assert!(!valid_emoji_name("Eyes"));
    }

    #[test]
    fn content_rules() {
        let args = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(
            Content::parse(&args(json!({"text": "x".repeat(40_001)})))
                .map(|_| ())
                .unwrap_err()
                .code,
            "msg_too_long"
        );
        let empty = Content::parse(&args(json!({"text": "", "blocks": "[]"}))).unwrap();
        assert_eq!(empty.require_something().unwrap_err().code, "no_text");
        let bad = Content::parse(&args(json!({"blocks": "{not json"}))).unwrap_err();
        assert_eq!(bad.code, "invalid_blocks_format");
        let md = Content::parse(&args(json!({"text":"t","metadata": {"event_payload": {}}})));
        assert_eq!(md.unwrap_err().code, "invalid_metadata");
        let ok = Content::parse(&args(json!({"text":"t",
            "metadata": "{\"event_type\":\"vigil_case\",\"event_payload\":{\"case_id\":\"C-1\"}}"})))
        .unwrap();
        assert_eq!(ok.metadata.unwrap()["event_payload"]["case_id"], "C-1");
    }
}
