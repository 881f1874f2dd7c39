//! Performing each step against the vendors, and finding the effect of an interrupted step.

use chrono::{DateTime, Utc};
use slack_morphism::prelude::*;

use super::engine::{Engine, StepError};
use super::flow;
use crate::case::step::{CloseReason, DmKind};
use crate::case::{Case, CaseState, Enrichment, IssueRef, Owner, SlackRef, Step, StepRecord};
use crate::render;
use crate::slack::api::Tag;
use crate::vendors::VendorError;

/// How far before the recorded intent a lookup starts (clock skew, second-granularity APIs).
const LOOKBACK: chrono::Duration = chrono::Duration::minutes(2);

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

/// Performs a step, recording its result on the case.
pub async fn perform(engine: &Engine, case: &mut Case, rec: &StepRecord) -> Result<(), StepError> {
    let now = Utc::now();
    match &rec.step {
        Step::Enrich => enrich(engine, case, now).await,
        Step::Prioritise => {
            let tags = case
                .enrichment
                .as_ref()
                .map(|e| e.host_tags.clone())
                .unwrap_or_default();
            let facts = crate::case::rules::Facts { host_tags: &tags };
            let decision = crate::case::rules::decide(&engine.triage.rules, &case.alert, &facts);
            case.note(
                now,
                None,
                format!(
                    "Priority {} by rule \"{}\" ({})",
                    decision.priority.as_str(),
                    decision.rule,
                    decision.reason
                ),
            );
            case.decision = Some(decision);
            announce_or_fold(engine, case, now);
        }
        Step::CreateIssue => create_issue(engine, case, now).await?,
        Step::PostCard => post_card(engine, case, now).await?,
        Step::JoinDigest => {
            let id = engine.digests.join(case, &engine.alerts_channel)?;
            case.note(
                now,
                None,
                format!(
                    "Listed in storm digest {id}: the alerts channel is at its limit, so this \
                     case has no card of its own; updates go in the digest's thread"
                ),
            );
        }
        Step::Route => flow::route(case, now, &engine.triage),
        Step::OwnerDm { kind } => owner_dm(engine, case, *kind, now).await?,
        Step::Page => {
            if let Some(pd) = &engine.vendors.pagerduty {
                pd.trigger(&render::pagerduty::trigger(case)).await?;
                case.paged = true;
                case.note(
                    now,
                    None,
                    format!("PagerDuty paged (dedup key {})", case.id),
                );
            } else {
                case.note(now, None, "PagerDuty is not configured; nobody was paged");
            }
        }
        Step::PageAck => {
            if let Some(pd) = &engine.vendors.pagerduty {
                pd.acknowledge(case.id.as_str()).await?;
            }
        }
        Step::PageResolve => {
            if let Some(pd) = &engine.vendors.pagerduty {
                pd.resolve(case.id.as_str()).await?;
                case.note(now, None, "PagerDuty incident resolved");
            }
        }
        Step::UpdateCard => {
            if let Some(card) = case.card.clone() {
                let (text, blocks) = render::card::card(case);
                engine
                    .slack
                    .update(&card.channel, &card.ts, content(text, blocks))
                    .await?;
            }
        }
        Step::CardThread { text } => {
            if let Some(card) = thread_parent(engine, case).await? {
                let msg = render::thread::message(text);
                engine
                    .slack
                    .post(&card.channel, msg, Some(&card.ts), &step_tag(case, rec.seq))
                    .await?;
            }
        }
        Step::DmThread { text } => {
            if let Some(dm) = case.dm.clone() {
                let msg = render::thread::message(text);
                engine
                    .slack
                    .post(&dm.channel, msg, Some(&dm.ts), &step_tag(case, rec.seq))
                    .await?;
            }
        }
        Step::IssueComment { body } => {
            if let (Some(gh), Some(issue)) = (&engine.vendors.github, case.issue.clone()) {
                gh.comment(
                    issue.number,
                    &render::github::comment_body(body, &case.id, rec.seq),
                )
                .await?;
            }
        }
        Step::IssueLabels { labels } => {
            if let (Some(gh), Some(issue)) = (&engine.vendors.github, case.issue.clone()) {
                gh.add_labels(issue.number, labels).await?;
            }
        }
        Step::CloseIssue { reason } => {
            if let (Some(gh), Some(issue)) = (&engine.vendors.github, case.issue.clone()) {
                let state_reason = match reason {
                    CloseReason::Completed => "completed",
                    CloseReason::NotPlanned => "not_planned",
                };
                gh.close(issue.number, state_reason).await?;
                case.note(
                    now,
                    None,
                    format!("GitHub issue #{} closed ({state_reason})", issue.number),
                );
            }
        }
        Step::Contain => contain(engine, case, now).await?,
        Step::AlertStatus { status, comment } => {
            alert_status(engine, case, rec, status, comment, now).await?
        }
    }
    Ok(())
}

