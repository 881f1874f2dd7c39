//! The Slack Web API calls Vigil makes, with errors mapped to [`VendorError`] and a per-channel
//! limiter that keeps `chat.postMessage` under Slack's ~1 message/second/channel (slack-morphism's
//! rate control then retries any 429 that still happens, honouring `Retry-After`).
//!
//! Messages Vigil posts carry metadata `{"event_type":"vigil_case","event_payload":{"case_id","kind"}}`
//! so that after a crash the pipeline can find what it already posted (SPEC §5).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use super::client::Slack;
use crate::vendors::VendorError;
use crate::vendors::outbound::Retried;

/// Metadata event type on every message Vigil posts.
pub const METADATA_EVENT: &str = "vigil_case";

/// A posted message.
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    /// Channel id.
    pub channel: String,
    /// Message ts.
    pub ts: String,
}

/// What a message is, for finding it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    /// The case id the message belongs to: what crash lookups match on.
    pub case_id: String,
    /// `card`, `dm`, or `step-<seq>` for thread replies.
    pub kind: String,
}

/// Slack calls bound to the bot token.
pub struct SlackApi {
    client: Slack,
    token: SlackApiToken,
    per_channel: DefaultKeyedRateLimiter<String>,
    per_method: HashMap<&'static str, DefaultDirectRateLimiter>,
    /// Owners repeat: `users.lookupByEmail` answers (Tier 3) by lowercased email.
    users_by_email: parking_lot::Mutex<HashMap<String, (Option<String>, Instant)>>,
    /// `conversations.open` answers (Tier 3) by user id; a DM channel id never changes.
    dm_channels: parking_lot::Mutex<HashMap<String, (String, Instant)>>,
}

/// How long a cached lookup answer is trusted (an owner who joins Slack is found after it).
const LOOKUP_TTL: Duration = Duration::from_secs(600);

/// Slack's published tier of each method Vigil calls (requests per minute, per workspace).
/// `chat.postMessage` is paced per channel instead, and `views.open` is left unpaced: its
/// `trigger_id` dies after 3 s, and Tier 4 is far above what people can click.
const TIERS: &[(&str, u32)] = &[
    ("chat.update", 50),
    ("conversations.open", 50),
    ("conversations.history", 50),
    ("conversations.replies", 50),
    ("users.lookupByEmail", 50),
    ("usergroups.users.list", 20),
    ("views.publish", 100),
    ("chat.postEphemeral", 100),
];

/// Maps a slack-morphism error to a [`VendorError`] naming the call.
pub fn vendor_error(call: &'static str, e: SlackClientError) -> VendorError {
    match e {
        SlackClientError::ApiError(api) => VendorError::Status {
            vendor: "slack",
            call,
            status: 200,
            message: api.code,
            retry_after: None,
        },
        SlackClientError::RateLimitError(rl) => VendorError::Status {
            vendor: "slack",
            call,
            status: 429,
            message: "ratelimited".into(),
            retry_after: rl.retry_after,
        },
        SlackClientError::HttpError(h) => VendorError::Status {
            vendor: "slack",
            call,
            status: h.status_code.as_u16(),
            message: h
                .http_response_body
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect(),
            retry_after: None,
        },
        other => VendorError::Transport {
            vendor: "slack",
            call,
            message: other.to_string(),
        },
    }
}

fn metadata(tag: &Tag) -> SlackMessageMetadata {
    let payload: HashMap<String, String> = [
        ("case_id".to_string(), tag.case_id.clone()),
        ("kind".to_string(), tag.kind.clone()),
    ]
    .into_iter()
    .collect();
    SlackMessageMetadata {
        event_type: METADATA_EVENT.into(),
        event_payload: Some(payload),
    }
}

fn has_tag(message: &SlackHistoryMessage, tag: &Tag) -> bool {
    let Some(meta) = &message.content.metadata else {
        return false;
    };
    let Some(payload) = &meta.event_payload else {
        return false;
    };
    meta.event_type == METADATA_EVENT
        && payload.get("case_id") == Some(&tag.case_id)
        && payload.get("kind") == Some(&tag.kind)
}

