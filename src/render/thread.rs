//! Texts for the card's thread: everything that happens after the card, in words, escaped.
//! [`message`] is how every thread reply (card or DM) goes to Slack: a top-level `text` has no
//! `verbatim` switch, so the words also go in one verbatim section, which Slack shows instead.

use slack_morphism::prelude::*;

use super::escape::{MESSAGE_TEXT, mrkdwn, truncate_mrkdwn};
use super::kit;
use crate::case::Case;
use crate::case::note::{Said, ThreadNote};

/// A thread reply for `chat.postMessage`: `text` for notifications and one verbatim mrkdwn
/// section with the same words, so the alert and people's text in it is never auto-linked.
pub fn message(text: &str) -> SlackMessageContent {
    SlackMessageContent::new()
        .with_text(truncate_mrkdwn(text, MESSAGE_TEXT))
        .with_blocks(vec![kit::section(text)])
}

/// The words of a card-thread step, rendered when it runs; text stored by an older Vigil is
/// already mrkdwn and goes as it is.
pub fn note(case: &Case, said: &Said<ThreadNote>) -> String {
    let note = match said {
        Said::Text(text) => return text.clone(),
        Said::Note(note) => note,
    };
    match note {
        ThreadNote::Grouped { name, alerts } => grouped(name, *alerts),
        ThreadNote::Paged { why } => paged(case, why),
        ThreadNote::NoOwner => no_owner(case),
        ThreadNote::OwnerAnswered => owner_answered(case),
        ThreadNote::OwnerWrote { text } => owner_wrote(case, text),
        ThreadNote::Acknowledged { by } => acknowledged(case, by),
        ThreadNote::Assigned { to, by } => assigned(case, to, by),
        ThreadNote::Snoozed { by, for_ } => snoozed(case, by, for_),
        ThreadNote::Resolved => resolved(case),
        ThreadNote::Contained => contained(case),
        ThreadNote::ApprovalDecided { call } => super::approval::decided_note(case, *call),
        ThreadNote::NoSop => super::remediation::no_sop_reply(case),
        ThreadNote::StepFailed { kind, error } => step_failed(kind, error),
        ThreadNote::ToolCall { call } => super::tools::call_reply(case, *call),
        ThreadNote::AgentSummary => super::tools::agent_summary(case),
        ThreadNote::AgentStopped { reason } => super::tools::agent_stopped(reason),
    }
}

/// A step gave up and the case went on without it.
fn step_failed(kind: &str, error: &str) -> String {
    format!(
        ":warning: {} failed: {}. Vigil went on without it.",
        kind,
        mrkdwn(error)
    )
}

fn who(user: &str) -> String {
    super::escape::mention(user)
}

/// A grouped alert arrived, `alerts` being the case's count when it joined.
pub fn grouped(name: &str, alerts: usize) -> String {
    format!(
        ":heavy_plus_sign: Another alert joined this case: *{}* ({alerts} alerts so far).",
        mrkdwn(name),
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

/// The thread line saying who assigned the case to whom.
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

/// The thread line saying who resolved the case and why.
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

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::case::{
        Alert, AlertDevice, CaseId, Enrichment, Owner, OwnerAnswer, OwnerReply, Resolution,
    };

    fn case() -> Case {
        let alert = Alert {
            name: "x".into(),
            device: Some(AlertDevice {
                hostname: "WS-`1`<!here>".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut c = Case::new(CaseId::from_seq(12), alert, "k".into(), Utc::now());
        c.enrichment = Some(Enrichment {
            owner: Some(Owner {
                slack_user: Some("U0CAROL".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        c
    }

    #[test]
    fn people_are_mentioned_and_their_words_escaped() {
        let mut c = case();
        c.owner_answer = Some(OwnerAnswer {
            reply: OwnerReply::Me,
            by: "U0CAROL".into(),
            at: Utc::now(),
        });
        assert!(owner_answered(&c).contains("<@U0CAROL> answered *Yes, this was me*"));
        let wrote = owner_wrote(&c, "it was me <!channel>\nreally");
        assert!(wrote.starts_with(":speech_balloon: <@U0CAROL> wrote:"));
        assert!(wrote.contains("&lt;!channel&gt;\n>really"), "{wrote}");
        assert_eq!(
            acknowledged(&c, "U0ANA"),
            ":eyes: Acknowledged by <@U0ANA>."
        );
        assert!(assigned(&c, "U0ANA", "U0ANA").contains("<@U0ANA> took this case"));
        assert!(assigned(&c, "U0BOB", "U0ANA").contains("Assigned to <@U0BOB> by <@U0ANA>"));
        assert!(snoozed(&c, "U0ANA", "2h <!here>").contains("2h &lt;!here&gt;"));
    }

    #[test]
    fn alert_text_never_pings_from_the_thread() {
        let mut c = case();
        c.resolution = Some(Resolution {
            by: "<!channel>".into(),
            reason: "<@U1> fp".into(),
            at: Utc::now(),
        });
        let texts = [
            resolved(&c),
            grouped("<!everyone> again", c.alert_count()),
            contained(&c),
            no_owner(&c),
        ];
        for t in texts {
            assert!(!t.contains("<!") && !t.contains("<@U1>"), "{t}");
        }
        assert!(contained(&c).contains("`WS-ˋ1ˋ&lt;!here&gt;`"));
        let count = format!("({} alerts so far)", c.alert_count());
        assert!(grouped("again", c.alert_count()).contains(&count));
    }
}
