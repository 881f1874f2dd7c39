//! Texts for the card's thread: everything that happens after the card, in words, escaped.

use super::escape::mrkdwn;
use crate::case::Case;

fn who(user: &str) -> String {
    super::escape::mention(user)
}

/// A grouped alert arrived.
pub fn grouped(case: &Case, name: &str) -> String {
    format!(
        ":heavy_plus_sign: Another alert joined this case: *{}* ({} alerts so far).",
        mrkdwn(name),
        case.alert_count()
    )
}

/// On-call was paged; `why` is Vigil's own wording (it may mention the analyst who asked).
pub fn paged(case: &Case, why: &str) -> String {
    format!(
        ":rotating_light: Paged on-call through PagerDuty ({why}). Incident key `{}`.",
        case.id
    )
}

/// Nobody could be asked and the policy leaves it to analysts.
pub fn no_owner(_case: &Case) -> String {
    ":grey_question: No owner could be found or reached in Slack; an analyst needs to look at this."
        .into()
}

/// The owner pressed a button.
pub fn owner_answered(case: &Case) -> String {
    match &case.owner_answer {
        Some(a) => format!(
            ":speech_balloon: {} answered *{}*.",
            who(&a.by),
            a.reply.label()
        ),
        None => ":speech_balloon: The owner answered.".into(),
    }
}

/// The owner wrote in the DM.
pub fn owner_wrote(case: &Case, text: &str) -> String {
    let by = case
        .owner()
        .and_then(|o| o.slack_user.as_deref())
        .map(who)
        .unwrap_or_else(|| "The owner".into());
    format!(
        ":speech_balloon: {by} wrote: {}",
        super::escape::quote(text, 1500)
    )
}

/// An analyst acknowledged.
pub fn acknowledged(_case: &Case, by: &str) -> String {
    format!(":eyes: Acknowledged by {}.", who(by))
}

/// Assigned.
pub fn assigned(_case: &Case, to: &str, by: &str) -> String {
    if to == by {
        format!(":bust_in_silhouette: {} took this case.", who(to))
    } else {
        format!(
            ":bust_in_silhouette: Assigned to {} by {}.",
            who(to),
            who(by)
        )
    }
}

/// Owner timers postponed.
pub fn snoozed(_case: &Case, by: &str, for_: &str) -> String {
    format!(
        ":zzz: {} snoozed reminders and escalation for {}.",
        who(by),
        mrkdwn(for_)
    )
}

/// Resolved.
pub fn resolved(case: &Case) -> String {
    match &case.resolution {
        Some(r) => format!(
            ":white_check_mark: Resolved by {}: {}",
            who(&r.by),
            mrkdwn(&r.reason)
        ),
        None => ":white_check_mark: Resolved.".into(),
    }
}

/// Host contained.
pub fn contained(case: &Case) -> String {
    let host = case
        .alert
        .device
        .as_ref()
        .map(|d| d.hostname.as_str())
        .unwrap_or("the host");
    format!(
        ":lock: {} was network-contained in CrowdStrike.",
        super::escape::inline_code(host)
    )
}
