//! Bad input never panics (SPEC §5 "Bad input"): random bytes and mutations of real samples go
//! through every decoder Vigil applies to what Slack, vendors and people send, and each must
//! answer with a value or an error, never a panic.
//!
//! Layout: a [`Target`] is a name, some real samples (JSON or text as the wire carries it) and
//! a `decode` function that feeds one input through Vigil's code. Adding a decoder is one more
//! entry in [`targets`]. Each target gets `VIGIL_FUZZ_CASES` cases (default 500) from a strategy
//! that mixes random bytes, byte-level mutations and JSON-level mutations (a value somewhere
//! in the sample replaced by a hostile one, a key removed, a container duplicated), so decoders
//! see inputs that are almost right, which is where the interesting failures are.
//!
//! The Slack target decodes a Socket Mode envelope's payload with slack-morphism's serde types,
//! as the socket adapter does, and hands the event to Vigil's `Bot` over an in-memory store,
//! with a sandbox answering the few Web API calls it makes (`views.open`, ephemerals, Home).
//!
//! Run it bigger (release build; about a minute per 100k cases per target on one core):
//! `VIGIL_FUZZ_CASES=100000 cargo test --release --test it fuzz`.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};
use slack_morphism::prelude::*;
use vigil::bot::Bot;
use vigil::slack::socket::Inbox;
use vigil::vendors::http::{self, RetrySignal};
use vigil::vendors::{crowdstrike, github, oomnitza, pagerduty};

/// What every decoder needs besides its input.
struct Ctx {
    /// The runtime vendor decoding runs on and the bot spawns its fast-lane calls on.
    rt: tokio::runtime::Runtime,
    /// Vigil's Slack handling over an in-memory store.
    bot: Bot,
    /// Keeps the sandbox answering the bot's Web API calls.
    _sandbox: vigil_sandbox::RunningSandbox,
}

/// One decoder under test.
struct Target {
    name: &'static str,
    samples: Vec<String>,
    decode: fn(&Ctx, &[u8]),
}

