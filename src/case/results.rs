//! What steps report back: each vendor step calls one of these with what it found or made,
//! and the case records it (and moves its state where the result means progress). Steps never
//! assign a case's fields for these results themselves.

use chrono::{DateTime, Utc};

use super::note::ThreadNote;
use super::step::DmKind;
use super::{Case, CaseState, Decision, Enrichment, IssueRef, SlackRef, Step};

impl Case {
    /// Enrichment finished (with whatever it found; misses are its notes): the timeline gets a
    /// summary and each note, and the case is `Enriched`.
    pub fn enriched(&mut self, e: Enrichment, now: DateTime<Utc>) {
        let summary = match &e.owner {
            Some(o) => format!(
                "Enriched: owner {}",
                if o.name.is_empty() { &o.email } else { &o.name }
            ),
            None => "Enriched: no owner".to_string(),
        };
        self.note(now, None, summary);
        for n in &e.notes {
            self.note(now, None, n.clone());
        }
        self.enrichment = Some(e);
        self.state = CaseState::Enriched;
    }

    /// The rule table decided the priority.
    pub fn prioritised(&mut self, decision: Decision, now: DateTime<Utc>) {
        self.note(
            now,
            None,
            format!(
                "Priority {} by rule \"{}\" ({})",
                decision.priority.as_str(),
                decision.rule,
                decision.reason
            ),
        );
        self.decision = Some(decision);
    }

    /// The GitHub issue exists (opened now, or found after a crash): an enriched case is now
    /// `Ticketed`.
    pub fn issue_opened(&mut self, number: u64, url: String, now: DateTime<Utc>) {
        self.note(now, None, format!("GitHub issue #{number} opened"));
        self.issue = Some(IssueRef { number, url });
        if self.state == CaseState::Enriched {
            self.state = CaseState::Ticketed;
        }
    }

    /// The card was posted in the alerts channel.
    pub fn card_posted(&mut self, card: SlackRef, now: DateTime<Utc>) {
        self.card_found(card);
        self.note(now, None, "Card posted in the alerts channel");
    }

    /// The card exists (found after a crash between posting and recording it): a case not yet
    /// past the card is now `Announced`.
    pub fn card_found(&mut self, card: SlackRef) {
        self.card = Some(card);
        if matches!(self.state, CaseState::Ticketed | CaseState::Enriched) {
            self.state = CaseState::Announced;
        }
    }

    /// Storms: the case is listed in digest `id` instead of a card of its own; its thread
    /// replies go under that digest.
    pub fn joined_digest(&mut self, id: u64) {
        self.digest = Some(id);
    }

    /// The owner's DM was sent.
    pub fn dm_sent(&mut self, dm: SlackRef, kind: DmKind, now: DateTime<Utc>) {
        self.dm = Some(dm);
        if kind == DmKind::Ask {
            self.milestones.owner_asked_at.get_or_insert(now);
        }
        self.note(
            now,
            None,
            match kind {
                DmKind::Ask => "Owner asked in a DM",
                DmKind::Inform => "Owner told in a DM what is happening",
            },
        );
    }

    /// The owner's DM exists (found after a crash between sending and recording it).
    pub fn dm_found(&mut self, dm: SlackRef) {
        self.dm = Some(dm);
    }

    /// PagerDuty accepted the page (dedup key = case id), so acknowledging and resolving the
    /// case will also ack and resolve the incident.
    pub fn paged(&mut self, now: DateTime<Utc>) {
        self.paged = true;
        self.note(
            now,
            None,
            format!("PagerDuty paged (dedup key {})", self.id),
        );
    }

    /// The alert's host is network-contained; the card's thread says so.
    pub fn contained(&mut self, now: DateTime<Utc>) {
        let host = self
            .alert
            .device
            .as_ref()
            .map(|d| d.hostname.clone())
            .unwrap_or_default();
        self.note(
            now,
            None,
            format!("Host {host} network-contained in CrowdStrike"),
        );
        self.push_step(Step::CardThread {
            note: ThreadNote::Contained.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Alert, CaseId};

    fn card() -> SlackRef {
        SlackRef {
            channel: "C1".into(),
            ts: "1.2".into(),
        }
    }

    #[test]
    fn results_move_the_case_along_the_flow() {
        let now = Utc::now();
        let mut c = Case::open(CaseId::from_seq(1), &Alert::default(), "k", now);
        c.enriched(Enrichment::default(), now);
        assert_eq!(c.state(), CaseState::Enriched);
        c.issue_opened(7, "https://example/7".into(), now);
        assert_eq!(c.state(), CaseState::Ticketed);
        c.card_posted(card(), now);
        assert_eq!(c.state(), CaseState::Announced);
        assert_eq!(c.card, Some(card()));
    }

    #[test]
    fn a_page_makes_acknowledging_and_resolving_follow_up_at_pagerduty() {
        let now = Utc::now();
        let mut c = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        c.paged(now);
        assert!(c.was_paged());
        c.acknowledge("U1", now);
        c.resolve("U1", "done", now);
        let kinds: Vec<_> = c.steps.iter().map(|s| s.step.kind()).collect();
        assert!(kinds.contains(&"page_ack"), "{kinds:?}");
        assert!(kinds.contains(&"page_resolve"), "{kinds:?}");
    }

    #[test]
    fn a_case_without_an_issue_is_announced_by_its_card() {
        let now = Utc::now();
        let mut c = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        c.enriched(Enrichment::default(), now);
        c.card_found(card());
        assert_eq!(
            c.state(),
            CaseState::Announced,
            "no GitHub: enriched → announced"
        );
    }

    #[test]
    fn a_card_found_late_never_moves_a_case_back() {
        let now = Utc::now();
        let mut c = Case::new(CaseId::from_seq(1), Alert::default(), "k".into(), now);
        c.enriched(Enrichment::default(), now);
        c.resolve("U1", "done", now);
        c.card_found(card());
        assert_eq!(c.state(), CaseState::Resolved);
        let mut early = Case::new(CaseId::from_seq(2), Alert::default(), "k".into(), now);
        early.card_found(card());
        assert_eq!(early.state(), CaseState::New, "not enriched yet: stays new");
    }
}
