//! Inbound work for a case: Slack events (already acked and persisted by the socket adapter)
//! and alerts that joined the case, queued as typed [`InboundItem`]s (`item.rs`); the case's
//! runner applies each, checking who may do what.
//!
//! An owner's DM text names no case: it finds one through the engine's in-memory DM index
//! (`pipeline/dm_index.rs`: IM channel → cases), never by decoding cases. Text that finds no case (anyone may write to the
//! bot) is a stray: finished and logged, and its writer told once a day that there is nothing
//! to do, so it is never re-scanned.

mod item;

use chrono::{DateTime, Utc};

pub use item::{CaseCommand, DecideFrom, Inbound, InboundItem};

use super::authorize::{Ask, Refusal, authorize, clicked_on};
use super::engine::Engine;
use crate::case::{Case, OwnerReply};
use crate::store::StoreError;

/// What a person who wrote to the bot with no open case is told, once a day.
pub const STRAY_REPLY: &str = "Hi, I'm Vigil, the security-alert bot. I have no open case for you, so there is nothing to do here. If you need the security team, contact them directly.";

/// Finishes an item that has no case (see [`target`]): logs and counts it, and tells its
/// writer [`STRAY_REPLY`] unless they were told already today (remembered in the store
/// before the reply, so a crash never doubles it; pruned with the other dedupe keys).
pub async fn stray(engine: &Engine, seq: u64, item: &InboundItem) -> Result<(), StoreError> {
    let mut replied = false;
    if let Inbound::OwnerText { user, channel, .. } = &item.event {
        let day = Utc::now().format("%Y-%m-%d");
        if engine
            .store
            .remember(&format!("stray-reply:{user}:{day}"))?
        {
            replied = true;
            if let Err(e) = engine.slack.ephemeral(channel, user, STRAY_REPLY).await {
                tracing::warn!(%user, error = %e, "could not tell a person with no case that there is nothing to do");
            }
        }
    }
    crate::telemetry::events::StrayInbound {
        seq,
        event: &item.event,
        replied,
    }
    .emit();
    engine.store.finish(seq)
}

/// Applies an item to its case.
pub async fn apply(engine: &Engine, case: &mut Case, item: InboundItem) {
    let now = Utc::now();
    match item.event {
        Inbound::Grouped { alert_id, name, at } => grouped(case, alert_id, name, at),
        Inbound::Button {
            action_id,
            user,
            channel,
            message_ts,
        } => button(engine, case, &action_id, &user, &channel, &message_ts, now).await,
        Inbound::Command {
            command,
            user,
            channel,
        } => {
            if let Err(refusal) = authorize(engine, &user, Ask::Analyst) {
                refuse(engine, case, &user, &channel, refusal).await;
                return;
            }
            if let CaseCommand::Decide {
                token,
                approve,
                from,
            } = &command
            {
                decide(engine, case, &user, &channel, token, *approve, from, now).await;
                return;
            }
            analyst_command(case, command, &user, now);
        }
        Inbound::OwnerText { user, text, .. } => {
            let is_owner =
                case.owner().and_then(|o| o.slack_user.as_deref()) == Some(user.as_str());
            if is_owner && !text.trim().is_empty() {
                case.owner_wrote(&user, &text, now);
            }
        }
    }
}

fn grouped(case: &mut Case, alert_id: String, name: String, at: DateTime<Utc>) {
    case.alert_grouped(alert_id, name, at);
}

fn analyst_command(case: &mut Case, command: CaseCommand, user: &str, now: DateTime<Utc>) {
    match command {
        CaseCommand::Ack => case.acknowledge(user, now),
        CaseCommand::Assign { to } => case.assign(&to, user, now),
        CaseCommand::Escalate => {
            let why = format!("escalated by <@{user}>");
            case.escalate(now, &why)
        }
        CaseCommand::Resolve { reason } => case.resolve(user, &reason, now),
        CaseCommand::Snooze { secs } => {
            case.snooze(user, std::time::Duration::from_secs(secs), now)
        }
        CaseCommand::Contain => {
            case.containment_requested(user, now);
        }
        // Needs the engine (where it was clicked, `forbid_self`): see `decide`.
        CaseCommand::Decide { .. } => {
            tracing::warn!(case = %case.id, user, "an approval reached the plain command path; ignored");
        }
    }
}

