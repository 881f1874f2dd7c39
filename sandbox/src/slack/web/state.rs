//! The simulated workspace: people, channels and their messages, views, trigger ids,
//! `response_url`s and ephemeral messages. Everything here is plain data behind one
//! `parking_lot::Mutex` in [`super::WebState`]; handlers lock, change, render, unlock.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::Seed;

/// How long a `trigger_id` can open a modal.
pub const TRIGGER_TTL: Duration = Duration::from_secs(3);
/// How long a `response_url` stays usable.
pub const RESPONSE_URL_TTL: Duration = Duration::from_secs(30 * 60);
/// How many times a `response_url` can be used.
pub const RESPONSE_URL_USES: u32 = 5;

/// One person (or the bot) in the workspace, as stored and as `POST /_sandbox/slack/users`
/// answers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// `U…` id, what every API call and mention uses.
    pub id: String,
    /// The `name` handle (legacy username); Vigil shows people by `<@id>`, never by this.
    pub name: String,
    /// `real_name`, as the profile shows it.
    pub real_name: String,
    /// Email `users.lookupByEmail` matches; none for bots.
    pub email: Option<String>,
    /// Member of the `secops` user group.
    pub is_analyst: bool,
    /// `is_bot`, as `users.info` reports it (control-API users may be bots; the app's own bot
    /// user is kept apart).
    pub is_bot: bool,
    /// `deleted`: a deactivated account, which `users.lookupByEmail` no longer finds.
    pub deleted: bool,
    /// Job title shown in the profile.
    pub title: String,
    /// IANA time zone name (`tz`, e.g. `Europe/Berlin`).
    pub tz: String,
}

/// A conversation: a public channel or the bot's IM with one person.
#[derive(Debug, Clone)]
pub struct Channel {
    /// `C…` for a channel, `D…` for an IM.
    pub id: String,
    /// Name without `#`; none for IMs.
    pub name: Option<String>,
    /// For IMs, the person on the other side.
    pub im_user: Option<String>,
    /// Whether the bot is a member (always for IMs).
    pub bot_member: bool,
    /// When it was created, Unix seconds (`created`).
    pub created: i64,
    /// Messages by `ts` (top-level and replies alike).
    pub messages: BTreeMap<String, Message>,
}

/// One emoji reaction on a message.
#[derive(Debug, Clone)]
pub struct Reaction {
    /// Emoji name without colons (`eyes`).
    pub name: String,
    /// User ids that reacted, in order; a user appears at most once.
    pub users: Vec<String>,
}

/// A message in a channel or IM as `conversations.history` and `.replies` serve it.
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// `<secs>.<micros>`, unique per workspace and increasing: the message's id.
    pub ts: String,
    /// Author (the bot user for bot posts).
    pub user: String,
    /// Set when the app's bot posted it.
    pub bot_id: Option<String>,
    /// Set when the app's bot posted it.
    pub app_id: Option<String>,
    /// `text`: the fallback shown in notifications, and the whole message without blocks.
    pub text: String,
    /// Block Kit blocks as stored (ids filled in).
    pub blocks: Option<Value>,
    /// Legacy attachments as given.
    pub attachments: Option<Value>,
    /// `{"event_type","event_payload"}`.
    pub metadata: Option<Value>,
    /// Parent ts for replies.
    pub thread_ts: Option<String>,
    /// A reply also shown in the channel.
    pub broadcast: bool,
    /// For parents: (reply ts, reply author), oldest first.
    pub replies: Vec<(String, String)>,
    /// Reactions in the order they were first added.
    pub reactions: Vec<Reaction>,
    /// `ts` of the last `chat.update`.
    pub edited: Option<String>,
    /// Set on messages people send from a Slack client.
    pub client_msg_id: Option<String>,
    /// Deleted parent kept because it still has replies.
    pub tombstone: bool,
}

