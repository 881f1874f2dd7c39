//! App Home: the analyst's inbox.

use slack_morphism::prelude::*;

use super::card::summary_line;
use super::kit;
use crate::case::Case;

/// What the inbox lists.
#[derive(Debug, Clone, Default)]
pub struct HomeSections {
    /// Every open case.
    pub open: Vec<Case>,
    /// Cases assigned to or acknowledged by the viewer.
    pub mine: Vec<Case>,
    /// Cases waiting on an owner's answer.
    pub waiting_on_owner: Vec<Case>,
    /// Cases with actions waiting for approval.
    pub waiting_for_approval: Vec<Case>,
}

/// Each section shows this many cases, then "and N more" (a view holds 100 blocks).
const PER_SECTION: usize = 15;

fn section(blocks: &mut Vec<SlackBlock>, title: &str, cases: &[Case]) {
    blocks.push(kit::header(&format!("{title} ({})", cases.len())));
    if cases.is_empty() {
        blocks.push(kit::context("Nothing here."));
        return;
    }
    for c in cases.iter().take(PER_SECTION) {
        blocks.push(kit::section(&summary_line(c)));
    }
    if cases.len() > PER_SECTION {
        blocks.push(kit::context(&format!(
            "and {} more: `/triage list`",
            cases.len() - PER_SECTION
        )));
    }
}

/// Each waiting call with its approve/deny buttons (the same token as its thread message).
fn approvals(blocks: &mut Vec<SlackBlock>, cases: &[Case]) {
    let calls: usize = cases
        .iter()
        .filter_map(|c| c.triage.as_ref())
        .map(|t| t.awaiting().count())
        .sum();
    blocks.push(kit::header(&format!("Waiting for approval ({calls})")));
    if calls == 0 {
        blocks.push(kit::context("Nothing here."));
        return;
    }
    // Two blocks per call; the view's other sections need room too.
    let entries: Vec<SlackBlock> = cases
        .iter()
        .flat_map(super::approval::home_entries)
        .collect();
    let shown = entries.len().min(2 * PER_SECTION);
    blocks.extend(entries.into_iter().take(shown));
    if calls * 2 > shown {
        blocks.push(kit::context(&format!(
            "and {} more: see the cases' threads",
            calls - shown / 2
        )));
    }
}

/// The Home tab view.
pub fn home(user: &str, s: &HomeSections) -> SlackView {
    let mut blocks = vec![kit::section(&format!(
        "Hi {}! *Vigil* · security cases. `/triage help` for commands.",
        super::escape::mention(user)
    ))];
    section(&mut blocks, "Mine", &s.mine);
    section(&mut blocks, "Waiting on owners", &s.waiting_on_owner);
    approvals(&mut blocks, &s.waiting_for_approval);
    section(&mut blocks, "All open", &s.open);
    blocks.truncate(super::escape::VIEW_BLOCKS);
    SlackView::Home(SlackHomeView::new(blocks))
}