/// An approval click, checked again now that it applies (the approval may have been decided
/// or expired since the ack): the decision through the case, or the refusal to the clicker,
/// changing nothing.
#[allow(clippy::too_many_arguments)]
async fn decide(
    engine: &Engine,
    case: &mut Case,
    user: &str,
    channel: &str,
    token: &str,
    approve: bool,
    from: &DecideFrom,
    now: DateTime<Utc>,
) {
    let forbid_self = engine.remediation.approvals.forbid_self;
    let decided = clicked_on(engine, user, from).and_then(|clicked| {
        case.approval_decided(token, &clicked, user, approve, forbid_self, now)
            .map_err(Refusal::Approval)
    });
    match decided {
        Ok(d) => {
            tracing::info!(case = %case.id, call = d.call, approved = d.approved, user, "approval decided")
        }
        Err(refusal) => refuse(engine, case, user, channel, refusal).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn button(
    engine: &Engine,
    case: &mut Case,
    action_id: &str,
    user: &str,
    channel: &str,
    message_ts: &str,
    now: DateTime<Utc>,
) {
    // "Open ticket" is a link button anyone may press; Slack sends a block_actions for it
    // too. It asks nothing of Vigil, so it is never refused (nor acted on).
    if action_id == crate::render::card::actions::TICKET {
        tracing::debug!(case = %case.id, user, "ignored a press of the ticket link button");
        return;
    }
    if let Some(reply) = owner_reply(action_id) {
        let ask = Ask::OwnerAnswer {
            case,
            channel,
            message_ts,
        };
        if let Err(refusal) = authorize(engine, user, ask) {
            case.note(
                now,
                Some(user),
                format!("Refused `{action_id}`: not the owner's own DM"),
            );
            refuse(engine, case, user, channel, refusal).await;
            return;
        }
        if case.owner_answer.is_some() || !case.state().is_open() {
            return;
        }
        case.owner_answered(reply, user, now);
        return;
    }
    let ask = Ask::OnCard {
        case,
        channel,
        message_ts,
    };
    if let Err(refusal) = authorize(engine, user, ask) {
        // Counted and on the timeline, but not answered: the press did not come from the
        // card, so there is no message of ours to answer it beside.
        crate::telemetry::events::Refused {
            what: refusal.kind(),
            user,
            case: Some(&case.id),
        }
        .emit();
        case.note(
            now,
            Some(user),
            format!("Refused `{action_id}`: the button does not belong to this case's card"),
        );
        return;
    }
    if let Err(refusal) = authorize(engine, user, Ask::Analyst) {
        refuse(engine, case, user, channel, refusal).await;
        return;
    }
    use crate::render::card::actions;
    let command = match action_id {
        actions::ACK => CaseCommand::Ack,
        actions::ASSIGN => CaseCommand::Assign {
            to: user.to_string(),
        },
        actions::ESCALATE => CaseCommand::Escalate,
        actions::SNOOZE => CaseCommand::Snooze { secs: 2 * 3600 },
        actions::CONTAIN => CaseCommand::Contain,
        // `case_resolve` opens a modal on the fast lane (see `bot`).
        _ => {
            tracing::info!(case = %case.id, user, action_id, "ignored an unknown card action");
            return;
        }
    };
    analyst_command(case, command, user, now);
}

fn owner_reply(action_id: &str) -> Option<OwnerReply> {
    match action_id {
        crate::render::dm::actions::ME => Some(OwnerReply::Me),
        crate::render::dm::actions::NOT_ME => Some(OwnerReply::NotMe),
        crate::render::dm::actions::NOT_MINE => Some(OwnerReply::NotMine),
        _ => None,
    }
}

/// Tells `user` why they were refused (the item is already applied: the ack went out long
/// ago, so the answer is an ephemeral message), logging and counting it.
async fn refuse(engine: &Engine, case: &Case, user: &str, channel: &str, refusal: Refusal) {
    crate::telemetry::events::Refused {
        what: refusal.kind(),
        user,
        case: Some(&case.id),
    }
    .emit();
    let text = refusal.text(Some(&case.id));
    tell(engine, channel, user, &text).await;
}

/// Shows `text` to `user` alone: in `channel`, or in their DM with the bot when there is no
/// channel (a click from App Home, a modal). Failures are logged: the refusal already stands.
pub async fn tell(engine: &Engine, channel: &str, user: &str, text: &str) {
    let channel = if channel.is_empty() {
        match engine.slack.open_dm(user).await {
            Ok(dm) => dm,
            Err(e) => {
                tracing::warn!(error = %e, user, "could not open a DM to tell the user why they were refused");
                return;
            }
        }
    } else {
        channel.to_string()
    };
    if let Err(e) = engine.slack.ephemeral(&channel, user, text).await {
        tracing::warn!(error = %e, "could not tell the user their action was refused");
    }
}
