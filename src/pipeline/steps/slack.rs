//! Slack's steps: the card, the storm digest, the owner's DM and the replies in their threads,
//! and after a crash finding a message an interrupted step posted (by the case and step tags
//! in its metadata). Also the owner's Slack lookup by email, which rides on the GitHub issue
//! and the card.

use chrono::{DateTime, Utc};
use slack_morphism::prelude::*;

use crate::case::note::{DmNote, Said, ThreadNote};
use crate::case::step::DmKind;
use crate::case::{Case, SlackRef, StepRecord};
use crate::pipeline::engine::{Engine, StepError};
use crate::render;
use crate::slack::api::Tag;
use crate::vendors::VendorError;

fn content(text: String, blocks: Vec<SlackBlock>) -> SlackMessageContent {
    SlackMessageContent::new()
        .with_text(text)
        .with_blocks(blocks)
}

fn tag(case: &Case, kind: impl Into<String>) -> Tag {
    Tag {
        case_id: case.id.to_string(),
        kind: kind.into(),
    }
}

fn step_tag(case: &Case, seq: u64) -> Tag {
    tag(case, format!("step-{seq}"))
}

/// Posts the card. The owner's Slack user is normally known by now (looked up beside the
/// issue); when the issue step was recovered after a crash rather than performed, it is
/// looked up here first, so the card and the routing after it still name the owner.
pub(super) async fn post_card(
    engine: &Engine,
    case: &mut Case,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    if let Some(email) = slack_lookup_due(case) {
        let found = lookup_owner_slack(engine, Some(email)).await;
        record_slack_lookup(case, found, now);
    }
    let (text, blocks) = render::card::card(case);
    let posted = engine
        .slack
        .post(
            &engine.alerts_channel,
            content(text, blocks),
            None,
            &tag(case, "card"),
        )
        .await?;
    case.card_posted(
        SlackRef {
            channel: posted.channel,
            ts: posted.ts,
        },
        now,
    );
    Ok(())
}

/// The card an interrupted [`post_card`] posted: the alerts channel's top-level message since
/// the intent tagged as this case's card.
pub(super) async fn find_card(
    engine: &Engine,
    case: &mut Case,
    since: DateTime<Utc>,
) -> Result<bool, VendorError> {
    let found = engine
        .slack
        .find_top_level(&engine.alerts_channel, since, &tag(case, "card"))
        .await?;
    let Some(ts) = found else {
        return Ok(false);
    };
    case.card_found(SlackRef {
        channel: engine.alerts_channel.clone(),
        ts,
    });
    // Both the issue step and this one may have been recovered rather than performed, so the
    // owner's Slack lookup that rides on them may never have run: do it now, before routing
    // decides whether the owner can be asked.
    if let Some(email) = slack_lookup_due(case) {
        let found = lookup_owner_slack(engine, Some(email)).await;
        record_slack_lookup(case, found, Utc::now());
    }
    Ok(true)
}

/// Storms: lists the case in the burst's digest message instead of a card of its own.
pub(super) fn join_digest(
    engine: &Engine,
    case: &mut Case,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let id = engine.digests.join(case, &engine.alerts_channel)?;
    case.note(
        now,
        None,
        format!(
            "Listed in storm digest {id}: the alerts channel is at its limit, so this \
             case has no card of its own; updates go in the digest's thread"
        ),
    );
    Ok(())
}

/// Re-renders the card from the case.
pub(super) async fn update_card(engine: &Engine, case: &Case) -> Result<(), StepError> {
    if let Some(card) = case.card.clone() {
        let (text, blocks) = render::card::card(case);
        engine
            .slack
            .update(&card.channel, &card.ts, content(text, blocks))
            .await?;
    }
    Ok(())
}

/// DMs the owner: the question with buttons, or what is happening.
pub(super) async fn owner_dm(
    engine: &Engine,
    case: &mut Case,
    kind: DmKind,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let Some(user) = case.owner().and_then(|o| o.slack_user.clone()) else {
        return Ok(());
    };
    let channel = engine.slack.open_dm(&user).await?;
    let (text, blocks) = match kind {
        DmKind::Ask => render::dm::ask(case),
        DmKind::Inform => render::dm::inform(case),
    };
    let posted = engine
        .slack
        .post(&channel, content(text, blocks), None, &tag(case, "dm"))
        .await?;
    case.dm_sent(
        SlackRef {
            channel: posted.channel,
            ts: posted.ts,
        },
        kind,
        now,
    );
    Ok(())
}

/// The DM an interrupted [`owner_dm`] sent: the DM's top-level message since the intent tagged
/// as this case's DM.
pub(super) async fn find_dm(
    engine: &Engine,
    case: &mut Case,
    since: DateTime<Utc>,
) -> Result<bool, VendorError> {
    let Some(user) = case.owner().and_then(|o| o.slack_user.clone()) else {
        return Ok(false);
    };
    let channel = engine.slack.open_dm(&user).await?;
    let found = engine
        .slack
        .find_top_level(&channel, since, &tag(case, "dm"))
        .await?;
    let Some(ts) = found else {
        return Ok(false);
    };
    case.dm_found(SlackRef { channel, ts });
    Ok(true)
}

