//! Modals: the resolve reason (from the card's Resolve button) and the manual alert form
//! (`/triage new`). Block and action ids are stable: the submission handler reads
//! `view.state.values[<block id>][<action id>]`, and each input uses the same name for both.

use slack_morphism::prelude::*;

use super::escape::{self, MODAL_TITLE, PRIVATE_METADATA};
use super::kit;
use crate::case::Case;

/// Callback id of the resolve modal.
pub const RESOLVE: &str = "resolve_case";
/// Block and action id of the resolve modal's reason input.
pub const REASON: &str = "reason";
/// Longest resolve reason accepted (it goes to the card, the thread and the issue).
pub const REASON_MAX: u64 = 1000;

/// Callback id of the `/triage new` modal.
pub const NEW_ALERT: &str = "new_alert";
/// Block and action id of the hostname input.
pub const HOSTNAME: &str = "hostname";
/// Block and action id of the alert title input.
pub const TITLE: &str = "title";
/// Block and action id of the severity (1–100) input.
pub const SEVERITY: &str = "severity";
/// Block and action id of the description input.
pub const DESCRIPTION: &str = "description";

fn text_input(
    id: &str,
    label: &str,
    placeholder: &str,
    multiline: bool,
    max: u64,
) -> SlackInputBlock {
    let element = SlackBlockPlainTextInputElement::new()
        .with_action_id(id.into())
        .with_multiline(multiline)
        .with_max_length(max)
        .with_placeholder(placeholder.into());
    SlackInputBlock::new(
        label.into(),
        SlackInputBlockElement::PlainTextInput(element),
    )
    .with_block_id(id.into())
}

fn modal(title: &str, blocks: Vec<SlackBlock>, submit: &str, callback_id: &str) -> SlackModalView {
    SlackModalView::new(escape::plain(title, MODAL_TITLE).into(), blocks)
        .with_submit(submit.into())
        .with_close("Cancel".into())
        .with_callback_id(callback_id.into())
}

/// "Resolve VIG-12": one multiline reason; `private_metadata` carries the case id so the
/// submission names its case.
pub fn resolve(case: &Case) -> SlackView {
    let reason = text_input(
        REASON,
        "Why is it resolved?",
        "False positive: admin tool run by the owner",
        true,
        REASON_MAX,
    );
    let about = kit::section(&format!(
        "*{}*: {}",
        case.id,
        escape::mrkdwn(&case.alert.name)
    ));
    SlackView::Modal(
        modal(
            &format!("Resolve {}", case.id),
            vec![about, reason.into()],
            "Resolve",
            RESOLVE,
        )
        .with_private_metadata(escape::truncate(case.id.as_str(), PRIVATE_METADATA)),
    )
}

/// The `/triage new` form: hostname, title, severity 1–100 and an optional description.
pub fn new_alert() -> SlackView {
    let severity = SlackBlockNumberInputElement::new(false)
        .with_action_id(SEVERITY.into())
        .with_min_value("1".into())
        .with_max_value("100".into())
        .with_initial_value("50".into());
    let severity = SlackInputBlock::new(
        "Severity (1–100)".into(),
        SlackInputBlockElement::NumberInput(severity),
    )
    .with_block_id(SEVERITY.into())
    .with_hint("Falcon's scale: under 20 informational, 80 and above critical.".into());
    let description = text_input(
        DESCRIPTION,
        "Description",
        "What was seen, by whom, and where",
        true,
        2000,
    )
    .with_optional(true);
    let blocks = vec![
        kit::section("Open a case by hand. It goes through the same triage as a Falcon alert."),
        text_input(HOSTNAME, "Hostname", "WS-CAROL-MBP", false, 255).into(),
        text_input(TITLE, "Title", "Suspicious PowerShell", false, 150).into(),
        severity.into(),
        description.into(),
    ];
    SlackView::Modal(modal("New alert", blocks, "Create", NEW_ALERT))
}
