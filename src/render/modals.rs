//! Modals: the resolve reason.

use slack_morphism::prelude::*;

use super::kit;
use crate::case::Case;

/// Callback id of the resolve modal.
pub const RESOLVE: &str = "resolve_case";

/// "Resolve VIG-12": one multiline reason; `private_metadata` carries the case id.
pub fn resolve(case: &Case) -> SlackView {
    let input = SlackBlockPlainTextInputElement::new()
        .with_action_id("reason".into())
        .with_multiline(true)
        .with_max_length(1000)
        .with_placeholder("False positive: admin tool run by the owner".into());
    let block = SlackInputBlock::new(
        "Why is it resolved?".into(),
        SlackInputBlockElement::PlainTextInput(input),
    )
    .with_block_id("reason".into());
    let title = super::escape::truncate(&format!("Resolve {}", case.id), 24);
    SlackView::Modal(
        SlackModalView::new(
            title.into(),
            vec![
                kit::section(&format!(
                    "*{}*: {}",
                    case.id,
                    super::escape::mrkdwn(&case.alert.name)
                )),
                block.into(),
            ],
        )
        .with_submit("Resolve".into())
        .with_close("Cancel".into())
        .with_callback_id(RESOLVE.into())
        .with_private_metadata(case.id.to_string()),
    )
}