/// How many cases each target runs (`VIGIL_FUZZ_CASES`, default 500).
fn cases() -> u32 {
    std::env::var("VIGIL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(500)
}

// ------------------------------------------------------------------------------- samples

fn slash_command() -> Value {
    json!({"envelope_id": "e1", "type": "slash_commands", "accepts_response_payload": true,
        "payload": {"token": "x", "team_id": "T0SANDBOX1", "team_domain": "acme",
            "channel_id": "C0ALERTS01", "channel_name": "alerts", "user_id": "U0ANA00001",
            "user_name": "ana", "command": "/triage", "text": "resolve VIG-1 false positive",
            "api_app_id": "A0VIGIL001", "is_enterprise_install": "false",
            "response_url": "http://127.0.0.1:1/slack/response/r1",
            "trigger_id": "1.2.3"}})
}

fn block_actions(action_id: &str, channel: &str) -> Value {
    json!({"envelope_id": "e2", "type": "interactive", "accepts_response_payload": false,
        "payload": {"type": "block_actions",
            "user": {"id": "U0ANA00001", "username": "ana", "name": "ana", "team_id": "T0SANDBOX1"},
            "api_app_id": "A0VIGIL001", "token": "x", "trigger_id": "1.2.4",
            "team": {"id": "T0SANDBOX1", "domain": "acme"}, "enterprise": null,
            "is_enterprise_install": false,
            "container": {"type": "message", "message_ts": "1700000000.000100",
                "channel_id": channel, "is_ephemeral": false},
            "channel": {"id": channel, "name": "alerts"},
            "message": {"type": "message", "ts": "1700000000.000100", "text": "card",
                "user": "U0VIGIL001", "blocks": []},
            "state": {"values": {}},
            "response_url": "http://127.0.0.1:1/slack/response/r2",
            "actions": [{"type": "button", "action_id": action_id, "block_id": "case:VIG-1",
                "value": "VIG-1", "action_ts": "1700000000.000200",
                "text": {"type": "plain_text", "text": "Acknowledge"}}]}})
}

fn view_submission(callback_id: &str) -> Value {
    json!({"envelope_id": "e3", "type": "interactive", "accepts_response_payload": true,
        "payload": {"type": "view_submission",
            "team": {"id": "T0SANDBOX1", "domain": "acme"},
            "user": {"id": "U0ANA00001", "username": "ana", "name": "ana", "team_id": "T0SANDBOX1"},
            "api_app_id": "A0VIGIL001", "token": "x", "trigger_id": "1.2.5",
            "view": {"id": "V0000000001", "team_id": "T0SANDBOX1", "type": "modal",
                "callback_id": callback_id, "private_metadata": "VIG-1",
                "title": {"type": "plain_text", "text": "Resolve VIG-1"},
                "blocks": [], "hash": "1700000000.abc", "app_id": "A0VIGIL001",
                "bot_id": "B0VIGIL001", "root_view_id": "V0000000001",
                "state": {"values": {
                    "reason": {"reason": {"type": "plain_text_input", "value": "admin tool"}},
                    "title": {"title": {"type": "plain_text_input", "value": "Phish <!here>"}},
                    "severity": {"severity": {"type": "number_input", "value": "35"}},
                    "hostname": {"hostname": {"type": "plain_text_input", "value": "WS-1"}}}}},
            "response_urls": [], "is_enterprise_install": false, "enterprise": null}})
}

fn events_api(event: Value) -> Value {
    json!({"envelope_id": "e4", "type": "events_api", "accepts_response_payload": false,
        "retry_attempt": 0, "retry_reason": "",
        "payload": {"token": "x", "team_id": "T0SANDBOX1", "api_app_id": "A0VIGIL001",
            "event": event, "type": "event_callback", "event_id": "Ev0000000001",
            "event_time": 1700000000, "authorizations": [], "is_ext_shared_channel": false,
            "event_context": "4-abc"}})
}

fn envelopes() -> Vec<String> {
    [
        slash_command(),
        block_actions("case_ack", "C0ALERTS01"),
        block_actions("case_resolve", "C0ALERTS01"),
        block_actions("owner_not_me", "D0CAROL003"),
        view_submission("resolve_case"),
        view_submission("new_alert"),
        events_api(
            json!({"type": "message", "channel": "D0CAROL003", "user": "U0CAROL003",
            "text": "it was me <!channel>", "ts": "1700000000.000300", "channel_type": "im",
            "event_ts": "1700000000.000300", "client_msg_id": "m1"}),
        ),
        events_api(json!({"type": "app_home_opened", "user": "U0ANA00001",
            "channel": "D0ANA00001", "tab": "home", "event_ts": "1700000000.000400"})),
        json!({"type": "hello", "num_connections": 1,
            "connection_info": {"app_id": "A0VIGIL001"},
            "debug_info": {"host": "applink-1", "approximate_connection_time": 18060}}),
        json!({"type": "disconnect", "reason": "refresh_requested",
            "debug_info": {"host": "applink-1"}}),
    ]
    .iter()
    .map(Value::to_string)
    .collect()
}

fn falcon_alert() -> Value {
    json!({"composite_id": "a1b2:ind:a1b2c3d4e5f60718293a4b5c6d7e8f01:26816280388-10197-78077034",
        "id": "ind:a1b2c3d4e5f60718293a4b5c6d7e8f01:26816280388-10197-78077034",
        "cid": "a1b2", "aggregate_id": "aggind:1", "type": "ldt", "product": "epp",
        "name": "SuspiciousScript", "display_name": "Suspicious script interpreter activity",
        "description": "A script interpreter ran an encoded command.",
        "severity": 30, "severity_name": "Low", "confidence": 80, "status": "new",
        "tactic": "Execution", "tactic_id": "TA0002", "technique": "Command and Scripting Interpreter",
        "technique_id": "T1059", "objective": "Follow Through",
        "filename": "bash", "filepath": "/bin/bash",
        "cmdline": "powershell.exe -nop -w hidden -c \"IEX ...\"",
        "user_name": "carol.diaz", "user_principal": "carol.diaz@acme.example",
        "created_timestamp": "2026-11-25T02:36:00.123456789Z",
        "updated_timestamp": "2026-11-25T02:36:01.000Z",
        "timestamp": "2026-11-25T02:35:59Z",
        "falcon_host_link": "https://falcon.crowdstrike.com/activity-v2/detections/ind:1",
        "tags": ["a", "b"],
        "device": {"device_id": "a1b2c3d4e5f60718293a4b5c6d7e8f01", "hostname": "WS-CAROL-MBP",
            "platform_name": "Mac", "local_ip": "10.0.0.5", "external_ip": "203.0.113.4",
            "mac_address": "aa-bb-cc-dd-ee-ff", "os_version": "macOS 15", "status": "normal",
            "machine_domain": "", "ou": ["Laptops"], "site_name": "HQ", "tags": []}})
}

fn falcon_alerts() -> Vec<String> {
    let identity = json!({"composite_id": "a1b2:idp:4f1c:bbc5", "type": "idp",
        "name": "PasswordSpraying", "display_name": "Password spraying", "severity": 70,
        "source_account_upn": "erin.shaw@acme.example", "user_name": "erin.shaw",
        "created_timestamp": "2026-11-25T02:36:00Z", "status": "new"});
    vec![
        json!({"meta": {"query_time": 0.01, "powered_by": "detectsapi", "trace_id": "t1"},
            "resources": [falcon_alert(), identity], "errors": []})
        .to_string(),
        json!({"meta": {"query_time": 0.01, "pagination": {"offset": 0, "limit": 100,
            "total": 2, "after": "eyJ2ZXJzaW9uIjoidjEifQ=="}, "trace_id": "t2"},
            "resources": ["a1b2:ind:1", "a1b2:idp:2"], "errors": []})
        .to_string(),
        json!({"meta": {"trace_id": "t3"}, "resources": [],
            "errors": [{"code": 429, "message": "API rate limit exceeded.", "id": "x"}]})
        .to_string(),
    ]
}

fn falcon_devices() -> Vec<String> {
    vec![
        json!({"meta": {"trace_id": "t4"}, "errors": [],
            "resources": [falcon_alert()["device"].clone(),
                {"device_id": "d2", "hostname": "WS-DAN-WIN11", "status": "contained",
                 "ou": "Desktops", "tags": null, "groups": ["g1"], "last_login_user": "dan"}]})
        .to_string(),
        json!({"access_token": "eyJhbGciOi.x.y", "token_type": "bearer", "expires_in": 1799})
            .to_string(),
    ]
}

fn oomnitza_records() -> Vec<String> {
    vec![
        json!([{"equipment_id": "E-1", "serial_number": "C02XYZ", "device_name": "WS-CAROL-MBP",
            "assigned_to": "carol.diaz", "status": "deployed", "asset_type": "Laptop",
            "model": "MacBook Pro", "uid": "u-1", "custom_field": 7}])
        .to_string(),
        json!([{"username": "carol.diaz", "user_id": "carol", "email": "carol@acme.example",
            "first_name": "Carol", "last_name": "Diaz", "full_name": "Carol Diaz",
            "suspended": false, "role": "Employee", "uid": "u-2"}])
        .to_string(),
        json!({"errors": "Unauthorized"}).to_string(),
    ]
}

fn github_bodies() -> Vec<String> {
    vec![
        json!([{"number": 1, "html_url": "https://github.com/acme/security/issues/1",
            "title": "[VIG-1] Low: Suspicious script", "body": "<!-- vigil-case: VIG-1 -->",
            "state": "open", "created_at": "2026-11-25T02:36:02Z",
            "labels": [{"id": 1, "name": "security"}, "vigil"], "comments": 0}])
        .to_string(),
        json!([{"id": 11, "html_url": "https://github.com/acme/security/issues/1#issuecomment-11",
            "body": "Owner answered", "created_at": "2026-11-25T02:37:00Z",
            "user": {"login": "vigil-bot"}}])
        .to_string(),
        json!({"message": "Validation Failed", "errors": [{"resource": "Issue",
            "code": "missing_field", "field": "title"}],
            "documentation_url": "https://docs.github.com/rest"})
        .to_string(),
    ]
}

fn github_links() -> Vec<String> {
    vec![
        "<https://api.github.com/repositories/1/issues?page=2>; rel=\"next\", \
         <https://api.github.com/repositories/1/issues?page=5>; rel=\"last\""
            .into(),
        "<https://api.github.com/x?page=1>; rel=\"prev\"".into(),
    ]
}

fn pagerduty_bodies() -> Vec<String> {
    vec![
        json!({"status": "success", "message": "Event processed", "dedup_key": "VIG-2"})
            .to_string(),
        json!({"incidents": [{"id": "PQ3ULMY", "incident_key": "VIG-2", "status": "triggered",
            "title": "[VIG-2] Suspicious", "urgency": "high",
            "created_at": "2026-11-25T02:36:05Z",
            "html_url": "https://acme.pagerduty.com/incidents/PQ3ULMY"}],
            "limit": 25, "offset": 0, "more": false, "total": null})
        .to_string(),
        json!({"status": "invalid event", "message": "Event object is invalid",
            "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"]})
        .to_string(),
    ]
}

