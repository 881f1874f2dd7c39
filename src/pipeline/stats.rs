//! `/triage stats [period]`: the figures a security team reports on (SPEC §4): cases by
//! priority and outcome, mean time to acknowledge and to resolve, how often and how fast
//! owners answer, how many cases escalated on owner silence, and approvals granted and denied.
//!
//! Invariant: computed only from each case's [`Facts`], which the board keeps on every save, so
//! the answer fits inside the Socket Mode ack and matches the store; a case counts in a period
//! when it was opened within it.

use chrono::{DateTime, Utc};

use crate::case::flow::close_reason;
use crate::case::remediation::Triage;
use crate::case::step::CloseReason;
use crate::case::{Case, Priority};

/// What stats need of one case, kept on the board beside its list line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    /// When it was opened: the period filter and the start of every time.
    pub created_at: DateTime<Utc>,
    /// Its priority, once decided.
    pub priority: Option<Priority>,
    /// First acknowledgement.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Resolution time and how it closed.
    pub resolved: Option<(DateTime<Utc>, CloseReason)>,
    /// When the owner was asked.
    pub owner_asked_at: Option<DateTime<Utc>>,
    /// When the owner answered.
    pub owner_answered_at: Option<DateTime<Utc>>,
    /// Escalated because the owner stayed silent.
    pub auto_escalated: bool,
    /// Destructive calls an analyst approved.
    pub approvals_granted: usize,
    /// Destructive calls an analyst denied.
    pub approvals_denied: usize,
}

impl Facts {
    /// The facts of `case` as it is now.
    pub fn of(case: &Case) -> Facts {
        let (granted, denied) = case.triage.as_ref().map(decided).unwrap_or((0, 0));
        Facts {
            created_at: case.created_at,
            priority: case.priority(),
            acknowledged_at: case.milestones.acknowledged_at,
            resolved: case
                .resolution
                .as_ref()
                .map(|r| (r.at, close_reason(&r.reason))),
            owner_asked_at: case.milestones.owner_asked_at,
            owner_answered_at: case.owner_answer.as_ref().map(|a| a.at),
            auto_escalated: case.milestones.auto_escalated,
            approvals_granted: granted,
            approvals_denied: denied,
        }
    }
}

/// Approvals decided by a person (an expiry is decided by `vigil` and counts as neither).
fn decided(t: &Triage) -> (usize, usize) {
    let people = t
        .calls
        .iter()
        .filter_map(|c| c.approval.as_ref()?.decision.as_ref())
        .filter(|d| d.by != "vigil");
    people.fold(
        (0, 0),
        |(g, d), dec| {
            if dec.approved { (g + 1, d) } else { (g, d + 1) }
        },
    )
}

/// The report for one period.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// Cases opened in the period.
    pub cases: usize,
    /// Of those: high, low, not yet prioritised.
    pub high: usize,
    /// Low priority.
    pub low: usize,
    /// Still open.
    pub open: usize,
    /// Resolved as completed (dealt with).
    pub completed: usize,
    /// Resolved as not planned (false positive, benign).
    pub not_planned: usize,
    /// Mean seconds from opening to first acknowledgement, over acknowledged cases.
    pub mtta: Option<f64>,
    /// Mean seconds from opening to resolution, over resolved cases.
    pub mttr: Option<f64>,
    /// Owners asked "was this you?" (the response rate's denominator).
    pub owners_asked: usize,
    /// Owners who answered.
    pub owners_answered: usize,
    /// Median seconds from asking to the answer.
    pub owner_median: Option<f64>,
    /// Escalations on owner silence.
    pub auto_escalations: usize,
    /// Destructive calls an analyst approved.
    pub approvals_granted: usize,
    /// Destructive calls an analyst denied (expiries count as neither).
    pub approvals_denied: usize,
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds().max(0) as f64 / 1000.0
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

/// The report over the cases opened at or after `since`.
pub fn report<'a>(facts: impl Iterator<Item = &'a Facts>, since: DateTime<Utc>) -> Report {
    let mut r = Report::default();
    let (mut ack, mut resolve, mut owner) = (vec![], vec![], vec![]);
    for f in facts.filter(|f| f.created_at >= since) {
        r.cases += 1;
        match f.priority {
            Some(Priority::High) => r.high += 1,
            Some(_) => r.low += 1,
            None => {}
        }
        match f.resolved {
            None => r.open += 1,
            Some((at, reason)) => {
                resolve.push(seconds(f.created_at, at));
                match reason {
                    CloseReason::Completed => r.completed += 1,
                    CloseReason::NotPlanned => r.not_planned += 1,
                }
            }
        }
        if let Some(at) = f.acknowledged_at {
            ack.push(seconds(f.created_at, at));
        }
        if let Some(asked) = f.owner_asked_at {
            r.owners_asked += 1;
            if let Some(answered) = f.owner_answered_at {
                r.owners_answered += 1;
                owner.push(seconds(asked, answered));
            }
        }
        r.auto_escalations += usize::from(f.auto_escalated);
        r.approvals_granted += f.approvals_granted;
        r.approvals_denied += f.approvals_denied;
    }
    r.mtta = mean(&ack);
    r.mttr = mean(&resolve);
    r.owner_median = median(owner);
    r
}

