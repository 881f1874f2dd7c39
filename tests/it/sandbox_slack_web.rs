//! Tests for the Slack Web API simulator (`/slack/api/<method>`), `response_url`s and the
//! "people in Slack" control calls, over plain HTTP (reqwest) and a plain WebSocket client
//! (tokio-tungstenite) standing in for the bot: no Vigil client code.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::{TestSandbox, sandbox};

const ALERTS: &str = "C0ALERTS01";
const ANA: &str = "U0ANA00001";
const CAROL: &str = "U0CAROL003";

fn bot_token(sb: &TestSandbox) -> String {
    sb.creds["slack"]["bot_token"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn app_token(sb: &TestSandbox) -> String {
    sb.creds["slack"]["app_token"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// POSTs JSON to a Web API method with an optional bearer token.
async fn post_json(
    sb: &TestSandbox,
    token: Option<&str>,
    method: &str,
    body: Value,
) -> reqwest::Response {
    let mut req = sb.http.post(sb.url(&format!("/slack/api/{method}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.json(&body).send().await.expect("request")
}

/// A bot-token JSON call answered with HTTP 200; returns the body.
async fn api(sb: &TestSandbox, method: &str, body: Value) -> Value {
    let resp = post_json(sb, Some(&bot_token(sb)), method, body).await;
    assert_eq!(resp.status(), 200, "{method}");
    resp.json().await.expect("json")
}

/// A bot-token form call (the way slack_sdk sends most methods).
async fn api_form(sb: &TestSandbox, method: &str, form: &[(&str, &str)]) -> Value {
    let resp = sb
        .http
        .post(sb.url(&format!("/slack/api/{method}")))
        .bearer_auth(bot_token(sb))
        .form(form)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200, "{method}");
    resp.json().await.expect("json")
}

fn assert_error(v: &Value, code: &str) {
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["error"], code, "{v}");
}

async fn post_text(sb: &TestSandbox, channel: &str, text: &str) -> String {
    let v = api(
        sb,
        "chat.postMessage",
        json!({"channel": channel, "text": text}),
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    v["ts"].as_str().unwrap_or("").to_string()
}

fn card_blocks() -> Value {
    json!([
        {"type":"section","block_id":"head","text":{"type":"mrkdwn","text":"*WS-CAROL-MBP*"},
         "accessory":{"type":"button","action_id":"case_ticket","value":"C-1",
                      "text":{"type":"plain_text","text":"Open ticket"}}},
        {"type":"actions","block_id":"acts","elements":[
            {"type":"button","action_id":"case_ack","value":"C-1","style":"primary",
             "text":{"type":"plain_text","text":"Acknowledge"}},
            {"type":"button","action_id":"case_resolve","value":"C-1",
             "text":{"type":"plain_text","text":"Resolve"}}]}
    ])
}

// ---------------------------------------------------------------- a bot on Socket Mode

/// A Socket Mode client that acks every envelope with `reply` (if set) and hands the
/// envelopes to the test.
struct Bot {
    envelopes: mpsc::UnboundedReceiver<Value>,
    reply: Arc<Mutex<Option<Value>>>,
}

impl Bot {
    async fn next(&mut self) -> Value {
        tokio::time::timeout(Duration::from_secs(5), self.envelopes.recv())
            .await
            .ok()
            .flatten()
            .expect("an envelope")
    }

    /// The next frame that is an envelope (skips `hello`).
    async fn next_envelope(&mut self) -> Value {
        loop {
            let f = self.next().await;
            if f.get("envelope_id").is_some() {
                return f;
            }
        }
    }

    fn reply_with(&self, payload: Option<Value>) {
        *self.reply.lock() = payload;
    }
}

async fn connect_bot(sb: &TestSandbox) -> Bot {
    let resp = post_json(sb, Some(&app_token(sb)), "apps.connections.open", json!({})).await;
    let v: Value = resp.json().await.expect("json");
    let url = v["url"].as_str().expect("url").to_string();
    let (ws, _) = connect_async(url).await.expect("socket connects");
    let (mut sink, mut stream) = ws.split();
    let (tx, rx) = mpsc::unbounded_channel();
    let reply: Arc<Mutex<Option<Value>>> = Arc::new(Mutex::new(None));
    let reply_in_task = reply.clone();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            let WsMessage::Text(t) = msg else { continue };
            let Ok(frame) = serde_json::from_str::<Value>(t.as_str()) else {
                continue;
            };
            if let Some(id) = frame.get("envelope_id").cloned() {
                let mut ack = json!({ "envelope_id": id });
                if let Some(p) = reply_in_task.lock().clone() {
                    ack["payload"] = p;
                }
                let _ = sink.send(WsMessage::text(ack.to_string())).await;
            }
            let _ = tx.send(frame);
        }
    });
    let mut bot = Bot {
        envelopes: rx,
        reply,
    };
    let hello = bot.next().await;
    assert_eq!(hello["type"], "hello");
    bot
}

/// Runs `/triage` as `user` and returns the slash command payload the bot got.
async fn run_command(sb: &TestSandbox, bot: &mut Bot, user: &str, text: &str) -> Value {
    let out = sb
        .control(
            "/slack/command",
            json!({"user": user, "channel": "alerts", "command": "/triage", "text": text}),
        )
        .await;
    assert_eq!(out["acked"], true, "{out}");
    let env = bot.next_envelope().await;
    assert_eq!(env["type"], "slash_commands");
    env["payload"].clone()
}

fn modal(title: &str) -> Value {
    json!({"type":"modal","callback_id":"case_resolve_modal","private_metadata":"C-1",
           "title":{"type":"plain_text","text":title},
           "submit":{"type":"plain_text","text":"Resolve"},
           "blocks":[{"type":"input","block_id":"reason",
                      "label":{"type":"plain_text","text":"Reason"},
                      "element":{"type":"plain_text_input","action_id":"text"}}]})
}

async fn views_of(sb: &TestSandbox, user: &str) -> Vec<Value> {
    let v = crate::common::get_json(
        &sb.http,
        &sb.url(&format!("/_sandbox/slack/views?user={user}")),
    )
    .await;
    v.as_array().cloned().unwrap_or_default()
}

async fn ephemerals_of(sb: &TestSandbox, user: &str) -> Vec<Value> {
    let v = crate::common::get_json(
        &sb.http,
        &sb.url(&format!("/_sandbox/slack/ephemeral?user={user}")),
    )
    .await;
    v.as_array().cloned().unwrap_or_default()
}

// ---------------------------------------------------------------- auth and transport

#[tokio::test]
async fn tokens_are_checked_like_slack() {
    let sb = sandbox().await;
    let none = post_json(&sb, None, "auth.test", json!({})).await;
    assert_eq!(none.status(), 200);
    assert_error(&none.json().await.expect("json"), "not_authed");
    let bad = post_json(&sb, Some("xoxb-1-2-nope"), "auth.test", json!({})).await;
    assert_error(&bad.json().await.expect("json"), "invalid_auth");
    let app_on_bot = post_json(&sb, Some(&app_token(&sb)), "chat.postMessage", json!({})).await;
    assert_error(
        &app_on_bot.json().await.expect("json"),
        "not_allowed_token_type",
    );
    let bot_on_app = post_json(
        &sb,
        Some(&bot_token(&sb)),
        "apps.connections.open",
        json!({}),
    )
    .await;
    assert_error(
        &bot_on_app.json().await.expect("json"),
        "not_allowed_token_type",
    );
    // a token argument works in a form body, never inside JSON
    let form: Value = sb
        .http
        .post(sb.url("/slack/api/auth.test"))
        .form(&[("token", bot_token(&sb).as_str())])
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(form["ok"], true, "{form}");
    let in_json = post_json(&sb, None, "auth.test", json!({"token": bot_token(&sb)})).await;
    assert_error(&in_json.json().await.expect("json"), "not_authed");
}

#[tokio::test]
async fn auth_test_and_connections_open_answer_what_sdks_read() {
    let sb = sandbox().await;
    let v = api(&sb, "auth.test", json!({})).await;
    assert_eq!(v["ok"], true);
    assert_eq!(v["user_id"], sb.creds["slack"]["bot_user_id"]);
    assert_eq!(v["bot_id"], sb.creds["slack"]["bot_id"]);
    assert_eq!(v["team_id"], sb.creds["slack"]["team_id"]);
    assert_eq!(v["is_enterprise_install"], false);
    assert!(v["url"].as_str().unwrap_or("").starts_with("http://"));
    // slack_sdk: JSON content type, empty body
    let resp = sb
        .http
        .post(sb.url("/slack/api/apps.connections.open"))
        .bearer_auth(app_token(&sb))
        .header("content-type", "application/json")
        .send()
        .await
        .expect("req");
    let v: Value = resp.json().await.expect("json");
    let url = v["url"].as_str().unwrap_or("");
    let host = sb.base.trim_start_matches("http://");
    assert!(
        url.starts_with(&format!("ws://{host}/slack/socket?ticket=")),
        "{url}"
    );
    assert!(url.contains("&app_id=A0VIGIL001"), "{url}");
}

#[tokio::test]
async fn unknown_method_and_malformed_json() {
    let sb = sandbox().await;
    let resp = post_json(&sb, Some(&bot_token(&sb)), "chat.nope", json!({})).await;
    assert_eq!(resp.status(), 404);
    assert_error(&resp.json().await.expect("json"), "unknown_method");
    let resp = sb
        .http
        .post(sb.url("/slack/api/chat.postMessage"))
        .bearer_auth(bot_token(&sb))
        .header("content-type", "application/json")
        .body("{\"channel\": ")
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 200);
    assert_error(&resp.json().await.expect("json"), "invalid_json");
}

// ---------------------------------------------------------------- chat.*

#[tokio::test]
async fn post_message_stores_blocks_metadata_and_answers_the_message() {
    let sb = sandbox().await;
    let metadata =
        json!({"event_type":"vigil_case","event_payload":{"case_id":"C-1","kind":"card"}});
    let v = api(
        &sb,
        "chat.postMessage",
        json!({"channel":"#alerts","text":"Case C-1","blocks":card_blocks(),"metadata":metadata,
               "unfurl_links":false,"mrkdwn":true}),
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["channel"], ALERTS);
    let ts = v["ts"].as_str().unwrap_or("");
    let (secs, micros) = ts.split_once('.').expect("dotted ts");
    assert_eq!(micros.len(), 6);
    assert!(secs.parse::<u64>().is_ok());
    let m = &v["message"];
    assert_eq!(m["type"], "message");
    assert_eq!(m["bot_id"], sb.creds["slack"]["bot_id"]);
    assert_eq!(m["app_id"], sb.creds["slack"]["app_id"]);
    assert_eq!(m["user"], sb.creds["slack"]["bot_user_id"]);
    assert_eq!(m["text"], "Case C-1");
    assert_eq!(m["blocks"][1]["elements"][0]["action_id"], "case_ack");
    assert_eq!(m["metadata"], metadata);
    assert!(
        m.get("subtype").is_none(),
        "modern apps post without bot_message subtype"
    );
    // form body, blocks as a JSON string (slack_sdk / older clients)
    let blocks = card_blocks().to_string();
    let f = api_form(
        &sb,
        "chat.postMessage",
        &[("channel", ALERTS), ("blocks", &blocks)],
    )
    .await;
    assert_eq!(f["ok"], true, "{f}");
    assert!(f["ts"].as_str() > Some(ts), "ts values increase");
}

#[tokio::test]
async fn post_message_errors() {
    let sb = sandbox().await;
    // every call below counts against the channel's 1/s bucket; this test is about validation
    sb.control(
        "/limits",
        json!({"service":"slack","method":"chat.postMessage","per_minute":0}),
    )
    .await;
    let v = api(
        &sb,
        "chat.postMessage",
        json!({"channel":"C0NOPE","text":"x"}),
    )
    .await;
    assert_error(&v, "channel_not_found");
    sb.control(
        "/slack/channels",
        json!({"id":"C0OUTSIDE1","name":"random","is_member":false}),
    )
    .await;
    let v = api(
        &sb,
        "chat.postMessage",
        json!({"channel":"C0OUTSIDE1","text":"x"}),
    )
    .await;
    assert_error(&v, "not_in_channel");
    let v = api(&sb, "chat.postMessage", json!({"channel":ALERTS})).await;
    assert_error(&v, "no_text");
    let v = api(
        &sb,
        "chat.postMessage",
        json!({"channel":ALERTS,"text":"x".repeat(40_001)}),
    )
    .await;
    assert_error(&v, "msg_too_long");
    let long = "y".repeat(3001);
    let v = api(
        &sb,
        "chat.postMessage",
        json!({"channel":ALERTS,"text":"t","blocks":[{"type":"section","text":{"type":"mrkdwn","text":long}}]}),
    )
    .await;
    assert_error(&v, "invalid_blocks");
    assert_eq!(
        v["response_metadata"]["messages"],
        json!(["[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"])
    );
    let v = api(
        &sb,
        "chat.postMessage",
        json!({"channel":ALERTS,"text":"t","blocks":{"type":"divider"}}),
    )
    .await;
    assert_error(&v, "invalid_blocks_format");
    let v = api(
        &sb,
        "chat.postMessage",
        json!({"channel":ALERTS,"text":"t","metadata":{"event_payload":{}}}),
    )
    .await;
    assert_error(&v, "invalid_metadata");
}

#[tokio::test]
async fn update_ephemeral_permalink_and_reactions() {
    let sb = sandbox().await;
    let ts = post_text(&sb, ALERTS, "before").await;
    let v = api(
        &sb,
        "chat.update",
        json!({"channel":ALERTS,"ts":ts,"text":"after","blocks":card_blocks()}),
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["text"], "after");
    assert_eq!(v["ts"], json!(ts));
    assert_eq!(v["message"]["blocks"][0]["block_id"], "head");
    assert!(v["message"]["edited"]["ts"].is_string());
    let v = api(
        &sb,
        "chat.update",
        json!({"channel":ALERTS,"ts":"1.000001","text":"x"}),
    )
    .await;
    assert_error(&v, "message_not_found");
    // a person's message cannot be updated by the bot (stored even without a socket)
    let out = sb
        .control(
            "/slack/message",
            json!({"user":CAROL,"channel":"general","text":"hi"}),
        )
        .await;
    assert_eq!(out["error"], "no_socket");
    let hist = api_form(&sb, "conversations.history", &[("channel", "C0GENERAL1")]).await;
    let person_ts = hist["messages"][0]["ts"].as_str().unwrap_or("").to_string();
    assert_eq!(hist["messages"][0]["user"], CAROL);
    let v = api(
        &sb,
        "chat.update",
        json!({"channel":"C0GENERAL1","ts":person_ts,"text":"x"}),
    )
    .await;
    assert_error(&v, "cant_update_message");

    let v = api(
        &sb,
        "chat.postEphemeral",
        json!({"channel":ALERTS,"user":ANA,"text":"only you"}),
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["message_ts"].is_string());
    let seen = ephemerals_of(&sb, ANA).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["text"], "only you");
    assert_eq!(seen[0]["source"], "ephemeral");
    let dm = api(&sb, "conversations.open", json!({"users": CAROL})).await;
    let carol_dm = dm["channel"]["id"].as_str().unwrap_or("").to_string();
    let v = api(
        &sb,
        "chat.postEphemeral",
        json!({"channel":carol_dm,"user":ANA,"text":"x"}),
    )
    .await;
    assert_error(&v, "user_not_in_channel");

    let v = api_form(
        &sb,
        "chat.getPermalink",
        &[("channel", ALERTS), ("message_ts", &ts)],
    )
    .await;
    let digits: String = ts.chars().filter(char::is_ascii_digit).collect();
    assert!(
        v["permalink"]
            .as_str()
            .unwrap_or("")
            .ends_with(&format!("/slack/archives/{ALERTS}/p{digits}")),
        "{v}"
    );
    let v = api_form(
        &sb,
        "chat.getPermalink",
        &[("channel", ALERTS), ("message_ts", "1.000002")],
    )
    .await;
    assert_error(&v, "message_not_found");

    let react = |name: &'static str, ts: String| {
        let sb = &sb;
        async move {
            api_form(
                sb,
                "reactions.add",
                &[("channel", ALERTS), ("name", name), ("timestamp", &ts)],
            )
            .await
        }
    };
    assert_eq!(react("white_check_mark", ts.clone()).await["ok"], true);
    assert_error(
        &react("white_check_mark", ts.clone()).await,
        "already_reacted",
    );
    assert_error(&react(":eyes:", ts.clone()).await, "invalid_name");
    assert_error(&react("eyes", "1.000003".into()).await, "message_not_found");
    let hist = api_form(&sb, "conversations.history", &[("channel", ALERTS)]).await;
    assert_eq!(
        hist["messages"][0]["reactions"][0]["name"],
        "white_check_mark"
    );
    assert_eq!(hist["messages"][0]["reactions"][0]["count"], 1);
}