/// Pages through a cursor-paginated message list (at most 50 pages) until a message carries
/// `tag`; answers its `ts`.
async fn find_in_pages<F, Fut>(tag: &Tag, mut page: F) -> Result<Option<String>, VendorError>
where
    F: FnMut(Option<SlackCursorId>) -> Fut,
    Fut: std::future::Future<
            Output = Result<(Vec<SlackHistoryMessage>, Option<SlackResponseMetadata>), VendorError>,
        >,
{
    let mut cursor = None;
    for _ in 0..50 {
        let (messages, meta) = page(cursor.take()).await?;
        if let Some(m) = messages.iter().find(|m| has_tag(m, tag)) {
            return Ok(Some(m.origin.ts.to_string()));
        }
        cursor = meta
            .and_then(|m| m.next_cursor)
            .filter(|c| !c.to_string().is_empty());
        if cursor.is_none() {
            break;
        }
    }
    Ok(None)
}

/// Slack's `429` waits allowed per call, and the longest single wait honoured.
const MAX_RATE_LIMIT_RETRIES: u32 = 5;
const MAX_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs a Slack call, waiting out `429 Retry-After` answers (up to 5 times, each wait capped at
/// 60 s; each wait is reported as a [`Retried`], so a step's timeline says "Slack
/// chat.postMessage: HTTP 429, retried (2/6)"); other errors return at once, mapped to
/// [`VendorError`]. Pacing itself is Vigil's per-channel limiter's job, so slack-morphism's own
/// throttle (one `chat.postMessage` per second for the whole process) stays off.
async fn retry_429<T, F, Fut>(name: &'static str, mut f: F) -> Result<T, VendorError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ClientResult<T>>,
{
    let mut waits = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(SlackClientError::RateLimitError(rl)) if waits < MAX_RATE_LIMIT_RETRIES => {
                waits += 1;
                let wait = rl
                    .retry_after
                    .unwrap_or(std::time::Duration::from_secs(1))
                    .min(MAX_RETRY_AFTER);
                // Logged, and written on the case timeline when a step made the call.
                crate::vendors::outbound::report(Retried {
                    vendor: "Slack",
                    call: name,
                    error: VendorError::Status {
                        vendor: "slack",
                        call: name,
                        status: 429,
                        message: "ratelimited".into(),
                        retry_after: rl.retry_after,
                    },
                    next_attempt: waits + 1,
                    max_attempts: MAX_RATE_LIMIT_RETRIES + 1,
                    wait,
                });
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(vendor_error(name, e)),
        }
    }
}

/// A Slack `ts` for a moment (`secs.micros`).
pub fn ts_of(at: DateTime<Utc>) -> String {
    format!("{}.{:06}", at.timestamp(), at.timestamp_subsec_micros())
}

impl SlackApi {
    /// Calls with `token` through `client`.
    pub fn new(client: Slack, token: SlackApiToken) -> Self {
        let quota = Quota::per_second(NonZeroU32::MIN)
            .allow_burst(NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN));
        SlackApi {
            client,
            token,
            per_channel: RateLimiter::keyed(quota),
            per_method: TIERS
                .iter()
                .filter_map(|(method, per_minute)| {
                    let n = NonZeroU32::new(*per_minute)?;
                    Some((*method, RateLimiter::direct(Quota::per_minute(n))))
                })
                .collect(),
            users_by_email: parking_lot::Mutex::new(HashMap::new()),
            dm_channels: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    /// Waits for the method's tier, then runs it, waiting out 429s.
    async fn call<T, F, Fut>(&self, name: &'static str, f: F) -> Result<T, VendorError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ClientResult<T>>,
    {
        if let Some(limiter) = self.per_method.get(name) {
            limiter.until_ready().await;
        }
        retry_429(name, f).await
    }

    fn session(&self) -> SlackClientSession<'_, SlackClientHyperHttpsConnector> {
        self.client.open_session(&self.token)
    }

    /// Posts a message (top level, or in `thread_ts`'s thread) tagged for recovery.
    pub async fn post(
        &self,
        channel: &str,
        content: SlackMessageContent,
        thread_ts: Option<&str>,
        tag: &Tag,
    ) -> Result<Posted, VendorError> {
        self.per_channel.until_key_ready(&channel.to_string()).await;
        let mut req = SlackApiChatPostMessageRequest::new(
            channel.into(),
            content.with_metadata(metadata(tag)),
        )
        .with_unfurl_links(false)
        .with_unfurl_media(false);
        if let Some(t) = thread_ts {
            req = req.with_thread_ts(t.into());
        }
        let resp = self
            .call("chat.postMessage", || async {
                self.session().chat_post_message(&req).await
            })
            .await?;
        Ok(Posted {
            channel: resp.channel.to_string(),
            ts: resp.ts.to_string(),
        })
    }

    /// Replaces a message's text and blocks.
    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        content: SlackMessageContent,
    ) -> Result<(), VendorError> {
        let req = SlackApiChatUpdateRequest::new(channel.into(), content, ts.into());
        self.call("chat.update", || async {
            self.session().chat_update(&req).await
        })
        .await
        .map(|_| ())
    }

    /// The IM channel with `user` (`conversations.open`).
    pub async fn open_dm(&self, user: &str) -> Result<String, VendorError> {
        if let Some((channel, at)) = self.dm_channels.lock().get(user)
            && at.elapsed() < LOOKUP_TTL
        {
            return Ok(channel.clone());
        }
        let req = SlackApiConversationsOpenRequest::new().with_users(vec![user.into()]);
        let channel = self
            .call("conversations.open", || async {
                self.session().conversations_open(&req).await
            })
            .await
            .map(|r| r.channel.id.to_string())?;
        self.dm_channels
            .lock()
            .insert(user.to_string(), (channel.clone(), Instant::now()));
        Ok(channel)
    }

    /// Finds a top-level message carrying `tag`, posted since `since` (minus a margin).
    pub async fn find_top_level(
        &self,
        channel: &str,
        since: DateTime<Utc>,
        tag: &Tag,
    ) -> Result<Option<String>, VendorError> {
        let oldest = ts_of(since - chrono::Duration::seconds(60));
        find_in_pages(tag, |cursor| {
            let mut req = SlackApiConversationsHistoryRequest::new()
                .with_channel(channel.into())
                .with_oldest(oldest.clone().into())
                .with_limit(200)
                .with_include_all_metadata(true);
            if let Some(c) = cursor {
                req = req.with_cursor(c);
            }
            async move {
                let r = self
                    .call("conversations.history", || async {
                        self.session().conversations_history(&req).await
                    })
                    .await?;
                Ok((r.messages, r.response_metadata))
            }
        })
        .await
    }

    /// Finds a reply carrying `tag` in `thread_ts`'s thread.
    ///
    /// Slack returns a message's `metadata` only when asked (`include_all_metadata=true`), and
    /// slack-morphism's `conversations.replies` request has no such field, so the request is
    /// made raw through the same session (and the same Tier 3 pacing in [`SlackApi::call`]).
    pub async fn find_reply(
        &self,
        channel: &str,
        thread_ts: &str,
        tag: &Tag,
    ) -> Result<Option<String>, VendorError> {
        find_in_pages(tag, |cursor| {
            let params: Vec<(&'static str, Option<String>)> = vec![
                ("channel", Some(channel.to_string())),
                ("ts", Some(thread_ts.to_string())),
                ("limit", Some("200".to_string())),
                ("include_all_metadata", Some("true".to_string())),
                ("cursor", cursor.map(|c| c.to_string())),
            ];
            async move {
                let r: SlackApiConversationsRepliesResponse = self
                    .call("conversations.replies", || async {
                        self.session()
                            .http_session_api
                            .http_get("conversations.replies", &params, None)
                            .await
                    })
                    .await?;
                Ok((r.messages, r.response_metadata))
            }
        })
        .await
    }

    /// The Slack user with this email, if any (`users_not_found` is `None`).
    /// Answers (found or `users_not_found`) are cached for [`LOOKUP_TTL`]; errors are not.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<String>, VendorError> {
        let key = email.to_lowercase();
        if let Some((user, at)) = self.users_by_email.lock().get(&key)
            && at.elapsed() < LOOKUP_TTL
        {
            return Ok(user.clone());
        }
        let req = SlackApiUsersLookupByEmailRequest::new(email.into());
        let found = match self
            .call("users.lookupByEmail", || async {
                self.session().users_lookup_by_email(&req).await
            })
            .await
        {
            Ok(r) => Some(r.user.id.to_string()),
            Err(VendorError::Status { message, .. }) if message == "users_not_found" => None,
            Err(e) => return Err(e),
        };
        self.users_by_email
            .lock()
            .insert(key, (found.clone(), Instant::now()));
        Ok(found)
    }

    /// Members of a user group.
    pub async fn usergroup_members(&self, group: &str) -> Result<Vec<String>, VendorError> {
        let req = SlackApiUserGroupsUsersListRequest::new(group.into());
        self.call("usergroups.users.list", || async {
            self.session().usergroups_users_list(&req).await
        })
        .await
        .map(|r| r.users.into_iter().map(|u| u.to_string()).collect())
    }

    /// Opens a modal for a `trigger_id` (valid for 3 s: call it right after the ack).
    pub async fn open_view(&self, trigger_id: &str, view: SlackView) -> Result<(), VendorError> {
        let req = SlackApiViewsOpenRequest::new(trigger_id.into(), view);
        self.call("views.open", || async {
            self.session().views_open(&req).await
        })
        .await
        .map(|_| ())
    }

    /// Publishes a user's App Home; answers the view's id (buttons pressed in it carry it).
    pub async fn publish_home(&self, user: &str, view: SlackView) -> Result<String, VendorError> {
        let req = SlackApiViewsPublishRequest::new(user.into(), view);
        self.call("views.publish", || async {
            self.session().views_publish(&req).await
        })
        .await
        .map(|r| r.view.state_params.id.to_string())
    }

    /// Shows a message only `user` sees in `channel`.
    pub async fn ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
    ) -> Result<(), VendorError> {
        let req = SlackApiChatPostEphemeralRequest::new(
            channel.into(),
            user.into(),
            SlackMessageContent::new().with_text(text.into()),
        );
        self.call("chat.postEphemeral", || async {
            self.session().chat_post_ephemeral(&req).await
        })
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::config::SlackConfig;

    async fn api_for(sb: &vigil_sandbox::RunningSandbox) -> SlackApi {
        let config = SlackConfig {
            base_url: format!("{}/slack/api", sb.base_url()),
            bot_token_file: None,
            app_token_file: None,
            alerts_channel: "C0ALERTS01".into(),
            analyst_usergroup: None,
            analyst_users: vec![],
            socket_connections: 2,
            bot_token: crate::config::secret::Secret::new(
                sb.sandbox.credentials.slack.bot_token.clone(),
            ),
            app_token: crate::config::secret::Secret::new(String::new()),
        };
        let client = super::super::client::build(&config).expect("slack client");
        SlackApi::new(client, super::super::client::bot_token(&config))
    }

    fn tag(kind: &str) -> Tag {
        Tag {
            case_id: "VIG-7".into(),
            kind: kind.into(),
        }
    }

    /// Crash recovery of a thread reply depends on seeing its metadata, which Slack only
    /// returns with `include_all_metadata`.
    #[tokio::test]
    async fn find_reply_sees_a_tagged_reply_and_nothing_else() {
        let sb = vigil_sandbox::start("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("sandbox");
        let api = api_for(&sb).await;
        let text = |t: &str| SlackMessageContent::new().with_text(t.into());
        let card = api
            .post("C0ALERTS01", text("card"), None, &tag("card"))
            .await
            .expect("card");
        let reply = api
            .post("C0ALERTS01", text("r"), Some(&card.ts), &tag("step-4"))
            .await
            .expect("reply");
        let found = api
            .find_reply("C0ALERTS01", &card.ts, &tag("step-4"))
            .await
            .expect("lookup");
        assert_eq!(found, Some(reply.ts));
        let other = api
            .find_reply("C0ALERTS01", &card.ts, &tag("step-5"))
            .await
            .expect("lookup");
        assert_eq!(other, None);
        let top = api
            .find_top_level(
                "C0ALERTS01",
                Utc::now() - chrono::Duration::minutes(1),
                &tag("card"),
            )
            .await
            .expect("lookup");
        assert_eq!(top, Some(card.ts));
    }

    /// Owners repeat in a storm: a second lookup of the same email or DM is answered from the
    /// cache, not at Tier 3's pace.
    #[tokio::test]
    async fn owner_lookups_are_asked_once_per_email_and_user() {
        let sb = vigil_sandbox::start("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("sandbox");
        let api = api_for(&sb).await;
        let person = sb.sandbox.seed.slack.users[0].clone();
        let first = api.user_by_email(&person.email).await.expect("lookup");
        assert_eq!(first.as_deref(), Some(person.id.as_str()));
        let again = api
            .user_by_email(&person.email.to_uppercase())
            .await
            .expect("lookup");
        assert_eq!(again, first);
        let dm = api.open_dm(&person.id).await.expect("open");
        assert_eq!(api.open_dm(&person.id).await.expect("open"), dm);
        let count = |method: &str| {
            sb.sandbox
                .recorder
                .list(Some("slack"), 0)
                .iter()
                .filter(|r| r.path.starts_with(&format!("/api/{method}")))
                .count()
        };
        assert_eq!(count("users.lookupByEmail"), 1);
        assert_eq!(count("conversations.open"), 1);
    }
}
