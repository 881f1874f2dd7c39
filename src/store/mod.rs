//! Where cases live: a `Store` trait with a sled implementation (the real one) and an in-memory
//! one (unit tests), which share one test suite.
//!
//! Every write that matters is durable when the call returns: the pipeline records an intent,
//! then acts, then records the result, and a crash between any two of those is recovered by
//! reading the store back. A store that cannot be opened or read is an error, never an empty
//! start (which would re-ticket and re-page everything).

pub mod memory;
pub mod sled_store;
#[cfg(test)]
mod tests;

use crate::case::{Alert, Case, CaseId};
use crate::pipeline::inbound::InboundItem;
use chrono::{DateTime, Duration, Utc};

pub use memory::MemoryStore;
pub use sled_store::SledStore;

/// What happened to an incoming alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// A new case was opened and saved; the caller starts its pipeline.
    Opened(Box<Case>),
    /// The same alert id was seen before; nothing changed.
    Duplicate(CaseId),
    /// It joins this open case (same grouping key, inside the window); an inbound item telling
    /// the case about it was queued in the same transaction.
    Grouped(CaseId),
}

/// Storage failures, with the path and what to do where that helps.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error(
        "cannot open the store at {path}: {reason}. Check store.path is writable and that no other vigil process uses it; never delete it to start over, or every open case is re-ticketed and re-paged"
    )]
    Open {
        /// The store's folder (`store.path`, resolved).
        path: String,
        /// sled's error (for example: another process holds the folder's lock).
        reason: String,
    },
    /// A stored record did not decode.
    #[error(
        "the store holds a record that does not decode ({what}): {reason}. Vigil will not guess; restore the store from a backup (sled export) or fix the record"
    )]
    Corrupt {
        /// Which record (`case VIG-12`, `meta case_seq`).
        what: String,
        /// The decoder's message, as serde gives it.
        reason: String,
    },
    /// A record found when the store was checked at open is damaged; `vigil run` refuses to
    /// start on it rather than guess (a corrupt `case_seq` would reuse case ids, a corrupt
    /// inbox item would stall every case).
    #[error(
        "the store at {path} is damaged: tree `{tree}`, {record}: {reason}. Vigil will not start on it; restore the store from a backup (sled export) or repair that record. Never delete the store to start over, or every open case is re-ticketed and re-paged"
    )]
    Damaged {
        /// The store's folder.
        path: String,
        /// The sled tree holding the record.
        tree: &'static str,
        /// Which record (its key, readably).
        record: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A read, write or flush failed (sled's message); the write may not have happened.
    #[error("store I/O failed: {0}")]
    Io(String),
}

/// Builds the case for a new alert (given its fresh id) inside the admission transaction.
pub type OpenFn<'a> = &'a (dyn Fn(CaseId) -> Case + Sync);
/// The inbound item queued for an open case when an alert joins it.
pub type GroupFn<'a> = &'a (dyn Fn(&CaseId) -> InboundItem + Sync);

/// Everything Vigil must not lose: cases, their indexes, cursors, dedupe keys and the
/// inbox. Writes are durable on return; implementations share one test suite.
pub trait Store: Send + Sync + 'static {
    /// Opens a case for `alert` or attaches it to an open case, atomically with the alert-id
    /// and grouping indexes: the same alert id never opens a second case, and an alert whose
    /// `group_key` matches an open case last seen within `window` joins that case: the item
    /// `group` builds is queued as inbound work for it (only the case's own runner changes a
    /// case). The closures may run more than once (transactions retry) and must be pure.
    fn admit(
        &self,
        alert: &Alert,
        group_key: &str,
        window: Duration,
        now: DateTime<Utc>,
        open: OpenFn<'_>,
        group: GroupFn<'_>,
    ) -> Result<Admission, StoreError>;

    /// One case by id; `None` when no case has it (a corrupt record is an error, never `None`).
    fn get(&self, id: &CaseId) -> Result<Option<Case>, StoreError>;

    /// Writes a case; durable on return.
    fn save(&self, case: &Case) -> Result<(), StoreError>;

    /// Every case, oldest (lowest id) first; a record that does not decode fails the whole call.
    fn cases(&self) -> Result<Vec<Case>, StoreError>;

    /// A named cursor (the CrowdStrike poll position).
    fn cursor(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Sets a named cursor; durable on return.
    fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError>;

    /// Persists an inbound item unless any of `dedupe_keys` was seen before (`false` for a
    /// duplicate); every key is remembered in the same transaction as the item, so a later
    /// delivery matching any one of them (the same `envelope_id`, or the same `event_id` in a
    /// new envelope) is a duplicate. Durable on return: this is what lets the Socket Mode ack
    /// happen right after.
    fn enqueue(&self, dedupe_keys: &[String], item: &InboundItem) -> Result<bool, StoreError>;

    /// Remembers `key` (a webhook signature, say); `false` if it was remembered before.
    fn remember(&self, key: &str) -> Result<bool, StoreError>;

    /// Whether `key` was remembered (by [`Store::remember`] or as a dedupe key) and not yet
    /// pruned; a read, so a request can be checked before it is admitted.
    fn remembered(&self, key: &str) -> Result<bool, StoreError>;

    /// Forgets dedupe keys and remembered keys first seen before `cutoff` (the `seen` tree
    /// would otherwise grow with every Slack event forever); returns how many went.
    fn prune_seen(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError>;

    /// Cases that have (or had) their owner DM in IM `channel`, oldest first: how an owner's
    /// free text finds its case without decoding every case. Kept by [`Store::save`].
    fn dm_cases(&self, channel: &str) -> Result<Vec<CaseId>, StoreError>;

    /// Inbound items not yet done, oldest first, each decoded once here. An item that does
    /// not decode is handed back as [`Queued::Undecodable`] (never dropped silently), so the
    /// engine can refuse and finish it instead of one bad record stalling the inbox.
    fn inbound(&self) -> Result<Vec<(u64, Queued)>, StoreError>;

    /// Marks an inbound item done (removes it); durable on return, and finishing one twice is
    /// harmless.
    fn finish(&self, seq: u64) -> Result<(), StoreError>;
}

/// One inbox record as read back: the typed item, or why it does not decode (a record from
/// a future or broken binary). The engine finishes an undecodable record as a counted refusal.
#[derive(Debug, Clone, PartialEq)]
pub enum Queued {
    /// A record that decodes, to apply to its case.
    Item(InboundItem),
    /// A record that does not; the decoder's message.
    Undecodable(String),
}

impl Queued {
    /// Decodes a stored record; both stores keep the same JSON bytes, so both decode here.
    pub fn decode(bytes: &[u8]) -> Queued {
        match serde_json::from_slice(bytes) {
            Ok(item) => Queued::Item(item),
            Err(e) => Queued::Undecodable(e.to_string()),
        }
    }
}

/// The stored bytes of an item (its JSON; see `pipeline::inbound::item` for the format).
pub fn encode_item(item: &InboundItem) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(item)
        .map_err(|e| StoreError::Io(format!("cannot encode an inbound item: {e}")))
}

/// Whether an open case last seen at `last_seen` still takes alerts at `now`.
pub fn within_window(last_seen: DateTime<Utc>, now: DateTime<Utc>, window: Duration) -> bool {
    now.signed_duration_since(last_seen) <= window
}