/// After a crash between intent and record: looks for what the step may have created since
/// its intent. `true` means found and recorded (the step is done).
pub async fn find_existing(
    engine: &Engine,
    case: &mut Case,
    rec: &StepRecord,
    intent_at: DateTime<Utc>,
) -> Result<bool, VendorError> {
    let since = intent_at - LOOKBACK;
    match &rec.step {
        Step::CreateIssue => {
            let Some(gh) = &engine.vendors.github else {
                return Ok(false);
            };
            let marker = render::github::case_marker(&case.id);
            let found = gh
                .issues_created_since(since)
                .await?
                .into_iter()
                .find(|i| i.body.as_deref().is_some_and(|b| b.contains(&marker)));
            Ok(match found {
                Some(issue) => {
                    record_issue(case, issue.number, issue.html_url, Utc::now());
                    true
                }
                None => false,
            })
        }
        Step::PostCard => {
            let found = engine
                .slack
                .find_top_level(&engine.alerts_channel, since, &tag(case, "card"))
                .await?;
            Ok(match found {
                Some(ts) => {
                    case.card = Some(SlackRef {
                        channel: engine.alerts_channel.clone(),
                        ts,
                    });
                    if matches!(case.state, CaseState::Ticketed | CaseState::Enriched) {
                        case.state = CaseState::Announced;
                    }
                    // Both the issue step and this one may have been recovered rather than
                    // performed, so the owner's Slack lookup that rides on them may never have
                    // run: do it now, before routing decides whether the owner can be asked.
                    if let Some(email) = slack_lookup_due(case) {
                        let found = lookup_owner_slack(engine, Some(email)).await;
                        record_slack_lookup(case, found, Utc::now());
                    }
                    true
                }
                None => false,
            })
        }
        Step::OwnerDm { .. } => {
            let Some(user) = case.owner().and_then(|o| o.slack_user.clone()) else {
                return Ok(false);
            };
            let channel = engine.slack.open_dm(&user).await?;
            Ok(
                match engine
                    .slack
                    .find_top_level(&channel, since, &tag(case, "dm"))
                    .await?
                {
                    Some(ts) => {
                        case.dm = Some(SlackRef { channel, ts });
                        true
                    }
                    None => false,
                },
            )
        }
        Step::CardThread { .. } | Step::DmThread { .. } => {
            let parent = if matches!(rec.step, Step::CardThread { .. }) {
                case.card
                    .clone()
                    .or_else(|| case.digest.and_then(|d| engine.digests.posted(d)))
            } else {
                case.dm.clone()
            };
            let Some(parent) = parent else {
                return Ok(false);
            };
            Ok(engine
                .slack
                .find_reply(&parent.channel, &parent.ts, &step_tag(case, rec.seq))
                .await?
                .is_some())
        }
        Step::IssueComment { .. } => {
            let (Some(gh), Some(issue)) = (&engine.vendors.github, case.issue.clone()) else {
                return Ok(false);
            };
            let marker = render::github::step_marker(&case.id, rec.seq);
            Ok(gh
                .comments_since(issue.number, since)
                .await?
                .iter()
                .any(|c| c.body.contains(&marker)))
        }
        // Falcon cannot list an alert's comments: the step itself resolves its intent by
        // setting the status again without the comment.
        Step::AlertStatus { .. } => Ok(false),
        _ => Ok(false),
    }
}

