//! `/triage`: one slash command with subcommands. Each subcommand is a variant of
//! [`TriageCommand`]; [`HELP`] lists them in the same order, and a test checks that every
//! usage line parses, so help never drifts from what the parser accepts.

use std::time::Duration;

/// Which cases `/triage list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    /// Every open case.
    Open,
    /// Open cases assigned to or acknowledged by the caller.
    Mine,
    /// Open high-priority cases.
    High,
}

/// A parsed `/triage` invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriageCommand {
    /// Show what `/triage` can do.
    Help,
    /// List cases.
    List(ListFilter),
    /// Show one case.
    Show(String),
    /// Acknowledge a case.
    Ack(String),
    /// Assign a case to someone.
    Assign(String, String),
    /// Page on-call for a case.
    Escalate(String),
    /// Resolve a case with a reason.
    Resolve(String, String),
    /// Postpone a case's owner reminders and escalation.
    Snooze(String, Duration),
    /// Counts of cases.
    Stats,
    /// Open a case by hand (a form).
    New,
}

/// One help line: usage and what it does.
pub struct HelpLine {
    /// How to type it.
    pub usage: &'static str,
    /// What it does.
    pub about: &'static str,
}

/// The help, in the order people need it.
pub const HELP: &[HelpLine] = &[
    HelpLine {
        usage: "/triage help",
        about: "Show what /triage can do.",
    },
    HelpLine {
        usage: "/triage list [open|mine|high]",
        about: "List open cases (all, yours, or high priority).",
    },
    HelpLine {
        usage: "/triage show VIG-1",
        about: "Show a case: alert, owner, priority, state, links, timeline.",
    },
    HelpLine {
        usage: "/triage ack VIG-1",
        about: "Acknowledge a case (acknowledges its page too).",
    },
    HelpLine {
        usage: "/triage assign VIG-1 @someone",
        about: "Assign a case.",
    },
    HelpLine {
        usage: "/triage escalate VIG-1",
        about: "Page on-call for a case now.",
    },
    HelpLine {
        usage: "/triage resolve VIG-1 false positive, admin tool",
        about: "Resolve a case with a reason: closes the issue, the page and the alert.",
    },
    HelpLine {
        usage: "/triage snooze VIG-1 2h",
        about: "Postpone the owner's reminder and escalation.",
    },
    HelpLine {
        usage: "/triage stats",
        about: "Counts of cases by state and priority.",
    },
];

/// Input that is not a `/triage` command; answered with usage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownCommand {
    /// The first word is not a subcommand.
    #[error("unknown /triage subcommand `{0}`")]
    Subcommand(String),
    /// A subcommand is missing something.
    #[error("usage: {0}")]
    Usage(&'static str),
    /// A snooze longer than [`crate::case::flow::MAX_SNOOZE`] (or zero, or not a
    /// duration): refused rather than silently cut, so a typo like `300000y` is noticed.
    #[error(
        "snooze takes a duration from 1m to 30d, like 2h or 3d (not `{0}`); usage: /triage snooze VIG-1 2h"
    )]
    SnoozeLength(String),
}

fn usage_of(word: &str) -> &'static str {
    HELP.iter()
        .find(|h| h.usage.split_whitespace().nth(1) == Some(word))
        .map(|h| h.usage)
        .unwrap_or("/triage help")
}

/// A Slack user mention as typed (`<@U123|name>` or `<@U123>`) or a bare id.
fn user_ref(word: &str) -> Option<String> {
    let inner = word
        .strip_prefix("<@")
        .and_then(|w| w.strip_suffix('>'))
        .unwrap_or(word);
    let id = inner.split('|').next().unwrap_or("");
    (id.starts_with(['U', 'W']) && id.len() >= 3 && id.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| id.to_string())
}

impl TriageCommand {
    /// Parses the text after `/triage`. Empty text means help.
    pub fn parse(text: &str) -> Result<TriageCommand, UnknownCommand> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let Some(first) = words.first() else {
            return Ok(TriageCommand::Help);
        };
        let sub = first.to_ascii_lowercase();
        let need = |n: usize| {
            if words.len() > n {
                Ok(())
            } else {
                Err(UnknownCommand::Usage(usage_of(&sub)))
            }
        };
        let id = || words.get(1).map(|w| w.to_string()).unwrap_or_default();
        match sub.as_str() {
            "help" | "-h" | "--help" => Ok(TriageCommand::Help),
            "list" | "ls" => match words.get(1).map(|w| w.to_ascii_lowercase()).as_deref() {
                None | Some("open") => Ok(TriageCommand::List(ListFilter::Open)),
                Some("mine") => Ok(TriageCommand::List(ListFilter::Mine)),
                Some("high") => Ok(TriageCommand::List(ListFilter::High)),
                Some(_) => Err(UnknownCommand::Usage(usage_of("list"))),
            },
            "show" => need(1).map(|_| TriageCommand::Show(id())),
            "ack" => need(1).map(|_| TriageCommand::Ack(id())),
            "assign" => {
                need(2)?;
                let who = user_ref(words[2]).ok_or(UnknownCommand::Usage(usage_of("assign")))?;
                Ok(TriageCommand::Assign(id(), who))
            }
            "escalate" => need(1).map(|_| TriageCommand::Escalate(id())),
            "resolve" => {
                need(2)?;
                Ok(TriageCommand::Resolve(id(), words[2..].join(" ")))
            }
            "snooze" => {
                need(1)?;
                let d = match words.get(2) {
                    Some(w) => snooze_length(w)?,
                    None => Duration::from_secs(2 * 3600),
                };
                Ok(TriageCommand::Snooze(id(), d))
            }
            "stats" => Ok(TriageCommand::Stats),
            "new" => Ok(TriageCommand::New),
            other => Err(UnknownCommand::Subcommand(other.chars().take(40).collect())),
        }
    }
}

