//! `response_url`s (`/slack/response/<id>`, vendor-apis §1.5): no auth, 5 uses within 30
//! minutes. Ephemeral replies (the default) are stored as shown to the person who acted;
//! `in_channel` posts a real message; `replace_original`/`delete_original` act on the message
//! the clicked button sits in.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::chat::{Content, bot_message};
use super::state::Message;
use super::state::{Ephemeral, RESPONSE_URL_TTL, RESPONSE_URL_USES, ResponseUrl};
use super::{ApiError, Ctx, fail, request_host};
use crate::Sandbox;
use crate::args::{self, Body};

/// Applies a reply that did not come through a URL (a slash command's ack payload) with the
/// same rules as a `response_url` reply: ephemeral unless `response_type` is `in_channel`.
pub(crate) fn immediate_reply(
    sb: &Sandbox,
    host: &str,
    user: &str,
    channel: &str,
    reply: &Map<String, Value>,
) -> Result<(), ApiError> {
    let url = ResponseUrl {
        user: user.to_string(),
        channel: channel.to_string(),
        source_ts: None,
        issued: std::time::Instant::now(),
        uses: 0,
    };
    let ctx = Ctx {
        sb,
        host: host.to_string(),
    };
    apply_reply(&ctx, "", &url, reply)
}

/// What the reply asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Delete,
    Replace,
    InChannel,
    Ephemeral,
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn rejected(e: &ApiError) -> Response {
    answer(StatusCode::BAD_REQUEST, e.to_json())
}

/// `POST /slack/response/{id}`.
pub async fn response_url(
    State(sb): State<Sandbox>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return answer(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"ok": false, "error": "method_not_allowed"}),
        );
    }
    let Some(url) = live_url(&sb, &id) else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"ok": false, "error": "expired_url"}),
        );
    };
    let Some(args) = reply_args(args::header(&headers, "content-type"), &body) else {
        return rejected(&fail("invalid_payload"));
    };
    let ctx = Ctx {
        sb: &sb,
        host: request_host(&headers),
    };
    match apply_reply(&ctx, &id, &url, &args) {
        Ok(()) => answer(StatusCode::OK, json!({"ok": true})),
        Err(e) => rejected(&e),
    }
}

/// The URL's record when it still has uses left and is younger than 30 minutes.
fn live_url(sb: &Sandbox, id: &str) -> Option<ResponseUrl> {
    let ws = sb.slack.web.lock();
    let url = ws.response_urls.get(id)?;
    let live = url.uses < RESPONSE_URL_USES && url.issued.elapsed() <= RESPONSE_URL_TTL;
    live.then(|| url.clone())
}

/// The reply as an object: a JSON body, or a form with a `payload` JSON field.
fn reply_args(content_type: Option<&str>, bytes: &[u8]) -> Option<Map<String, Value>> {
    match Body::parse(content_type, bytes) {
        Body::Json(Value::Object(m)) => Some(m),
        Body::Form(m) => match args::json_arg(&m, "payload") {
            Ok(Some(Value::Object(p))) => Some(p),
            _ => Some(m),
        },
        _ => None,
    }
}

fn action_of(args: &Map<String, Value>, url: &ResponseUrl) -> Action {
    let has_source = url.source_ts.is_some();
    if has_source && args::bool_arg(args, "delete_original") {
        Action::Delete
    } else if has_source && args::bool_arg(args, "replace_original") {
        Action::Replace
    } else if args::str_arg(args, "response_type").as_deref() == Some("in_channel") {
        Action::InChannel
    } else {
        Action::Ephemeral
    }
}

/// Validates and applies one reply, then counts the use.
fn apply_reply(
    ctx: &Ctx<'_>,
    id: &str,
    url: &ResponseUrl,
    args: &Map<String, Value>,
) -> Result<(), ApiError> {
    let action = action_of(args, url);
    let content = Content::parse(args)?;
    if action != Action::Delete {
        content.require_something()?;
    }
    let mut ws = ctx.sb.slack.web.lock();
    let source = url.source_ts.clone().unwrap_or_default();
    match action {
        Action::Delete => ws.delete_message(&url.channel, &source),
        Action::Replace => {
            let msg = ws
                .channels
                .get_mut(&url.channel)
                .and_then(|c| c.messages.get_mut(&source));
            if let Some(m) = msg {
                replace_content(m, content);
            }
        }
        Action::InChannel => {
            let thread = args::str_arg(args, "thread_ts").filter(|t| !t.is_empty());
            let msg = bot_message(ctx, &mut ws, content, thread);
            ws.store_message(&url.channel, msg);
        }
        Action::Ephemeral => {
            let ts = ws.next_ts();
            ws.ephemerals.push(Ephemeral {
                user: url.user.clone(),
                channel: url.channel.clone(),
                text: content.text.unwrap_or_default(),
                blocks: content.blocks.unwrap_or(Value::Null),
                source: "response_url",
                ts,
            });
        }
    }
    if let Some(u) = ws.response_urls.get_mut(id) {
        u.uses += 1;
    }
    Ok(())
}

/// `replace_original` swaps the whole message: what the reply leaves out is gone.
fn replace_content(m: &mut Message, content: Content) {
    m.text = content.text.unwrap_or_default();
    m.blocks = content.blocks;
    m.attachments = content.attachments;
    if content.metadata.is_some() {
        m.metadata = content.metadata;
    }
}