/// Sets the source alert's status, with its comment the first time only. Falcon cannot list an
/// alert's comments, so when an earlier attempt recorded the comment's intent and no result
/// (a crash, or a failure that may have reached Falcon), this attempt sends the status alone:
/// a comment may be missing after a crash, but it is never doubled. A 429 proves Falcon did
/// nothing, so it puts the intent back as it was and the next attempt still comments.
async fn alert_status(
    engine: &Engine,
    case: &mut Case,
    rec: &StepRecord,
    status: &str,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let Some(cs) = engine
        .vendors
        .crowdstrike
        .as_ref()
        .filter(|_| case.alert.source == "crowdstrike")
    else {
        return Ok(());
    };
    let ids = vec![case.alert.id.clone()];
    let comment_may_exist = rec.intent_at.is_some();
    let mut actions = vec![("update_status", status)];
    if !comment_may_exist {
        actions.push(("append_comment", comment));
    }
    if let Err(e) = cs.update_alerts(&ids, &actions).await {
        if e.status() == Some(429)
            && let Some(first) = case.steps.first_mut().filter(|s| s.seq == rec.seq)
        {
            first.intent_at = rec.intent_at;
        }
        return Err(e.into());
    }
    case.note(now, None, format!("CrowdStrike alert set to {status}"));
    if comment_may_exist {
        case.note(
            now,
            None,
            "CrowdStrike comment not sent again: an interrupted attempt may have added it, \
             and Falcon cannot list comments to check",
        );
    }
    Ok(())
}

/// Storms: right after the priority is known, a low-priority case whose card would queue
/// behind the alerts channel's pace is folded into the burst's digest instead (before its
/// GitHub issue, so the digest lists it at once); every other case keeps its card, whose slot
/// [`super::digest::Digests::fold`] has reserved.
fn announce_or_fold(engine: &Engine, case: &mut Case, now: DateTime<Utc>) {
    let Some(at) = case.steps.iter().position(|s| s.step == Step::PostCard) else {
        return;
    };
    if case.card.is_some() || case.digest.is_some() {
        return;
    }
    let priority = case.priority().unwrap_or(crate::case::Priority::Low);
    match engine.digests.fold(priority) {
        super::digest::Announce::Card { storm: false } => {}
        super::digest::Announce::Card { storm: true } => {
            // The channel is busy and GitHub will be too: the card goes before the issue
            // (which then updates the card with its link), so it waits for one limit only.
            let Some(issue) = case
                .steps
                .iter()
                .position(|s| s.step == Step::CreateIssue)
                .filter(|i| *i < at)
            else {
                return;
            };
            let card = case.steps.remove(at);
            case.steps.insert(issue, card);
            let seq = case.next_step;
            case.next_step += 1;
            case.steps
                .insert(issue + 2, StepRecord::new(seq, Step::UpdateCard));
        }
        super::digest::Announce::Fold => {
            case.steps.remove(at);
            let seq = case.next_step;
            case.next_step += 1;
            let first = case.steps.len().min(1);
            case.steps
                .insert(first, StepRecord::new(seq, Step::JoinDigest));
            case.note(
                now,
                None,
                "Alert storm: the alerts channel is at its limit, so this low-priority case \
                 joins the burst's digest instead of waiting for a card",
            );
        }
    }
}

