//! Which case an owner's DM text is for, answered from memory: every case with an owner DM,
//! by IM channel, with what the choice needs (its DM's ts, open or not, when it was opened).
//!
//! Invariant: only the engine writes cases, and it updates this index on every save and when
//! a case is opened, and rebuilds it from the store at recovery, so the index answers as the
//! stored cases would. Finding a DM's case used to decode that channel's cases from the store
//! on the async runtime at every enqueue (a tenth of the CPU under `vigil bench`, and acks
//! waited behind it).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use super::inbound::{Inbound, InboundItem};
use crate::case::{Case, CaseId};

/// What the choice of a DM's case reads of one case.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    ts: String,
    open: bool,
    created_at: DateTime<Utc>,
}

/// IM channel → the cases with an owner DM in it.
#[derive(Debug, Default)]
pub struct DmIndex {
    channels: RwLock<HashMap<String, HashMap<CaseId, Entry>>>,
}

impl DmIndex {
    /// Records the case as it was just saved (nothing for a case without a DM).
    pub fn update(&self, case: &Case) {
        let Some(dm) = &case.dm else {
            return;
        };
        let entry = Entry {
            ts: dm.ts.clone(),
            open: case.state().is_open(),
            created_at: case.created_at,
        };
        self.channels
            .write()
            .entry(dm.channel.clone())
            .or_default()
            .insert(case.id.clone(), entry);
    }

    /// Replaces the index with these cases (at start-up, from the store).
    pub fn rebuild(&self, cases: &[Case]) {
        self.channels.write().clear();
        for case in cases {
            self.update(case);
        }
    }

    /// Which case an item is for: the one it names, or for an owner's DM text, the case whose
    /// DM thread it is in, else the most recent open case with a DM in that channel. `None`:
    /// no case (a stray).
    pub fn target(&self, item: &InboundItem) -> Option<CaseId> {
        if let Some(id) = &item.case {
            return Some(id.clone());
        }
        let Inbound::OwnerText {
            channel, thread_ts, ..
        } = &item.event
        else {
            return None;
        };
        let channels = self.channels.read();
        let cases = channels.get(channel)?;
        if let Some(ts) = thread_ts
            && let Some((id, _)) = cases.iter().find(|(_, e)| &e.ts == ts)
        {
            return Some(id.clone());
        }
        cases
            .iter()
            .filter(|(_, e)| e.open)
            .max_by_key(|(id, e)| (e.created_at, id.as_str().len(), id.as_str().to_string()))
            .map(|(id, _)| id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Alert, CaseState, SlackRef};

    fn case(n: u64, channel: &str, ts: &str, minutes: i64) -> Case {
        let at = Utc::now() + chrono::Duration::minutes(minutes);
        let mut c = Case::new(CaseId::from_seq(n), Alert::default(), "k".into(), at);
        c.dm = Some(SlackRef {
            channel: channel.into(),
            ts: ts.into(),
        });
        c
    }

    fn text(channel: &str, thread_ts: Option<&str>) -> InboundItem {
        InboundItem {
            case: None,
            event: Inbound::OwnerText {
                channel: channel.into(),
                thread_ts: thread_ts.map(Into::into),
                user: "U1".into(),
                text: "it was me".into(),
            },
            ..InboundItem::grouped(&CaseId::from_seq(1), &Alert::default(), Utc::now())
        }
    }

    #[test]
    fn a_thread_reply_finds_its_case_and_free_text_the_newest_open_one() {
        let index = DmIndex::default();
        let old = case(1, "D1", "1.0", 0);
        let new = case(2, "D1", "2.0", 5);
        let mut closed = case(3, "D1", "3.0", 10);
        closed.force_state(CaseState::Resolved);
        index.rebuild(&[old.clone(), new.clone(), closed.clone()]);
        assert_eq!(index.target(&text("D1", Some("1.0"))), Some(old.id.clone()));
        assert_eq!(
            index.target(&text("D1", Some("3.0"))),
            Some(closed.id.clone())
        );
        assert_eq!(index.target(&text("D1", None)), Some(new.id.clone()));
        assert_eq!(index.target(&text("D2", None)), None, "another channel");
        // A save that closes the newest case moves free text to the one still open.
        let mut new_closed = new.clone();
        new_closed.force_state(CaseState::Resolved);
        index.update(&new_closed);
        assert_eq!(index.target(&text("D1", None)), Some(old.id.clone()));
    }
}
