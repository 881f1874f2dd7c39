//! The analysts' board: a one-line summary of every case, kept in memory, so `/triage list`
//! and `/triage stats` answer inside the Socket Mode ack without decoding every case from the
//! store (which grew with the case count and the timelines, and held every other ack back).
//!
//! Invariant: only the engine writes cases, and it updates the board on every save and when
//! a case is opened, and rebuilds it from the store at recovery, so the board shows what the
//! store holds.

use std::collections::BTreeMap;

use parking_lot::RwLock;

use crate::case::{Case, CaseId, CaseState, Priority};
use crate::render;

/// What the board keeps of one case: what the list filters on and the line it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseSummary {
    /// The case id.
    pub id: CaseId,
    /// Its state, which `/triage list` filters on.
    pub state: CaseState,
    /// High priority (only known once prioritised).
    pub high: bool,
    /// Who it is assigned to.
    pub assignee: Option<String>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// The `/triage list` line, already escaped.
    pub line: String,
    /// What `/triage stats` computes from.
    pub facts: super::stats::Facts,
}

impl CaseSummary {
    fn of(case: &Case) -> CaseSummary {
        CaseSummary {
            id: case.id.clone(),
            state: case.state(),
            high: case.priority() == Some(Priority::High),
            assignee: case.assignee.clone(),
            acknowledged_by: case.acknowledged_by.clone(),
            line: render::card::summary_line(case),
            facts: super::stats::Facts::of(case),
        }
    }
}

/// Every case's summary, oldest first.
#[derive(Debug, Default)]
pub struct Board {
    cases: RwLock<BTreeMap<u64, CaseSummary>>,
}

/// Orders cases by their number (VIG-9 before VIG-10); ids that are not `VIG-<n>` go last.
fn order(id: &CaseId) -> u64 {
    id.as_str()
        .strip_prefix("VIG-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

impl Board {
    /// Records the case as it was just saved, and observes the milestone it reached with
    /// this save (first acknowledgement, resolution, owner answer) in the time histograms.
    /// The board sees every save, so each milestone is observed once; a rebuild at start
    /// observes nothing, so a restart does not count old cases again.
    pub fn update(&self, case: &Case) {
        let new = CaseSummary::of(case);
        let old = self.cases.write().insert(order(&case.id), new.clone());
        let before = old.map(|o| o.facts).unwrap_or_default();
        milestones_reached(&before, &new.facts);
    }

    /// Replaces the board with these cases (at start-up, from the store).
    pub fn rebuild(&self, cases: &[Case]) {
        let fresh = cases
            .iter()
            .map(|c| (order(&c.id), CaseSummary::of(c)))
            .collect();
        *self.cases.write() = fresh;
    }

    /// Runs `f` over every summary, oldest first, without copying them.
    pub fn with<T>(&self, f: impl FnOnce(&mut dyn Iterator<Item = &CaseSummary>) -> T) -> T {
        let cases = self.cases.read();
        f(&mut cases.values())
    }
}

fn milestones_reached(before: &super::stats::Facts, now: &super::stats::Facts) {
    use crate::telemetry::events::{CaseTime, Milestone};
    let secs = |from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>| {
        (to - from).num_milliseconds().max(0) as f64 / 1000.0
    };
    if let (None, Some(at)) = (before.acknowledged_at, now.acknowledged_at) {
        CaseTime::new(Milestone::Acknowledged, secs(now.created_at, at)).emit();
    }
    if let (None, Some((at, _))) = (before.resolved, now.resolved) {
        CaseTime::new(Milestone::Resolved, secs(now.created_at, at)).emit();
    }
    if let (None, Some(answered), Some(asked)) = (
        before.owner_answered_at,
        now.owner_answered_at,
        now.owner_asked_at,
    ) {
        CaseTime::new(Milestone::OwnerAnswered, secs(asked, answered)).emit();
    }
    if !before.auto_escalated && now.auto_escalated {
        CaseTime::auto_escalated();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Alert;

    fn case(n: u64) -> Case {
        let alert = Alert {
            id: format!("a{n}"),
            name: format!("alert {n}"),
            ..Default::default()
        };
        crate::case::Case::open(CaseId::from_seq(n), &alert, "k", chrono::Utc::now())
    }

    #[test]
    fn the_board_follows_saves_in_case_order() {
        let board = Board::default();
        board.rebuild(&[case(10), case(9)]);
        let mut c = case(9);
        c.force_state(CaseState::Resolved);
        board.update(&c);
        board.update(&case(11));
        let seen: Vec<(String, CaseState)> =
            board.with(|all| all.map(|s| (s.id.to_string(), s.state)).collect());
        assert_eq!(seen[0], ("VIG-9".to_string(), CaseState::Resolved));
        assert_eq!(
            seen.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
            ["VIG-9", "VIG-10", "VIG-11"]
        );
        assert_eq!(
            board.with(|all| all.filter(|s| !s.line.contains(s.id.as_str())).count()),
            0
        );
    }
}
