//! Flow 2's front half (SPEC §3 steps 1, 2 and 4): classify the alert (rules, or the model),
//! find the type's SOP in Confluence, and plan its runbook through the guard. These steps only
//! fetch and decide; what they learnt is recorded by the case's own methods in
//! `case/flow2.rs`, which also queue what follows. Each is safe to repeat after a crash: the
//! case ignores a second classification, SOP or plan.

use chrono::{DateTime, Utc};

use crate::case::Case;
use crate::case::flow2::PlanPolicy;
use crate::case::remediation::{RunbookState, SopRef, SopStatus};
use crate::case::step::StepRecord;
use crate::pipeline::engine::{Engine, MAX_ATTEMPTS, StepError};
use crate::triage::entities::{Entities, EntityKind};
use crate::triage::llm_classify::triage_alert;
use crate::triage::runbook::{Runbook, RunbookError};
use crate::vendors::confluence::cql;
use crate::vendors::confluence::models::{Page, storage_text};

/// Most SOP text kept on the case for the agent (bytes).
const MAX_SOP_TEXT: usize = 8 * 1024;
/// Host names looked up in CrowdStrike for one alert.
const MAX_HOST_LOOKUPS: usize = 3;

/// Extracts the entities, fills in device ids Falcon knows for the alert's host names, and
/// classifies (the model when `[llm]` is set, falling back to the rules with the reason kept).
pub(super) async fn classify(engine: &Engine, case: &mut Case, now: DateTime<Utc>) {
    if case.triage.is_some() {
        return;
    }
    let llm = engine
        .vendors
        .llm
        .as_ref()
        .map(|c| (c, engine.remediation.classify_prompt.as_str()));
    let (mut entities, classification) = triage_alert(llm, &case.alert).await;
    find_device_ids(engine, case, &mut entities, now).await;
    let sop_search = engine.vendors.confluence.is_some();
    case.classified(entities, classification, sop_search, now);
}

/// A webhook or `/triage new` alert names a host but not its Falcon device id, which the
/// CrowdStrike tools need: ask Falcon by host name. A failed or empty lookup is a timeline
/// note; classification goes on without it.
async fn find_device_ids(
    engine: &Engine,
    case: &mut Case,
    entities: &mut Entities,
    now: DateTime<Utc>,
) {
    let Some(cs) = &engine.vendors.crowdstrike else {
        return;
    };
    if !entities.device_ids.is_empty() {
        return;
    }
    let names: Vec<String> = entities
        .of(EntityKind::Host)
        .iter()
        .take(MAX_HOST_LOOKUPS)
        .cloned()
        .collect();
    for name in names {
        match cs.device_ids_by_hostname(&name).await {
            Ok(ids) if ids.is_empty() => case.note(
                now,
                None,
                format!("CrowdStrike knows no device named {name}"),
            ),
            Ok(ids) => {
                for id in ids.iter().take(MAX_HOST_LOOKUPS) {
                    if entities.add_device_id(id) {
                        case.note(now, None, format!("Host {name} is CrowdStrike device {id}"));
                    }
                }
            }
            Err(e) => case.note(
                now,
                None,
                format!("{e}; the device id of host {name} stays unknown and triage goes on"),
            ),
        }
    }
}

/// Searches the configured space for the type's SOP and records the page of record with its
/// runbook, or why there is none. A transient Confluence failure is retried by the engine
/// like any step; on the last attempt, or a permanent failure, the case records the SOP as
/// unavailable and goes on (flow 1 never waits on Confluence).
pub(super) async fn find_sop(
    engine: &Engine,
    case: &mut Case,
    rec: &StepRecord,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let Some(t) = &case.triage else {
        return Ok(());
    };
    if t.sop != SopStatus::Pending {
        return Ok(());
    }
    let Some(cf) = &engine.vendors.confluence else {
        let error = "Confluence is no longer configured".to_string();
        case.sop_searched(SopStatus::Unavailable { error }, None, now);
        return Ok(());
    };
    let alert_type = t.classification.alert_type.as_str();
    let words = alert_type.replace('_', " ");
    match cf.find_sop(alert_type, &words).await {
        Ok(Some(page)) => {
            let (sop, runbook) = recorded(page);
            case.sop_searched(SopStatus::Found(sop), runbook, now);
        }
        Ok(None) => {
            let (space, label) = (&cf.config().space, &cf.config().label);
            let mut query = cql::by_label(space, &format!("{label}-{alert_type}"));
            if let Some(text) = cql::by_text(space, label, &words) {
                query = format!("{query}, then {text}");
            }
            case.sop_searched(SopStatus::NotFound { query }, None, now);
        }
        Err(e) if e.is_transient() && rec.attempts + 1 < MAX_ATTEMPTS => return Err(e.into()),
        Err(e) => {
            let error = format!(
                "{e}; Vigil gave up on the SOP after {} attempt(s)",
                rec.attempts + 1
            );
            case.sop_searched(SopStatus::Unavailable { error }, None, now);
        }
    }
    Ok(())
}

/// The page as the case records it: id, title, version, link, its runbook's state and its
/// text; plus the parsed runbook the `Remediate` step expands.
fn recorded(page: Page) -> (SopRef, Option<Runbook>) {
    let (state, runbook) = match Runbook::from_storage(&page.storage) {
        Ok(r) => (
            RunbookState::Parsed {
                allowlist: r.allowlist(),
                steps: r.steps.len(),
            },
            Some(r),
        ),
        Err(RunbookError::NoRunbook) => (RunbookState::Missing, None),
        Err(e) => (
            RunbookState::Invalid {
                reason: e.to_string(),
            },
            None,
        ),
    };
    let text = storage_text(&page.storage, MAX_SOP_TEXT);
    let sop = SopRef {
        page_id: page.id,
        title: page.title,
        version: page.version,
        url: page.url,
        runbook: state,
        text,
    };
    (sop, runbook)
}

/// Plans the SOP's steps on the case through the guard, with the configured caps.
pub(super) fn remediate(engine: &Engine, case: &mut Case, now: DateTime<Utc>) {
    let policy = PlanPolicy {
        caps: engine.remediation.config.caps(),
        expire_after: engine.remediation.approvals.expire_after,
        agent: engine.vendors.llm.is_some(),
    };
    case.plan(&policy, now);
}
