//! The typed inbound queue item: what the Slack side (`bot`) and admission queue, and what a
//! case's runner applies. One type on both sides, so an item is decoded once, where the store
//! reads it back.
//!
//! Invariant: the on-disk form is `{"case": "VIG-n"|null, "event": {"type": …, …},
//! "delivery": {…}}`, exactly what earlier binaries wrote, so items queued before an upgrade
//! still decode (a test holds a literal of that JSON).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::case::{Alert, CaseId};
use crate::slack::socket::Delivery;

/// One queued piece of work and the case it is for: the unit `Store::enqueue` persists and
/// `Store::inbound` hands back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundItem {
    /// The case it names; `None` for an owner's DM text, whose case is found when it is
    /// applied (see [`crate::pipeline::dm_index::DmIndex::target`]).
    pub case: Option<CaseId>,
    /// What happened.
    pub event: Inbound,
    /// How Slack delivered it (envelope id and retries), for diagnosis; absent for items
    /// Vigil queued itself (a grouped alert).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
}

impl InboundItem {
    /// The item queued when an alert joins an open case: built inside the admission
    /// transaction, so it must stay a pure function of its inputs.
    pub fn grouped(case: &CaseId, alert: &Alert, at: DateTime<Utc>) -> InboundItem {
        InboundItem {
            case: Some(case.clone()),
            event: Inbound::Grouped {
                alert_id: alert.id.clone(),
                name: alert.name.clone(),
                at,
            },
            delivery: None,
        }
    }
}

/// One piece of inbound work. The `type` tag is part of the on-disk format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Inbound {
    /// Another alert joined the case.
    Grouped {
        /// Its source id.
        alert_id: String,
        /// Its name.
        name: String,
        /// When it arrived.
        at: DateTime<Utc>,
    },
    /// A button on a card or DM.
    Button {
        /// `case_ack`, `owner_me`, … (the constants in `render::card::actions` and
        /// `render::dm::actions`).
        action_id: String,
        /// Who pressed it.
        user: String,
        /// Where the message is.
        channel: String,
        /// Which message it was on.
        message_ts: String,
    },
    /// An analyst command from `/triage` or a modal.
    Command {
        /// What to do.
        command: CaseCommand,
        /// Who asked.
        user: String,
        /// Where they asked (for refusals).
        channel: String,
    },
    /// A message the owner wrote in their DM.
    OwnerText {
        /// Who wrote it.
        user: String,
        /// The IM channel.
        channel: String,
        /// What they wrote.
        text: String,
        /// The thread it is in, if any.
        thread_ts: Option<String>,
    },
}

impl Inbound {
    /// The on-disk `type` tag, for logs and the timeline when an item fails.
    pub fn kind(&self) -> &'static str {
        match self {
            Inbound::Grouped { .. } => "grouped",
            Inbound::Button { .. } => "button",
            Inbound::Command { .. } => "command",
            Inbound::OwnerText { .. } => "owner_text",
        }
    }
}

/// Analyst actions on a case. The `action` tag is part of the on-disk format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CaseCommand {
    /// Take note: someone is on it.
    Ack,
    /// Assign to a user.
    Assign {
        /// User id.
        to: String,
    },
    /// Page on-call now.
    Escalate,
    /// Close with a reason.
    Resolve {
        /// Why.
        reason: String,
    },
    /// Postpone owner timers.
    Snooze {
        /// Seconds.
        secs: u64,
    },
    /// Contain the host (the confirm dialog was the approval).
    Contain,
    /// Decide a destructive tool call's approval (SPEC §3.3) with its one-shot token.
    Decide {
        /// The token the button carried; it alone names the call.
        token: String,
        /// Approve (the call runs) or deny (it never does).
        approve: bool,
        /// Where the button was pressed: checked against the approval's own message or the
        /// clicker's App Home.
        from: DecideFrom,
    },
}

/// Where an approval button was pressed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "snake_case")]
pub enum DecideFrom {
    /// A message (the approval request in the card's thread).
    Message {
        /// Channel id.
        channel: String,
        /// Message ts.
        ts: String,
    },
    /// The clicker's App Home view.
    Home {
        /// The view's id.
        view_id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items exactly as the previous binary wrote them (`serde_json::json!` of the event
    /// plus `item["delivery"] = json!(delivery)`).
    const OLD_BUTTON: &str = r#"{"case":"VIG-7","event":{"type":"button","action_id":"case_ack","user":"U0ANA00001","channel":"C0ALERTS01","message_ts":"1700000000.000100"},"delivery":{"envelope_id":"env-1","retry_attempt":1,"retry_reason":"timeout"}}"#;
    const OLD_OWNER_TEXT: &str = r#"{"case":null,"event":{"type":"owner_text","user":"U0CAROL003","channel":"D0CAROL003","text":"yes that was me","thread_ts":null},"delivery":{"envelope_id":"env-2","retry_attempt":0,"retry_reason":""}}"#;
    const OLD_GROUPED: &str = r#"{"case":"VIG-2","event":{"type":"grouped","alert_id":"a2","name":"alert a2","at":"2026-01-01T00:00:00Z"}}"#;
    const OLD_COMMAND: &str = r#"{"case":"VIG-3","event":{"type":"command","command":{"action":"snooze","secs":7200},"user":"U0ANA00001","channel":"C0ALERTS01"},"delivery":{"envelope_id":"","retry_attempt":0,"retry_reason":""}}"#;

    #[test]
    fn items_queued_by_the_previous_binary_decode_and_encode_back_the_same() {
        for old in [OLD_BUTTON, OLD_OWNER_TEXT, OLD_GROUPED, OLD_COMMAND] {
            let item: InboundItem = serde_json::from_str(old).expect(old);
            let again = serde_json::to_value(&item).expect("encode");
            let was: serde_json::Value = serde_json::from_str(old).expect("json");
            assert_eq!(again, was, "the on-disk form is unchanged");
        }
        let item: InboundItem = serde_json::from_str(OLD_BUTTON).expect("button");
        assert_eq!(item.case, Some(CaseId("VIG-7".into())));
        assert_eq!(
            item.delivery.map(|d| (d.envelope_id, d.retry_attempt)),
            Some(("env-1".to_string(), 1))
        );
        let item: InboundItem = serde_json::from_str(OLD_OWNER_TEXT).expect("owner text");
        assert_eq!(item.case, None);
        assert_eq!(item.event.kind(), "owner_text");
        let item: InboundItem = serde_json::from_str(OLD_COMMAND).expect("command");
        assert!(matches!(
            item.event,
            Inbound::Command {
                command: CaseCommand::Snooze { secs: 7200 },
                ..
            }
        ));
    }
}