fn slack_answers() -> Vec<String> {
    vec![
        json!({"ok": true, "channel": "C0ALERTS01", "ts": "1700000000.000100",
            "message": {"type": "message", "ts": "1700000000.000100", "text": "card",
                "user": "U0VIGIL001", "bot_id": "B0VIGIL001",
                "metadata": {"event_type": "vigil_case",
                    "event_payload": {"case_id": "VIG-1", "kind": "card"}}}})
        .to_string(),
        json!({"ok": true, "messages": [{"type": "message", "ts": "1700000000.000100",
            "text": "card", "user": "U0VIGIL001", "thread_ts": "1700000000.000100",
            "reply_count": 2}], "has_more": false,
            "response_metadata": {"next_cursor": ""}})
        .to_string(),
        json!({"ok": true, "users": ["U0ANA00001", "U0BEN00002"]}).to_string(),
        json!({"ok": true, "url": "https://acme.slack.com/", "team": "Acme",
            "user": "vigil", "team_id": "T0SANDBOX1", "user_id": "U0VIGIL001",
            "bot_id": "B0VIGIL001"})
        .to_string(),
        json!({"ok": false, "error": "ratelimited"}).to_string(),
    ]
}

fn webhook_alerts() -> Vec<String> {
    vec![
        json!({"id": "ext-1", "name": "Impossible travel", "severity": 40,
            "hostname": "WS-CAROL-MBP", "user": "carol.diaz", "link": "https://x.example/1"})
        .to_string(),
    ]
}

