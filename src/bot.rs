//! The bot's inbox: what happens to each Slack event once the socket has decoded it.
//!
//! Everything here runs inside the Socket Mode callback, before the ack, so it only parses and
//! answers from memory. The slash command's reply rides on the ack itself.

use slack_morphism::prelude::*;

use crate::slack::commands::{self, TriageCommand};
use crate::slack::socket::{Inbox, interaction_kind};

/// The Slack-facing half of Vigil.
#[derive(Debug, Default)]
pub struct Bot;

impl Bot {
    /// A bot with nothing configured beyond Slack.
    pub fn new() -> Self {
        Bot
    }
}

fn ephemeral(text: String) -> SlackCommandEventResponse {
    SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text))
        .with_response_type(SlackMessageResponseType::Ephemeral)
}

impl Inbox for Bot {
    fn command(&self, event: SlackCommandEvent) -> SlackCommandEventResponse {
        let text = event.text.as_deref().unwrap_or("");
        match TriageCommand::parse(text) {
            Ok(TriageCommand::Help) => ephemeral(commands::help_text()),
            Err(unknown) => {
                tracing::info!(user = %event.user_id, error = %unknown, "answered unknown /triage input with usage");
                ephemeral(commands::usage_text(&unknown))
            }
        }
    }

    fn interaction(&self, event: SlackInteractionEvent) {
        tracing::info!(
            kind = interaction_kind(&event),
            "interaction logged; no handler for it yet"
        );
    }

    fn push(&self, event: SlackPushEventCallback) {
        let kind = match &event.event {
            SlackEventCallbackBody::Message(_) => "message",
            SlackEventCallbackBody::AppHomeOpened(_) => "app_home_opened",
            _ => "other",
        };
        tracing::info!(event_id = %event.event_id, kind, "event logged; no handler for it yet");
    }
}
