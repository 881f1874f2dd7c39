//! People in Slack (SPEC §7.4): control calls under `/_sandbox/slack` that turn a person's
//! action (a slash command, a button click, a modal submission, a DM, opening App Home) into
//! the payload Slack would send, and push it over Socket Mode. Each push answers the
//! `PushOutcome` (`{"envelope_id","acked","ack_ms","response"}`) or 409 `no_socket`.
//!
//! Payload shapes follow vendor-apis §1.3 and §1.6–§1.8 and parse in slack-morphism's
//! `SlackCommandEvent`, `SlackInteractionEvent` and `SlackPushEventCallback` (unit tests).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::socket::EnvelopeKind;
use super::web::state::{self, Channel, Message, User, View, Workspace};
use super::web::{immediate_reply, new_hash, request_host, view_json_with};
use crate::Sandbox;
use crate::control::{error, parse_body};
use crate::slack::blocks;

/// A control call's answer.
type Reply = Result<Response, Refused>;

/// A refused control call: a status and message answered as `{"error": …}`, or a response
/// some shared helper already built (kept boxed so results stay small).
#[derive(Debug)]
enum Refused {
    /// A status and the message answered as `{"error": …}`.
    Msg(StatusCode, String),
    /// A ready response (from `parse_body`).
    Ready(Box<Response>),
}

impl From<Response> for Refused {
    fn from(r: Response) -> Self {
        Refused::Ready(Box::new(r))
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Msg(status, msg) => error(status, msg),
            Refused::Ready(r) => *r,
        }
    }
}

fn refuse(status: StatusCode, msg: impl Into<String>) -> Refused {
    Refused::Msg(status, msg.into())
}

/// Routes under `/_sandbox/slack`.
pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/command", post(command))
        .route("/click", post(click))
        .route("/submit", post(submit))
        .route("/message", post(message))
        .route("/home", post(home))
        .route("/envelope", post(envelope))
        .route("/disconnect", post(disconnect))
        .route("/views", get(views))
        .route("/ephemeral", get(ephemeral))
        .route("/users", post(upsert_user))
        .route("/channels", post(upsert_channel))
        .route("/sockets", get(sockets))
}

/// `GET /_sandbox/slack/sockets`: open Socket Mode connections and recent acks.
async fn sockets(State(sb): State<Sandbox>) -> Json<Value> {
    Json(sb.slack.socket.status())
}

fn not_found(msg: impl Into<String>) -> Refused {
    refuse(StatusCode::NOT_FOUND, msg)
}

/// Pushes an envelope and answers its outcome, or 409 `no_socket`.
async fn push(sb: &Sandbox, kind: EnvelopeKind, payload: Value) -> Result<Value, Refused> {
    match sb.slack.socket.push(sb, kind, payload).await {
        Ok(outcome) => Ok(serde_json::to_value(outcome).unwrap_or(Value::Null)),
        Err(_) => Err(refuse(StatusCode::CONFLICT, "no_socket")),
    }
}

fn person(ws: &Workspace, id: &str) -> Result<User, Refused> {
    ws.users
        .get(id)
        .cloned()
        .ok_or_else(|| not_found(format!("no such user: {id}")))
}

/// What a payload needs of a channel. Not the [`Channel`] itself: cloning that copies every
/// message in it, which made each push cost as much as the channel's history.
struct ChannelRef {
    id: String,
    name: Option<String>,
    im_user: Option<String>,
}

fn channel_of(ws: &mut Workspace, raw: &str) -> Result<ChannelRef, Refused> {
    ws.resolve_channel(raw)
        .and_then(|id| ws.channels.get(&id))
        .map(|c: &Channel| ChannelRef {
            id: c.id.clone(),
            name: c.name.clone(),
            im_user: c.im_user.clone(),
        })
        .ok_or_else(|| not_found(format!("no such channel: {raw}")))
}

/// A message of a channel, copied out.
fn message_in(ws: &Workspace, channel: &str, ts: &str) -> Option<Message> {
    ws.channels.get(channel)?.messages.get(ts).cloned()
}

/// `channel_name` as payloads carry it (`directmessage` for IMs).
fn channel_name(c: &ChannelRef) -> String {
    c.name.clone().unwrap_or_else(|| "directmessage".into())
}