fn people_text() -> Vec<String> {
    [
        "help",
        "list mine",
        "show VIG-12",
        "assign VIG-1 <@U0BEN00002>",
        "resolve VIG-1 false positive, admin tool",
        "snooze VIG-1 2h",
        "snooze VIG-1 18446744073709551615d",
        "new",
        "stats 7d",
        "VIG-99999999999999999999",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

// ------------------------------------------------------------------------------ decoders

/// A Socket Mode frame as the transport handles it: Vigil's own frame decoder
/// (`slack::socket::frames::decode`), then the envelope's `payload` decoded by its `type`
/// (`decode_payload`, slack-morphism's serde types), then given to Vigil's `Bot` with the
/// delivery facts the frame carried.
fn slack_envelope(ctx: &Ctx, bytes: &[u8]) {
    use vigil::slack::socket::Delivery;
    use vigil::slack::socket::frames::{self, Frame, Payload};
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(Frame::Envelope(envelope)) = frames::decode(text) else {
        return;
    };
    let delivery = Delivery {
        envelope_id: envelope.envelope_id.clone(),
        retry_attempt: envelope.retry_attempt,
        retry_reason: envelope.retry_reason.clone(),
    };
    let Ok(payload) = frames::decode_payload(&envelope) else {
        return;
    };
    let _enter = ctx.rt.enter();
    match payload {
        Payload::Command(ev) => {
            let _ = ctx.bot.command(*ev, &delivery);
        }
        Payload::Interaction(ev) => {
            let _ = ctx.bot.interaction(*ev, &delivery);
        }
        Payload::Push(ev) => {
            let _ = ctx.bot.push(*ev, &delivery);
        }
    }
}

/// A vendor answer through `vendors::http::decode` into `T` (any status: a non-2xx goes
/// through the vendor's error-message reader), as every vendor client decodes.
fn vendor_answer<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    bytes: &[u8],
    message_of: fn(&Value) -> Option<String>,
) -> Option<T> {
    // The first byte picks the status now and then, so error paths see the same bodies.
    let status = match bytes.first() {
        Some(b) if b % 7 == 0 => 400 + u16::from(*b % 100),
        _ => 200,
    };
    let resp = axum::http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("retry-after", "abc")
        .header("x-ratelimit-retryafter", "99999999999999999999")
        .body(bytes.to_vec())
        .ok()?;
    let resp = reqwest::Response::from(resp);
    ctx.rt
        .block_on(http::decode::<T>(
            "fuzz",
            "decode",
            resp,
            RetrySignal::EpochHeader("x-ratelimit-retryafter"),
            message_of,
        ))
        .ok()
}

fn falcon_alerts_decoder(ctx: &Ctx, bytes: &[u8]) {
    let env: Option<crowdstrike::models::Envelope<Value>> =
        vendor_answer(ctx, bytes, crowdstrike::client::error_message);
    for v in env.and_then(|e| e.resources).unwrap_or_default() {
        let _ = vigil::pipeline::ingest::alert_from_falcon(&v);
    }
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        let _ = vigil::pipeline::ingest::alert_from_falcon(&v);
    }
}