/// A snooze length as typed: a humantime duration from one minute to 30 days.
fn snooze_length(word: &str) -> Result<Duration, UnknownCommand> {
    let refuse = || UnknownCommand::SnoozeLength(word.chars().take(40).collect());
    let d = humantime::parse_duration(word).map_err(|_| refuse())?;
    if d < Duration::from_secs(60) || d > crate::case::flow::MAX_SNOOZE {
        return Err(refuse());
    }
    Ok(d)
}

/// The help as Slack mrkdwn.
pub fn help_text() -> String {
    let mut out = String::from("*Vigil* triages security alerts. Commands:\n");
    for line in HELP {
        out.push_str(&format!("• `{}`: {}\n", line.usage, line.about));
    }
    out
}

/// The answer to input that did not parse: what was wrong, then the help.
pub fn usage_text(err: &UnknownCommand) -> String {
    format!(
        "{}.\n{}",
        crate::render::escape::mrkdwn(&err.to_string()),
        help_text()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_help_parse_to_help() {
        assert_eq!(TriageCommand::parse(""), Ok(TriageCommand::Help));
        assert_eq!(TriageCommand::parse("  HELP "), Ok(TriageCommand::Help));
    }

    #[test]
    fn every_help_line_parses() {
        for line in HELP {
            let text = line.usage.trim_start_matches("/triage").trim();
            let text = text
                .replace("[open|mine|high]", "mine")
                .replace("@someone", "<@U0ANA00001|ana>");
            assert!(TriageCommand::parse(&text).is_ok(), "{}", line.usage);
        }
    }

    #[test]
    fn subcommands_take_their_arguments() {
        assert_eq!(
            TriageCommand::parse("resolve VIG-3 false positive, admin"),
            Ok(TriageCommand::Resolve(
                "VIG-3".into(),
                "false positive, admin".into()
            ))
        );
        assert_eq!(
            TriageCommand::parse("assign VIG-3 <@U0BEN00002|ben>"),
            Ok(TriageCommand::Assign("VIG-3".into(), "U0BEN00002".into()))
        );
        assert_eq!(
            TriageCommand::parse("snooze 3 30m"),
            Ok(TriageCommand::Snooze("3".into(), Duration::from_secs(1800)))
        );
        assert_eq!(
            TriageCommand::parse("list high"),
            Ok(TriageCommand::List(ListFilter::High))
        );
        assert!(matches!(
            TriageCommand::parse("resolve VIG-3"),
            Err(UnknownCommand::Usage(_))
        ));
        assert!(matches!(
            TriageCommand::parse("assign VIG-3 <!channel>"),
            Err(UnknownCommand::Usage(_))
        ));
    }

    #[test]
    fn a_snooze_past_thirty_days_is_answered_with_usage() {
        for word in ["300000y", "31d", "999999999999999999999s", "0s", "soon"] {
            let err = TriageCommand::parse(&format!("snooze VIG-1 {word}")).unwrap_err();
            assert!(
                matches!(err, UnknownCommand::SnoozeLength(_)),
                "{word}: {err:?}"
            );
            let text = usage_text(&err);
            assert!(text.contains("/triage snooze VIG-1 2h"), "{text}");
        }
        assert_eq!(
            TriageCommand::parse("snooze VIG-1 30d"),
            Ok(TriageCommand::Snooze(
                "VIG-1".into(),
                crate::case::flow::MAX_SNOOZE
            ))
        );
    }

    proptest::proptest! {
        /// Whatever follows `snooze VIG-1`, parsing never panics and never yields a length
        /// past the cap.
        #[test]
        fn snooze_parsing_is_total_and_bounded(word in "\\PC{0,24}", n in proptest::prelude::any::<u64>()) {
            for w in [word.clone(), format!("{n}s"), format!("{n}y"), format!("{n}d")] {
                if let Ok(TriageCommand::Snooze(_, d)) = TriageCommand::parse(&format!("snooze VIG-1 {w}")) {
                    proptest::prop_assert!(d <= crate::case::flow::MAX_SNOOZE);
                }
            }
        }
    }

    #[test]
    fn unknown_input_is_refused_with_usage_that_cannot_ping() {
        let err = TriageCommand::parse("<!channel> now").unwrap_err();
        let text = usage_text(&err);
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(text.contains("/triage help"));
    }
}
