//! `/triage`: one slash command with subcommands. Each subcommand is a variant of
//! [`TriageCommand`] and its doc comment is its line in the help, so help never drifts from
//! what the parser accepts.

/// A parsed `/triage` invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriageCommand {
    /// Show what `/triage` can do.
    Help,
}

/// One help line: usage and what it does.
pub struct HelpLine {
    /// How to type it.
    pub usage: &'static str,
    /// What it does.
    pub about: &'static str,
}

/// The help, in the order people need it.
pub const HELP: &[HelpLine] = &[HelpLine {
    usage: "/triage help",
    about: "Show what /triage can do.",
}];

/// Input that is not a `/triage` command; answered with usage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown /triage subcommand `{0}`")]
pub struct UnknownCommand(pub String);

impl TriageCommand {
    /// Parses the text after `/triage`. Empty text means help.
    pub fn parse(text: &str) -> Result<TriageCommand, UnknownCommand> {
        let mut words = text.split_whitespace();
        match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("help") | Some("-h") | Some("--help") => Ok(TriageCommand::Help),
            Some(other) => Err(UnknownCommand(other.chars().take(40).collect())),
        }
    }
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
        crate::slack::escape_mrkdwn(&err.to_string()),
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
    fn unknown_input_is_refused_with_usage_that_cannot_ping() {
        let err = TriageCommand::parse("<!channel> now").unwrap_err();
        let text = usage_text(&err);
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(text.contains("/triage help"));
    }
}