fn team_json(ws: &Workspace) -> Value {
    json!({"id": ws.team_id, "domain": state::TEAM_DOMAIN})
}

fn user_ref(ws: &Workspace, u: &User) -> Value {
    json!({"id": u.id, "username": u.name, "name": u.name, "team_id": ws.team_id})
}

fn response_url(host: &str, id: &str) -> String {
    format!("http://{host}/slack/response/{id}")
}

// ---------------------------------------------------------------- slash commands

#[derive(Deserialize)]
struct CommandReq {
    user: String,
    #[serde(default)]
    channel: Option<String>,
    command: String,
    #[serde(default)]
    text: String,
}

/// `POST /command`: a `slash_commands` envelope; an ack payload with text is shown like a
/// `response_url` reply.
async fn command(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Reply {
    let req: CommandReq = parse_body(&body)?;
    if !req.command.starts_with('/') {
        return Err(refuse(StatusCode::BAD_REQUEST, "command must start with /"));
    }
    let host = request_host(&headers);
    let (payload, channel) = {
        let mut ws = sb.slack.web.lock();
        command_payload(&sb, &mut ws, &req, &host)?
    };
    let outcome = push(&sb, EnvelopeKind::SlashCommands, payload).await?;
    if let Some(Value::Object(reply)) = outcome.get("response") {
        let _ = immediate_reply(&sb, &host, &req.user, &channel, reply);
    }
    Ok(Json(outcome).into_response())
}

fn command_payload(
    sb: &Sandbox,
    ws: &mut Workspace,
    req: &CommandReq,
    host: &str,
) -> Result<(Value, String), Refused> {
    let user = person(ws, &req.user)?;
    let raw = req.channel.clone().unwrap_or_else(|| user.id.clone());
    let channel = channel_of(ws, &raw)?;
    let trigger = ws.issue_trigger(&user.id);
    let url = ws.issue_response_url(&user.id, &channel.id, None);
    let payload = json!({
        "token": sb.slack.web.verification_token(),
        "team_id": ws.team_id, "team_domain": state::TEAM_DOMAIN,
        "channel_id": channel.id, "channel_name": channel_name(&channel),
        "user_id": user.id, "user_name": user.name,
        "command": req.command, "text": req.text,
        "api_app_id": sb.credentials.slack.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url(host, &url), "trigger_id": trigger
    });
    Ok((payload, channel.id))
}

// ---------------------------------------------------------------- button clicks

#[derive(Deserialize)]
struct ClickReq {
    user: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    ts: String,
    action_id: String,
    /// A button in one of that person's views (App Home or a modal) instead of a message.
    #[serde(default)]
    view_id: Option<String>,
}

/// `POST /click`: `block_actions` for a button in a stored message (an `actions` block
/// element or a section `accessory`); 404 when the message or the action is not there.
async fn click(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Reply {
    let req: ClickReq = parse_body(&body)?;
    let host = request_host(&headers);
    let payload = {
        let mut ws = sb.slack.web.lock();
        click_payload(&sb, &mut ws, &req, &host)?
    };
    let outcome = push(&sb, EnvelopeKind::Interactive, payload).await?;
    Ok(Json(outcome).into_response())
}

/// Finds the element with `action_id`: its block id and the element.
fn find_action(blocks: &Value, action_id: &str) -> Option<(String, Value)> {
    for block in blocks.as_array()? {
        let block_id = block["block_id"].as_str().unwrap_or("").to_string();
        let mut candidates: Vec<&Value> = vec![];
        if let Some(elements) = block["elements"].as_array() {
            candidates.extend(elements);
        }
        candidates.push(&block["accessory"]);
        candidates.push(&block["element"]);
        if let Some(e) = candidates.into_iter().find(|e| e["action_id"] == action_id) {
            return Some((block_id, e.clone()));
        }
    }
    None
}

/// The `actions[]` entry Slack sends for a clicked element.
fn action_json(block_id: &str, element: &Value) -> Value {
    let mut a = Map::new();
    a.insert("type".into(), element["type"].clone());
    a.insert("action_id".into(), element["action_id"].clone());
    a.insert("block_id".into(), json!(block_id));
    for key in ["text", "value", "style", "url"] {
        if let Some(v) = element.get(key).filter(|v| !v.is_null()) {
            a.insert(key.into(), v.clone());
        }
    }
    a.insert(
        "action_ts".into(),
        json!(state::format_ts(state::now_micros())),
    );
    Value::Object(a)
}

fn click_payload(
    sb: &Sandbox,
    ws: &mut Workspace,
    req: &ClickReq,
    host: &str,
) -> Result<Value, Refused> {
    let user = person(ws, &req.user)?;
    if let Some(view_id) = &req.view_id {
        return view_click_payload(sb, ws, &user, view_id, &req.action_id);
    }
    let channel = channel_of(ws, &req.channel)?;
    let msg: Message = message_in(ws, &channel.id, &req.ts)
        .ok_or_else(|| not_found(format!("no message {} in {}", req.ts, channel.id)))?;
    let (block_id, element) = msg
        .blocks
        .as_ref()
        .and_then(|b| find_action(b, &req.action_id))
        .ok_or_else(|| not_found(format!("no action {} in that message", req.action_id)))?;
    let trigger = ws.issue_trigger(&user.id);
    let url = ws.issue_response_url(&user.id, &channel.id, Some(msg.ts.clone()));
    Ok(json!({
        "type": "block_actions",
        "user": user_ref(ws, &user),
        "api_app_id": sb.credentials.slack.app_id,
        "token": sb.slack.web.verification_token(),
        "container": {"type": "message", "message_ts": msg.ts, "channel_id": channel.id,
                      "is_ephemeral": false},
        "trigger_id": trigger,
        "team": team_json(ws), "enterprise": null, "is_enterprise_install": false,
        "channel": {"id": channel.id, "name": channel_name(&channel)},
        "message": ws.message_json(&msg, false),
        "state": {"values": {}},
        "response_url": response_url(host, &url),
        "actions": [action_json(&block_id, &element)]
    }))
}

/// `block_actions` for a button in a person's view, as Slack sends it from App Home or a
/// modal: a `view` container and the whole view, no channel, message or `response_url`.
fn view_click_payload(
    sb: &Sandbox,
    ws: &mut Workspace,
    user: &User,
    view_id: &str,
    action_id: &str,
) -> Result<Value, Refused> {
    let view: View = ws
        .views
        .iter()
        .find(|v| v.id == view_id && v.user == user.id)
        .cloned()
        .ok_or_else(|| not_found(format!("no view {view_id} of {}", user.id)))?;
    let (block_id, element) = view
        .spec
        .get("blocks")
        .and_then(|b| find_action(b, action_id))
        .ok_or_else(|| not_found(format!("no action {action_id} in that view")))?;
    let trigger = ws.issue_trigger(&user.id);
    Ok(json!({
        "type": "block_actions",
        "user": user_ref(ws, user),
        "api_app_id": sb.credentials.slack.app_id,
        "token": sb.slack.web.verification_token(),
        "container": {"type": "view", "view_id": view.id},
        "trigger_id": trigger,
        "team": team_json(ws), "enterprise": null, "is_enterprise_install": false,
        "view": view_json_with(sb, ws, &view),
        "state": {"values": {}},
        "actions": [action_json(&block_id, &element)]
    }))
}

// ---------------------------------------------------------------- modal submissions

#[derive(Deserialize)]
struct SubmitReq {
    user: String,
    view_id: String,
    #[serde(default)]
    values: Option<Value>,
}

/// `POST /submit`: `view_submission` for an open modal of that person; the ack's
/// `response_action` then closes, keeps, updates, pushes or clears views like Slack.
async fn submit(State(sb): State<Sandbox>, body: Bytes) -> Reply {
    let req: SubmitReq = parse_body(&body)?;
    let values = req.values.clone().unwrap_or_else(|| json!({}));
    if !values.is_object() {
        return Err(refuse(StatusCode::BAD_REQUEST, "values must be an object"));
    }
    let payload = {
        let mut ws = sb.slack.web.lock();
        submit_payload(&sb, &mut ws, &req, values)?
    };
    let outcome = push(&sb, EnvelopeKind::Interactive, payload).await?;
    if outcome["acked"] == true {
        let mut ws = sb.slack.web.lock();
        apply_submission_ack(&mut ws, &req.view_id, &outcome["response"]);
    }
    Ok(Json(outcome).into_response())
}

fn submit_payload(
    sb: &Sandbox,
    ws: &mut Workspace,
    req: &SubmitReq,
    values: Value,
) -> Result<Value, Refused> {
    let user = person(ws, &req.user)?;
    let idx = ws
        .views
        .iter()
        .position(|v| v.id == req.view_id && v.user == user.id && v.kind() == "modal")
        .ok_or_else(|| not_found(format!("no open view {} for {}", req.view_id, user.id)))?;
    ws.views[idx].values = values;
    let view = ws.views[idx].clone();
    let trigger = ws.issue_trigger(&user.id);
    Ok(json!({
        "type": "view_submission",
        "team": team_json(ws),
        "user": user_ref(ws, &user),
        "api_app_id": sb.credentials.slack.app_id,
        "token": sb.slack.web.verification_token(),
        "trigger_id": trigger,
        "view": view_json_with(sb, ws, &view),
        "response_urls": [],
        "is_enterprise_install": false,
        "enterprise": null
    }))
}

/// What Slack does with the ack of a submission.
fn apply_submission_ack(ws: &mut Workspace, view_id: &str, response: &Value) {
    let Some(idx) = ws.views.iter().position(|v| v.id == view_id) else {
        return;
    };
    let action = response["response_action"].as_str().unwrap_or("");
    match action {
        "errors" => {}
        "update" => {
            if let Some(spec) = valid_view(&response["view"]) {
                ws.views[idx].spec = spec;
                ws.views[idx].hash = new_hash();
            }
        }
        "push" => {
            if let Some(spec) = valid_view(&response["view"]) {
                let below = ws.views[idx].clone();
                let id = state::random_id("V", 10);
                ws.views.push(View {
                    id,
                    user: below.user,
                    spec,
                    hash: new_hash(),
                    root_view_id: below.root_view_id,
                    previous_view_id: Some(below.id),
                    values: json!({}),
                });
            }
        }
        "clear" => {
            let root = ws.views[idx].root_view_id.clone();
            ws.views
                .retain(|v| v.root_view_id != root || v.kind() == "home");
        }
        _ => {
            ws.views.remove(idx);
        }
    }
}

fn valid_view(view: &Value) -> Option<Map<String, Value>> {
    blocks::validate_view(view, Some("modal")).ok()?;
    let mut spec = view.as_object()?.clone();
    if let Some(b) = spec.get_mut("blocks") {
        blocks::fill_ids(b);
    }
    Some(spec)
}

// ---------------------------------------------------------------- events

/// The Events API `event_callback` wrapper (vendor-apis §1.3).
fn event_callback(sb: &Sandbox, ws: &Workspace, event: Value) -> Value {
    let c = &sb.credentials.slack;
    json!({
        "token": sb.slack.web.verification_token(),
        "team_id": ws.team_id,
        "context_team_id": ws.team_id,
        "context_enterprise_id": null,
        "api_app_id": c.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": state::random_id("Ev", 10),
        "event_time": state::now_secs(),
        "authorizations": [{"enterprise_id": null, "team_id": ws.team_id,
                            "user_id": c.bot_user_id, "is_bot": true,
                            "is_enterprise_install": false}],
        "is_ext_shared_channel": false,
        "event_context": format!("4-{}", state::random_id("", 24).to_ascii_lowercase())
    })
}

#[derive(Deserialize)]
struct MessageReq {
    user: String,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    thread_ts: Option<String>,
}

/// `POST /message`: stores what the person wrote (in their IM when `channel` is omitted or
/// is their `D…`) and pushes the `message` event.
async fn message(State(sb): State<Sandbox>, body: Bytes) -> Reply {
    let req: MessageReq = parse_body(&body)?;
    let payload = {
        let mut ws = sb.slack.web.lock();
        let event = store_person_message(&mut ws, &req)?;
        event_callback(&sb, &ws, event)
    };
    let outcome = push(&sb, EnvelopeKind::EventsApi, payload).await?;
    Ok(Json(outcome).into_response())
}

/// A person's message as Slack stores it: text plus the `rich_text` block clients send.
fn rich_text(text: &str) -> Value {
    json!([{"type": "rich_text", "block_id": state::random_id("", 5),
            "elements": [{"type": "rich_text_section",
                          "elements": [{"type": "text", "text": text}]}]}])
}

fn store_person_message(ws: &mut Workspace, req: &MessageReq) -> Result<Value, Refused> {
    let user = person(ws, &req.user)?;
    let raw = req.channel.clone().unwrap_or_else(|| user.id.clone());
    let channel = channel_of(ws, &raw)?;
    if channel
        .im_user
        .as_ref()
        .is_some_and(|owner| *owner != user.id)
    {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            format!("{} is not {}'s IM", channel.id, user.id),
        ));
    }
    let msg = Message {
        ts: ws.next_ts(),
        user: user.id.clone(),
        text: req.text.clone(),
        blocks: Some(rich_text(&req.text)),
        thread_ts: req.thread_ts.clone().filter(|t| !t.is_empty()),
        client_msg_id: Some(uuid::Uuid::new_v4().to_string()),
        ..Message::default()
    };
    let stored = ws
        .store_message(&channel.id, msg)
        .ok_or_else(|| not_found("channel vanished"))?;
    let mut event = ws.message_json(&stored, false);
    if let Value::Object(e) = &mut event {
        for k in [
            "reply_count",
            "reply_users",
            "reply_users_count",
            "latest_reply",
        ] {
            e.remove(k);
        }
        e.insert("channel".into(), json!(channel.id));
        e.insert("event_ts".into(), json!(stored.ts));
        let kind = if channel.im_user.is_some() {
            "im"
        } else {
            "channel"
        };
        e.insert("channel_type".into(), json!(kind));
        if let Some(parent) = stored.thread_ts.as_ref().filter(|t| **t != stored.ts) {
            let parent_user = ws
                .channels
                .get(&channel.id)
                .and_then(|c| c.messages.get(parent))
                .map(|m| m.user.clone());
            if let Some(pu) = parent_user {
                e.insert("parent_user_id".into(), json!(pu));
            }
        }
    }
    Ok(event)
}