// ---------------------------------------------------------------- conversations.*, users.*

#[tokio::test]
async fn history_replies_threads_metadata_and_paging() {
    let sb = sandbox().await;
    let md = json!({"event_type":"vigil_case","event_payload":{"case_id":"C-9","kind":"card"}});
    let parent = api(
        &sb,
        "chat.postMessage",
        json!({"channel":ALERTS,"text":"card","metadata":md}),
    )
    .await;
    let parent_ts = parent["ts"].as_str().unwrap_or("").to_string();
    let r1 = api(
        &sb,
        "chat.postMessage",
        json!({"channel":ALERTS,"text":"r1","thread_ts":parent_ts}),
    )
    .await;
    assert_eq!(r1["message"]["thread_ts"], json!(parent_ts));
    let r2 = api(
        &sb,
        "chat.postMessage",
        json!({"channel":ALERTS,"text":"r2","thread_ts":parent_ts,"reply_broadcast":true}),
    )
    .await;
    let r2_ts = r2["ts"].as_str().unwrap_or("").to_string();
    let later = post_text(&sb, ALERTS, "later").await;

    let h = api_form(&sb, "conversations.history", &[("channel", ALERTS)]).await;
    let texts: Vec<&str> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        vec!["later", "r2", "card"],
        "newest first, replies hidden unless broadcast"
    );
    assert_eq!(h["messages"][1]["subtype"], "thread_broadcast");
    assert!(
        h["messages"][2].get("metadata").is_none(),
        "metadata only on request"
    );
    assert_eq!(h["messages"][2]["reply_count"], 2);
    assert_eq!(h["messages"][2]["latest_reply"], json!(r2_ts));
    assert_eq!(h["has_more"], false);

    let h = api_form(
        &sb,
        "conversations.history",
        &[
            ("channel", ALERTS),
            ("include_all_metadata", "1"),
            ("oldest", &parent_ts),
            ("inclusive", "1"),
            ("latest", &parent_ts),
        ],
    )
    .await;
    assert_eq!(h["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(h["messages"][0]["metadata"], md);

    let p1 = api_form(
        &sb,
        "conversations.history",
        &[("channel", ALERTS), ("limit", "2")],
    )
    .await;
    assert_eq!(p1["has_more"], true);
    assert_eq!(p1["messages"][0]["ts"], json!(later));
    let cursor = p1["response_metadata"]["next_cursor"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(!cursor.is_empty());
    let p2 = api_form(
        &sb,
        "conversations.history",
        &[("channel", ALERTS), ("limit", "2"), ("cursor", &cursor)],
    )
    .await;
    assert_eq!(p2["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(p2["messages"][0]["ts"], json!(parent_ts));
    assert_eq!(p2["has_more"], false);
    let bad = api_form(
        &sb,
        "conversations.history",
        &[("channel", ALERTS), ("cursor", "%%%")],
    )
    .await;
    assert_error(&bad, "invalid_cursor");

    let r = api_form(
        &sb,
        "conversations.replies",
        &[("channel", ALERTS), ("ts", &parent_ts)],
    )
    .await;
    let texts: Vec<&str> = r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, vec!["card", "r1", "r2"]);
    assert_eq!(r["messages"][1]["thread_ts"], json!(parent_ts));
    let r = api_form(
        &sb,
        "conversations.replies",
        &[("channel", ALERTS), ("ts", "1.000004")],
    )
    .await;
    assert_error(&r, "thread_not_found");
    let r = api_form(&sb, "conversations.history", &[("channel", "C0NOPE")]).await;
    assert_error(&r, "channel_not_found");
}

/// `conversations.replies` of `parent` in #alerts, as a form call with `extra` arguments.
async fn replies_of(sb: &TestSandbox, parent: &str, extra: &[(&str, &str)]) -> Value {
    let mut form = vec![("channel", ALERTS), ("ts", parent)];
    form.extend_from_slice(extra);
    api_form(sb, "conversations.replies", &form).await
}

/// Slack sends a reply's `metadata` only to a caller that asks with `include_all_metadata`
/// (form, query string or JSON); Vigil's crash lookups depend on asking.
#[tokio::test]
async fn replies_carry_metadata_only_when_asked() {
    let sb = sandbox().await;
    let parent = post_text(&sb, ALERTS, "card").await;
    let md = json!({"event_type":"vigil_case","event_payload":{"case_id":"C-9","kind":"step-3"}});
    let reply = api(
        &sb,
        "chat.postMessage",
        json!({"channel":ALERTS,"text":"r","thread_ts":parent,"metadata":md}),
    )
    .await;
    let reply_ts = reply["ts"].as_str().unwrap_or("").to_string();
    let plain = replies_of(&sb, &parent, &[]).await;
    assert_eq!(plain["messages"][1]["ts"], json!(reply_ts), "{plain}");
    assert!(
        plain["messages"][1].get("metadata").is_none(),
        "no metadata unless asked: {plain}"
    );
    let off = replies_of(&sb, &parent, &[("include_all_metadata", "false")]).await;
    assert!(off["messages"][1].get("metadata").is_none(), "{off}");
    for yes in ["true", "1"] {
        let asked = replies_of(&sb, &parent, &[("include_all_metadata", yes)]).await;
        assert_eq!(asked["messages"][1]["metadata"], md, "{yes}: {asked}");
        assert!(
            asked["messages"][0].get("metadata").is_none(),
            "the parent has none"
        );
    }
    let query = sb
        .http
        .get(sb.url(&format!(
            "/slack/api/conversations.replies?channel={ALERTS}&ts={parent}&include_all_metadata=true"
        )))
        .bearer_auth(bot_token(&sb))
        .send()
        .await
        .expect("request")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(query["messages"][1]["metadata"], md, "{query}");
    let json_body = api(
        &sb,
        "conversations.replies",
        json!({"channel":ALERTS,"ts":parent,"include_all_metadata":true}),
    )
    .await;
    assert_eq!(json_body["messages"][1]["metadata"], md, "{json_body}");
}

#[tokio::test]
async fn conversations_open_and_info() {
    let sb = sandbox().await;
    let first = api_form(&sb, "conversations.open", &[("users", CAROL)]).await;
    assert_eq!(first["ok"], true, "{first}");
    let dm = first["channel"]["id"].as_str().unwrap_or("").to_string();
    assert!(dm.starts_with('D'), "{dm}");
    assert!(first.get("already_open").is_none());
    let again = api(
        &sb,
        "conversations.open",
        json!({"users":[CAROL], "return_im": true}),
    )
    .await;
    assert_eq!(again["channel"]["id"], json!(dm), "one IM per user");
    assert_eq!(again["already_open"], true);
    assert_eq!(again["channel"]["is_im"], true);
    assert_eq!(again["channel"]["user"], CAROL);
    assert_error(
        &api_form(&sb, "conversations.open", &[("users", "U0NOBODY")]).await,
        "user_not_found",
    );
    assert_error(
        &api_form(&sb, "conversations.open", &[]).await,
        "users_list_not_supplied",
    );

    let info = api_form(&sb, "conversations.info", &[("channel", ALERTS)]).await;
    let c = &info["channel"];
    assert_eq!(c["id"], ALERTS);
    assert_eq!(c["name"], "alerts");
    assert_eq!(c["is_channel"], true);
    assert_eq!(c["is_member"], true);
    assert_eq!(c["is_private"], false);
    assert!(c["created"].is_i64());
    let info = api_form(&sb, "conversations.info", &[("channel", &dm)]).await;
    assert_eq!(info["channel"]["is_im"], true);
    assert_error(
        &api_form(&sb, "conversations.info", &[("channel", "C0NOPE")]).await,
        "channel_not_found",
    );
    // posting to the DM shows up in its history
    post_text(&sb, &dm, "hello carol").await;
    let h = api_form(&sb, "conversations.history", &[("channel", &dm)]).await;
    assert_eq!(h["messages"][0]["text"], "hello carol");
}

#[tokio::test]
async fn users_and_usergroups() {
    let sb = sandbox().await;
    let v = api_form(&sb, "users.info", &[("user", CAROL)]).await;
    assert_eq!(v["user"]["id"], CAROL);
    assert_eq!(v["user"]["profile"]["email"], "carol.diaz@acme.example");
    assert_eq!(v["user"]["is_bot"], false);
    assert_eq!(v["user"]["real_name"], "Carol Diaz");
    let bot_id = sb.creds["slack"]["bot_user_id"].as_str().unwrap_or("");
    let v = api_form(&sb, "users.info", &[("user", bot_id)]).await;
    assert_eq!(v["user"]["is_bot"], true);
    assert_error(
        &api_form(&sb, "users.info", &[("user", "U0NOBODY")]).await,
        "user_not_found",
    );
    let v = api_form(
        &sb,
        "users.lookupByEmail",
        &[("email", "Carol.Diaz@ACME.example")],
    )
    .await;
    assert_eq!(v["user"]["id"], CAROL);
    assert_error(
        &api_form(&sb, "users.lookupByEmail", &[("email", "x@y.z")]).await,
        "users_not_found",
    );
    let v = api_form(&sb, "usergroups.users.list", &[("usergroup", "S0SECOPS01")]).await;
    assert_eq!(v["users"], json!([ANA, "U0BEN00002"]));
    assert_error(
        &api_form(&sb, "usergroups.users.list", &[("usergroup", "S0NOPE")]).await,
        "no_such_subteam",
    );

    let stored = sb
        .control(
            "/slack/users",
            json!({"id":"U0FRANK006","email":"frank@acme.example","is_analyst":true}),
        )
        .await;
    assert_eq!(stored["name"], "frank");
    assert_eq!(stored["is_bot"], false);
    let v = api_form(
        &sb,
        "users.lookupByEmail",
        &[("email", "frank@acme.example")],
    )
    .await;
    assert_eq!(v["user"]["id"], "U0FRANK006");
    let v = api_form(&sb, "usergroups.users.list", &[("usergroup", "S0SECOPS01")]).await;
    assert_eq!(v["users"].as_array().map(Vec::len), Some(3));
}

// ---------------------------------------------------------------- limits, faults, reset

#[tokio::test]
async fn post_message_rate_limit_is_per_channel_with_retry_after() {
    let sb = sandbox().await;
    for _ in 0..4 {
        post_text(&sb, ALERTS, "burst").await;
    }
    let resp = post_json(
        &sb,
        Some(&bot_token(&sb)),
        "chat.postMessage",
        json!({"channel":ALERTS,"text":"x"}),
    )
    .await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap_or("")
        .parse()
        .unwrap_or(0);
    assert!(retry >= 1, "Retry-After in whole seconds");
    assert_error(&resp.json().await.expect("json"), "ratelimited");
    post_text(&sb, "C0GENERAL1", "another channel is fine").await;
    // other methods are limited once turned on
    sb.control(
        "/limits",
        json!({"service":"slack","method":"users.info","per_minute":1,"burst":1}),
    )
    .await;
    assert_eq!(
        api_form(&sb, "users.info", &[("user", CAROL)]).await["ok"],
        true
    );
    let resp = sb
        .http
        .post(sb.url("/slack/api/users.info"))
        .bearer_auth(bot_token(&sb))
        .form(&[("user", CAROL)])
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
}

/// History reads are Tier 3 (50/min per method for an internal app) by default; a reset
/// brings the limit back after a test turned it off.
#[tokio::test]
async fn history_and_replies_are_tier_3_by_default() {
    let sb = sandbox().await;
    let parent = post_text(&sb, ALERTS, "card").await;
    let read = |method: &'static str| {
        let sb = &sb;
        let parent = parent.clone();
        async move {
            sb.http
                .post(sb.url(&format!("/slack/api/{method}")))
                .bearer_auth(bot_token(sb))
                .form(&[("channel", ALERTS), ("ts", parent.as_str())])
                .send()
                .await
                .expect("req")
        }
    };
    for method in ["conversations.history", "conversations.replies"] {
        for i in 0..50 {
            let resp = read(method).await;
            assert_eq!(resp.status(), 200, "{method} read {i} is inside Tier 3");
        }
        let resp = read(method).await;
        assert_eq!(resp.status(), 429, "{method}: the 51st read in a minute");
        assert!(resp.headers().contains_key("retry-after"), "{method}");
        assert_error(&resp.json().await.expect("json"), "ratelimited");
    }
    sb.control("/reset", json!({})).await;
    let parent = post_text(&sb, ALERTS, "card").await;
    for i in 0..51 {
        let resp = sb
            .http
            .post(sb.url("/slack/api/conversations.history"))
            .bearer_auth(bot_token(&sb))
            .form(&[("channel", ALERTS), ("latest", parent.as_str())])
            .send()
            .await
            .expect("req");
        if i < 50 {
            assert_eq!(resp.status(), 200, "read {i} after reset");
        } else {
            assert_eq!(resp.status(), 429, "reset restores Tier 3");
        }
    }
}

#[tokio::test]
async fn injected_faults_answer_slack_shapes() {
    let sb = sandbox().await;
    sb.control(
        "/faults",
        json!({"service":"slack","path":"/api/chat.postMessage","status":429,"retry_after":7}),
    )
    .await;
    let resp = post_json(
        &sb,
        Some(&bot_token(&sb)),
        "chat.postMessage",
        json!({"channel":ALERTS,"text":"x"}),
    )
    .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    assert_error(&resp.json().await.expect("json"), "ratelimited");
    sb.control(
        "/faults",
        json!({"service":"slack","path":"/api/conversations.history","status":500}),
    )
    .await;
    let resp = sb
        .http
        .post(sb.url("/slack/api/conversations.history"))
        .bearer_auth(bot_token(&sb))
        .form(&[("channel", ALERTS)])
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 500);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["ok"], false);
    // the fault was used up: the next call works
    assert_eq!(
        api_form(&sb, "conversations.history", &[("channel", ALERTS)]).await["ok"],
        true
    );
}

