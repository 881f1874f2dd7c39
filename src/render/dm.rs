//! The owner's DM: a plain-words question with three buttons (low priority), or a notice
//! (high priority); reminders and outcomes go in its thread.

use slack_morphism::prelude::*;

use super::escape::{inline_code, mrkdwn};
use super::kit::{self, Style};
use crate::case::{Case, OwnerReply};

/// Action ids in owner DMs (stable; documented in the README).
pub mod actions {
    /// "Yes, this was me".
    pub const ME: &str = "owner_me";
    /// "No, this wasn't me".
    pub const NOT_ME: &str = "owner_not_me";
    /// "Not my device".
    pub const NOT_MINE: &str = "owner_not_mine";
}

fn what_and_where(case: &Case) -> String {
    let a = &case.alert;
    let place = match &a.device {
        Some(d) if !d.hostname.is_empty() => format!("on your device {}", inline_code(&d.hostname)),
        _ => format!("on your account {}", inline_code(a.subject())),
    };
    let when = a
        .created_at
        .unwrap_or(case.created_at)
        .format("%Y-%m-%d %H:%M UTC");
    format!(
        "Our security tools saw *{}* {place} at {when}.",
        mrkdwn(&a.name)
    )
}

fn facts(case: &Case) -> String {
    let a = &case.alert;
    let mut lines = vec![];
    if !a.filename.is_empty() {
        lines.push(format!("• File: {}", inline_code(&a.filename)));
    }
    if !a.cmdline.is_empty() {
        lines.push(format!("• Command: {}", inline_code(&a.cmdline)));
    }
    if !a.user_name.is_empty() {
        lines.push(format!("• Account: {}", inline_code(&a.user_name)));
    }
    lines.join("\n")
}

/// Low priority: "was this you?"
pub fn ask(case: &Case) -> (String, Vec<SlackBlock>) {
    let id = case.id.as_str();
    let text = format!("Security check ({}): was this you?", case.id);
    let mut blocks = vec![kit::section(&format!(
        "Hi! {}\nIf you did this, just tell us. If not, we will take it from here.",
        what_and_where(case)
    ))];
    let f = facts(case);
    if !f.is_empty() {
        blocks.push(kit::section(&f));
    }
    blocks.push(kit::actions(
        &format!("owner:{id}"),
        vec![
            kit::button(OwnerReply::Me.label(), actions::ME, id, Style::Primary),
            kit::button(
                OwnerReply::NotMe.label(),
                actions::NOT_ME,
                id,
                Style::Danger,
            ),
            kit::button(
                OwnerReply::NotMine.label(),
                actions::NOT_MINE,
                id,
                Style::Plain,
            ),
        ],
    ));
    blocks.push(kit::context(&format!(
        "You can also reply in this thread in your own words. Case {id}."
    )));
    (text, blocks)
}

/// High priority: what is happening and what to do; nothing to answer.
pub fn inform(case: &Case) -> (String, Vec<SlackBlock>) {
    let text = format!(
        "Security notice ({}): our on-call team is looking into an alert",
        case.id
    );
    let mut blocks = vec![kit::section(&format!(
        ":rotating_light: {}\nThe security on-call team has been paged and will contact you.",
        what_and_where(case)
    ))];
    let f = facts(case);
    if !f.is_empty() {
        blocks.push(kit::section(&f));
    }
    blocks.push(kit::section(
        "*What to do now:* keep the device on and connected to power, don't wipe or restart it, \
         and don't delete files. If you use it for work right now, save your work and stop.",
    ));
    blocks.push(kit::context(&format!("Case {}.", case.id)));
    (text, blocks)
}

/// The reminder, mentioning the owner so they are notified; `None` without an owner in Slack.
pub fn reminder(case: &Case) -> Option<String> {
    let user = case.owner()?.slack_user.clone()?;
    Some(format!(
        "<@{user}> reminder: please answer above, was this you? If we don't hear back, the security on-call team will follow up. ({})",
        case.id
    ))
}

/// After the owner's answer.
pub fn answered(case: &Case) -> String {
    let reply = case.owner_answer.as_ref().map(|a| a.reply);
    match reply {
        Some(OwnerReply::Me) => "Thanks for confirming. The security team has noted it; nothing more to do.".into(),
        Some(OwnerReply::NotMe) => "Thanks for telling us. The security on-call team is on it and will contact you; please keep the device on and don't use it.".into(),
        Some(OwnerReply::NotMine) => "Thanks. We'll find the right owner; nothing more to do.".into(),
        None => "Thanks for your answer.".into(),
    }
}

/// The case was escalated after the DM was sent.
pub fn escalated(case: &Case) -> String {
    let mention = case
        .owner()
        .and_then(|o| o.slack_user.clone())
        .map(|u| format!("<@{u}> "))
        .unwrap_or_default();
    format!(
        "{mention}the security on-call team has been paged about this and will contact you. Please keep the device on and connected. ({})",
        case.id
    )
}

/// The case was closed.
pub fn closed(case: &Case) -> String {
    format!("Security closed this case ({}). Thank you!", case.id)
}