#[derive(Deserialize)]
struct HomeReq {
    user: String,
}

/// `POST /home`: `app_home_opened` for the person's Home tab (with the published view).
async fn home(State(sb): State<Sandbox>, body: Bytes) -> Reply {
    let req: HomeReq = parse_body(&body)?;
    let payload = {
        let mut ws = sb.slack.web.lock();
        let user = person(&ws, &req.user)?;
        let (im, _) = ws.open_im(&user.id);
        let mut event = json!({
            "type": "app_home_opened", "user": user.id, "channel": im, "tab": "home",
            "event_ts": state::format_ts(state::now_micros())
        });
        let view = ws
            .views
            .iter()
            .find(|v| v.user == user.id && v.kind() == "home")
            .cloned();
        if let Some(v) = view {
            event["view"] = view_json_with(&sb, &ws, &v);
        }
        event_callback(&sb, &ws, event)
    };
    let outcome = push(&sb, EnvelopeKind::EventsApi, payload).await?;
    Ok(Json(outcome).into_response())
}

/// `POST /envelope`: a raw envelope as given (for malformed, forged or replayed payloads);
/// `envelope_id` and `accepts_response_payload` are filled in when missing.
async fn envelope(State(sb): State<Sandbox>, body: Bytes) -> Reply {
    let req: Map<String, Value> = parse_body(&body)?;
    let frame = raw_frame(req);
    match sb.slack.socket.push_raw(&sb, frame).await {
        Ok(outcome) => Ok(Json(outcome).into_response()),
        Err(_) => Err(refuse(StatusCode::CONFLICT, "no_socket")),
    }
}