fn falcon_devices_decoder(ctx: &Ctx, bytes: &[u8]) {
    let env: Option<crowdstrike::models::Envelope<crowdstrike::models::Device>> =
        vendor_answer(ctx, bytes, crowdstrike::client::error_message);
    for d in env.and_then(|e| e.resources).unwrap_or_default() {
        let _ = d.is_contained();
    }
}

fn oomnitza_decoder(ctx: &Ctx, bytes: &[u8]) {
    let assets: Option<Vec<oomnitza::models::Asset>> =
        vendor_answer(ctx, bytes, oomnitza::client::error_message);
    let users: Option<Vec<oomnitza::models::User>> =
        vendor_answer(ctx, bytes, oomnitza::client::error_message);
    for u in users.unwrap_or_default() {
        let _ = u.display_name();
    }
    drop(assets);
}

fn github_decoder(ctx: &Ctx, bytes: &[u8]) {
    let _: Option<Vec<github::models::Issue>> =
        vendor_answer(ctx, bytes, github::client::error_message);
    let _: Option<Vec<github::models::Comment>> =
        vendor_answer(ctx, bytes, github::client::error_message);
}

fn github_link_decoder(_ctx: &Ctx, bytes: &[u8]) {
    let _ = github::models::next_link(&String::from_utf8_lossy(bytes));
}

fn pagerduty_decoder(ctx: &Ctx, bytes: &[u8]) {
    let _: Option<pagerduty::models::EnqueueResponse> =
        vendor_answer(ctx, bytes, pagerduty::client::error_message);
    let _: Option<pagerduty::models::IncidentPage> =
        vendor_answer(ctx, bytes, pagerduty::client::error_message);
}

fn slack_answer_decoder(_ctx: &Ctx, bytes: &[u8]) {
    let _ = serde_json::from_slice::<SlackApiChatPostMessageResponse>(bytes);
    let _ = serde_json::from_slice::<SlackApiConversationsHistoryResponse>(bytes);
    let _ = serde_json::from_slice::<SlackApiUserGroupsUsersListResponse>(bytes);
    let _ = serde_json::from_slice::<SlackApiAuthTestResponse>(bytes);
}

fn webhook_decoder(_ctx: &Ctx, bytes: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        let _ = vigil::pipeline::ingest::from_webhook(&v);
    }
}

fn command_text_decoder(_ctx: &Ctx, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    if let Err(e) = vigil::slack::commands::TriageCommand::parse(&text) {
        let _ = vigil::slack::commands::usage_text(&e);
    }
    let _ = vigil::case::CaseId::parse(&text);
}

/// Every decoder under test. One more is one more line here.
fn targets() -> Vec<Target> {
    let t = |name, samples, decode| Target {
        name,
        samples,
        decode,
    };
    vec![
        t("slack socket envelope + bot", envelopes(), slack_envelope),
        t(
            "slack web api answers",
            slack_answers(),
            slack_answer_decoder,
        ),
        t("crowdstrike alerts", falcon_alerts(), falcon_alerts_decoder),
        t(
            "crowdstrike hosts",
            falcon_devices(),
            falcon_devices_decoder,
        ),
        t(
            "oomnitza assets and users",
            oomnitza_records(),
            oomnitza_decoder,
        ),
        t(
            "github issues and comments",
            github_bodies(),
            github_decoder,
        ),
        t("github link header", github_links(), github_link_decoder),
        t("pagerduty answers", pagerduty_bodies(), pagerduty_decoder),
        t("webhook alert", webhook_alerts(), webhook_decoder),
        t("/triage text", people_text(), command_text_decoder),
    ]
}

// ----------------------------------------------------------------------------- mutation

