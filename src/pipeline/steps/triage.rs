//! Steps that call no vendor: the rule table, the storm fold that follows it, and routing.
//! They only decide, so they never fail and need no crash lookup.

use chrono::{DateTime, Utc};

use crate::case::rules::{Facts, decide};
use crate::case::{Case, Priority, Step, StepRecord};
use crate::pipeline::digest::Announce;
use crate::pipeline::engine::Engine;

/// Runs the rule table, then folds the case into a storm digest if the channel is busy.
pub(super) fn prioritise(engine: &Engine, case: &mut Case, now: DateTime<Utc>) {
    let tags = case
        .enrichment
        .as_ref()
        .map(|e| e.host_tags.clone())
        .unwrap_or_default();
    let facts = Facts { host_tags: &tags };
    let decision = decide(&engine.triage.rules, &case.alert, &facts);
    case.prioritised(decision, now);
    announce_or_fold(engine, case, now);
}

/// Asks the owner or pages, by the case's own transition; flow 2 follows on the same case
/// right after flow 1's engagement is queued, so the owner's DM never waits on it.
pub(super) fn route(engine: &Engine, case: &mut Case, now: DateTime<Utc>) {
    case.route(now, &engine.triage.owner_policy());
    case.begin_flow2();
}

/// Storms: right after the priority is known, a low-priority case whose card would queue
/// behind the alerts channel's pace is folded into the burst's digest instead (before its
/// GitHub issue, so the digest lists it at once); every other case keeps its card, whose slot
/// [`crate::pipeline::digest::Digests::fold`] has reserved.
fn announce_or_fold(engine: &Engine, case: &mut Case, now: DateTime<Utc>) {
    let Some(at) = case.steps.iter().position(|s| s.step == Step::PostCard) else {
        return;
    };
    if case.card.is_some() || case.digest.is_some() {
        return;
    }
    let priority = case.priority().unwrap_or(Priority::Low);
    match engine.digests.fold(priority) {
        Announce::Card { storm: false } => {}
        Announce::Card { storm: true } => {
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
        Announce::Fold => {
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