/// A modal or App Home view.
#[derive(Debug, Clone)]
pub struct View {
    /// `V…` view id, what `views.update` takes.
    pub id: String,
    /// Whose screen it is on.
    pub user: String,
    /// The view object as the app sent it.
    pub spec: Map<String, Value>,
    /// Changes on every update; `views.update`/`views.publish` compare it.
    pub hash: String,
    /// First view of the modal stack (itself for the root).
    pub root_view_id: String,
    /// The view below this one in the stack.
    pub previous_view_id: Option<String>,
    /// `state.values` as last submitted.
    pub values: Value,
}

impl View {
    /// `modal` or `home`.
    pub fn kind(&self) -> &str {
        self.spec.get("type").and_then(Value::as_str).unwrap_or("")
    }
}

/// A `trigger_id` handed out with an interaction.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// The user who acted; a view opened with it goes on their screen.
    pub user: String,
    /// When it was issued; it expires after [`TRIGGER_TTL`].
    pub issued: Instant,
    /// Already used to open a view.
    pub used: bool,
}

/// A `response_url` handed out with a command or click.
#[derive(Debug, Clone)]
pub struct ResponseUrl {
    /// Who acted (ephemeral replies go to them).
    pub user: String,
    /// The channel the interaction happened in, where replies go.
    pub channel: String,
    /// The message the clicked button sits in (for `replace_original`/`delete_original`).
    pub source_ts: Option<String>,
    /// When it was issued; it expires after [`RESPONSE_URL_TTL`].
    pub issued: Instant,
    /// Successful uses so far; refused after [`RESPONSE_URL_USES`].
    pub uses: u32,
}

/// An ephemeral message as shown to one person.
#[derive(Debug, Clone, Serialize)]
pub struct Ephemeral {
    /// The only user who sees it (not serialised: `GET /_sandbox/slack/ephemeral?user=` selects by it).
    #[serde(skip)]
    pub user: String,
    /// The channel it was shown in.
    pub channel: String,
    /// Its `text` (the fallback, or all of it without blocks).
    pub text: String,
    /// Blocks, or null.
    pub blocks: Value,
    /// `ephemeral` (chat.postEphemeral) or `response_url`.
    pub source: &'static str,
    /// The `message_ts` Slack answered for it.
    pub ts: String,
}

/// A user group; the seeded `secops` group holds the analysts (the users with `is_analyst`).
#[derive(Debug, Clone)]
pub struct UserGroup {
    /// `S…` id, used in `<!subteam^S…>` mentions.
    pub id: String,
    /// Handle without `@` (`secops`).
    pub handle: String,
    /// Member user ids, as `usergroups.users.list` answers them.
    pub users: Vec<String>,
}

/// Everything the Slack simulator stores for its one workspace; reset returns it to the seed.
#[derive(Debug)]
pub struct Workspace {
    /// Workspace id, as `auth.test` and every payload report it (the credentials' `team_id`).
    pub team_id: String,
    /// People by id (the bot user is not here; see `web::bot_user_json`).
    pub users: BTreeMap<String, User>,
    /// Channels and IMs by id.
    pub channels: BTreeMap<String, Channel>,
    /// User groups by id.
    pub usergroups: BTreeMap<String, UserGroup>,
    /// Open modals and App Homes, in opening order.
    pub views: Vec<View>,
    /// Trigger ids handed out, by id (each single-use, short-lived).
    pub triggers: HashMap<String, Trigger>,
    /// Issued response URLs by id.
    pub response_urls: HashMap<String, ResponseUrl>,
    /// Ephemeral messages, oldest first.
    pub ephemerals: Vec<Ephemeral>,
    last_ts: u64,
}

/// Team name `auth.test` and payloads report.
pub const TEAM_NAME: &str = "Acme Sandbox";
/// Team domain payloads report.
pub const TEAM_DOMAIN: &str = "acme-sandbox";

/// Unix time now in microseconds.
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Unix time now in seconds.
pub fn now_secs() -> i64 {
    i64::try_from(now_micros() / 1_000_000).unwrap_or(0)
}