/// A duration in seconds as people read it (`4m 10s`, `2h 3m`), or `n/a`.
fn human(secs: Option<f64>) -> String {
    let Some(s) = secs else {
        return "n/a".into();
    };
    let whole = std::time::Duration::from_secs(s.round() as u64);
    let text = humantime::format_duration(whole).to_string();
    // Keep the two largest units: "2h 3m 4s" reads as "2h 3m".
    text.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

impl Report {
    /// The `/triage stats` answer (no alert text in it, so nothing to escape).
    pub fn text(&self, period: &str) -> String {
        let rate = (self.owners_answered * 100 + self.owners_asked / 2)
            .checked_div(self.owners_asked)
            .map_or_else(|| "n/a".to_string(), |p| format!("{p}%"));
        format!(
            "*Cases opened in the last {period}:* {cases} ({high} high, {low} low)\n\
             • Outcome: {open} open, {completed} resolved as completed, {np} as not planned\n\
             • MTTA {mtta} · MTTR {mttr}\n\
             • Owners: {answered} of {asked} answered ({rate}), median answer {median}\n\
             • Escalated on owner silence: {auto}\n\
             • Approvals: {granted} granted, {denied} denied",
            cases = self.cases,
            high = self.high,
            low = self.low,
            open = self.open,
            completed = self.completed,
            np = self.not_planned,
            mtta = human(self.mtta),
            mttr = human(self.mttr),
            answered = self.owners_answered,
            asked = self.owners_asked,
            median = human(self.owner_median),
            auto = self.auto_escalations,
            granted = self.approvals_granted,
            denied = self.approvals_denied,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn at(base: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
        base + Duration::seconds(secs)
    }

    #[test]
    fn figures_come_from_the_cases_opened_in_the_period() {
        let now = Utc::now();
        let old = Facts {
            created_at: at(now, -10 * 86400),
            priority: Some(Priority::High),
            ..Default::default()
        };
        let a = Facts {
            created_at: at(now, -3600),
            priority: Some(Priority::High),
            acknowledged_at: Some(at(now, -3600 + 60)),
            resolved: Some((at(now, -3600 + 600), CloseReason::Completed)),
            approvals_granted: 1,
            ..Default::default()
        };
        let b = Facts {
            created_at: at(now, -1800),
            priority: Some(Priority::Low),
            acknowledged_at: Some(at(now, -1800 + 180)),
            resolved: Some((at(now, -1800 + 1200), CloseReason::NotPlanned)),
            owner_asked_at: Some(at(now, -1800 + 5)),
            owner_answered_at: Some(at(now, -1800 + 125)),
            approvals_denied: 2,
            ..Default::default()
        };
        let c = Facts {
            created_at: at(now, -600),
            priority: Some(Priority::Low),
            owner_asked_at: Some(at(now, -595)),
            auto_escalated: true,
            ..Default::default()
        };
        let all = [old, a, b, c];
        let r = report(all.iter(), at(now, -7 * 86400));
        assert_eq!((r.cases, r.high, r.low), (3, 1, 2));
        assert_eq!((r.open, r.completed, r.not_planned), (1, 1, 1));
        assert_eq!(r.mtta, Some(120.0));
        assert_eq!(r.mttr, Some(900.0));
        assert_eq!((r.owners_asked, r.owners_answered), (2, 1));
        assert_eq!(r.owner_median, Some(120.0));
        assert_eq!(r.auto_escalations, 1);
        assert_eq!((r.approvals_granted, r.approvals_denied), (1, 2));
        let text = r.text("7d");
        for needle in [
            "last 7d:* 3 (1 high, 2 low)",
            "1 open, 1 resolved as completed, 1 as not planned",
            "MTTA 2m · MTTR 15m",
            "1 of 2 answered (50%), median answer 2m",
            "owner silence: 1",
            "1 granted, 2 denied",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
        let everything = report(all.iter(), at(now, -365 * 86400));
        assert_eq!(everything.cases, 4);
    }

    #[test]
    fn no_cases_reads_as_not_available() {
        let r = report([].iter(), Utc::now());
        let text = r.text("7d");
        assert!(text.contains("MTTA n/a · MTTR n/a"), "{text}");
        assert!(text.contains("0 of 0 answered (n/a)"), "{text}");
    }

    #[test]
    fn the_median_of_an_even_count_is_the_middle_pair_mean() {
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