/// Storms: a low-priority case's GitHub issue waits for its slot at the content-creation pace
/// off the runner (the step's `not_before`), so hundreds of queued issues never hold every
/// runner while high-priority cases wait to start. A high-priority issue takes its slot and
/// goes at once. `Some(when)` defers the step to its slot; a step already deferred (or being
/// retried) is not deferred again.
pub fn defer_until(engine: &Engine, case: &Case, rec: &StepRecord) -> Option<DateTime<Utc>> {
    if rec.step != Step::CreateIssue
        || rec.intent_at.is_some()
        || rec.attempts > 0
        || rec.not_before.is_some()
    {
        return None;
    }
    let gh = engine.vendors.github.as_ref()?;
    let wait = gh.reserve_issue_slot();
    let low = case.priority().unwrap_or(crate::case::Priority::Low) == crate::case::Priority::Low;
    (low && wait > std::time::Duration::from_secs(1))
        .then(|| Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default())
}

/// Where a case's thread replies go: its card, or for a folded case its digest (waiting
/// briefly for the digest to be posted).
async fn thread_parent(engine: &Engine, case: &Case) -> Result<Option<SlackRef>, VendorError> {
    if let Some(card) = &case.card {
        return Ok(Some(card.clone()));
    }
    match case.digest {
        Some(d) => engine.digests.message(d).await.map(Some),
        None => Ok(None),
    }
}

fn record_issue(case: &mut Case, number: u64, url: String, now: DateTime<Utc>) {
    case.note(now, None, format!("GitHub issue #{number} opened"));
    case.issue = Some(IssueRef { number, url });
    if case.state == CaseState::Enriched {
        case.state = CaseState::Ticketed;
    }
}

/// Opens the GitHub issue and, at the same time, looks up the owner's Slack user: neither
/// waits for the other (SPEC §2.3). The lookup's answer is kept on the case even when the
/// issue fails, so a retry only retries the issue.
async fn create_issue(
    engine: &Engine,
    case: &mut Case,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let lookup = lookup_owner_slack(engine, slack_lookup_due(case));
    let Some(gh) = &engine.vendors.github else {
        record_slack_lookup(case, lookup.await, now);
        case.note(now, None, "GitHub is not configured; no issue opened");
        return Ok(());
    };
    let mut labels = engine.issue_labels.clone();
    if let Some(p) = case.priority() {
        labels.push(format!("priority:{}", p.as_str()));
    }
    let title = render::github::issue_title(case);
    let body = render::github::issue_body(case);
    let (issue, found) = tokio::join!(gh.create_issue(&title, &body, &labels), lookup);
    record_slack_lookup(case, found, now);
    let issue = issue?;
    record_issue(case, issue.number, issue.html_url, now);
    Ok(())
}

/// Posts the card. The owner's Slack user is normally known by now (looked up beside the
/// issue); when the issue step was recovered after a crash rather than performed, it is
/// looked up here first, so the card and the routing after it still name the owner.
async fn post_card(engine: &Engine, case: &mut Case, now: DateTime<Utc>) -> Result<(), StepError> {
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
    case.card = Some(SlackRef {
        channel: posted.channel,
        ts: posted.ts,
    });
    if case.state == CaseState::Ticketed || case.state == CaseState::Enriched {
        case.state = CaseState::Announced;
    }
    case.note(now, None, "Card posted in the alerts channel");
    Ok(())
}

async fn owner_dm(
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
    case.dm = Some(SlackRef {
        channel: posted.channel,
        ts: posted.ts,
    });
    case.note(
        now,
        None,
        match kind {
            DmKind::Ask => "Owner asked in a DM",
            DmKind::Inform => "Owner told in a DM what is happening",
        },
    );
    Ok(())
}

async fn contain(engine: &Engine, case: &mut Case, now: DateTime<Utc>) -> Result<(), StepError> {
    let (Some(cs), Some(device)) = (&engine.vendors.crowdstrike, case.alert.device.clone()) else {
        case.note(
            now,
            None,
            "Containment not possible: no CrowdStrike client or no device",
        );
        return Ok(());
    };
    match cs.contain(&device.device_id).await {
        Ok(()) => {}
        Err(e) if e.status() == Some(409) => {}
        Err(e) => return Err(e.into()),
    }
    case.note(
        now,
        None,
        format!("Host {} network-contained in CrowdStrike", device.hostname),
    );
    case.push_step(Step::CardThread {
        text: render::thread::contained(case),
    });
    Ok(())
}

