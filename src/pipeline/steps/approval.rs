//! Slack's side of an approval (SPEC §3.3): posting the request in the card's thread (a
//! folded case's digest thread), finding it after a crash by its metadata, and showing the
//! decision on it.
//!
//! Invariant: one approval message per call. The request records its intent first (like every
//! thread reply); a crash between the post and its record is resolved by looking up the
//! thread for the message tagged with this case and call, never by posting again. Who the call
//! acts on is resolved before the record, so `forbid_self` always has it.

use slack_morphism::prelude::*;

use super::slack::thread_parent;
use crate::case::remediation::ToolCall;
use crate::case::{Case, SlackRef};
use crate::pipeline::engine::{Engine, StepError};
use crate::render;
use crate::slack::api::Tag;
use crate::triage::tools::ToolName;
use crate::vendors::VendorError;

/// The metadata tag of call `id`'s approval message: kind `approval-<call id>`.
fn tag(case: &Case, id: u32) -> Tag {
    Tag {
        case_id: case.id.to_string(),
        kind: format!("approval-{id}"),
    }
}

fn call(case: &Case, id: u32) -> Option<&ToolCall> {
    case.triage.as_ref()?.call(id)
}

fn content(text: String, blocks: Vec<SlackBlock>) -> SlackMessageContent {
    SlackMessageContent::new()
        .with_text(text)
        .with_blocks(blocks)
}

/// The Slack user a call acts on: the device owner for CrowdStrike tools; for Okta tools the
/// owner when the `user` argument is theirs, else the Slack user with that email. `None` when
/// nobody in Slack can be named (then nobody is excluded).
async fn acts_on(
    engine: &Engine,
    case: &Case,
    call: &ToolCall,
) -> Result<Option<String>, VendorError> {
    let owner = case.owner();
    let owner_slack = owner.and_then(|o| o.slack_user.clone());
    let Some(tool) = call.tool else {
        return Ok(None);
    };
    let name = tool.as_str();
    if name.starts_with("crowdstrike_") {
        return Ok(owner_slack);
    }
    if !matches!(
        tool,
        ToolName::OktaClearSessions
            | ToolName::OktaSuspendUser
            | ToolName::OktaGetUser
            | ToolName::OktaUnsuspendUser
    ) {
        return Ok(None);
    }
    let Some(user) = call.args.get("user").and_then(|v| v.as_str()) else {
        return Ok(None);
    };
    let user = user.trim().to_lowercase();
    let is_owner = owner.is_some_and(|o| {
        let local = o.email.split('@').next().unwrap_or_default().to_lowercase();
        [o.username.to_lowercase(), o.email.to_lowercase(), local]
            .iter()
            .any(|v| !v.is_empty() && *v == user)
    });
    if is_owner && owner_slack.is_some() {
        return Ok(owner_slack);
    }
    if user.contains('@') {
        return engine.slack.user_by_email(&user).await;
    }
    let account = case.alert.account_upn.to_lowercase();
    let is_account = !account.is_empty()
        && (account == user || account.split('@').next() == Some(user.as_str()));
    if is_account && account.contains('@') {
        return engine.slack.user_by_email(&account).await;
    }
    Ok(None)
}

/// Posts call `id`'s approval request in the card's thread and records it (with who the call
/// acts on) on the approval. Nothing to do when the call is no longer waiting or has no
/// thread to go in yet (the request stays visible on the card and App Home).
pub(super) async fn request(engine: &Engine, case: &mut Case, id: u32) -> Result<(), StepError> {
    let Some(mut call) = call(case, id).cloned() else {
        return Ok(());
    };
    if call.approval.as_ref().is_none_or(|a| a.decision.is_some()) {
        return Ok(());
    }
    let who = acts_on(engine, case, &call).await?;
    if let Some(a) = call.approval.as_mut() {
        a.acts_on = who.clone();
    }
    let Some(parent) = thread_parent(engine, case).await? else {
        return Ok(());
    };
    let (text, blocks) = render::approval::request(case, &call);
    let posted = engine
        .slack
        .post(
            &parent.channel,
            content(text, blocks),
            Some(&parent.ts),
            &tag(case, id),
        )
        .await?;
    case.approval_posted(
        id,
        SlackRef {
            channel: posted.channel,
            ts: posted.ts,
        },
        who,
    );
    Ok(())
}

/// After a crash between posting and recording: the thread's reply tagged with this call.
pub(super) async fn find_request(
    engine: &Engine,
    case: &mut Case,
    id: u32,
) -> Result<bool, VendorError> {
    let parent = case
        .card
        .clone()
        .or_else(|| case.digest.and_then(|d| engine.digests.posted(d)));
    let Some(parent) = parent else {
        return Ok(false);
    };
    let Some(ts) = engine
        .slack
        .find_reply(&parent.channel, &parent.ts, &tag(case, id))
        .await?
    else {
        return Ok(false);
    };
    let Some(c) = call(case, id).cloned() else {
        return Ok(true);
    };
    let who = acts_on(engine, case, &c).await?;
    case.approval_posted(
        id,
        SlackRef {
            channel: parent.channel,
            ts,
        },
        who,
    );
    Ok(true)
}

/// Shows call `id`'s decision on its approval message, buttons gone (an update: repeating it
/// is harmless).
pub(super) async fn outcome(engine: &Engine, case: &Case, id: u32) -> Result<(), StepError> {
    let Some(call) = call(case, id) else {
        return Ok(());
    };
    let Some(message) = call.approval.as_ref().and_then(|a| a.message.clone()) else {
        return Ok(());
    };
    let (text, blocks) = render::approval::outcome(case, call);
    engine
        .slack
        .update(&message.channel, &message.ts, content(text, blocks))
        .await?;
    Ok(())
}