/// Values a mutation puts somewhere in a sample.
fn hostile_value(pick: u8, n: u64) -> Value {
    match pick % 16 {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(n),
        4 => json!(f64::MAX),
        5 => json!(""),
        6 => json!("x".repeat((n % 70_000) as usize)),
        7 => json!("<!channel> <@U999> <#C1|x> &lt; \u{0} \u{202e} 🦀"),
        8 => json!([]),
        9 => json!({}),
        10 => json!(["a", 1, null, {"k": []}]),
        11 => json!(n.to_string()),
        12 => json!("99999999999999999999999999"),
        13 => json!("2026-13-45T25:61:61Z"),
        14 => json!(-0.000001),
        _ => json!("VIG-1"),
    }
}

/// One change to a sample.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the `at`-th JSON node (pre-order) with a hostile value.
    Replace { at: usize, pick: u8, n: u64 },
    /// Replace the `at`-th node with a short random (often non-ASCII) string.
    Text { at: usize, text: String },
    /// Insert `ch` into the `at`-th node if it is a string, at character `pos`.
    Edit { at: usize, pos: usize, ch: char },
    /// Remove the `at`-th key of some object.
    Remove { at: usize },
    /// Wrap the `at`-th node in an array, nesting `depth` times.
    Nest { at: usize, depth: u8 },
    /// Flip a byte.
    Flip { at: usize, byte: u8 },
    /// Cut the bytes at `at`.
    Truncate { at: usize },
    /// Insert bytes at `at`.
    Insert { at: usize, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>(), any::<u64>())
            .prop_map(|(at, pick, n)| Mutation::Replace { at, pick, n }),
        2 => (any::<usize>(), "\\PC{0,6}").prop_map(|(at, text)| Mutation::Text { at, text }),
        2 => (any::<usize>(), any::<usize>(), any::<char>())
            .prop_map(|(at, pos, ch)| Mutation::Edit { at, pos, ch }),
        2 => any::<usize>().prop_map(|at| Mutation::Remove { at }),
        1 => (any::<usize>(), 1u8..200).prop_map(|(at, depth)| Mutation::Nest { at, depth }),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
    ]
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(m) => m.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Calls `f` on the node `*at` counts down to (pre-order); true once it has.
fn visit(v: &mut Value, at: &mut usize, f: &mut dyn FnMut(&mut Value)) -> bool {
    if *at == 0 {
        f(v);
        return true;
    }
    *at -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|x| visit(x, at, f)),
        Value::Object(m) => m.values_mut().any(|x| visit(x, at, f)),
        _ => false,
    }
}

/// Calls `f` on the `at`-th node of `v` (modulo the node count).
fn with_node(v: &mut Value, at: usize, mut f: impl FnMut(&mut Value)) {
    let mut i = at % count_nodes(v);
    visit(v, &mut i, &mut f);
}

fn apply(sample: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut json: Option<Value> = serde_json::from_str(sample).ok();
    let mut bytes: Vec<u8> = sample.as_bytes().to_vec();
    for m in mutations {
        match (m, json.as_mut()) {
            (Mutation::Replace { at, pick, n }, Some(v)) => {
                with_node(v, *at, |node| *node = hostile_value(*pick, *n));
            }
            (Mutation::Text { at, text }, Some(v)) => {
                with_node(v, *at, |node| *node = Value::String(text.clone()));
            }
            (Mutation::Edit { at, pos, ch }, Some(v)) => with_node(v, *at, |node| {
                if let Value::String(s) = node {
                    let i = s
                        .char_indices()
                        .map(|(i, _)| i)
                        .chain([s.len()])
                        .nth(pos % (s.chars().count() + 1))
                        .unwrap_or(s.len());
                    s.insert(i, *ch);
                }
            }),
            (Mutation::Remove { at }, Some(v)) => with_node(v, *at, |node| {
                if let Value::Object(m) = node
                    && let Some(k) = m.keys().nth(*at % m.len().max(1)).cloned()
                {
                    m.remove(&k);
                }
            }),
            (Mutation::Nest { at, depth }, Some(v)) => with_node(v, *at, |node| {
                for _ in 0..*depth {
                    *node = Value::Array(vec![node.take()]);
                }
            }),
            _ => {}
        }
    }
    if let Some(v) = &json {
        bytes = v.to_string().into_bytes();
    }
    for m in mutations {
        match m {
            Mutation::Flip { at, byte } if !bytes.is_empty() => {
                let i = at % bytes.len();
                bytes[i] ^= byte | 1;
            }
            Mutation::Truncate { at } => bytes.truncate(at % (bytes.len() + 1)),
            Mutation::Insert { at, bytes: b } => {
                let i = at % (bytes.len() + 1);
                bytes.splice(i..i, b.iter().copied());
            }
            _ => {}
        }
    }
    bytes
}

