//! Slack notify: a note to the alerts channel. The one tool that creates something with no
//! idempotency key, so its `ToolCall` step records its intent first; the message carries the
//! case and the call in its metadata ([`notify_tag`]) and after a crash [`find_notify`] looks
//! for it instead of posting again. The text is the case's data (the model's or runbook's
//! words), escaped when rendered: it can never ping or link.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::ToolOutcome;
use crate::case::Case;
use crate::pipeline::engine::Engine;
use crate::render;
use crate::slack::api::Tag;
use crate::vendors::VendorError;

/// The metadata tag of call `call`'s notification.
pub fn notify_tag(case: &Case, call: u32) -> Tag {
    Tag {
        case_id: case.id.to_string(),
        kind: format!("tool-{call}"),
    }
}

pub(super) async fn notify(
    engine: &Engine,
    case: &Case,
    call: u32,
    text: &str,
) -> Result<ToolOutcome, VendorError> {
    let msg = render::thread::message(&render::tools::notify(case, text));
    let posted = engine
        .slack
        .post(&engine.alerts_channel, msg, None, &notify_tag(case, call))
        .await?;
    Ok(posted_outcome(&posted.channel, &posted.ts))
}

fn posted_outcome(channel: &str, ts: &str) -> ToolOutcome {
    ToolOutcome::new(
        format!("posted to the alerts channel (message {ts})"),
        json!({"channel": channel, "ts": ts}),
    )
}

/// The notification an interrupted call posted since `since`, as the outcome it had.
pub async fn find_notify(
    engine: &Engine,
    case: &Case,
    call: u32,
    since: DateTime<Utc>,
) -> Result<Option<ToolOutcome>, VendorError> {
    let found = engine
        .slack
        .find_top_level(&engine.alerts_channel, since, &notify_tag(case, call))
        .await?;
    Ok(found.map(|ts| posted_outcome(&engine.alerts_channel, &ts)))
}
