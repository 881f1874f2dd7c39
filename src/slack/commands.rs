//! `/triage`: one slash command with subcommands. Each subcommand is a variant of
//! [`TriageCommand`] and of [`Subcommand`]; [`Subcommand::definition`] is the one place its
//! words, usage and help text are written (an exhaustive `match`, so a subcommand without help
//! does not compile), and [`Subcommand::ALL`] is the one list both the parser and the help
//! read (so nothing parses that help does not list). teloxide's `BotCommands` derive reads
//! the help from doc comments; without a proc-macro crate the match beside the enum is the
//! nearest Rust gets, and tests check that every usage line parses to its own subcommand.

use std::time::Duration;

use crate::triage::classify::AlertType;

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

/// A parsed `/triage` invocation, with its arguments: what the bot acts on. What each one
/// does for the person typing it is in [`Subcommand::definition`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriageCommand {
    /// `/triage help`, and empty input.
    Help,
    /// `/triage list`, with the filter (open when none is given).
    List(ListFilter),
    /// `/triage show`, with the case id as typed.
    Show(String),
    /// `/triage ack`, with the case id as typed.
    Ack(String),
    /// `/triage assign`, with the case id as typed and the assignee's Slack user id.
    Assign(String, String),
    /// `/triage escalate`, with the case id as typed.
    Escalate(String),
    /// `/triage resolve`, with the case id as typed and the reason (the rest of the line).
    Resolve(String, String),
    /// `/triage snooze`, with the case id as typed and a length from 1m to 30d (2h default).
    Snooze(String, Duration),
    /// `/triage stats`, over the cases opened in this period (7 days when none is given).
    Stats(Duration),
    /// `/triage new`: opens the new-case form.
    New,
    /// `/triage test [type]`: injects a synthetic alert of that type; without one, lists the
    /// types.
    Test(Option<AlertType>),
}

/// A `/triage` subcommand without its arguments: what help lists and what the parser looks
/// the first word up in, so the two cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subcommand {
    /// See [`TriageCommand::Help`].
    Help,
    /// See [`TriageCommand::List`].
    List,
    /// See [`TriageCommand::Show`].
    Show,
    /// See [`TriageCommand::Ack`].
    Ack,
    /// See [`TriageCommand::Assign`].
    Assign,
    /// See [`TriageCommand::Escalate`].
    Escalate,
    /// See [`TriageCommand::Resolve`].
    Resolve,
    /// See [`TriageCommand::Snooze`].
    Snooze,
    /// See [`TriageCommand::Stats`].
    Stats,
    /// See [`TriageCommand::New`].
    New,
    /// See [`TriageCommand::Test`].
    Test,
}

/// One subcommand as people meet it: the words that select it, how to type it, what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Definition {
    /// The first words that select it (matched lowercased): its name, then any aliases.
    pub words: &'static [&'static str],
    /// How to type it, with example arguments that parse (a test holds this).
    pub usage: &'static str,
    /// What it does, as the help says it.
    pub about: &'static str,
}

impl Subcommand {
    /// Every subcommand, in the order people need them. The help renders this list and the
    /// parser searches it, so a subcommand left out here neither shows nor parses.
    pub const ALL: [Subcommand; 11] = [
        Subcommand::Help,
        Subcommand::List,
        Subcommand::Show,
        Subcommand::Ack,
        Subcommand::Assign,
        Subcommand::Escalate,
        Subcommand::Resolve,
        Subcommand::Snooze,
        Subcommand::Stats,
        Subcommand::New,
        Subcommand::Test,
    ];

