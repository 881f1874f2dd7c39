//! The `AgentTurn` step (SPEC §3 step 4 with an LLM): one turn of the agent loop. The model
//! reads the case, the SOP and every call so far, and proposes calls (each through
//! `Case::propose_call`, so the guard decides) or gives its closing summary.
//!
//! The loop goes on only while a turn gets something queued (a call to run or an approval to
//! ask): the next turn is queued after those calls. Caps (turns, calls, wall time), a model
//! that cannot be reached, refuses, or answers nothing usable end the loop, visibly, on the
//! timeline and in the thread. An agent turn creates nothing at a vendor, so it needs no
//! intent: a turn repeated after a crash asks the model again.

use chrono::Utc;

use crate::case::remediation::{CallStatus, Proposed, Proposer};
use crate::case::{Case, Step, StepRecord};
use crate::pipeline::engine::{Engine, MAX_ATTEMPTS, StepError};
use crate::triage::agent::{self, Answer};

/// Takes agent turn `turn` of the case.
pub(super) async fn agent_turn(
    engine: &Engine,
    case: &mut Case,
    rec: &StepRecord,
    turn: usize,
) -> Result<(), StepError> {
    let now = Utc::now();
    if let Some(reason) = cannot_start(engine, case, turn, now) {
        case.agent_stopped(reason, now);
        return Ok(());
    }
    let Some(llm) = engine.vendors.llm.as_ref() else {
        case.agent_stopped(
            "no [llm] section is configured, so no model can pick the SOP's steps".into(),
            now,
        );
        return Ok(());
    };
    let allowlist = agent::allowlist(case, &engine.remediation.config.default_allowlist);
    let chat = agent::request(&engine.remediation.agent_prompt, case, &allowlist);
    let reply = match llm.complete(&chat).await {
        Ok(r) => r,
        Err(e) if e.is_transient() && rec.attempts + 1 < MAX_ATTEMPTS => return Err(e.into()),
        Err(e) => {
            case.agent_stopped(
                format!("turn {turn}: the model did not answer usably ({e})"),
                Utc::now(),
            );
            return Ok(());
        }
    };
    let now = Utc::now();
    match agent::parse(&reply) {
        Answer::Final(text) => {
            case.agent_turn_taken(turn, 0, now);
            case.agent_finished(&text, now);
        }
        Answer::Unusable(why) => {
            case.agent_turn_taken(turn, 0, now);
            case.agent_stopped(format!("turn {turn}: {why}"), now);
        }
        Answer::Calls { calls, dropped } => {
            case.agent_turn_taken(turn, calls.len() + dropped, now);
            if dropped > 0 {
                case.note(
                    now,
                    None,
                    format!(
                        "Agent turn {turn}: {dropped} more tool call(s) dropped (at most {} a turn)",
                        agent::MAX_CALLS_PER_TURN
                    ),
                );
            }
            let caps = engine.remediation.config.caps();
            let expire = engine.remediation.approvals.expire_after;
            let mut queued = 0;
            for p in &calls {
                let proposer = Proposer::Agent { turn };
                match case.propose_call(proposer, &p.name, &p.args, &allowlist, caps, expire, now) {
                    Proposed::Queued(_) | Proposed::NeedsApproval(_) => queued += 1,
                    Proposed::Refused(..) => {}
                    Proposed::Dropped => case.note(
                        now,
                        None,
                        format!("Agent turn {turn}: `{}` not recorded, the case's record of calls is full", crate::pipeline::tools::clip(&p.name, 60)),
                    ),
                }
            }
            if queued > 0 {
                case.push_step(Step::AgentTurn { turn: turn + 1 });
            } else {
                case.agent_stopped(
                    format!("turn {turn}: every tool call the model proposed was refused"),
                    now,
                );
            }
        }
    }
    Ok(())
}

/// Why the turn cannot be taken at all: no triage record, already finished, or a cap reached.
fn cannot_start(
    engine: &Engine,
    case: &Case,
    turn: usize,
    now: chrono::DateTime<Utc>,
) -> Option<String> {
    let Some(t) = case.triage.as_ref() else {
        return Some("the case has no triage record".into());
    };
    if t.summary.is_some() {
        return Some(format!(
            "turn {turn} not taken: the agent already gave its summary"
        ));
    }
    let caps = engine.remediation.config.caps();
    if turn > caps.max_turns {
        return Some(format!(
            "the case reached its cap of {} agent turns",
            caps.max_turns
        ));
    }
    let elapsed = (now - t.started_at).to_std().unwrap_or_default();
    if elapsed >= caps.max_time {
        return Some(format!(
            "the case reached its triage time cap of {}",
            humantime::format_duration(caps.max_time)
        ));
    }
    let used = t
        .calls
        .iter()
        .filter(|c| !matches!(c.status, CallStatus::Refused { .. }))
        .count();
    if used >= caps.max_calls {
        return Some(format!(
            "the case reached its cap of {} tool calls",
            caps.max_calls
        ));
    }
    None
}
