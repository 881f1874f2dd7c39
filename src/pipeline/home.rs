//! App Home: the analyst's inbox, published when they open the Home tab.

use crate::case::{Case, CaseState};
use crate::pipeline::Engine;
use crate::render::home::{HomeSections, home};

/// Builds and publishes `user`'s App Home; failures are logged (the tab shows the last view).
pub async fn publish(engine: &Engine, user: &str) {
    let cases = match engine.store.cases() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read cases for App Home");
            return;
        }
    };
    let sections = sections(&cases, user, engine.analysts.contains(user));
    if let Err(e) = engine.slack.publish_home(user, home(user, &sections)).await {
        tracing::warn!(error = %e, user, "could not publish App Home");
    }
}

/// Open cases, the user's, those waiting on owners; approvals arrive with flow 2. People who
/// are not analysts see only cases where they are the owner.
pub fn sections(cases: &[Case], user: &str, analyst: bool) -> HomeSections {
    let open: Vec<Case> = cases
        .iter()
        .filter(|c| c.state().is_open())
        .filter(|c| analyst || c.owner().and_then(|o| o.slack_user.as_deref()) == Some(user))
        .rev()
        .cloned()
        .collect();
    let mine = open
        .iter()
        .filter(|c| {
            c.assignee.as_deref() == Some(user) || c.acknowledged_by.as_deref() == Some(user)
        })
        .cloned()
        .collect();
    let waiting_on_owner = open
        .iter()
        .filter(|c| c.state() == CaseState::AwaitingOwner)
        .cloned()
        .collect();
    HomeSections {
        open,
        mine,
        waiting_on_owner,
        waiting_for_approval: vec![],
    }
}