    /// The subcommand's words, usage and help: the one place each is written.
    pub const fn definition(self) -> Definition {
        let (words, usage, about): (&'static [&'static str], &'static str, &'static str) =
            match self {
                Subcommand::Help => (
                    &["help", "-h", "--help"],
                    "/triage help",
                    "Show what /triage can do.",
                ),
                Subcommand::List => (
                    &["list", "ls"],
                    "/triage list [open|mine|high]",
                    "List open cases (all, yours, or high priority).",
                ),
                Subcommand::Show => (
                    &["show"],
                    "/triage show VIG-1",
                    "Show a case: alert, owner, priority, state, links, timeline.",
                ),
                Subcommand::Ack => (
                    &["ack"],
                    "/triage ack VIG-1",
                    "Acknowledge a case (acknowledges its page too).",
                ),
                Subcommand::Assign => (
                    &["assign"],
                    "/triage assign VIG-1 @someone",
                    "Assign a case.",
                ),
                Subcommand::Escalate => (
                    &["escalate"],
                    "/triage escalate VIG-1",
                    "Page on-call for a case now.",
                ),
                Subcommand::Resolve => (
                    &["resolve"],
                    "/triage resolve VIG-1 false positive, admin tool",
                    "Resolve a case with a reason: closes the issue, the page and the alert.",
                ),
                Subcommand::Snooze => (
                    &["snooze"],
                    "/triage snooze VIG-1 2h",
                    "Postpone the owner's reminder and escalation.",
                ),
                Subcommand::Stats => (
                    &["stats"],
                    "/triage stats [7d]",
                    "Cases by priority and outcome, MTTA, MTTR, owner answers, auto-escalations and approvals, over a period (1h to 365d; 7d by default).",
                ),
                Subcommand::New => (
                    &["new"],
                    "/triage new",
                    "Open a case by hand: a form for the alert's details.",
                ),
                Subcommand::Test => (
                    &["test"],
                    "/triage test [type]",
                    "Inject a synthetic alert of a type (malware, phishing, suspicious_login, c2, \
                     data_exfiltration, other) and run both flows on it; without a type, list them.",
                ),
            };
        Definition {
            words,
            usage,
            about,
        }
    }

    /// The subcommand a (lowercased) first word selects, searched in [`Subcommand::ALL`].
    fn named(word: &str) -> Option<Subcommand> {
        Subcommand::ALL
            .into_iter()
            .find(|s| s.definition().words.contains(&word))
    }

    /// Reads the words after the subcommand's own.
    fn parse_args(self, args: &[&str]) -> Result<TriageCommand, UnknownCommand> {
        let usage = || UnknownCommand::Usage(self.definition().usage);
        let id = || args.first().map(|w| w.to_string()).ok_or_else(usage);
        match self {
            Subcommand::Help => Ok(TriageCommand::Help),
            Subcommand::List => match args.first().map(|w| w.to_ascii_lowercase()).as_deref() {
                None | Some("open") => Ok(TriageCommand::List(ListFilter::Open)),
                Some("mine") => Ok(TriageCommand::List(ListFilter::Mine)),
                Some("high") => Ok(TriageCommand::List(ListFilter::High)),
                Some(_) => Err(usage()),
            },
            Subcommand::Show => Ok(TriageCommand::Show(id()?)),
            Subcommand::Ack => Ok(TriageCommand::Ack(id()?)),
            Subcommand::Assign => {
                let [case, who, ..] = args else {
                    return Err(usage());
                };
                let who = user_ref(who).ok_or_else(usage)?;
                Ok(TriageCommand::Assign(case.to_string(), who))
            }
            Subcommand::Escalate => Ok(TriageCommand::Escalate(id()?)),
            Subcommand::Resolve => match args {
                [case, reason @ ..] if !reason.is_empty() => {
                    Ok(TriageCommand::Resolve(case.to_string(), reason.join(" ")))
                }
                _ => Err(usage()),
            },
            Subcommand::Snooze => {
                let case = id()?;
                let d = match args.get(1) {
                    Some(w) => snooze_length(w)?,
                    None => Duration::from_secs(2 * 3600),
                };
                Ok(TriageCommand::Snooze(case, d))
            }
            Subcommand::Stats => match args.first() {
                None => Ok(TriageCommand::Stats(DEFAULT_STATS_PERIOD)),
                Some(w) => stats_period(w).map(TriageCommand::Stats).ok_or_else(usage),
            },
            Subcommand::New => Ok(TriageCommand::New),
            Subcommand::Test => match args.first() {
                None => Ok(TriageCommand::Test(None)),
                Some(w) => AlertType::from_name(&w.to_ascii_lowercase())
                    .map(|t| TriageCommand::Test(Some(t)))
                    .ok_or_else(usage),
            },
        }
    }
}

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
        let Some((first, args)) = words.split_first() else {
            return Ok(TriageCommand::Help);
        };
        let word = first.to_ascii_lowercase();
        match Subcommand::named(&word) {
            Some(sub) => sub.parse_args(args),
            None => Err(UnknownCommand::Subcommand(word.chars().take(40).collect())),
        }
    }
}

/// The period `/triage stats` covers when none is typed.
pub const DEFAULT_STATS_PERIOD: Duration = Duration::from_secs(7 * 86400);

/// A stats period as typed (`24h`, `7d`, `30d`): from an hour to a year.
fn stats_period(word: &str) -> Option<Duration> {
    let d = humantime::parse_duration(word).ok()?;
    (Duration::from_secs(3600)..=Duration::from_secs(365 * 86400))
        .contains(&d)
        .then_some(d)
}