#[tokio::test]
async fn reset_restores_the_seeded_workspace() {
    let sb = sandbox().await;
    post_text(&sb, ALERTS, "gone after reset").await;
    sb.control(
        "/slack/users",
        json!({"id":"U0TEMP0007","email":"temp@acme.example"}),
    )
    .await;
    sb.control("/reset", json!({})).await;
    let h = api_form(&sb, "conversations.history", &[("channel", ALERTS)]).await;
    assert_eq!(h["messages"], json!([]));
    assert_error(
        &api_form(&sb, "users.info", &[("user", "U0TEMP0007")]).await,
        "user_not_found",
    );
    assert_eq!(
        api_form(&sb, "users.info", &[("user", CAROL)]).await["ok"],
        true
    );
}

// ---------------------------------------------------------------- people in Slack

#[tokio::test]
async fn pushes_without_a_socket_answer_409() {
    let sb = sandbox().await;
    let resp = sb
        .http
        .post(sb.url("/_sandbox/slack/command"))
        .json(&json!({"user":ANA,"channel":"alerts","command":"/triage","text":"help"}))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 409);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"], "no_socket");
    let resp = sb
        .http
        .post(sb.url("/_sandbox/slack/command"))
        .json(&json!({"user":"U0NOBODY","channel":"alerts","command":"/triage"}))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn slash_command_trigger_opens_one_modal_and_ack_text_is_shown() {
    let sb = sandbox().await;
    let mut bot = connect_bot(&sb).await;
    bot.reply_with(Some(
        json!({"response_type":"ephemeral","text":"Usage: /triage …"}),
    ));
    let p = run_command(&sb, &mut bot, ANA, "help").await;
    assert_eq!(p["command"], "/triage");
    assert_eq!(p["text"], "help");
    assert_eq!(p["user_id"], ANA);
    assert_eq!(p["channel_id"], ALERTS);
    assert_eq!(p["channel_name"], "alerts");
    assert_eq!(p["api_app_id"], "A0VIGIL001");
    let seen = ephemerals_of(&sb, ANA).await;
    assert_eq!(
        seen.last().map(|e| e["text"].clone()),
        Some(json!("Usage: /triage …"))
    );
    bot.reply_with(None);

    let trigger = p["trigger_id"].as_str().unwrap_or("").to_string();
    let bad = api(
        &sb,
        "views.open",
        json!({"trigger_id":trigger,"view":modal("A title that is far too long")}),
    )
    .await;
    assert_error(&bad, "invalid_arguments");
    assert_eq!(
        bad["response_metadata"]["messages"][0],
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    );
    let v = api(
        &sb,
        "views.open",
        json!({"trigger_id":trigger,"view":modal("Resolve case")}),
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    let view = &v["view"];
    assert!(view["id"].as_str().unwrap_or("").starts_with('V'));
    assert_eq!(view["callback_id"], "case_resolve_modal");
    assert_eq!(view["private_metadata"], "C-1");
    assert_eq!(view["state"], json!({"values": {}}));
    assert!(view["hash"].is_string());
    assert_eq!(view["app_id"], "A0VIGIL001");
    let again = api(
        &sb,
        "views.open",
        json!({"trigger_id":trigger,"view":modal("Resolve case")}),
    )
    .await;
    assert_error(&again, "expired_trigger_id");
    let unknown = api(
        &sb,
        "views.open",
        json!({"trigger_id":"1.2.3","view":modal("x")}),
    )
    .await;
    assert_error(&unknown, "invalid_trigger_id");
    let open = views_of(&sb, ANA).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["callback_id"], "case_resolve_modal");
}

