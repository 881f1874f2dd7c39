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
        }
        Step::CreateIssue => create_issue(engine, case, now).await?,
        Step::PostCard => {
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
            if let Some(card) = case.card.clone() {
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
            if let (Some(cs), true) = (
                &engine.vendors.crowdstrike,
                case.alert.source == "crowdstrike",
            ) {
                let ids = vec![case.alert.id.clone()];
                cs.update_alerts(
                    &ids,
                    &[
                        ("update_status", status.as_str()),
                        ("append_comment", comment.as_str()),
                    ],
                )
                .await?;
                case.note(now, None, format!("CrowdStrike alert set to {status}"));
            }
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
                case.card.clone()
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
        _ => Ok(false),
    }
}

fn record_issue(case: &mut Case, number: u64, url: String, now: DateTime<Utc>) {
    case.note(now, None, format!("GitHub issue #{number} opened"));
    case.issue = Some(IssueRef { number, url });
    if case.state == CaseState::Enriched {
        case.state = CaseState::Ticketed;
    }
}

async fn create_issue(
    engine: &Engine,
    case: &mut Case,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let Some(gh) = &engine.vendors.github else {
        case.note(now, None, "GitHub is not configured; no issue opened");
        return Ok(());
    };
    let mut labels = engine.issue_labels.clone();
    if let Some(p) = case.priority() {
        labels.push(format!("priority:{}", p.as_str()));
    }
    let issue = gh
        .create_issue(
            &render::github::issue_title(case),
            &render::github::issue_body(case),
            &labels,
        )
        .await?;
    record_issue(case, issue.number, issue.html_url, now);
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
async fn enrich(engine: &Engine, case: &mut Case, now: DateTime<Utc>) {
    let mut e = Enrichment::default();
    let mut hostname = String::new();
    if let Some(device) = case.alert.device.clone() {
        hostname = device.hostname.clone();
        match &engine.vendors.crowdstrike {
            Some(cs) if !device.device_id.is_empty() => {
                match cs.devices(std::slice::from_ref(&device.device_id)).await {
                    Ok(found) => match found.into_iter().next() {
                        Some(d) => {
                            e.host_tags = d.tags.clone();
                            e.serial_number = d.serial_number.clone().unwrap_or_default();
                            e.os_version = d.os_version.clone().unwrap_or_default();
                            if let Some(h) = d.hostname.clone().filter(|h| !h.is_empty()) {
                                hostname = h;
                            }
                        }
                        None => e
                            .notes
                            .push("CrowdStrike has no host details for this device".into()),
                    },
                    Err(err) => e
                        .notes
                        .push(format!("{err}; continuing without host details")),
                }
            }
            _ => {}
        }
    }
    e.owner = find_owner(engine, case, &mut e, &hostname).await;
    if let Some(owner) = e.owner.as_mut().filter(|o| !o.email.is_empty()) {
        match engine.slack.user_by_email(&owner.email).await {
            Ok(Some(id)) => owner.slack_user = Some(id),
            Ok(None) => e.notes.push(format!(
                "No Slack user with the owner's email {}",
                owner.email
            )),
            Err(err) => e
                .notes
                .push(format!("{err}; the owner cannot be asked in Slack")),
        }
    }
    if e.owner.is_none() {
        e.notes.push("No owner found".into());
    }
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

/// The owner: for a device, its Oomnitza asset's assignee (by serial number, then hostname);
/// for an identity alert, the account's user.
async fn find_owner(
    engine: &Engine,
    case: &Case,
    e: &mut Enrichment,
    hostname: &str,
) -> Option<Owner> {
    let Some(oom) = &engine.vendors.oomnitza else {
        e.notes
            .push("Oomnitza is not configured; owner unknown".into());
        return identity_owner(case);
    };
    if case.alert.device.is_none() {
        let upn = case.alert.account_upn.clone();
        if upn.is_empty() {
            return None;
        }
        return match oom.user_by_email(&upn).await {
            Ok(Some(u)) => Some(owner_of(&u)),
            Ok(None) => identity_owner(case),
            Err(err) => {
                e.notes
                    .push(format!("{err}; using the alert's account as the owner"));
                identity_owner(case)
            }
        };
    }
    let mut asset = None;
    if !e.serial_number.is_empty() {
        match oom.asset_by_serial(&e.serial_number).await {
            Ok(a) => asset = a,
            Err(err) => e.notes.push(format!("{err}; trying the hostname")),
        }
    }
    if asset.is_none() && !hostname.is_empty() {
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