/// Formats microseconds as a Slack ts (`"1610241741.000200"`).
pub fn format_ts(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// Parses a Slack ts (or a plain number of seconds) into microseconds.
pub fn parse_ts(ts: &str) -> Option<u64> {
    let (secs, frac) = ts.trim().split_once('.').unwrap_or((ts.trim(), ""));
    let secs: u64 = secs.parse().ok()?;
    let mut digits: String = frac.chars().take(6).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    while digits.len() < 6 {
        digits.push('0');
    }
    let micros: u64 = digits.parse().ok()?;
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

/// A random id like Slack's: `prefix` plus `n` upper-case letters and digits.
pub fn random_id(prefix: &str, n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..n)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect();
    format!("{prefix}{tail}")
}

/// The IM id for a user: stable for that user (`U0CAROL003` → `D0CAROL003`).
pub fn im_id_for(user: &str) -> String {
    format!("D{}", user.strip_prefix('U').unwrap_or(user))
}

impl User {
    /// A user record with Slack's defaults for the fields a caller left out.
    pub fn with_defaults(id: String, name: String) -> Self {
        User {
            real_name: name.clone(),
            id,
            name,
            email: None,
            is_analyst: false,
            is_bot: false,
            deleted: false,
            title: String::new(),
            tz: "Europe/Berlin".into(),
        }
    }
}

impl Workspace {
    /// The workspace the seed describes: its people, channels (bot a member) and groups.
    pub fn from_seed(seed: &Seed) -> Self {
        let s = &seed.slack;
        let users = s
            .users
            .iter()
            .map(|u| {
                let mut user = User::with_defaults(u.id.clone(), u.name.clone());
                user.real_name = u.real_name.clone();
                user.email = Some(u.email.clone());
                user.is_analyst = u.is_analyst;
                user.title = if u.is_analyst {
                    "Security Analyst".into()
                } else {
                    "Engineer".into()
                };
                (u.id.clone(), user)
            })
            .collect();
        let created = now_secs() - 86_400 * 30;
        let channels = s
            .channels
            .iter()
            .map(|c| {
                let ch = Channel {
                    id: c.id.clone(),
                    name: Some(c.name.clone()),
                    im_user: None,
                    bot_member: true,
                    created,
                    messages: BTreeMap::new(),
                };
                (c.id.clone(), ch)
            })
            .collect();
        let usergroups = s
            .usergroups
            .iter()
            .map(|g| {
                let group = UserGroup {
                    id: g.id.clone(),
                    handle: g.handle.clone(),
                    users: g.users.clone(),
                };
                (g.id.clone(), group)
            })
            .collect();
        Workspace {
            team_id: s.team_id.clone(),
            users,
            channels,
            usergroups,
            views: vec![],
            triggers: HashMap::new(),
            response_urls: HashMap::new(),
            ephemerals: vec![],
            last_ts: 0,
        }
    }

    /// A new message ts: unique and increasing, close to the wall clock.
    pub fn next_ts(&mut self) -> String {
        let micros = now_micros().max(self.last_ts + 1);
        self.last_ts = micros;
        format_ts(micros)
    }

    /// Resolves what a caller passed as `channel`: an id, a name (`alerts`, `#alerts`), or a
    /// user id (posting to `U…` goes to the bot's IM with that person, opened on demand).
    pub fn resolve_channel(&mut self, raw: &str) -> Option<String> {
        let raw = raw.trim();
        if self.channels.contains_key(raw) {
            return Some(raw.to_string());
        }
        let name = raw.trim_start_matches('#');
        if let Some(c) = self
            .channels
            .values()
            .find(|c| c.name.as_deref() == Some(name))
        {
            return Some(c.id.clone());
        }
        if self.users.contains_key(raw) {
            return Some(self.open_im(raw).0);
        }
        None
    }

    /// The IM with `user`, created when missing; the bool says whether it already existed.
    pub fn open_im(&mut self, user: &str) -> (String, bool) {
        let id = im_id_for(user);
        if self.channels.contains_key(&id) {
            return (id, true);
        }
        let ch = Channel {
            id: id.clone(),
            name: None,
            im_user: Some(user.to_string()),
            bot_member: true,
            created: now_secs(),
            messages: BTreeMap::new(),
        };
        self.channels.insert(id.clone(), ch);
        (id, false)
    }

    /// Whether `user` can see `channel`: everyone sees public channels, only the owner
    /// sees their IM with the bot.
    pub fn is_member(&self, channel: &Channel, user: &str) -> bool {
        match &channel.im_user {
            Some(owner) => owner == user,
            None => self.users.get(user).is_some_and(|u| !u.deleted),
        }
    }

    /// Stores a message (a reply when `thread_ts` is set: a reply to a reply joins the
    /// parent's thread) and updates the parent's thread fields. Returns the stored message.
    pub fn store_message(&mut self, channel: &str, mut msg: Message) -> Option<Message> {
        let ch = self.channels.get_mut(channel)?;
        if let Some(parent_ts) = msg.thread_ts.clone() {
            let root = ch
                .messages
                .get(&parent_ts)
                .and_then(|p| p.thread_ts.clone())
                .unwrap_or(parent_ts);
            if let Some(parent) = ch.messages.get_mut(&root) {
                parent.thread_ts = Some(root.clone());
                parent.replies.push((msg.ts.clone(), msg.user.clone()));
            }
            msg.thread_ts = Some(root);
        } else {
            msg.broadcast = false;
        }
        ch.messages.insert(msg.ts.clone(), msg.clone());
        Some(msg)
    }

    /// Deletes a message; a parent that still has replies becomes a tombstone, as in Slack.
    pub fn delete_message(&mut self, channel: &str, ts: &str) {
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let Some(msg) = ch.messages.get(ts).cloned() else {
            return;
        };
        let is_parent = !msg.replies.is_empty();
        if is_parent {
            if let Some(m) = ch.messages.get_mut(ts) {
                m.tombstone = true;
                m.text = "This message was deleted.".into();
                m.blocks = None;
                m.attachments = None;
            }
            return;
        }
        ch.messages.remove(ts);
        if let Some(parent_ts) = msg.thread_ts.filter(|p| p != ts)
            && let Some(parent) = ch.messages.get_mut(&parent_ts)
        {
            parent.replies.retain(|(r, _)| r != ts);
        }
    }

    /// A single-use trigger id for `user`, valid for [`TRIGGER_TTL`].
    pub fn issue_trigger(&mut self, user: &str) -> String {
        let mut rng = rand::rng();
        let id = format!(
            "{}.{}.{:032x}",
            rng.random_range(1_000_000_000_000u64..9_999_999_999_999),
            rng.random_range(1_000_000_000u64..9_999_999_999),
            rng.random::<u128>()
        );
        self.triggers.insert(
            id.clone(),
            Trigger {
                user: user.to_string(),
                issued: Instant::now(),
                used: false,
            },
        );
        id
    }

    /// A response URL id for an interaction by `user` in `channel`.
    pub fn issue_response_url(
        &mut self,
        user: &str,
        channel: &str,
        source_ts: Option<String>,
    ) -> String {
        let id = format!("{:032x}", rand::rng().random::<u128>());
        self.response_urls.insert(
            id.clone(),
            ResponseUrl {
                user: user.to_string(),
                channel: channel.to_string(),
                source_ts,
                issued: Instant::now(),
                uses: 0,
            },
        );
        id
    }

    /// Renders a stored message the way `conversations.history`/`replies` answer it.
    pub fn message_json(&self, m: &Message, with_metadata: bool) -> Value {
        let mut o = Map::new();
        o.insert("type".into(), json!("message"));
        o.insert("ts".into(), json!(m.ts));
        o.insert("user".into(), json!(m.user));
        o.insert("text".into(), json!(m.text));
        o.insert("team".into(), json!(self.team_id));
        if m.tombstone {
            o.insert("subtype".into(), json!("tombstone"));
            o.insert("hidden".into(), json!(true));
        }
        if let Some(b) = &m.bot_id {
            o.insert("bot_id".into(), json!(b));
        }
        if let Some(a) = &m.app_id {
            o.insert("app_id".into(), json!(a));
        }
        if let Some(c) = &m.client_msg_id {
            o.insert("client_msg_id".into(), json!(c));
        }
        if let Some(b) = m.blocks.as_ref().filter(|_| !m.tombstone) {
            o.insert("blocks".into(), b.clone());
        }
        if let Some(a) = m.attachments.as_ref().filter(|_| !m.tombstone) {
            o.insert("attachments".into(), a.clone());
        }
        if let Some(md) = m.metadata.as_ref().filter(|_| with_metadata) {
            o.insert("metadata".into(), md.clone());
        }
        thread_fields(&mut o, m);
        if !m.reactions.is_empty() {
            let list: Vec<Value> = m
                .reactions
                .iter()
                .map(|r| json!({"name": r.name, "users": r.users, "count": r.users.len()}))
                .collect();
            o.insert("reactions".into(), Value::Array(list));
        }
        if let Some(ts) = &m.edited {
            o.insert("edited".into(), json!({"user": m.user, "ts": ts}));
        }
        Value::Object(o)
    }
}

/// Adds `thread_ts` and the parent's `reply_count`, `reply_users`, `latest_reply`, or a
/// reply's `parent_user_id` and broadcast subtype.
fn thread_fields(o: &mut Map<String, Value>, m: &Message) {
    let Some(thread_ts) = &m.thread_ts else {
        return;
    };
    o.insert("thread_ts".into(), json!(thread_ts));
    if *thread_ts == m.ts {
        let mut users: Vec<String> = vec![];
        for (_, u) in &m.replies {
            if !users.contains(u) {
                users.push(u.clone());
            }
        }
        let latest = m.replies.last().map(|(ts, _)| ts.clone());
        o.insert("reply_count".into(), json!(m.replies.len()));
        o.insert("reply_users_count".into(), json!(users.len()));
        o.insert("reply_users".into(), json!(users));
        if let Some(latest) = latest {
            o.insert("latest_reply".into(), json!(latest));
        }
        o.insert("is_locked".into(), json!(false));
        o.insert("subscribed".into(), json!(false));
    } else if m.broadcast {
        o.insert("subtype".into(), json!("thread_broadcast"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_values_are_unique_and_increasing() {
        let mut ws = Workspace::from_seed(&Seed::standard());
        let a = ws.next_ts();
        let b = ws.next_ts();
        assert!(parse_ts(&b) > parse_ts(&a));
        assert_eq!(a.split_once('.').map(|(_, f)| f.len()), Some(6));
        assert_eq!(parse_ts("12.5"), Some(12_500_000));
        assert_eq!(parse_ts("x"), None);
    }

    #[test]
    fn channels_resolve_by_id_name_and_user() {
        let mut ws = Workspace::from_seed(&Seed::standard());
        assert_eq!(ws.resolve_channel("#alerts").as_deref(), Some("C0ALERTS01"));
        assert_eq!(
            ws.resolve_channel("C0GENERAL1").as_deref(),
            Some("C0GENERAL1")
        );
        assert_eq!(
            ws.resolve_channel("U0CAROL003").as_deref(),
            Some("D0CAROL003")
        );
        assert_eq!(ws.resolve_channel("nope"), None);
    }

    #[test]
    fn replies_update_the_parent() {
        let mut ws = Workspace::from_seed(&Seed::standard());
        let parent = ws.next_ts();
        let msg = |ts: &str, thread: Option<&str>| Message {
            ts: ts.into(),
            user: "U0ANA00001".into(),
            text: "t".into(),
            thread_ts: thread.map(str::to_string),
            ..Message::default()
        };
        ws.store_message("C0ALERTS01", msg(&parent, None));
        let r1 = ws.next_ts();
        ws.store_message("C0ALERTS01", msg(&r1, Some(&parent)));
        let r2 = ws.next_ts();
        let stored = ws
            .store_message("C0ALERTS01", msg(&r2, Some(&r1)))
            .map(|m| m.thread_ts);
        assert_eq!(
            stored,
            Some(Some(parent.clone())),
            "reply to a reply joins the thread"
        );
        let p = ws.channels["C0ALERTS01"].messages[&parent].clone();
        let j = ws.message_json(&p, false);
        assert_eq!(j["reply_count"], 2);
        assert_eq!(j["latest_reply"], json!(r2));
        assert_eq!(j["thread_ts"], json!(parent));
    }
}
