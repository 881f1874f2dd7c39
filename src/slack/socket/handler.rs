//! One envelope through the inbox: decode the payload, call the inbox, build the ack.
//!
//! Invariant: an ack is produced only when the inbox made the envelope durable (or had nothing
//! to persist), or when the payload cannot be decoded at all (Slack would only redeliver the
//! same bad payload, so it is acked and logged once). A [`NotPersisted`] answer produces no
//! ack, and the `response_url` to tell the person, when the payload has one.
//!
//! Synchronous on purpose: it runs on a blocking thread because the inbox fsyncs the store.

use serde_json::Value;
use slack_morphism::prelude::*;

use super::frames::{self, Envelope, Payload};
use super::{Delivery, Inbox, NotPersisted, interaction_kind};

/// What became of one envelope.
#[derive(Debug)]
pub(super) struct Handled {
    /// The ack frame to write, or `None` to leave the envelope unacked.
    pub ack: Option<String>,
    /// Where to tell the person their action was not saved.
    pub tell: Option<SlackResponseUrl>,
}

/// Runs `envelope` through `inbox`.
pub(super) fn handle(inbox: &dyn Inbox, envelope: &Envelope) -> Handled {
    let delivery = Delivery {
        envelope_id: envelope.envelope_id.clone(),
        retry_attempt: envelope.retry_attempt,
        retry_reason: envelope.retry_reason.clone(),
    };
    crate::telemetry::events::SlackEnvelope {
        envelope_id: &envelope.envelope_id,
        kind: envelope.kind.as_str(),
        retry_attempt: envelope.retry_attempt,
        retry_reason: &envelope.retry_reason,
    }
    .emit();
    let payload = match frames::decode_payload(envelope) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(
                envelope_id = %envelope.envelope_id,
                error = %e,
                "rejected a Slack envelope that could not be decoded; acked so it is not redelivered"
            );
            return acked(envelope, None);
        }
    };
    let (result, tell) = match payload {
        Payload::Command(event) => {
            tracing::info!(
                command = %event.command,
                user = %event.user_id,
                channel = %event.channel_id,
                envelope_id = %delivery.envelope_id,
                "slash command received"
            );
            let tell = Some(event.response_url.clone());
            let answer = inbox.command(*event, &delivery).and_then(|r| {
                serde_json::to_value(&r)
                    .map(Some)
                    .map_err(|e| NotPersisted(format!("the answer does not encode: {e}")))
            });
            (answer, tell)
        }
        Payload::Interaction(event) => {
            tracing::info!(
                kind = interaction_kind(&event),
                envelope_id = %delivery.envelope_id,
                "interaction received"
            );
            let tell = match event.as_ref() {
                SlackInteractionEvent::BlockActions(b) => b.response_url.clone(),
                _ => None,
            };
            (inbox.interaction(*event, &delivery).map(|()| None), tell)
        }
        Payload::Push(event) => {
            tracing::info!(
                event_id = %event.event_id,
                envelope_id = %delivery.envelope_id,
                retry_attempt = delivery.retry_attempt,
                retry_reason = %delivery.retry_reason,
                "event received"
            );
            (inbox.push(*event, &delivery).map(|()| None), None)
        }
    };
    match result {
        Ok(payload) => acked(envelope, payload),
        Err(e) => {
            tracing::error!(
                envelope_id = %envelope.envelope_id,
                kind = envelope.kind.as_str(),
                error = %e,
                "not acking a Slack envelope that could not be persisted; Slack will redeliver it"
            );
            Handled { ack: None, tell }
        }
    }
}

/// The ack for `envelope`; the payload only where Slack accepts one.
fn acked(envelope: &Envelope, payload: Option<Value>) -> Handled {
    let payload = payload.filter(|_| envelope.accepts_response_payload);
    Handled {
        ack: Some(frames::ack(&envelope.envelope_id, payload)),
        tell: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::socket::frames::EnvelopeType;
    use serde_json::json;

    /// An inbox that fails every persist.
    struct Broken;

    impl Inbox for Broken {
        fn command(
            &self,
            _: SlackCommandEvent,
            _: &Delivery,
        ) -> Result<SlackCommandEventResponse, NotPersisted> {
            Err(NotPersisted("disk full".into()))
        }
        fn interaction(&self, _: SlackInteractionEvent, _: &Delivery) -> Result<(), NotPersisted> {
            Err(NotPersisted("disk full".into()))
        }
        fn push(&self, _: SlackPushEventCallback, _: &Delivery) -> Result<(), NotPersisted> {
            Err(NotPersisted("disk full".into()))
        }
    }

    fn command_envelope() -> Envelope {
        Envelope {
            envelope_id: "e1".into(),
            kind: EnvelopeType::SlashCommands,
            payload: json!({
                "team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/triage",
                "text": "ack VIG-1", "response_url": "http://127.0.0.1:9/r/1", "trigger_id": "t1"
            }),
            accepts_response_payload: true,
            retry_attempt: 0,
            retry_reason: String::new(),
        }
    }

    #[test]
    fn a_failed_persist_is_not_acked_and_names_where_to_tell() {
        let h = handle(&Broken, &command_envelope());
        assert!(h.ack.is_none());
        assert_eq!(
            h.tell.map(|u| u.0.to_string()),
            Some("http://127.0.0.1:9/r/1".to_string())
        );
    }

    #[test]
    fn an_undecodable_payload_is_acked() {
        let mut env = command_envelope();
        env.payload = json!({"junk": true});
        let h = handle(&Broken, &env);
        assert_eq!(h.ack.as_deref(), Some(r#"{"envelope_id":"e1"}"#));
        assert!(h.tell.is_none());
    }
}
