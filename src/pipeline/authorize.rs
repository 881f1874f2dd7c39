//! One refusal path (poise's shape): everything a person can be refused or told instead of
//! getting what they asked is a [`Refusal`], rendered to text in one place
//! ([`Refusal::text`]), and who may ask what is decided by one [`authorize`], used both before
//! the Socket Mode ack (`bot`) and again when the queued item is applied (`inbound`), since the
//! analyst list or the case may have changed in between.
//!
//! Invariant: no reply to a person about permissions or bad input is written anywhere else,
//! so the analyst refusal reads the same wherever it comes from.

use chrono::{DateTime, Utc};

use super::engine::Engine;
use super::inbound::DecideFrom;
use crate::case::approvals::{ClickedOn, EXPIRY_DECIDER, Undecidable};
use crate::case::{Case, CaseId, SlackRef};
use crate::slack::commands::UnknownCommand;

/// Why a person did not get what they asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Only the configured analysts may read or change cases.
    NotAnalyst,
    /// An owner's button pressed by someone else, or from another message than their DM.
    NotOwner,
    /// A card button whose value names a case but that is not on that case's card (a forged
    /// or stale press).
    NotThisMessage,
    /// The id parses but no such case exists.
    NoSuchCase(CaseId),
    /// What was typed is not a case id.
    BadId(String),
    /// The store could not be read, so Vigil cannot tell; the person may try again.
    StoreUnavailable(String),
    /// `/triage` input that does not parse: what was wrong, then the help.
    Usage(UnknownCommand),
    /// An approval button that cannot decide its call (SPEC §3.3): forged or unknown token,
    /// another call's or message's button, expired, decided already, or the clicker is the
    /// person the call acts on.
    Approval(Undecidable),
    /// An approval button pressed in an App Home view that is not the one Vigil published
    /// for the clicker.
    NotYourHome,
}

impl Refusal {
    /// The one rendering of every refusal; `case` (when there is one) is named at the end, so
    /// a person with several cards open knows which one refused them.
    pub fn text(&self, case: Option<&CaseId>) -> String {
        let text = match self {
            Refusal::NotAnalyst => "Sorry, only analysts can act on cases.".to_string(),
            Refusal::NotOwner => {
                "Sorry, only the device owner can answer this, from their own message.".into()
            }
            Refusal::NotThisMessage => {
                "Sorry, that button does not belong to this case's card.".into()
            }
            Refusal::NoSuchCase(id) => format!("There is no case {id}."),
            Refusal::BadId(typed) => format!(
                "`{}` is not a case id (like VIG-12).",
                crate::render::escape::mrkdwn(typed)
            ),
            Refusal::StoreUnavailable(e) => format!("Cannot read cases right now: {e}"),
            Refusal::Usage(err) => crate::slack::commands::usage_text(err),
            Refusal::Approval(why) => approval_text(why),
            Refusal::NotYourHome => {
                "Sorry, that button is not from your current Home tab; open Home again.".into()
            }
        };
        match case {
            Some(id) => format!("{text} ({id})"),
            None => text,
        }
    }

    /// The `what` label of `vigil_refusals_total`: a fixed set, whatever the input.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::NotAnalyst => "not analyst",
            Refusal::NotOwner => "not owner",
            Refusal::NotThisMessage => "not this message",
            Refusal::NoSuchCase(_) => "no such case",
            Refusal::BadId(_) => "bad id",
            Refusal::StoreUnavailable(_) => "store unavailable",
            Refusal::Usage(_) => "usage",
            Refusal::Approval(why) => match why {
                Undecidable::UnknownToken => "approval unknown token",
                Undecidable::OtherMessage => "approval other message",
                Undecidable::Decided(_) => "approval decided",
                Undecidable::Expired(_) => "approval expired",
                Undecidable::ActsOnYou => "approval acts on you",
            },
            Refusal::NotYourHome => "not your home",
        }
    }
}

fn approval_text(why: &Undecidable) -> String {
    let at = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    match why {
        Undecidable::UnknownToken => {
            "Sorry, that approval button is not valid for this case (unknown or forged token); nothing was changed.".into()
        }
        Undecidable::OtherMessage => {
            "Sorry, that approval button belongs to another call's approval message; nothing was changed.".into()
        }
        Undecidable::Decided(d) if d.by == EXPIRY_DECIDER => format!(
            "This approval already expired at {}; the call was not run.",
            at(&d.at)
        ),
        Undecidable::Decided(d) => format!(
            "This call was already {} by {} at {}; nothing was changed.",
            if d.approved { "approved" } else { "denied" },
            crate::render::escape::mention(&d.by),
            at(&d.at)
        ),
        Undecidable::Expired(t) => format!(
            "This approval expired at {}; the call will not run. Nothing was changed.",
            at(t)
        ),
        Undecidable::ActsOnYou => {
            "Sorry, you cannot decide a call that acts on you (your device or account); another analyst must.".into()
        }
    }
}