#[tokio::test]
async fn click_payload_and_response_url_replies() {
    let sb = sandbox().await;
    let mut bot = connect_bot(&sb).await;
    let posted = api(
        &sb,
        "chat.postMessage",
        json!({"channel":ALERTS,"text":"card","blocks":card_blocks()}),
    )
    .await;
    let ts = posted["ts"].as_str().unwrap_or("").to_string();
    let out = sb
        .control(
            "/slack/click",
            json!({"user":ANA,"channel":ALERTS,"ts":ts,"action_id":"case_ack"}),
        )
        .await;
    assert_eq!(out["acked"], true, "{out}");
    let env = bot.next_envelope().await;
    assert_eq!(env["type"], "interactive");
    let p = &env["payload"];
    assert_eq!(p["type"], "block_actions");
    assert_eq!(p["user"]["id"], ANA);
    assert_eq!(
        p["container"],
        json!({"type":"message","message_ts":ts,"channel_id":ALERTS,"is_ephemeral":false})
    );
    assert_eq!(p["channel"], json!({"id":ALERTS,"name":"alerts"}));
    assert_eq!(p["message"]["ts"], json!(ts));
    assert_eq!(p["actions"][0]["action_id"], "case_ack");
    assert_eq!(p["actions"][0]["block_id"], "acts");
    assert_eq!(p["actions"][0]["value"], "C-1");
    assert_eq!(p["actions"][0]["style"], "primary");
    assert_eq!(p["actions"][0]["type"], "button");
    assert!(p["trigger_id"].is_string());
    let url = p["response_url"].as_str().unwrap_or("").to_string();

    let reply = |body: Value| {
        let sb = &sb;
        let url = url.clone();
        async move { sb.http.post(url).json(&body).send().await.expect("req") }
    };
    assert_eq!(reply(json!({"text":"Acked by you"})).await.status(), 200);
    let seen = ephemerals_of(&sb, ANA).await;
    assert_eq!(seen[0]["source"], "response_url");
    assert_eq!(seen[0]["text"], "Acked by you");
    let bad =
        reply(json!({"text":"t","blocks":[{"type":"header","text":{"type":"mrkdwn","text":"h"}}]}))
            .await;
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.expect("json");
    assert_eq!(bad["error"], "invalid_blocks");
    let malformed = sb
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .expect("req");
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        reply(json!({"replace_original":true,"text":"Acknowledged"}))
            .await
            .status(),
        200
    );
    let h = api_form(&sb, "conversations.history", &[("channel", ALERTS)]).await;
    assert_eq!(h["messages"][0]["text"], "Acknowledged");
    assert_eq!(h["messages"][0]["ts"], json!(ts), "replaced in place");
    assert_eq!(
        reply(json!({"response_type":"in_channel","text":"Posted","thread_ts":ts}))
            .await
            .status(),
        200
    );
    let r = api_form(
        &sb,
        "conversations.replies",
        &[("channel", ALERTS), ("ts", &ts)],
    )
    .await;
    assert_eq!(r["messages"][1]["text"], "Posted");
    assert_eq!(reply(json!({"text":"fourth"})).await.status(), 200);
    assert_eq!(reply(json!({"delete_original":true})).await.status(), 200);
    let gone = reply(json!({"text":"sixth"})).await;
    assert_eq!(gone.status(), 404, "five uses only");
    let gone: Value = gone.json().await.expect("json");
    assert_eq!(gone["error"], "expired_url");

    let missing = sb
        .http
        .post(sb.url("/_sandbox/slack/click"))
        .json(&json!({"user":ANA,"channel":ALERTS,"ts":ts,"action_id":"nope"}))
        .send()
        .await
        .expect("req");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn submissions_follow_the_ack_response_action() {
    let sb = sandbox().await;
    let mut bot = connect_bot(&sb).await;
    let p = run_command(&sb, &mut bot, ANA, "new").await;
    let v = api(
        &sb,
        "views.open",
        json!({"trigger_id":p["trigger_id"],"view":modal("Resolve case")}),
    )
    .await;
    let view_id = v["view"]["id"].as_str().unwrap_or("").to_string();
    let values = json!({"reason":{"text":{"type":"plain_text_input","value":"false positive"}}});

    bot.reply_with(Some(
        json!({"response_action":"errors","errors":{"reason":"too short"}}),
    ));
    let out = sb
        .control(
            "/slack/submit",
            json!({"user":ANA,"view_id":view_id,"values":values}),
        )
        .await;
    assert_eq!(out["acked"], true, "{out}");
    assert_eq!(out["response"]["response_action"], "errors");
    let env = bot.next_envelope().await;
    let p = &env["payload"];
    assert_eq!(p["type"], "view_submission");
    assert_eq!(p["view"]["id"], json!(view_id));
    assert_eq!(p["view"]["callback_id"], "case_resolve_modal");
    assert_eq!(p["view"]["state"]["values"], values);
    assert_eq!(
        views_of(&sb, ANA).await.len(),
        1,
        "errors keep the modal open"
    );

    bot.reply_with(None);
    sb.control(
        "/slack/submit",
        json!({"user":ANA,"view_id":view_id,"values":values}),
    )
    .await;
    bot.next_envelope().await;
    assert!(
        views_of(&sb, ANA).await.is_empty(),
        "an empty ack closes it"
    );
    let resp = sb
        .http
        .post(sb.url("/_sandbox/slack/submit"))
        .json(&json!({"user":ANA,"view_id":view_id}))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn views_update_and_publish_check_hashes() {
    let sb = sandbox().await;
    let mut bot = connect_bot(&sb).await;
    let p = run_command(&sb, &mut bot, ANA, "new").await;
    let v = api(
        &sb,
        "views.open",
        json!({"trigger_id":p["trigger_id"],"view":modal("Resolve case"),}),
    )
    .await;
    let id = v["view"]["id"].as_str().unwrap_or("").to_string();
    let hash = v["view"]["hash"].as_str().unwrap_or("").to_string();
    let u = api(
        &sb,
        "views.update",
        json!({"view_id":id,"hash":hash,"view":modal("Updated")}),
    )
    .await;
    assert_eq!(u["ok"], true, "{u}");
    assert_eq!(u["view"]["title"]["text"], "Updated");
    assert_ne!(u["view"]["hash"], json!(hash));
    let stale = api(
        &sb,
        "views.update",
        json!({"view_id":id,"hash":hash,"view":modal("Again")}),
    )
    .await;
    assert_error(&stale, "hash_conflict");
    let missing = api(
        &sb,
        "views.update",
        json!({"view_id":"V0NOPE","view":modal("x")}),
    )
    .await;
    assert_error(&missing, "not_found");

    let home = json!({"type":"home","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"Inbox"}}]});
    let h1 = api(&sb, "views.publish", json!({"user_id":ANA,"view":home})).await;
    assert_eq!(h1["ok"], true, "{h1}");
    assert_eq!(h1["view"]["type"], "home");
    let h1_hash = h1["view"]["hash"].as_str().unwrap_or("").to_string();
    let h2 = api(
        &sb,
        "views.publish",
        json!({"user_id":ANA,"view":home,"hash":h1_hash}),
    )
    .await;
    assert_eq!(h2["view"]["id"], h1["view"]["id"], "one App Home per user");
    let stale = api(
        &sb,
        "views.publish",
        json!({"user_id":ANA,"view":home,"hash":h1_hash}),
    )
    .await;
    assert_error(&stale, "hash_conflict");
    let wrong = api(
        &sb,
        "views.publish",
        json!({"user_id":ANA,"view":modal("x")}),
    )
    .await;
    assert_error(&wrong, "invalid_arguments");
    let listed = views_of(&sb, ANA).await;
    assert!(
        listed
            .iter()
            .any(|v| v["type"] == "home" && v["blocks"][0]["text"]["text"] == "Inbox")
    );

    let out = sb.control("/slack/home", json!({"user":ANA})).await;
    assert_eq!(out["acked"], true, "{out}");
    let env = bot.next_envelope().await;
    assert_eq!(env["type"], "events_api");
    let ev = &env["payload"]["event"];
    assert_eq!(ev["type"], "app_home_opened");
    assert_eq!(ev["tab"], "home");
    assert_eq!(ev["channel"], "D0ANA00001");
    assert_eq!(ev["view"]["type"], "home");
}

#[tokio::test]
async fn person_messages_raw_envelopes_and_disconnect() {
    let sb = sandbox().await;
    let mut bot = connect_bot(&sb).await;
    let out = sb
        .control(
            "/slack/message",
            json!({"user":CAROL,"text":"yes that was me"}),
        )
        .await;
    assert_eq!(out["acked"], true, "{out}");
    let env = bot.next_envelope().await;
    assert_eq!(env["type"], "events_api");
    let p = &env["payload"];
    assert_eq!(p["type"], "event_callback");
    assert!(p["event_id"].as_str().unwrap_or("").starts_with("Ev"));
    assert!(p["event_time"].is_i64());
    assert_eq!(
        p["authorizations"][0]["user_id"],
        sb.creds["slack"]["bot_user_id"]
    );
    let ev = &p["event"];
    assert_eq!(ev["type"], "message");
    assert_eq!(ev["channel_type"], "im");
    assert_eq!(ev["channel"], "D0CAROL003");
    assert_eq!(ev["user"], CAROL);
    assert_eq!(ev["text"], "yes that was me");
    let h = api_form(&sb, "conversations.history", &[("channel", "D0CAROL003")]).await;
    assert_eq!(h["messages"][0]["text"], "yes that was me");

    let out = sb
        .control(
            "/slack/envelope",
            json!({"type":"interactive","payload":{"type":"block_actions","forged":true}}),
        )
        .await;
    assert_eq!(out["acked"], true, "{out}");
    let env = bot.next_envelope().await;
    assert_eq!(env["payload"]["forged"], true);
    assert_eq!(env["accepts_response_payload"], false);

    let out = sb
        .control("/slack/disconnect", json!({"reason":"refresh_requested"}))
        .await;
    assert_eq!(out["ok"], true);
    loop {
        let f = bot.next().await;
        if f["type"] == "disconnect" {
            assert_eq!(f["reason"], "refresh_requested");
            break;
        }
    }
}