/// Enrichment never stops a case: every miss and outage becomes a note.
///
/// Calls that do not depend on each other run together (SPEC §2.3): the host details and the
/// Oomnitza asset both start from the alert's own device fields, so they take one round trip
/// between them; the owner's Slack user is looked up later, beside the GitHub issue (see
/// [`lookup_owner_slack`]). Only when the host's serial number contradicts the asset found by
/// hostname (or no asset had that name) is the asset looked up again by serial, which wins.
async fn enrich(engine: &Engine, case: &mut Case, now: DateTime<Utc>) {
    let mut e = Enrichment::default();
    if let Some(device) = case.alert.device.clone() {
        let mut hostname = device.hostname.clone();
        let (host, by_name) = tokio::join!(
            host_details(engine, &device.device_id),
            asset_by_hostname(engine, &device.hostname)
        );
        if let Some(host) = host {
            match host {
                Ok(Some(d)) => {
                    e.host_tags = d.tags.clone();
                    e.serial_number = d.serial_number.clone().unwrap_or_default();
                    e.os_version = d.os_version.clone().unwrap_or_default();
                    if let Some(h) = d.hostname.clone().filter(|h| !h.is_empty()) {
                        hostname = h;
                    }
                }
                Ok(None) => e
                    .notes
                    .push("CrowdStrike has no host details for this device".into()),
                Err(err) => e
                    .notes
                    .push(format!("{err}; continuing without host details")),
            }
        }
        e.owner = device_owner(engine, &mut e, by_name, &device.hostname, &hostname).await;
    } else {
        e.owner = identity_owner_lookup(engine, case, &mut e).await;
    }
    if e.owner.is_none() {
        e.notes.push("No owner found".into());
    }
    e.slack_looked_up = e.owner.as_ref().is_none_or(|o| o.email.is_empty());
    let summary = match &e.owner {
        Some(o) => format!(
            "Enriched: owner {}",
            if o.name.is_empty() { &o.email } else { &o.name }
        ),
        None => "Enriched: no owner".to_string(),
    };
    case.note(now, None, summary);
    for n in &e.notes {
        case.note(now, None, n.clone());
    }
    case.enrichment = Some(e);
    case.state = CaseState::Enriched;
}

type Lookup<T> = Option<Result<Option<T>, VendorError>>;

/// CrowdStrike's details of the alert's host; `None` when there is nothing to ask.
async fn host_details(
    engine: &Engine,
    device_id: &str,
) -> Lookup<crate::vendors::crowdstrike::models::Device> {
    let cs = engine.vendors.crowdstrike.as_ref()?;
    if device_id.is_empty() {
        return None;
    }
    Some(
        cs.devices(&[device_id.to_string()])
            .await
            .map(|found| found.into_iter().next()),
    )
}

/// The Oomnitza asset named like the alert's host; `None` when there is nothing to ask.
async fn asset_by_hostname(
    engine: &Engine,
    hostname: &str,
) -> Lookup<crate::vendors::oomnitza::models::Asset> {
    let oom = engine.vendors.oomnitza.as_ref()?;
    if hostname.is_empty() {
        return None;
    }
    Some(oom.asset_by_hostname(hostname).await)
}