/// The store key of the App Home view last published for `user`: an approval click from a
/// Home tab counts only from that view.
pub fn home_view_key(user: &str) -> String {
    format!("home_view:{user}")
}

/// What a person asks to be allowed.
pub enum Ask<'a> {
    /// Read or change cases, or open one: analysts only.
    Analyst,
    /// Press a button on `case`'s card (`channel`, `message_ts` of the pressed message): the
    /// message must be that card.
    OnCard {
        /// The case the button's value names.
        case: &'a Case,
        /// Where the pressed message is.
        channel: &'a str,
        /// The pressed message.
        message_ts: &'a str,
    },
    /// Decide an approval on `case` with `token`, clicked `from` a message or App Home, at
    /// `now` (analysts only: ask [`Ask::Analyst`] first).
    Decide {
        /// The case the button's value routes to.
        case: &'a Case,
        /// The token the button carried.
        token: &'a str,
        /// Where it was clicked.
        from: &'a DecideFrom,
        /// When.
        now: DateTime<Utc>,
    },
    /// Answer an owner's question on `case`: the case's owner, from the case's own DM.
    OwnerAnswer {
        /// The case the button's value names.
        case: &'a Case,
        /// Where the pressed message is.
        channel: &'a str,
        /// The pressed message.
        message_ts: &'a str,
    },
}

/// Whether `who` may do what they `ask`; the one check behind every refusal.
pub fn authorize(engine: &Engine, who: &str, ask: Ask<'_>) -> Result<(), Refusal> {
    match ask {
        Ask::Analyst => {
            if engine.analysts.contains(who) {
                Ok(())
            } else {
                Err(Refusal::NotAnalyst)
            }
        }
        Ask::OnCard {
            case,
            channel,
            message_ts,
        } => {
            let on_card = case
                .card
                .as_ref()
                .is_some_and(|c| c.ts == message_ts && c.channel == channel);
            if on_card {
                Ok(())
            } else {
                Err(Refusal::NotThisMessage)
            }
        }
        Ask::Decide {
            case,
            token,
            from,
            now,
        } => {
            let clicked = clicked_on(engine, who, from)?;
            let forbid_self = engine.remediation.approvals.forbid_self;
            case.may_decide(token, &clicked, who, forbid_self, now)
                .map(|_| ())
                .map_err(Refusal::Approval)
        }
        Ask::OwnerAnswer {
            case,
            channel,
            message_ts,
        } => {
            let on_dm = case
                .dm
                .as_ref()
                .is_some_and(|d| d.ts == message_ts && d.channel == channel);
            let is_owner = case.owner().and_then(|o| o.slack_user.as_deref()) == Some(who);
            if on_dm && is_owner {
                Ok(())
            } else {
                Err(Refusal::NotOwner)
            }
        }
    }
}

/// Where an approval click came from, as the case checks it: a message as it is, a Home
/// view only when it is the one Vigil last published for `who`.
pub fn clicked_on(engine: &Engine, who: &str, from: &DecideFrom) -> Result<ClickedOn, Refusal> {
    match from {
        DecideFrom::Message { channel, ts } => Ok(ClickedOn::Message(SlackRef {
            channel: channel.clone(),
            ts: ts.clone(),
        })),
        DecideFrom::Home { view_id } => match engine.store.cursor(&home_view_key(who)) {
            Ok(Some(v)) if v == *view_id => Ok(ClickedOn::Home),
            Ok(_) => Err(Refusal::NotYourHome),
            Err(e) => Err(Refusal::StoreUnavailable(e.to_string())),
        },
    }
}

/// The case a typed id names, or the refusal telling the person why there is none.
pub fn existing_case(engine: &Engine, typed: &str) -> Result<Case, Refusal> {
    let id = CaseId::parse(typed).ok_or_else(|| Refusal::BadId(typed.to_string()))?;
    match engine.store.get(&id) {
        Ok(Some(case)) => Ok(case),
        Ok(None) => Err(Refusal::NoSuchCase(id)),
        Err(e) => Err(Refusal::StoreUnavailable(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_analyst_refusal_reads_the_same_with_or_without_a_case() {
        let id = CaseId::from_seq(4);
        assert_eq!(
            Refusal::NotAnalyst.text(None),
            "Sorry, only analysts can act on cases."
        );
        assert_eq!(
            Refusal::NotAnalyst.text(Some(&id)),
            "Sorry, only analysts can act on cases. (VIG-4)"
        );
        assert!(
            !Refusal::BadId("<!channel>".into())
                .text(None)
                .contains("<!channel>"),
            "typed input cannot ping"
        );
    }
}