fn raw_frame(mut req: Map<String, Value>) -> Value {
    let kind = req
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let payload_type = req
        .get("payload")
        .and_then(|p| p.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    req.entry("envelope_id".to_string())
        .or_insert_with(|| json!(uuid::Uuid::new_v4().to_string()));
    req.entry("payload".to_string()).or_insert(Value::Null);
    let accepts = kind == "slash_commands"
        || (kind == "interactive"
            && matches!(
                payload_type.as_str(),
                "view_submission" | "block_suggestion"
            ));
    req.entry("accepts_response_payload".to_string())
        .or_insert(json!(accepts));
    if kind == "events_api" {
        req.entry("retry_attempt".to_string()).or_insert(json!(0));
        req.entry("retry_reason".to_string()).or_insert(json!(""));
    }
    Value::Object(req)
}

#[derive(Deserialize)]
struct DisconnectReq {
    #[serde(default)]
    reason: Option<String>,
    /// One socket's id (from `GET /sockets`); all open sockets when absent.
    #[serde(default)]
    socket: Option<u64>,
}

/// `POST /disconnect`: a `disconnect` frame to every open socket or to the one named by
/// `socket` (SPEC §7.4): after `warning` it keeps receiving until `refresh_requested`
/// arrives `slack_refresh_after_warning_ms` later; `"drop"` closes abruptly, `"hang"` goes
/// silent. Answers how many sockets were open and how many were told.
async fn disconnect(State(sb): State<Sandbox>, body: Bytes) -> Reply {
    let req: DisconnectReq = parse_body(&body)?;
    let reason = req.reason.unwrap_or_else(|| "refresh_requested".into());
    let before = sb.slack.socket.connections();
    let refresh_after =
        std::time::Duration::from_millis(sb.settings.get().slack_refresh_after_warning_ms);
    let told = sb
        .slack
        .socket
        .disconnect(&reason, req.socket, refresh_after);
    Ok(
        Json(json!({"ok": true, "reason": reason, "connections": before, "told": told}))
            .into_response(),
    )
}

// ---------------------------------------------------------------- what people see

#[derive(Deserialize)]
struct UserQuery {
    user: String,
}

/// `GET /views?user=U`: open modals and the App Home of that person.
async fn views(State(sb): State<Sandbox>, Query(q): Query<UserQuery>) -> Json<Value> {
    let ws = sb.slack.web.lock();
    let list: Vec<Value> = ws
        .views
        .iter()
        .filter(|v| v.user == q.user)
        .map(|v| {
            json!({
                "id": v.id, "type": v.kind(),
                "callback_id": v.spec.get("callback_id").cloned().unwrap_or(json!("")),
                "private_metadata": v.spec.get("private_metadata").cloned().unwrap_or(json!("")),
                "blocks": v.spec.get("blocks").cloned().unwrap_or(json!([])),
                "hash": v.hash
            })
        })
        .collect();
    Json(Value::Array(list))
}

/// `GET /ephemeral?user=U`: ephemerals and `response_url` replies shown to that person.
async fn ephemeral(State(sb): State<Sandbox>, Query(q): Query<UserQuery>) -> Json<Value> {
    let ws = sb.slack.web.lock();
    let list: Vec<Value> = ws
        .ephemerals
        .iter()
        .filter(|e| e.user == q.user)
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    Json(Value::Array(list))
}

// ---------------------------------------------------------------- workspace records

#[derive(Deserialize)]
struct UserReq {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    real_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    is_analyst: Option<bool>,
    #[serde(default)]
    is_bot: Option<bool>,
    #[serde(default)]
    deleted: Option<bool>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    tz: Option<String>,
}

/// `POST /users`: adds or replaces one person by id (defaults filled); `is_analyst` also
/// sets membership of the `secops` group. Answers the stored record.
async fn upsert_user(State(sb): State<Sandbox>, body: Bytes) -> Reply {
    let req: UserReq = parse_body(&body)?;
    let id = req
        .id
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| state::random_id("U", 10));
    if !id.starts_with('U') && !id.starts_with('W') {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "user ids start with U or W",
        ));
    }
    let name = req
        .name
        .clone()
        .or_else(|| {
            req.email
                .as_ref()
                .and_then(|e| e.split('@').next().map(str::to_string))
        })
        .unwrap_or_else(|| id.to_lowercase());
    let mut user = User::with_defaults(id.clone(), name);
    user.real_name = req.real_name.unwrap_or_else(|| user.name.clone());
    user.email = req.email;
    user.is_analyst = req.is_analyst.unwrap_or(false);
    user.is_bot = req.is_bot.unwrap_or(false);
    user.deleted = req.deleted.unwrap_or(false);
    user.title = req.title.unwrap_or_default();
    if let Some(tz) = req.tz {
        user.tz = tz;
    }
    let mut ws = sb.slack.web.lock();
    for g in ws.usergroups.values_mut().filter(|g| g.handle == "secops") {
        g.users.retain(|u| *u != id);
        if user.is_analyst {
            g.users.push(id.clone());
        }
    }
    ws.users.insert(id, user.clone());
    Ok(Json(serde_json::to_value(user).unwrap_or(Value::Null)).into_response())
}