/// Random bytes, a mutated sample, or a sample as is.
fn input(samples: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let n = samples.len().max(1);
    let samples = Arc::new(samples);
    let s1 = samples.clone();
    let s2 = samples;
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..512),
        1 => (0..n).prop_map(move |i| s1.get(i).cloned().unwrap_or_default().into_bytes()),
        8 => (0..n, proptest::collection::vec(mutation(), 1..6)).prop_map(move |(i, ms)| {
            apply(s2.get(i).map(String::as_str).unwrap_or(""), &ms)
        }),
    ]
}

// --------------------------------------------------------------------------------- setup

fn context() -> Ctx {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (sandbox, bot) = rt.block_on(async {
        let ts = crate::common::sandbox().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = crate::common::write_config(&ts, dir.path());
        let config = vigil::config::Config::load(&path).expect("config");
        let slack = vigil::slack::client::build(&config.slack).expect("slack client");
        let api =
            vigil::slack::api::SlackApi::new(slack, vigil::slack::client::bot_token(&config.slack));
        let engine = vigil::pipeline::Engine::new(
            Arc::new(vigil::store::MemoryStore::new()),
            api,
            vigil::pipeline::engine::Vendors::default(),
            config.triage.clone(),
            config.slack.alerts_channel.clone(),
            vec![],
            vigil::pipeline::engine::Remediation::default(),
        );
        engine.analysts.set(vec!["U0ANA00001".into()]);
        (ts.running, Bot::new(engine, "U0VIGIL001".into()))
    });
    Ctx {
        rt,
        bot,
        _sandbox: sandbox,
    }
}

#[test]
fn decoders_never_panic_on_random_or_mutated_input() {
    let ctx = context();
    let cases = cases();
    let mut report = vec![];
    for target in targets() {
        let started = std::time::Instant::now();
        let mut runner = TestRunner::new(ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        let decode = target.decode;
        let result = runner.run(&input(target.samples.clone()), |bytes| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(&ctx, &bytes)))
                .map_err(|_| TestCaseError::fail(format!("{} panicked", target.name)))
        });
        if let Err(e) = result {
            panic!("{}: {e}", target.name);
        }
        report.push(format!(
            "{:<32} {cases} cases in {:?}",
            target.name,
            started.elapsed()
        ));
    }
    eprintln!("fuzz:\n  {}", report.join("\n  "));
}

#[test]
fn mutations_change_samples_in_the_ways_they_claim() {
    let sample = json!({"a": {"b": [1, 2]}, "c": "d"}).to_string();
    let replaced = apply(
        &sample,
        &[Mutation::Replace {
            at: 2,
            pick: 0,
            n: 0,
        }],
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&replaced).ok(),
        Some(json!({"a": {"b": null}, "c": "d"}))
    );
    let removed = apply(&sample, &[Mutation::Remove { at: 0 }]);
    assert_eq!(
        serde_json::from_slice::<Value>(&removed).ok(),
        Some(json!({"c": "d"}))
    );
    let nested = apply(&sample, &[Mutation::Nest { at: 5, depth: 2 }]);
    assert!(String::from_utf8_lossy(&nested).contains("[[\"d\"]]"));
    assert_eq!(apply(&sample, &[Mutation::Truncate { at: 3 }]).len(), 3);
    assert!(targets().iter().all(|t| !t.samples.is_empty()));
}

/// The Slack samples are what slack-morphism decodes, so mutations start from inputs that
/// reach the `Bot`.
#[test]
fn slack_samples_decode_as_the_adapter_decodes_them() {
    use vigil::slack::socket::frames::{self, Frame};
    for raw in envelopes() {
        match frames::decode(&raw) {
            Ok(Frame::Envelope(envelope)) => assert!(
                frames::decode_payload(&envelope).is_ok(),
                "a sample envelope must reach the bot: {raw}"
            ),
            Ok(_) => {}
            Err(e) => panic!("a sample frame must decode ({e}): {raw}"),
        }
    }
}
