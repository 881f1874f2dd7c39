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
    match engine.slack.publish_home(user, home(user, &sections)).await {
        // Approval buttons pressed in App Home count only from this view (see `authorize`).
        Ok(view_id) => {
            if let Err(e) = engine
                .store
                .set_cursor(&crate::pipeline::authorize::home_view_key(user), &view_id)
            {
                tracing::warn!(error = %e, user, "could not record the published App Home");
            }
        }
        Err(e) => tracing::warn!(error = %e, user, "could not publish App Home"),
    }
}

/// Open cases, the user's, those waiting on owners, and (for analysts) those with a call
/// waiting for approval. People who are not analysts see only cases where they are the owner.
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
    let waiting_for_approval = if analyst {
        open.iter()
            .filter(|c| {
                c.triage
                    .as_ref()
                    .is_some_and(|t| t.awaiting().next().is_some())
            })
            .cloned()
            .collect()
    } else {
        vec![]
    };
    HomeSections {
        open,
        mine,
        waiting_on_owner,
        waiting_for_approval,
    }
}