/// The device's owner: its Oomnitza asset's assignee. The asset is the one with the host's
/// serial number when CrowdStrike gave one, else the one with the host's name; `by_name` is
/// the by-hostname lookup already made from the alert.
async fn device_owner(
    engine: &Engine,
    e: &mut Enrichment,
    by_name: Lookup<crate::vendors::oomnitza::models::Asset>,
    alert_hostname: &str,
    hostname: &str,
) -> Option<Owner> {
    let Some(oom) = &engine.vendors.oomnitza else {
        e.notes
            .push("Oomnitza is not configured; owner unknown".into());
        return None;
    };
    let mut named = match by_name {
        Some(Ok(a)) => a,
        Some(Err(err)) => {
            e.notes.push(format!("{err}; trying the serial number"));
            None
        }
        None => None,
    };
    let serial = e.serial_number.clone();
    let serial_agrees = |a: &crate::vendors::oomnitza::models::Asset| {
        serial.is_empty()
            || a.serial_number
                .as_deref()
                .is_none_or(|s| s.is_empty() || s.eq_ignore_ascii_case(&serial))
    };
    let mut asset = named.take_if(|a| serial_agrees(a));
    if asset.is_none() && !serial.is_empty() {
        match oom.asset_by_serial(&serial).await {
            Ok(a) => asset = a,
            Err(err) => e.notes.push(format!("{err}; trying the hostname")),
        }
    }
    if asset.is_none() {
        asset = named;
    }
    if asset.is_none() && !hostname.is_empty() && !hostname.eq_ignore_ascii_case(alert_hostname) {
        match oom.asset_by_hostname(hostname).await {
            Ok(a) => asset = a,
            Err(err) => {
                e.notes.push(format!("{err}; owner unknown"));
                return None;
            }
        }
    }
    let Some(asset) = asset else {
        e.notes.push("No Oomnitza asset for this device".into());
        return None;
    };
    e.asset_id = asset.equipment_id.clone().unwrap_or_default();
    let username = asset.assigned_to.clone().filter(|a| !a.is_empty())?;
    match oom.user_by_username(&username).await {
        Ok(Some(u)) => Some(owner_of(&u)),
        Ok(None) => {
            e.notes.push(format!("Oomnitza user {username} not found"));
            None
        }
        Err(err) => {
            e.notes.push(format!("{err}; owner unknown"));
            None
        }
    }
}

/// For an identity alert (no device): the account's user, from Oomnitza when it knows them.
async fn identity_owner_lookup(engine: &Engine, case: &Case, e: &mut Enrichment) -> Option<Owner> {
    let Some(oom) = &engine.vendors.oomnitza else {
        e.notes
            .push("Oomnitza is not configured; owner unknown".into());
        return identity_owner(case);
    };
    let upn = case.alert.account_upn.clone();
    if upn.is_empty() {
        return None;
    }
    match oom.user_by_email(&upn).await {
        Ok(Some(u)) => Some(owner_of(&u)),
        Ok(None) => identity_owner(case),
        Err(err) => {
            e.notes
                .push(format!("{err}; using the alert's account as the owner"));
            identity_owner(case)
        }
    }
}

/// The owner's Slack user by email (`users.lookupByEmail`), if enrichment found an owner with
/// an email and it was not looked up yet. A pure lookup, so it runs beside the GitHub issue
/// (SPEC §2.3) and, should that step be recovered after a crash instead of performed, before
/// the card; its answer is recorded on the case either way, and a miss is a note.
async fn lookup_owner_slack(engine: &Engine, email: Option<String>) -> Option<SlackLookup> {
    let email = email?;
    Some(SlackLookup {
        result: engine.slack.user_by_email(&email).await,
        email,
    })
}

/// What [`lookup_owner_slack`] found.
struct SlackLookup {
    email: String,
    result: Result<Option<String>, VendorError>,
}

/// The owner's email when their Slack user still has to be looked up.
fn slack_lookup_due(case: &Case) -> Option<String> {
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
fn record_slack_lookup(case: &mut Case, lookup: Option<SlackLookup>, now: DateTime<Utc>) {
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

fn owner_of(u: &crate::vendors::oomnitza::models::User) -> Owner {
    let name = format!(
        "{} {}",
        u.first_name.clone().unwrap_or_default(),
        u.last_name.clone().unwrap_or_default()
    );
    Owner {
        username: u.username.clone().unwrap_or_default(),
        email: u.email.clone().unwrap_or_default(),
        name: name.trim().to_string(),
        slack_user: None,
    }
}

fn identity_owner(case: &Case) -> Option<Owner> {
    let upn = &case.alert.account_upn;
    (!upn.is_empty()).then(|| Owner {
        username: case.alert.user_name.clone(),
        email: upn.clone(),
        name: String::new(),
        slack_user: None,
    })
}
