//! Slack Web API simulator (`/slack/api/<method>`) and the `response_url`s the sandbox hands
//! out (`/slack/response/<id>`), written from Slack's docs (vendor-apis §1, §14).
//!
//! Every method takes its arguments from the query string, a form body, a JSON body, any mix,
//! or nothing; the token from `Authorization: Bearer` (or a `token` form/query argument, as
//! older clients send it). Errors are HTTP 200 `{"ok":false,"error":…}`; rate limits are HTTP
//! 429 with `Retry-After`; an unknown method is HTTP 404 `unknown_method`.
//!
//! Layout: `state` holds the workspace data, `chat` the message methods, `convs` the
//! conversation/user/auth methods, `views` the modal and App Home methods, `respond` the
//! `response_url` endpoint.

mod chat;
mod convs;
mod respond;
pub mod state;
mod views;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use parking_lot::{Mutex, MutexGuard};
use serde_json::{Map, Value, json};

use crate::args::{self, Body};
use crate::limits::retry_after_secs;
use crate::{Sandbox, Seed};

pub(crate) use respond::immediate_reply;
pub use respond::response_url;
pub use state::Workspace;
pub(crate) use views::{new_hash, view_json_with};

/// The Slack workspace behind the Web API, reset to the seed by `POST /_sandbox/reset`.
pub struct WebState {
    ws: Mutex<Workspace>,
    verification_token: String,
}

impl WebState {
    /// The workspace the seed describes.
    pub fn new(seed: &Seed) -> Self {
        WebState {
            ws: Mutex::new(Workspace::from_seed(seed)),
            verification_token: state::random_id("", 24).to_ascii_lowercase(),
        }
    }

    /// Back to the seed (messages, views, triggers, ephemerals all dropped).
    pub fn reset(&self, seed: &Seed) {
        *self.ws.lock() = Workspace::from_seed(seed);
    }

    /// Locks the workspace; never hold the guard across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, Workspace> {
        self.ws.lock()
    }

    /// The legacy verification token Slack puts in every payload's `token` field.
    pub fn verification_token(&self) -> &str {
        &self.verification_token
    }
}

/// A Web API failure: `{"ok":false,"error":code}` plus `response_metadata.messages`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    code: String,
    messages: Vec<String>,
}

/// What a method answers: the fields next to `"ok": true`, or an error.
pub(crate) type Answer = Result<Map<String, Value>, ApiError>;

/// An error with only a code.
pub(crate) fn fail(code: &str) -> ApiError {
    ApiError {
        code: code.to_string(),
        messages: vec![],
    }
}

/// An error with `response_metadata.messages`.
pub(crate) fn fail_with(code: &str, messages: Vec<String>) -> ApiError {
    ApiError {
        code: code.to_string(),
        messages,
    }
}

/// Turns a `json!({...})` object into an [`Answer`] body.
pub(crate) fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl ApiError {
    /// The JSON Slack answers for this error.
    pub(crate) fn to_json(&self) -> Value {
        let mut body = json!({"ok": false, "error": self.code});
        if !self.messages.is_empty() {
            body["response_metadata"] = json!({"messages": self.messages});
        }
        body
    }
}

/// Everything a method handler needs besides its arguments.
pub(crate) struct Ctx<'a> {
    /// The whole sandbox: a method may touch workspace state, limits and the recorder.
    pub sb: &'a Sandbox,
    /// `host:port` the request came to (for URLs in answers).
    pub host: String,
}

impl Ctx<'_> {
    /// The bot's user id.
    pub fn bot_user(&self) -> &str {
        &self.sb.credentials.slack.bot_user_id
    }
}

type Handler = fn(&Ctx<'_>, &Map<String, Value>) -> Answer;

/// Which token a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Bot,
    App,
}

fn handler_for(method: &str) -> Option<Handler> {
    let h: Handler = match method {
        "auth.test" => convs::auth_test,
        "apps.connections.open" => convs::connections_open,
        "chat.postMessage" => chat::post_message,
        "chat.update" => chat::update,
        "chat.postEphemeral" => chat::post_ephemeral,
        "chat.getPermalink" => chat::get_permalink,
        "reactions.add" => chat::reactions_add,
        "conversations.open" => convs::open,
        "conversations.info" => convs::info,
        "conversations.history" => convs::history,
        "conversations.replies" => convs::replies,
        "users.info" => convs::users_info,
        "users.lookupByEmail" => convs::lookup_by_email,
        "usergroups.users.list" => convs::usergroup_users,
        "views.open" => views::open,
        "views.update" => views::update,
        "views.publish" => views::publish,
        _ => return None,
    };
    Some(h)
}

/// `/slack/api/{method}`: parses arguments, checks the token and its type, applies the rate
/// limit, then runs the method.
pub async fn dispatch(
    State(sb): State<Sandbox>,
    Path(method): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let Some(handler) = handler_for(&method) else {
        let body = json!({"ok": false, "error": "unknown_method", "req_method": method});
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    };
    let parsed = Body::parse(args::header(&headers, "content-type"), &body);
    let Ok(args) = args::merged(uri.query(), &parsed) else {
        return ok_json(fail("invalid_json").to_json());
    };
    if let Err(e) = authenticate(&sb, &headers, uri.query(), &parsed, &method) {
        return ok_json(e.to_json());
    }
    let key = limit_key(&sb, &method, &args);
    if let Err(wait) = sb.limits.check("slack", &method, &key) {
        return super::fault_response(
            StatusCode::TOO_MANY_REQUESTS,
            Some(retry_after_secs(wait)),
            None,
        );
    }
    let ctx = Ctx {
        sb: &sb,
        host: request_host(&headers),
    };
    let answer = match handler(&ctx, &args) {
        Ok(mut m) => {
            m.insert("ok".into(), Value::Bool(true));
            Value::Object(m)
        }
        Err(e) => e.to_json(),
    };
    ok_json(answer)
}