/// Replies in the card's thread (a folded case's digest thread), tagged with the step.
pub(super) async fn card_thread(
    engine: &Engine,
    case: &Case,
    rec: &StepRecord,
    note: &Said<ThreadNote>,
) -> Result<(), StepError> {
    if let Some(card) = thread_parent(engine, case).await? {
        let msg = render::thread::message(&render::thread::note(case, note));
        engine
            .slack
            .post(&card.channel, msg, Some(&card.ts), &step_tag(case, rec.seq))
            .await?;
    }
    Ok(())
}

/// Replies in the owner's DM thread, tagged with the step.
pub(super) async fn dm_thread(
    engine: &Engine,
    case: &Case,
    rec: &StepRecord,
    note: &Said<DmNote>,
) -> Result<(), StepError> {
    if let (Some(dm), Some(text)) = (case.dm.clone(), render::dm::note(case, note)) {
        let msg = render::thread::message(&text);
        engine
            .slack
            .post(&dm.channel, msg, Some(&dm.ts), &step_tag(case, rec.seq))
            .await?;
    }
    Ok(())
}

/// Whether an interrupted [`card_thread`] posted its reply.
pub(super) async fn find_card_reply(
    engine: &Engine,
    case: &Case,
    rec: &StepRecord,
) -> Result<bool, VendorError> {
    let parent = case
        .card
        .clone()
        .or_else(|| case.digest.and_then(|d| engine.digests.posted(d)));
    find_reply(engine, case, rec, parent).await
}

/// Whether an interrupted [`dm_thread`] posted its reply.
pub(super) async fn find_dm_reply(
    engine: &Engine,
    case: &Case,
    rec: &StepRecord,
) -> Result<bool, VendorError> {
    find_reply(engine, case, rec, case.dm.clone()).await
}

async fn find_reply(
    engine: &Engine,
    case: &Case,
    rec: &StepRecord,
    parent: Option<SlackRef>,
) -> Result<bool, VendorError> {
    let Some(parent) = parent else {
        return Ok(false);
    };
    Ok(engine
        .slack
        .find_reply(&parent.channel, &parent.ts, &step_tag(case, rec.seq))
        .await?
        .is_some())
}

/// Where a case's thread replies go: its card, or for a folded case its digest (waiting
/// briefly for the digest to be posted).
pub(super) async fn thread_parent(
    engine: &Engine,
    case: &Case,
) -> Result<Option<SlackRef>, VendorError> {
    if let Some(card) = &case.card {
        return Ok(Some(card.clone()));
    }
    match case.digest {
        Some(d) => engine.digests.message(d).await.map(Some),
        None => Ok(None),
    }
}

/// The owner's Slack user by email (`users.lookupByEmail`), if enrichment found an owner with
/// an email and it was not looked up yet. A pure lookup, so it runs beside the GitHub issue
/// (SPEC §2.3) and, should that step be recovered after a crash instead of performed, before
/// the card; its answer is recorded on the case either way, and a miss is a note.
pub(super) async fn lookup_owner_slack(
    engine: &Engine,
    email: Option<String>,
) -> Option<SlackLookup> {
    let email = email?;
    Some(SlackLookup {
        result: engine.slack.user_by_email(&email).await,
        email,
    })
}

/// What [`lookup_owner_slack`] found.
pub(super) struct SlackLookup {
    email: String,
    result: Result<Option<String>, VendorError>,
}

/// The owner's email when their Slack user still has to be looked up.
pub(super) fn slack_lookup_due(case: &Case) -> Option<String> {
    let e = case.enrichment.as_ref()?;
    if e.slack_looked_up {
        return None;
    }
    e.owner
        .as_ref()
        .filter(|o| o.slack_user.is_none())
        .map(|o| o.email.clone())
        .filter(|m| !m.is_empty())
}

/// Writes a Slack lookup's answer on the case (a retry of the step does not ask again).
pub(super) fn record_slack_lookup(
    case: &mut Case,
    lookup: Option<SlackLookup>,
    now: DateTime<Utc>,
) {
    let Some(lookup) = lookup else {
        return;
    };
    let note = match lookup.result {
        Ok(Some(id)) => {
            if let Some(o) = case.enrichment.as_mut().and_then(|e| e.owner.as_mut()) {
                o.slack_user = Some(id);
            }
            None
        }
        Ok(None) => Some(format!(
            "No Slack user with the owner's email {}",
            lookup.email
        )),
        Err(err) => Some(format!("{err}; the owner cannot be asked in Slack")),
    };
    if let Some(e) = case.enrichment.as_mut() {
        e.slack_looked_up = true;
        if let Some(n) = &note {
            e.notes.push(n.clone());
        }
    }
    if let Some(n) = note {
        case.note(now, None, n);
    }
}