/// A period as people type it: whole days as `7d`, else whole hours as `36h`.
pub fn period_label(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(86400) {
        format!("{}d", secs / 86400)
    } else {
        format!("{}h", secs.div_ceil(3600))
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
    for sub in Subcommand::ALL {
        let def = sub.definition();
        out.push_str(&format!("• `{}`: {}\n", def.usage, def.about));
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

    /// The subcommand a parsed command came from. Exhaustive, so a new [`TriageCommand`]
    /// variant does not compile here until it has a [`Subcommand`] (and so a help line).
    fn subcommand_of(command: &TriageCommand) -> Subcommand {
        match command {
            TriageCommand::Help => Subcommand::Help,
            TriageCommand::List(_) => Subcommand::List,
            TriageCommand::Show(_) => Subcommand::Show,
            TriageCommand::Ack(_) => Subcommand::Ack,
            TriageCommand::Assign(..) => Subcommand::Assign,
            TriageCommand::Escalate(_) => Subcommand::Escalate,
            TriageCommand::Resolve(..) => Subcommand::Resolve,
            TriageCommand::Snooze(..) => Subcommand::Snooze,
            TriageCommand::Stats(_) => Subcommand::Stats,
            TriageCommand::New => Subcommand::New,
            TriageCommand::Test(_) => Subcommand::Test,
        }
    }

    /// A usage line as someone would type it after `/triage`, placeholders filled in.
    fn typed(usage: &str) -> String {
        usage
            .trim_start_matches("/triage")
            .trim()
            .replace("[open|mine|high]", "mine")
            .replace("[7d]", "7d")
            .replace("@someone", "<@U0ANA00001|ana>")
            .replace("[type]", "phishing")
    }

    #[test]
    fn every_usage_line_parses_to_its_own_subcommand() {
        for sub in Subcommand::ALL {
            let def = sub.definition();
            let parsed = TriageCommand::parse(&typed(def.usage));
            let parsed = parsed.unwrap_or_else(|e| panic!("{}: {e}", def.usage));
            assert_eq!(subcommand_of(&parsed), sub, "{}", def.usage);
            assert_eq!(
                def.usage.split_whitespace().nth(1),
                def.words.first().copied(),
                "the usage names the subcommand by its first word"
            );
        }
    }

    #[test]
    fn stats_takes_a_period_from_an_hour_to_a_year() {
        let day = Duration::from_secs(86400);
        assert_eq!(
            TriageCommand::parse("stats"),
            Ok(TriageCommand::Stats(7 * day))
        );
        assert_eq!(
            TriageCommand::parse("stats 30d"),
            Ok(TriageCommand::Stats(30 * day))
        );
        assert_eq!(
            TriageCommand::parse("stats 24h"),
            Ok(TriageCommand::Stats(Duration::from_secs(24 * 3600)))
        );
        for bad in ["stats 5m", "stats 400d", "stats soon", "stats 300000y"] {
            assert_eq!(
                TriageCommand::parse(bad),
                Err(UnknownCommand::Usage("/triage stats [7d]")),
                "{bad}"
            );
        }
        assert_eq!(period_label(30 * day), "30d");
        assert_eq!(period_label(Duration::from_secs(36 * 3600)), "36h");
    }

    #[test]
    fn every_subcommand_is_in_the_help() {
        let every_variant = [
            TriageCommand::Help,
            TriageCommand::List(ListFilter::Open),
            TriageCommand::Show("VIG-1".into()),
            TriageCommand::Ack("VIG-1".into()),
            TriageCommand::Assign("VIG-1".into(), "U0ANA00001".into()),
            TriageCommand::Escalate("VIG-1".into()),
            TriageCommand::Resolve("VIG-1".into(), "fp".into()),
            TriageCommand::Snooze("VIG-1".into(), Duration::from_secs(60)),
            TriageCommand::Stats(DEFAULT_STATS_PERIOD),
            TriageCommand::New,
        ];
        let help = help_text();
        for command in &every_variant {
            let sub = subcommand_of(command);
            assert!(Subcommand::ALL.contains(&sub), "{sub:?} is not listed");
            let def = sub.definition();
            assert!(
                help.contains(&format!("• `{}`: {}", def.usage, def.about)),
                "{sub:?} missing from the help:\n{help}"
            );
        }
        assert!(help.contains("• `/triage new`: "), "{help}");
        assert_eq!(TriageCommand::parse("new"), Ok(TriageCommand::New));
        assert_eq!(help.lines().count(), 1 + Subcommand::ALL.len(), "{help}");
    }

    #[test]
    fn each_word_selects_one_subcommand() {
        for sub in Subcommand::ALL {
            for word in sub.definition().words {
                assert_eq!(*word, word.to_ascii_lowercase(), "words match lowercased");
                assert_eq!(Subcommand::named(word), Some(sub), "{word}");
                let owners = Subcommand::ALL
                    .iter()
                    .filter(|s| s.definition().words.contains(word))
                    .count();
                assert_eq!(owners, 1, "`{word}` selects more than one subcommand");
            }
        }
        assert_eq!(
            TriageCommand::parse("LS high"),
            Ok(TriageCommand::List(ListFilter::High))
        );
        assert_eq!(TriageCommand::parse("--help"), Ok(TriageCommand::Help));
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