fn ok_json(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

/// `host:port` from the `Host` header (127.0.0.1 when absent).
pub(crate) fn request_host(headers: &HeaderMap) -> String {
    args::header(headers, "host")
        .filter(|h| !h.trim().is_empty())
        .unwrap_or("127.0.0.1")
        .trim()
        .to_string()
}

/// The rate-limit bucket: the channel id for `chat.postMessage`, one bucket otherwise.
fn limit_key(sb: &Sandbox, method: &str, args: &Map<String, Value>) -> String {
    if method != "chat.postMessage" {
        return String::new();
    }
    let raw = args::str_arg(args, "channel").unwrap_or_default();
    sb.slack.web.lock().resolve_channel(&raw).unwrap_or(raw)
}

/// The token: `Authorization: Bearer`, else a `token` argument in the query or a form body
/// (never in JSON, as Slack documents).
fn find_token(headers: &HeaderMap, query: Option<&str>, body: &Body) -> Option<String> {
    if let Some(t) = args::bearer(headers).filter(|t| !t.is_empty()) {
        return Some(t.to_string());
    }
    if let Body::Form(m) = body
        && let Some(t) = args::str_arg(m, "token").filter(|t| !t.is_empty())
    {
        return Some(t);
    }
    args::query_one(query, "token").filter(|t| !t.is_empty())
}

/// `not_authed` without a token, `invalid_auth` for an unknown one, and
/// `not_allowed_token_type` when an app token calls a bot method or the reverse.
fn authenticate(
    sb: &Sandbox,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &Body,
    method: &str,
) -> Result<TokenKind, ApiError> {
    let token = find_token(headers, query, body).ok_or_else(|| fail("not_authed"))?;
    let creds = &sb.credentials.slack;
    let kind = if token == creds.bot_token {
        TokenKind::Bot
    } else if token == creds.app_token {
        TokenKind::App
    } else {
        return Err(fail("invalid_auth"));
    };
    let wanted = if method == "apps.connections.open" {
        TokenKind::App
    } else {
        TokenKind::Bot
    };
    if kind != wanted {
        return Err(fail("not_allowed_token_type"));
    }
    Ok(kind)
}

/// A required string argument, or `missing` as the error code.
pub(crate) fn required(
    args: &Map<String, Value>,
    key: &str,
    missing: &str,
) -> Result<String, ApiError> {
    args::str_arg(args, key)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| fail(missing))
}

/// The bot user as `users.info` answers it.
pub(crate) fn bot_user_json(sb: &Sandbox, team_id: &str) -> Value {
    let c = &sb.credentials.slack;
    let icon =
        |size: &str| format!("https://a.slack-edge.com/80588/img/plugins/app/bot_{size}.png");
    let profile = json!({
        "title": "", "phone": "", "skype": "", "real_name": "Vigil",
        "real_name_normalized": "Vigil", "display_name": "", "display_name_normalized": "",
        "status_text": "", "status_emoji": "", "status_expiration": 0,
        "avatar_hash": "g0000000001", "bot_id": c.bot_id, "api_app_id": c.app_id,
        "always_active": true, "first_name": "Vigil", "last_name": "",
        "image_24": icon("24"), "image_48": icon("48"), "image_72": icon("72"),
        "image_192": icon("192"), "team": team_id
    });
    json!({
        "id": c.bot_user_id, "team_id": team_id, "name": "vigil", "deleted": false,
        "color": "4bbe2e", "real_name": "Vigil", "tz": "America/Los_Angeles",
        "tz_label": "Pacific Standard Time", "tz_offset": -28800, "profile": profile,
        "is_admin": false, "is_owner": false, "is_primary_owner": false,
        "is_restricted": false, "is_ultra_restricted": false, "is_bot": true,
        "is_app_user": false, "updated": 1_700_000_000, "is_email_confirmed": false,
        "who_can_share_contact_card": "EVERYONE"
    })
}

/// A person as `users.info` / `users.lookupByEmail` answer it (vendor-apis §1.4).
pub(crate) fn user_json(u: &state::User, team_id: &str) -> Value {
    let display = u.name.clone();
    let (first, last) = u
        .real_name
        .split_once(' ')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap_or((u.real_name.clone(), String::new()));
    let mut profile = json!({
        "title": u.title, "phone": "", "skype": "", "real_name": u.real_name,
        "real_name_normalized": u.real_name, "display_name": display,
        "display_name_normalized": display, "fields": null, "status_text": "",
        "status_emoji": "", "status_expiration": 0, "avatar_hash": "g0000000002",
        "first_name": first, "last_name": last,
        "image_24": "https://secure.gravatar.com/avatar/0.jpg?s=24",
        "image_48": "https://secure.gravatar.com/avatar/0.jpg?s=48",
        "image_72": "https://secure.gravatar.com/avatar/0.jpg?s=72",
        "image_192": "https://secure.gravatar.com/avatar/0.jpg?s=192",
        "team": team_id
    });
    if let Some(email) = &u.email {
        profile["email"] = json!(email);
    }
    json!({
        "id": u.id, "team_id": team_id, "name": u.name, "deleted": u.deleted,
        "color": "9f69e7", "real_name": u.real_name, "tz": u.tz,
        "tz_label": "Central European Time", "tz_offset": 3600, "profile": profile,
        "is_admin": false, "is_owner": false, "is_primary_owner": false,
        "is_restricted": false, "is_ultra_restricted": false, "is_bot": u.is_bot,
        "is_app_user": false, "updated": 1_700_000_000, "is_email_confirmed": true,
        "has_2fa": false, "who_can_share_contact_card": "EVERYONE"
    })
}
