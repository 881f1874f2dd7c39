//! The owner's DM: a plain-words question with three buttons (low priority), or a notice
//! (high priority); reminders and outcomes go in its thread or replace it. Owners are not
//! security people: no jargon, no severity numbers, and every alert value escaped.

use slack_morphism::prelude::*;

use super::escape::{self, MESSAGE_TEXT, inline_code, mention, mrkdwn};
use super::kit::{self, Style};
use crate::case::note::{DmNote, Said};
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

/// Identity alerts concern an account, not a device; the words change with it.
fn is_about_device(case: &Case) -> bool {
    case.alert
        .device
        .as_ref()
        .is_some_and(|d| !d.hostname.is_empty())
}

/// The tool that saw it, in words an owner knows.
fn who_saw(case: &Case) -> &'static str {
    match case.alert.source.as_str() {
        "crowdstrike" => "CrowdStrike Falcon",
        _ => "Our security tools",
    }
}

fn what_and_where(case: &Case) -> String {
    let a = &case.alert;
    let place = match a.device.as_ref().filter(|_| is_about_device(case)) {
        Some(d) => format!("on your device {}", inline_code(&d.hostname)),
        None => format!("on your account {}", inline_code(a.subject())),
    };
    let when = a
        .created_at
        .unwrap_or(case.created_at)
        .format("%Y-%m-%d %H:%M UTC");
    format!(
        "{} saw *{}* {place} at {when}.",
        who_saw(case),
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
        lines.push(format!("• Signed-in user: {}", inline_code(&a.user_name)));
    }
    lines.join("\n")
}

/// Low priority: "was this you?" with the three answers and a pointer to free text.
pub fn ask(case: &Case) -> (String, Vec<SlackBlock>) {
    let id = case.id.as_str();
    let text = format!("Security check ({id}): was this you?");
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
    (escape::truncate(&text, MESSAGE_TEXT), blocks)
}

fn what_to_do(case: &Case) -> &'static str {
    if is_about_device(case) {
        "*What to do now:* keep the device on and connected to the network and power, don't \
         wipe or restart it, and don't delete files. Save your work and stop using it until \
         security contacts you."
    } else {
        "*What to do now:* don't sign in from new places and don't approve sign-in prompts you \
         did not start. Security will contact you; if they ask, change your password."
    }
}

/// High priority: what is happening, that on-call was paged, and what to do; nothing to answer.
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
    blocks.push(kit::section(what_to_do(case)));
    blocks.push(kit::context(&format!("Case {}.", case.id)));
    (text, blocks)
}

/// The words of a DM-thread step, rendered when it runs; `None` when there is nothing to send
/// (a reminder with no owner in Slack). Text stored by an older Vigil goes as it is.
pub fn note(case: &Case, said: &Said<DmNote>) -> Option<String> {
    let note = match said {
        Said::Text(text) => return Some(text.clone()),
        Said::Note(note) => note,
    };
    match note {
        DmNote::Reminder => reminder(case),
        DmNote::Answered => Some(answered(case)),
        DmNote::Escalated => Some(escalated(case)),
        DmNote::Closed => Some(closed(case)),
    }
}

/// The reminder for the DM's thread, mentioning the owner so they are notified; `None` without
/// an owner in Slack (nobody to remind).
pub fn reminder(case: &Case) -> Option<String> {
    let user = case.owner()?.slack_user.as_deref()?;
    Some(format!(
        "{} reminder: please answer above, was this you? If we don't hear back, the security \
         on-call team will follow up. ({})",
        mention(user),
        case.id
    ))
}

/// What replaces the DM after the owner's answer (no buttons left to press twice).
pub fn answered(case: &Case) -> String {
    let thing = if is_about_device(case) {
        "device"
    } else {
        "account"
    };
    let reply = case.owner_answer.as_ref().map(|a| a.reply);
    let text = match reply {
        Some(OwnerReply::Me) => {
            "Thanks for confirming. The security team has noted it; nothing more to do.".into()
        }
        Some(OwnerReply::NotMe) => format!(
            "Thanks for telling us. The security on-call team is on it and will contact you; \
             please leave the {thing} as it is until then."
        ),
        Some(OwnerReply::NotMine) => {
            "Thanks. We'll find the right owner; nothing more to do.".into()
        }
        None => "Thanks for your answer.".into(),
    };
    format!("{text} ({})", case.id)
}

/// The DM's thread when the case was escalated after the DM was sent (no answer in time, or an
/// analyst escalated): mentions the owner so they are notified.
pub fn escalated(case: &Case) -> String {
    let mention = case
        .owner()
        .and_then(|o| o.slack_user.as_deref())
        .map(|u| format!("{} ", mention(u)))
        .unwrap_or_default();
    let keep = if is_about_device(case) {
        " Please keep the device on and connected."
    } else {
        ""
    };
    format!(
        "{mention}the security on-call team has been paged about this and will contact you.{keep} ({})",
        case.id
    )
}

/// The DM's thread when the case was closed.
pub fn closed(case: &Case) -> String {
    format!("Security closed this case ({}). Thank you!", case.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Alert, AlertDevice, CaseId, Enrichment, Owner};

    fn case(device: bool) -> Case {
        let alert = Alert {
            source: "crowdstrike".into(),
            name: "Suspicious PowerShell".into(),
            account_upn: "carol@example.com".into(),
            device: device.then(|| AlertDevice {
                hostname: "WS-CAROL".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut c = Case::new(CaseId::from_seq(12), alert, "k".into(), chrono::Utc::now());
        c.enrichment = Some(Enrichment {
            owner: Some(Owner {
                slack_user: Some("U0CAROL".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        c
    }

    fn all_text(blocks: &[SlackBlock]) -> String {
        serde_json::to_string(blocks).unwrap_or_default()
    }

    #[test]
    fn ask_names_the_device_and_has_the_three_answers_with_the_case() {
        let (text, blocks) = ask(&case(true));
        let json = all_text(&blocks);
        assert!(text.contains("VIG-12"));
        assert!(
            json.contains(
                "CrowdStrike Falcon saw *Suspicious PowerShell* on your device `WS-CAROL`"
            )
        );
        for id in [actions::ME, actions::NOT_ME, actions::NOT_MINE] {
            assert!(json.contains(&format!("\"action_id\":\"{id}\"")), "{id}");
        }
        assert_eq!(json.matches("\"value\":\"VIG-12\"").count(), 3);
        assert!(json.contains("reply in this thread"));
    }

    #[test]
    fn identity_alerts_speak_of_the_account() {
        let (_, blocks) = ask(&case(false));
        assert!(all_text(&blocks).contains("on your account `carol@example.com`"));
        let (_, blocks) = inform(&case(false));
        assert!(!all_text(&blocks).contains("device"));
    }

    #[test]
    fn inform_has_no_buttons_and_says_what_to_do() {
        let (_, blocks) = inform(&case(true));
        let json = all_text(&blocks);
        assert!(!json.contains("\"actions\""));
        assert!(json.contains("paged") && json.contains("don't wipe"));
    }

    #[test]
    fn reminder_mentions_the_owner_only_when_in_slack() {
        let c = case(true);
        assert!(reminder(&c).is_some_and(|t| t.starts_with("<@U0CAROL>")));
        let mut no_slack = c.clone();
        no_slack.enrichment = None;
        assert!(reminder(&no_slack).is_none());
        assert!(escalated(&c).starts_with("<@U0CAROL> "));
        assert!(!escalated(&no_slack).contains('<'));
    }
}