#[derive(Deserialize)]
struct ChannelReq {
    #[serde(default)]
    id: Option<String>,
    name: String,
    #[serde(default)]
    is_member: Option<bool>,
}

/// `POST /channels`: adds or replaces a public channel (messages kept); `is_member: false`
/// makes one the bot is not in, for `not_in_channel`.
async fn upsert_channel(State(sb): State<Sandbox>, body: Bytes) -> Reply {
    let req: ChannelReq = parse_body(&body)?;
    let id = req
        .id
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| state::random_id("C", 10));
    if !id.starts_with('C') {
        return Err(refuse(StatusCode::BAD_REQUEST, "channel ids start with C"));
    }
    let name = req.name.trim_start_matches('#').to_string();
    let member = req.is_member.unwrap_or(true);
    let mut ws = sb.slack.web.lock();
    let messages = ws
        .channels
        .remove(&id)
        .map(|c| c.messages)
        .unwrap_or_default();
    ws.channels.insert(
        id.clone(),
        Channel {
            id: id.clone(),
            name: Some(name.clone()),
            im_user: None,
            bot_member: member,
            created: state::now_secs(),
            messages,
        },
    );
    Ok(Json(json!({"id": id, "name": name, "is_member": member})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Seed;
    use slack_morphism::prelude::{
        SlackCommandEvent, SlackEventCallbackBody, SlackInteractionEvent, SlackPushEvent,
    };

    fn sandbox_with_card() -> (Sandbox, String) {
        let sb = Sandbox::new();
        let blocks = json!([
            {"type":"section","block_id":"s1","text":{"type":"mrkdwn","text":"card"},
             "accessory":{"type":"button","action_id":"case_ticket",
                          "text":{"type":"plain_text","text":"Open"},"url":"https://x.test"}},
            {"type":"actions","block_id":"a1","elements":[
                {"type":"button","action_id":"case_ack","value":"C-1","style":"primary",
                 "text":{"type":"plain_text","text":"Ack"}}]}
        ]);
        let mut ws = sb.slack.web.lock();
        let ts = ws.next_ts();
        let c = &sb.credentials.slack;
        ws.store_message(
            "C0ALERTS01",
            Message {
                ts: ts.clone(),
                user: c.bot_user_id.clone(),
                bot_id: Some(c.bot_id.clone()),
                app_id: Some(c.app_id.clone()),
                text: "card".into(),
                blocks: Some(blocks),
                metadata: Some(json!({"event_type":"vigil_case",
                                      "event_payload":{"case_id":"C-1","kind":"card"}})),
                ..Message::default()
            },
        );
        drop(ws);
        (sb, ts)
    }

    #[test]
    fn slash_command_payload_parses_in_slack_morphism() {
        let sb = Sandbox::new();
        let req = CommandReq {
            user: "U0ANA00001".into(),
            channel: Some("alerts".into()),
            command: "/triage".into(),
            text: "list open".into(),
        };
        let (payload, channel) = {
            let mut ws = sb.slack.web.lock();
            command_payload(&sb, &mut ws, &req, "127.0.0.1:1").unwrap()
        };
        assert_eq!(channel, "C0ALERTS01");
        let ev: SlackCommandEvent = serde_json::from_value(payload.clone()).unwrap();
        assert_eq!(ev.command.0, "/triage");
        assert_eq!(ev.channel_name.as_deref(), Some("alerts"));
        assert!(
            payload["response_url"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:1/slack/response/")
        );
    }

    #[test]
    fn block_actions_payload_parses_for_buttons_and_accessories() {
        let (sb, ts) = sandbox_with_card();
        for action in ["case_ack", "case_ticket"] {
            let req = ClickReq {
                user: "U0BEN00002".into(),
                channel: "C0ALERTS01".into(),
                ts: ts.clone(),
                action_id: action.into(),
                view_id: None,
            };
            let payload = {
                let mut ws = sb.slack.web.lock();
                click_payload(&sb, &mut ws, &req, "h:1").unwrap()
            };
            let ev: SlackInteractionEvent = serde_json::from_value(payload.clone()).unwrap();
            let SlackInteractionEvent::BlockActions(ba) = ev else {
                panic!("not block_actions")
            };
            let actions = ba.actions.unwrap();
            assert_eq!(actions[0].action_id.0, action);
            assert!(ba.message.is_some());
        }
        let mut ws = sb.slack.web.lock();
        let missing = ClickReq {
            user: "U0BEN00002".into(),
            channel: "C0ALERTS01".into(),
            ts,
            action_id: "nope".into(),
            view_id: None,
        };
        let err = click_payload(&sb, &mut ws, &missing, "h").map(|_| ());
        assert!(matches!(err, Err(Refused::Msg(StatusCode::NOT_FOUND, _))));
    }

    #[test]
    fn view_submission_payload_parses() {
        let sb = Sandbox::new();
        let view_id = {
            let mut ws = sb.slack.web.lock();
            ws.views.push(View {
                id: "V0TEST0001".into(),
                user: "U0ANA00001".into(),
                spec: json!({"type":"modal","callback_id":"resolve",
                    "title":{"type":"plain_text","text":"Resolve"},
                    "submit":{"type":"plain_text","text":"Go"},
                    "blocks":[{"type":"input","block_id":"reason",
                               "label":{"type":"plain_text","text":"Reason"},
                               "element":{"type":"plain_text_input","action_id":"text"}}]})
                .as_object()
                .cloned()
                .unwrap(),
                hash: "1.a".into(),
                root_view_id: "V0TEST0001".into(),
                previous_view_id: None,
                values: json!({}),
            });
            "V0TEST0001".to_string()
        };
        let req = SubmitReq {
            user: "U0ANA00001".into(),
            view_id: view_id.clone(),
            values: None,
        };
        let values = json!({"reason":{"text":{"type":"plain_text_input","value":"fp"}}});
        let payload = {
            let mut ws = sb.slack.web.lock();
            submit_payload(&sb, &mut ws, &req, values).unwrap()
        };
        let ev: SlackInteractionEvent = serde_json::from_value(payload).unwrap();
        let SlackInteractionEvent::ViewSubmission(vs) = ev else {
            panic!("not view_submission")
        };
        assert_eq!(vs.view.state_params.id.0, view_id);
        let state = vs.view.state_params.state.unwrap();
        assert!(state.values.contains_key(&"reason".to_string().into()));
        let mut ws = sb.slack.web.lock();
        apply_submission_ack(
            &mut ws,
            &view_id,
            &json!({"response_action":"errors","errors":{}}),
        );
        assert_eq!(ws.views.len(), 1);
        apply_submission_ack(&mut ws, &view_id, &Value::Null);
        assert!(ws.views.is_empty());
    }

    #[test]
    fn events_parse_as_message_and_app_home_opened() {
        let sb = Sandbox::new();
        let mut ws = sb.slack.web.lock();
        let req = MessageReq {
            user: "U0CAROL003".into(),
            channel: None,
            text: "it was me".into(),
            thread_ts: None,
        };
        let event = store_person_message(&mut ws, &req).unwrap();
        assert_eq!(event["channel"], "D0CAROL003");
        assert_eq!(event["channel_type"], "im");
        let wrapped = event_callback(&sb, &ws, event);
        let SlackPushEvent::EventCallback(cb) = serde_json::from_value(wrapped).unwrap() else {
            panic!("not event_callback")
        };
        assert!(
            matches!(cb.event, SlackEventCallbackBody::Message(_)),
            "{:?}",
            cb.event
        );
        assert!(cb.event_id.0.starts_with("Ev"));
        let home = json!({"type":"app_home_opened","user":"U0CAROL003","channel":"D0CAROL003",
                          "tab":"home","event_ts":"1.000001"});
        let SlackPushEvent::EventCallback(cb) =
            serde_json::from_value(event_callback(&sb, &ws, home)).unwrap()
        else {
            panic!("not event_callback")
        };
        assert!(matches!(cb.event, SlackEventCallbackBody::AppHomeOpened(_)));
        let _ = Seed::standard();
    }

    #[test]
    fn raw_frames_get_ids_and_flags() {
        let f = raw_frame(
            json!({"type":"interactive","payload":{"type":"view_submission"}})
                .as_object()
                .cloned()
                .unwrap(),
        );
        assert_eq!(f["accepts_response_payload"], true);
        assert!(f["envelope_id"].is_string());
        let e = raw_frame(json!({"type":"events_api"}).as_object().cloned().unwrap());
        assert_eq!(e["retry_attempt"], 0);
        assert_eq!(e["accepts_response_payload"], false);
    }
}
