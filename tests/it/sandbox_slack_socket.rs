//! Tests for the Slack Socket Mode server (`/slack/socket`): the handshake and tickets, `hello`,
//! envelopes and acks, redelivery, round robin, `disconnect`, the 10-socket cap, ping/pong and
//! reset, all over a real WebSocket with plain tokio-tungstenite (no Vigil client code).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use vigil_sandbox::Sandbox;
use vigil_sandbox::slack::socket::{EnvelopeKind, Keepalive, PushOutcome};

use crate::common::{TestSandbox, sandbox};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = futures_util::stream::SplitSink<Ws, Message>;

/// What a client's reader task saw.
#[derive(Debug)]
enum Seen {
    Msg(Message),
    /// The stream ended with this error.
    Error(String),
    /// The stream ended cleanly.
    End,
}

/// A connected Socket Mode client: the write half plus everything the read half receives.
struct Client {
    sink: Sink,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Client {
    /// The next text frame as JSON, skipping pings; panics after `wait`.
    async fn next_json(&mut self, wait: Duration) -> Value {
        loop {
            match self.next(wait).await {
                Some(Seen::Msg(Message::Text(t))) => {
                    return serde_json::from_str(t.as_str()).expect("json frame");
                }
                Some(Seen::Msg(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next thing seen, or `None` after `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Seen> {
        tokio::time::timeout(wait, self.seen.recv())
            .await
            .ok()
            .flatten()
    }

    /// Asserts that no text frame arrives within `wait`.
    async fn expect_silence(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                None => return,
                Some(Seen::Msg(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(other) => panic!("expected silence, got {other:?}"),
            }
        }
    }

    async fn send_json(&mut self, v: Value) {
        self.sink
            .send(Message::text(v.to_string()))
            .await
            .expect("send");
    }

    async fn ack(&mut self, envelope_id: &Value) {
        self.send_json(json!({"envelope_id": envelope_id})).await;
    }
}

fn socket_url(ts: &TestSandbox, ticket: &str) -> String {
    format!(
        "ws://{}/slack/socket?ticket={ticket}&app_id={}",
        ts.running.addr,
        ts.creds["slack"]["app_id"].as_str().unwrap_or("")
    )
}

fn sb(ts: &TestSandbox) -> Sandbox {
    ts.running.sandbox.clone()
}

/// Opens a socket with a fresh ticket and starts a reader task.
async fn connect(ts: &TestSandbox) -> Client {
    let ticket = ts.running.sandbox.slack.socket.issue_ticket();
    let (ws, _) = connect_async(socket_url(ts, &ticket))
        .await
        .expect("socket connects");
    spawn_reader(ws)
}

/// Opens a socket and reads its `hello`.
async fn connect_hello(ts: &TestSandbox) -> (Client, Value) {
    let mut c = connect(ts).await;
    let hello = c.next_json(Duration::from_secs(2)).await;
    assert_eq!(hello["type"], "hello");
    (c, hello)
}

fn spawn_reader(ws: Ws) -> Client {
    let (sink, mut stream) = ws.split();
    let (tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let item = match stream.next().await {
                Some(Ok(m)) => Seen::Msg(m),
                Some(Err(e)) => Seen::Error(e.to_string()),
                None => Seen::End,
            };
            let done = !matches!(item, Seen::Msg(_));
            if tx.send(item).is_err() || done {
                return;
            }
        }
    });
    Client { sink, seen }
}

/// Runs a push in the background so the test can play the app meanwhile.
fn push(
    ts: &TestSandbox,
    kind: EnvelopeKind,
    payload: Value,
) -> tokio::task::JoinHandle<Option<PushOutcome>> {
    let sb = sb(ts);
    tokio::spawn(async move { sb.slack.socket.push(&sb, kind, payload).await.ok() })
}

async fn settings(ts: &TestSandbox, ack_ms: u64, delays: &[u64]) {
    let v = ts
        .control(
            "/settings",
            json!({"slack_ack_timeout_ms": ack_ms, "slack_retry_delays_ms": delays}),
        )
        .await;
    assert_eq!(v["slack_ack_timeout_ms"], ack_ms, "{v}");
}

fn event_payload(event_id: &str) -> Value {
    json!({
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_700_000_000,
        "event": {"type": "app_mention", "text": "hi", "user": "U1", "channel": "C1"},
    })
}

const WAIT: Duration = Duration::from_secs(2);

#[tokio::test]
async fn hello_has_the_fields_sdks_need() {
    let ts = sandbox().await;
    let (_c1, hello) = connect_hello(&ts).await;
    assert_eq!(hello["num_connections"], 1);
    assert_eq!(
        hello["connection_info"]["app_id"],
        ts.creds["slack"]["app_id"]
    );
    let host = hello["debug_info"]["host"].as_str().unwrap_or("");
    assert!(host.starts_with("applink-sandbox-"), "{hello}");
    assert_eq!(hello["debug_info"]["approximate_connection_time"], 18_060);
    assert_eq!(hello["debug_info"]["build_number"], 1);
    let (_c2, hello2) = connect_hello(&ts).await;
    assert_eq!(hello2["num_connections"], 2);
    assert_ne!(hello2["debug_info"]["host"], hello["debug_info"]["host"]);
    assert_eq!(ts.running.sandbox.slack.socket.connections(), 2);
}

#[tokio::test]
async fn debug_reconnects_shortens_the_connection_time() {
    let ts = sandbox().await;
    let ticket = ts.running.sandbox.slack.socket.issue_ticket();
    let url = format!("{}&debug_reconnects=true", socket_url(&ts, &ticket));
    let (ws, _) = connect_async(url).await.expect("connects");
    let mut c = spawn_reader(ws);
    let hello = c.next_json(WAIT).await;
    assert_eq!(hello["debug_info"]["approximate_connection_time"], 360);
}

/// The HTTP status and JSON body of a refused handshake.
async fn refused(url: String) -> (u16, Value) {
    match connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            (resp.status().as_u16(), body)
        }
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected an HTTP refusal, the socket opened"),
    }
}

#[tokio::test]
async fn tickets_are_required_and_single_use() {
    let ts = sandbox().await;
    let ticket = ts.running.sandbox.slack.socket.issue_ticket();
    let (_c, _) = connect_async(socket_url(&ts, &ticket))
        .await
        .expect("first use works");
    let invalid = json!({"ok": false, "error": "invalid_auth"});
    assert_eq!(
        refused(socket_url(&ts, &ticket)).await,
        (401, invalid.clone())
    );
    assert_eq!(
        refused(socket_url(&ts, "made-up")).await,
        (401, invalid.clone())
    );
    let bare = format!("ws://{}/slack/socket?", ts.running.addr);
    assert_eq!(refused(bare).await, (401, invalid));
}

#[tokio::test]
async fn a_plain_get_is_not_a_handshake() {
    let ts = sandbox().await;
    let ticket = ts.running.sandbox.slack.socket.issue_ticket();
    let resp = ts
        .http
        .get(ts.url(&format!("/slack/socket?ticket={ticket}")))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body, json!({"ok": false, "error": "invalid_request"}));
    // The ticket was not spent by the bad request.
    connect_async(socket_url(&ts, &ticket))
        .await
        .expect("ticket still valid");
}

/// Reads one HTTP response head from a raw socket.
async fn read_head(tcp: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = tcp.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed before the response head");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(i + 4);
            return (String::from_utf8_lossy(&buf).into_owned(), rest);
        }
    }
}

/// Server frames are unmasked: (opcode, payload) of each complete frame in `bytes`.
fn parse_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let (len, head) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            126 | 127 => break,
            n => (usize::from(n), 2),
        };
        if bytes.len() < head + len {
            break;
        }
        out.push((opcode, bytes[head..head + len].to_vec()));
        bytes = &bytes[head + len..];
    }
    out
}

/// The handshake slack_sdk's built-in client sends: `Host` without the port, extra query.
async fn raw_handshake(ts: &TestSandbox) -> (TcpStream, String, Vec<u8>) {
    let ticket = ts.running.sandbox.slack.socket.issue_ticket();
    let mut tcp = TcpStream::connect(ts.running.addr).await.expect("tcp");
    let req = format!(
        "GET /slack/socket?ticket={ticket}&app_id=A1&debug_reconnects=false HTTP/1.1\r\n\
         Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.expect("write");
    let (head, rest) = read_head(&mut tcp).await;
    (tcp, head, rest)
}

#[tokio::test]
async fn raw_handshake_without_port_in_host_gets_the_right_accept_key() {
    let ts = sandbox().await;
    let (_tcp, head, _) = raw_handshake(&ts).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    assert!(lower.contains("upgrade: websocket"), "{head}");
    assert!(lower.contains("connection: upgrade"), "{head}");
}

#[tokio::test]
async fn a_silent_socket_is_pinged_then_closed() {
    let ts = sandbox().await;
    ts.running.sandbox.slack.socket.set_keepalive(Keepalive {
        ping_every: Duration::from_millis(100),
        idle_after: Duration::from_millis(350),
    });
    // A raw client that never answers: no pongs, no frames.
    let (mut tcp, _, mut bytes) = raw_handshake(&ts).await;
    let mut chunk = [0u8; 4096];
    let read_all = async {
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(2500), read_all).await;
    let frames = parse_frames(&bytes);
    let opcodes: Vec<u8> = frames.iter().map(|(op, _)| *op).collect();
    assert_eq!(opcodes.first(), Some(&0x1), "hello first: {opcodes:?}");
    assert!(
        frames
            .iter()
            .any(|(op, p)| *op == 0x9 && p.as_slice() == b"applink-ping"),
        "server pings: {opcodes:?}"
    );
    let close = frames.iter().find(|(op, _)| *op == 0x8);
    assert_eq!(
        close.map(|(_, p)| p.get(..2).map(|c| c.to_vec())),
        Some(Some(vec![0x03, 0xe8])),
        "a normal close after silence: {opcodes:?}"
    );
}

#[tokio::test]
async fn an_answering_socket_stays_open_past_the_idle_time() {
    let ts = sandbox().await;
    ts.running.sandbox.slack.socket.set_keepalive(Keepalive {
        ping_every: Duration::from_millis(100),
        idle_after: Duration::from_millis(350),
    });
    // tungstenite answers the server's pings, which keeps the socket alive.
    let (mut c, _) = connect_hello(&ts).await;
    c.expect_silence(Duration::from_millis(800)).await;
    assert_eq!(ts.running.sandbox.slack.socket.connections(), 1);
}

#[tokio::test]
async fn push_delivers_an_envelope_and_returns_the_ack() {
    let ts = sandbox().await;
    let (mut c, _) = connect_hello(&ts).await;
    let payload = json!({"command": "/vigil", "text": "scan host-1", "user_id": "U1"});
    let task = push(&ts, EnvelopeKind::SlashCommands, payload.clone());
    let env = c.next_json(WAIT).await;
    let id = env["envelope_id"].clone();
    assert_eq!(id.as_str().map(str::len), Some(36), "uuid: {env}");
    assert_eq!(
        env,
        json!({
            "envelope_id": id,
            "type": "slash_commands",
            "payload": payload,
            "accepts_response_payload": true,
        })
    );
    let reply = json!({"response_type": "ephemeral", "text": "working on it"});
    c.send_json(json!({"envelope_id": id, "payload": reply}))
        .await;
    let out = task.await.expect("join").expect("a socket");
    assert!(out.acked);
    assert_eq!(out.envelope_id, id.as_str().unwrap_or(""));
    assert!(out.ack_ms.is_some_and(|ms| ms < 1000), "{out:?}");
    assert_eq!(out.response, Some(reply));
    let status = ts.running.sandbox.slack.socket.status();
    assert_eq!(status["acks"][0]["envelope_id"], id, "{status}");
}

#[tokio::test]
async fn events_api_envelopes_carry_retry_fields_and_bare_acks() {
    let ts = sandbox().await;
    let (mut c, _) = connect_hello(&ts).await;
    let task = push(&ts, EnvelopeKind::EventsApi, event_payload("Ev1"));
    let env = c.next_json(WAIT).await;
    assert_eq!(env["type"], "events_api");
    assert_eq!(env["accepts_response_payload"], false);
    assert_eq!(env["retry_attempt"], 0);
    assert_eq!(env["retry_reason"], "");
    assert_eq!(env["payload"]["event_id"], "Ev1");
    c.ack(&env["envelope_id"]).await;
    let out = task.await.expect("join").expect("a socket");
    assert!(out.acked);
    assert_eq!(out.response, None);
    assert_eq!(ts.running.sandbox.slack.socket.pending_redeliveries(), 0);
}

#[tokio::test]
async fn interactive_envelopes_accept_payloads_only_for_submissions() {
    let ts = sandbox().await;
    settings(&ts, 300, &[]).await;
    let (mut c, _) = connect_hello(&ts).await;
    for (ty, accepts) in [("block_actions", false), ("view_submission", true)] {
        let task = push(&ts, EnvelopeKind::Interactive, json!({"type": ty}));
        let env = c.next_json(WAIT).await;
        assert_eq!(env["type"], "interactive");
        assert_eq!(env["accepts_response_payload"], accepts, "{ty}");
        assert!(env.get("retry_attempt").is_none());
        c.ack(&env["envelope_id"]).await;
        assert!(task.await.expect("join").expect("socket").acked);
    }
}

#[tokio::test]
async fn unacked_push_times_out_with_nulls() {
    let ts = sandbox().await;
    settings(&ts, 150, &[]).await;
    let (mut c, _) = connect_hello(&ts).await;
    let task = push(&ts, EnvelopeKind::SlashCommands, json!({"command": "/x"}));
    let env = c.next_json(WAIT).await;
    let out = task.await.expect("join").expect("socket");
    assert!(!out.acked);
    assert_eq!(out.ack_ms, None);
    assert_eq!(out.response, None);
    // A late ack is ignored and the connection keeps working.
    c.ack(&env["envelope_id"]).await;
    c.send_json(json!({"envelope_id": "never-sent"})).await;
    c.sink
        .send(Message::text("this is not json"))
        .await
        .expect("send");
    let task = push(&ts, EnvelopeKind::SlashCommands, json!({"command": "/y"}));
    let env = c.next_json(WAIT).await;
    c.ack(&env["envelope_id"]).await;
    assert!(task.await.expect("join").expect("socket").acked);
}

#[tokio::test]
async fn unacked_events_are_redelivered_with_the_same_event_id() {
    let ts = sandbox().await;
    settings(&ts, 200, &[100, 100, 100]).await;
    let (mut c, _) = connect_hello(&ts).await;
    let task = push(&ts, EnvelopeKind::EventsApi, event_payload("Ev42"));
    let first = c.next_json(WAIT).await;
    let out = task.await.expect("join").expect("socket");
    assert!(!out.acked);
    let retry = c.next_json(WAIT).await;
    assert_eq!(retry["type"], "events_api");
    assert_eq!(retry["retry_attempt"], 1);
    assert_eq!(retry["retry_reason"], "timeout");
    assert_eq!(retry["payload"], first["payload"]);
    assert_eq!(retry["payload"]["event_id"], "Ev42");
    assert_ne!(retry["envelope_id"], first["envelope_id"]);
    c.ack(&retry["envelope_id"]).await;
    c.expect_silence(Duration::from_millis(600)).await;
    let status = ts.running.sandbox.slack.socket.status();
    assert_eq!(status["acks"][0]["envelope_id"], retry["envelope_id"]);
    assert_eq!(status["acks"][0]["retry_attempt"], 1);
    assert!(status["acks"][0]["ack_ms"].as_u64().is_some(), "{status}");
    assert_eq!(status["pending_redeliveries"], 0);
}

#[tokio::test]
async fn redelivery_stops_after_three_retries() {
    let ts = sandbox().await;
    settings(&ts, 100, &[50, 50, 50]).await;
    let (mut c, _) = connect_hello(&ts).await;
    let task = push(&ts, EnvelopeKind::EventsApi, event_payload("Ev7"));
    let first = c.next_json(WAIT).await;
    assert!(!task.await.expect("join").expect("socket").acked);
    let mut ids = vec![first["envelope_id"].clone()];
    for n in 1..=3 {
        let retry = c.next_json(WAIT).await;
        assert_eq!(retry["retry_attempt"], n);
        assert_eq!(retry["payload"]["event_id"], "Ev7");
        assert!(!ids.contains(&retry["envelope_id"]));
        ids.push(retry["envelope_id"].clone());
    }
    c.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(ts.running.sandbox.slack.socket.pending_redeliveries(), 0);
}

#[tokio::test]
async fn reset_cancels_pending_redeliveries() {
    let ts = sandbox().await;
    settings(&ts, 100, &[400, 400, 400]).await;
    let (mut c, _) = connect_hello(&ts).await;
    let task = push(&ts, EnvelopeKind::EventsApi, event_payload("Ev9"));
    c.next_json(WAIT).await;
    assert!(!task.await.expect("join").expect("socket").acked);
    assert_eq!(ts.running.sandbox.slack.socket.pending_redeliveries(), 1);
    let _ = ts.control("/reset", json!({})).await;
    c.expect_silence(Duration::from_millis(900)).await;
    assert_eq!(ts.running.sandbox.slack.socket.pending_redeliveries(), 0);
    // The socket survives the reset.
    assert_eq!(ts.running.sandbox.slack.socket.connections(), 1);
}

#[tokio::test]
async fn envelopes_go_round_robin() {
    let ts = sandbox().await;
    settings(&ts, 100, &[]).await;
    let (mut a, _) = connect_hello(&ts).await;
    let (mut b, _) = connect_hello(&ts).await;
    let mut order = Vec::new();
    for i in 0..4 {
        let task = push(
            &ts,
            EnvelopeKind::Interactive,
            json!({"type": "block_actions", "n": i}),
        );
        assert!(task.await.expect("join").is_some());
        let got_a = tokio::time::timeout(Duration::from_millis(300), a.next_json(WAIT)).await;
        let got_b = tokio::time::timeout(Duration::from_millis(300), b.next_json(WAIT)).await;
        match (got_a, got_b) {
            (Ok(env), Err(_)) => order.push(('a', env["payload"]["n"].clone())),
            (Err(_), Ok(env)) => order.push(('b', env["payload"]["n"].clone())),
            other => panic!("one socket per envelope, got {other:?}"),
        }
    }
    let sockets: Vec<char> = order.iter().map(|(s, _)| *s).collect();
    assert!(
        sockets == ['a', 'b', 'a', 'b'] || sockets == ['b', 'a', 'b', 'a'],
        "{order:?}"
    );
}

#[tokio::test]
async fn acks_must_come_on_the_socket_that_got_the_envelope() {
    let ts = sandbox().await;
    settings(&ts, 300, &[]).await;
    let (mut a, _) = connect_hello(&ts).await;
    let (mut b, _) = connect_hello(&ts).await;
    let task = push(&ts, EnvelopeKind::SlashCommands, json!({"command": "/x"}));
    let (env, on_a) = tokio::select! {
        env = a.next_json(WAIT) => (env, true),
        env = b.next_json(WAIT) => (env, false),
    };
    let other = if on_a { &mut b } else { &mut a };
    other.ack(&env["envelope_id"]).await;
    assert!(!task.await.expect("join").expect("socket").acked);
}

#[tokio::test]
async fn no_socket_means_no_socket() {
    let ts = sandbox().await;
    let sb = sb(&ts);
    let out = sb
        .slack
        .socket
        .push(&sb, EnvelopeKind::SlashCommands, json!({}))
        .await;
    assert!(out.is_err());
    let raw = sb
        .slack
        .socket
        .push_raw(&sb, json!({"envelope_id": "x"}))
        .await;
    assert!(raw.is_err());
    // After the only socket goes away, pushes fail again.
    let (mut c, _) = connect_hello(&ts).await;
    c.sink.close().await.expect("close");
    let deadline = tokio::time::Instant::now() + WAIT;
    while sb.slack.socket.connections() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sb.slack.socket.connections(), 0);
    let out = sb
        .slack
        .socket
        .push(&sb, EnvelopeKind::EventsApi, event_payload("Ev1"))
        .await;
    assert!(out.is_err());
}

#[tokio::test]
async fn push_raw_sends_frames_as_given() {
    let ts = sandbox().await;
    settings(&ts, 300, &[]).await;
    let sb = sb(&ts);
    let (mut c, _) = connect_hello(&ts).await;
    // No envelope_id: sent, answered at once, unacked.
    let out = sb
        .slack
        .socket
        .push_raw(&sb, json!({"type": "events_api", "payload": {}}))
        .await
        .expect("socket");
    assert!(!out.acked);
    let env = c.next_json(WAIT).await;
    assert_eq!(env, json!({"type": "events_api", "payload": {}}));
    // A string goes out as bare text.
    sb.slack
        .socket
        .push_raw(&sb, json!("{not json"))
        .await
        .expect("socket");
    match c.next(WAIT).await {
        Some(Seen::Msg(Message::Text(t))) => assert_eq!(t.as_str(), "{not json"),
        other => panic!("{other:?}"),
    }
    // With an envelope_id: waits for the ack.
    let sb2 = sb.clone();
    let task = tokio::spawn(async move {
        let frame =
            json!({"envelope_id": "raw-1", "type": "interactive", "payload": {"type": "bogus"}});
        sb2.slack.socket.push_raw(&sb2, frame).await.ok()
    });
    let env = c.next_json(WAIT).await;
    assert_eq!(env["envelope_id"], "raw-1");
    assert!(env.get("accepts_response_payload").is_none());
    c.ack(&env["envelope_id"]).await;
    let out = task.await.expect("join").expect("socket");
    assert!(out.acked);
    assert_eq!(out.envelope_id, "raw-1");
}

#[tokio::test]
async fn disconnect_sends_the_frame_then_closes_normally() {
    let ts = sandbox().await;
    let (mut c, hello) = connect_hello(&ts).await;
    ts.running
        .sandbox
        .slack
        .socket
        .disconnect_all("refresh_requested");
    let frame = c.next_json(WAIT).await;
    assert_eq!(
        frame,
        json!({
            "type": "disconnect",
            "reason": "refresh_requested",
            "debug_info": {"host": hello["debug_info"]["host"]},
        })
    );
    assert_eq!(ts.running.sandbox.slack.socket.connections(), 0);
    match c.next(WAIT).await {
        Some(Seen::Msg(Message::Close(Some(f)))) => assert_eq!(f.code, CloseCode::Normal),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(matches!(c.next(WAIT).await, Some(Seen::End)));
    // A closing socket gets no envelopes.
    let sb = sb(&ts);
    let out = sb
        .slack
        .socket
        .push(&sb, EnvelopeKind::SlashCommands, json!({}))
        .await;
    assert!(out.is_err());
}

#[tokio::test]
async fn drop_closes_without_a_close_frame() {
    let ts = sandbox().await;
    let (mut c, _) = connect_hello(&ts).await;
    ts.running.sandbox.slack.socket.disconnect_all("drop");
    match c.next(WAIT).await {
        Some(Seen::Error(e)) => assert!(e.contains("without closing handshake"), "{e}"),
        other => panic!("expected an abrupt end, got {other:?}"),
    }
}

#[tokio::test]
async fn the_eleventh_socket_gets_too_many_websockets() {
    let ts = sandbox().await;
    let mut open = Vec::new();
    for n in 1..=10 {
        let (c, hello) = connect_hello(&ts).await;
        assert_eq!(hello["num_connections"], n);
        open.push(c);
    }
    let mut extra = connect(&ts).await;
    let frame = extra.next_json(WAIT).await;
    assert_eq!(frame["type"], "disconnect");
    assert_eq!(frame["reason"], "too_many_websockets");
    assert!(frame["debug_info"]["host"].is_string());
    assert!(matches!(
        extra.next(WAIT).await,
        Some(Seen::Msg(Message::Close(_)))
    ));
    assert_eq!(ts.running.sandbox.slack.socket.connections(), 10);
    // Freeing the slots lets a new socket in (a `warning` would not: a warned socket stays open
    // until its `refresh_requested`).
    ts.running
        .sandbox
        .slack
        .socket
        .disconnect_all("refresh_requested");
    let (_c, hello) = connect_hello(&ts).await;
    assert_eq!(hello["num_connections"], 1);
}

#[tokio::test]
async fn pings_get_pongs_with_the_same_payload() {
    let ts = sandbox().await;
    let ticket = ts.running.sandbox.slack.socket.issue_ticket();
    let (mut ws, _) = connect_async(socket_url(&ts, &ticket))
        .await
        .expect("connects");
    ws.send(Message::Ping(b"ping-1234".to_vec().into()))
        .await
        .expect("ping");
    let pong = tokio::time::timeout(WAIT, async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Pong(p) = msg {
                return Some(p);
            }
        }
        None
    })
    .await
    .expect("pong in time");
    assert_eq!(pong.as_deref(), Some(&b"ping-1234"[..]));
}

#[tokio::test]
async fn a_fault_on_the_socket_path_answers_slacks_error_shape() {
    let ts = sandbox().await;
    let v = ts
        .control(
            "/faults",
            json!({"service": "slack", "path": "/socket", "status": 503}),
        )
        .await;
    assert!(v["id"].is_string(), "{v}");
    let ticket = ts.running.sandbox.slack.socket.issue_ticket();
    let (status, body) = refused(socket_url(&ts, &ticket)).await;
    assert_eq!(status, 503);
    assert_eq!(body, json!({"ok": false, "error": "internal_error"}));
    // The fault was used up; the next handshake works.
    let ticket = ts.running.sandbox.slack.socket.issue_ticket();
    connect_async(socket_url(&ts, &ticket))
        .await
        .expect("connects after the fault");
}

#[tokio::test]
async fn apps_connections_open_gives_a_working_socket_url() {
    let ts = sandbox().await;
    let open: Value = ts
        .http
        .post(ts.url("/slack/api/apps.connections.open"))
        .bearer_auth(ts.creds["slack"]["app_token"].as_str().unwrap_or(""))
        .header("content-type", "application/json")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(open["ok"], true, "{open}");
    let url = open["url"].as_str().unwrap_or("").to_string();
    let (ws, _) = connect_async(url.clone()).await.expect("connects");
    let mut c = spawn_reader(ws);
    assert_eq!(c.next_json(WAIT).await["type"], "hello");
    // The ticket in that URL was single use.
    assert_eq!(refused(url).await.0, 401);
    // The control API's disconnect reaches the socket.
    let v = ts
        .control("/slack/disconnect", json!({"reason": "link_disabled"}))
        .await;
    assert_eq!(v["ok"], true, "{v}");
    let frame = c.next_json(WAIT).await;
    assert_eq!(frame["type"], "disconnect");
    assert_eq!(frame["reason"], "link_disabled");
}

/// The id of every open socket, from `GET /_sandbox/slack/sockets`.
async fn socket_ids(ts: &TestSandbox) -> Vec<u64> {
    let v = crate::common::get_json(&ts.http, &ts.url("/_sandbox/slack/sockets")).await;
    v["connections"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|c| c["closing"] == json!(false))
                .filter_map(|c| c["id"].as_u64())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn after_warning_a_socket_keeps_receiving_until_refresh_requested() {
    let ts = sandbox().await;
    settings(&ts, 1000, &[]).await;
    ts.control("/settings", json!({"slack_refresh_after_warning_ms": 400}))
        .await;
    let (mut c, _) = connect_hello(&ts).await;
    let v = ts
        .control("/slack/disconnect", json!({"reason": "warning"}))
        .await;
    assert_eq!(v["told"], 1, "{v}");
    assert_eq!(c.next_json(WAIT).await["reason"], "warning");
    // Still open and still delivering: the envelope arrives and its ack counts.
    assert_eq!(ts.running.sandbox.slack.socket.connections(), 1);
    let task = push(&ts, EnvelopeKind::SlashCommands, json!({"command": "/x"}));
    let env = c.next_json(WAIT).await;
    assert_eq!(env["type"], "slash_commands", "{env}");
    c.ack(&env["envelope_id"]).await;
    assert!(task.await.expect("join").expect("a socket").acked);
    // Then Slack's refresh_requested, after which no envelope goes to it.
    let frame = c.next_json(WAIT).await;
    assert_eq!(frame["reason"], "refresh_requested", "{frame}");
    assert_eq!(ts.running.sandbox.slack.socket.connections(), 0);
    assert!(
        sb(&ts)
            .slack
            .socket
            .push(&sb(&ts), EnvelopeKind::SlashCommands, json!({}))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn disconnect_can_target_one_socket() {
    let ts = sandbox().await;
    let (mut a, _) = connect_hello(&ts).await;
    let (mut b, _) = connect_hello(&ts).await;
    let ids = socket_ids(&ts).await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    let v = ts
        .control(
            "/slack/disconnect",
            json!({"reason": "refresh_requested", "socket": ids[1]}),
        )
        .await;
    assert_eq!(v["told"], 1, "{v}");
    assert_eq!(b.next_json(WAIT).await["reason"], "refresh_requested");
    assert_eq!(socket_ids(&ts).await, vec![ids[0]]);
    // The other socket got nothing and still takes envelopes.
    let task = push(&ts, EnvelopeKind::SlashCommands, json!({"command": "/x"}));
    let env = a.next_json(WAIT).await;
    assert_eq!(env["type"], "slash_commands", "{env}");
    a.ack(&env["envelope_id"]).await;
    assert!(task.await.expect("join").expect("a socket").acked);
}

#[tokio::test]
async fn a_hung_socket_answers_no_pings() {
    let ts = sandbox().await;
    let ticket = ts.running.sandbox.slack.socket.issue_ticket();
    let (mut ws, _) = connect_async(socket_url(&ts, &ticket))
        .await
        .expect("connects");
    let hello = tokio::time::timeout(WAIT, ws.next()).await;
    assert!(matches!(hello, Ok(Some(Ok(Message::Text(_))))));
    ts.control("/slack/disconnect", json!({"reason": "hang"}))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    ws.send(Message::Ping(b"anyone".to_vec().into()))
        .await
        .expect("ping");
    let answer = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
    assert!(answer.is_err(), "a hung socket says nothing: {answer:?}");
    assert_eq!(ts.running.sandbox.slack.socket.connections(), 0);
}
