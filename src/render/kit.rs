//! Small Block Kit constructors that apply Slack's limits, so no builder can emit a block
//! Slack would refuse. Text passed here is already escaped; these only truncate.
//!
//! Invariant: every mrkdwn text object Vigil sends is built by [`mrkdwn_text`] and so carries
//! `verbatim: true`. Vigil's mrkdwn mixes its own wording with alert, vendor and people's text;
//! with `verbatim` false Slack would turn bare URLs, `#channel` names and some mentions in that
//! text into links or pings. Vigil's own links and mentions use the explicit `<url|label>` and
//! `<@U…>` forms, which Slack still renders with `verbatim: true`, and formatting (`*bold*`,
//! `` `code` ``) is unaffected. So the rule is simply "all mrkdwn is verbatim": no builder has
//! to decide whether its text is trusted.

use slack_morphism::prelude::*;

use super::escape::{self, BUTTON_TEXT, BUTTON_VALUE, FIELD_TEXT, HEADER_TEXT, SECTION_TEXT};

/// A verbatim mrkdwn text object cut to `max` characters: the only way Vigil builds mrkdwn,
/// so untrusted text inside it is never auto-linked (see the module invariant).
pub fn mrkdwn_text(text: &str, max: usize) -> SlackBlockMarkDownText {
    SlackBlockMarkDownText::new(escape::truncate_mrkdwn(text, max)).with_verbatim(true)
}

/// A mrkdwn text object (verbatim).
pub fn md(text: &str, max: usize) -> SlackBlockText {
    mrkdwn_text(text, max).into()
}

/// A section with mrkdwn text.
pub fn section(text: &str) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(md(text, SECTION_TEXT))
        .into()
}

/// A section of up to 10 two-column fields.
pub fn fields(items: &[String]) -> SlackBlock {
    let fields = items.iter().take(10).map(|f| md(f, FIELD_TEXT)).collect();
    SlackSectionBlock::new().with_fields(fields).into()
}

/// A header (plain text).
pub fn header(text: &str) -> SlackBlock {
    SlackHeaderBlock::new(escape::plain(text, HEADER_TEXT).into()).into()
}

/// A context line of mrkdwn (verbatim).
pub fn context(text: &str) -> SlackBlock {
    let el = SlackContextBlockElement::MarkDown(mrkdwn_text(text, FIELD_TEXT));
    SlackContextBlock::new(vec![el]).into()
}

/// A divider block, between a card's sections.
pub fn divider() -> SlackBlock {
    SlackDividerBlock::new().into()
}

/// Button looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Slack's default (grey) button.
    Plain,
    /// Slack's `primary` (green): the expected answer.
    Primary,
    /// Slack's `danger` (red): escalates or changes something.
    Danger,
}

/// A button whose value names its case.
pub fn button(label: &str, action_id: &str, value: &str, style: Style) -> SlackBlockButtonElement {
    let mut b = SlackBlockButtonElement::new(escape::plain(label, BUTTON_TEXT).into())
        .with_action_id(action_id.into())
        .with_value(escape::truncate(value, BUTTON_VALUE));
    match style {
        Style::Plain => {}
        Style::Primary => b = b.with_style(SlackBlockButtonStyle::Primary),
        Style::Danger => b = b.with_style(SlackBlockButtonStyle::Danger),
    }
    b
}

/// A confirm dialog for a button.
pub fn confirm(title: &str, text: &str, yes: &str) -> SlackBlockConfirmItem {
    SlackBlockConfirmItem::new(
        escape::plain(title, 100).into(),
        SlackBlockPlainText::new(escape::plain(text, 300)).into(),
        escape::plain(yes, 30).into(),
        "Cancel".into(),
    )
}

/// A row of buttons (at most 25).
pub fn actions(block_id: &str, buttons: Vec<SlackBlockButtonElement>) -> SlackBlock {
    let elements = buttons
        .into_iter()
        .take(25)
        .map(SlackActionBlockElement::Button)
        .collect();
    SlackActionsBlock::new(elements)
        .with_block_id(block_id.into())
        .into()
}
