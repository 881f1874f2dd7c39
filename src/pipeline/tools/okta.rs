//! Okta tools: get user, clear sessions, suspend, unsuspend. The case names a user by login or
//! id; the user is read first (the id for the lifecycle calls, the status to see whether the
//! call is needed), so suspending a suspended user or unsuspending an active one is the end
//! state asked for and succeeds without a call. Clearing sessions is idempotent at Okta.

use serde_json::json;

use super::{ToolOutcome, not_configured};
use crate::pipeline::engine::Engine;
use crate::triage::tools::ToolName;
use crate::vendors::VendorError;
use crate::vendors::okta::models::User;

pub(super) async fn run(
    engine: &Engine,
    tool: ToolName,
    login: &str,
) -> Result<ToolOutcome, VendorError> {
    let okta = engine
        .vendors
        .okta
        .as_ref()
        .ok_or_else(|| not_configured(tool, "okta"))?;
    let Some(user) = okta.user(login).await? else {
        return Ok(ToolOutcome::new(
            format!("Okta has no user `{login}`; nothing was done"),
            json!({"found": false, "user": login}),
        ));
    };
    let before = user.status.clone();
    let acted = match tool {
        ToolName::OktaClearSessions => {
            okta.clear_sessions(&user.id, true).await?;
            true
        }
        ToolName::OktaSuspendUser if before != "SUSPENDED" => {
            okta.suspend(&user.id).await?;
            true
        }
        ToolName::OktaUnsuspendUser if before == "SUSPENDED" => {
            okta.unsuspend(&user.id).await?;
            true
        }
        _ => false,
    };
    let after = if acted && tool != ToolName::OktaClearSessions {
        okta.user(&user.id).await?.unwrap_or(user)
    } else {
        user
    };
    Ok(outcome(tool, &before, acted, &after))
}

/// The summary and detail of an Okta tool: `before` is the status read first, `after` the
/// user as read after the call.
pub(super) fn outcome(tool: ToolName, before: &str, acted: bool, after: &User) -> ToolOutcome {
    let who = format!(
        "{} ({})",
        after.profile.login.as_deref().unwrap_or(&after.id),
        after.id
    );
    let summary = match (tool, acted) {
        (ToolName::OktaClearSessions, _) => {
            format!("{who}: every session and OAuth token cleared")
        }
        (ToolName::OktaSuspendUser, true) => {
            format!("{who}: suspended (was {before}, now {})", after.status)
        }
        (ToolName::OktaSuspendUser, false) => format!("{who}: already suspended"),
        (ToolName::OktaUnsuspendUser, true) => {
            format!("{who}: unsuspended (was {before}, now {})", after.status)
        }
        (ToolName::OktaUnsuspendUser, false) => {
            format!("{who}: not suspended (status {before}); nothing to do")
        }
        _ => format!(
            "{who}: {}, status {}, last login {}",
            after.display_name(),
            after.status,
            after.last_login.as_deref().unwrap_or("never"),
        ),
    };
    ToolOutcome::new(
        summary,
        json!({
            "id": after.id,
            "login": after.profile.login,
            "email": after.profile.email,
            "name": after.display_name(),
            "status": after.status,
            "status_before": before,
            "last_login": after.last_login,
            "password_changed": after.password_changed,
            "title": after.profile.title,
            "department": after.profile.department,
        }),
    )
}
