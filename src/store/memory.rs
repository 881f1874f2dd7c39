//! An in-memory [`Store`] for unit tests: the same semantics as sled, nothing on disk.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Admission, GroupFn, OpenFn, Queued, Store, StoreError, encode_item, within_window};
use crate::case::{Alert, Case, CaseId};
use crate::pipeline::inbound::InboundItem;
use chrono::{DateTime, Duration, Utc};
use parking_lot::Mutex;

#[derive(Default)]
struct State {
    seq: u64,
    cases: BTreeMap<u64, Case>,
    by_id: HashMap<CaseId, u64>,
    alerts: HashMap<String, CaseId>,
    groups: HashMap<String, CaseId>,
    cursors: HashMap<String, String>,
    seen: HashMap<String, DateTime<Utc>>,
    dms: HashMap<String, BTreeSet<u64>>,
    inbox_seq: u64,
    inbox: BTreeMap<u64, Vec<u8>>,
    /// Case reads so far: how a test proves a run reads its case once.
    gets: usize,
}

/// The in-memory store: the same semantics without durability, for tests (unit, fuzz and
/// the shared store suite).
#[derive(Default)]
pub struct MemoryStore(Mutex<State>);

impl MemoryStore {
    /// An empty store (no cases, cursors or keys).
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues raw bytes as an inbox record, the way a broken or future binary might have
    /// written one: the only way to put an undecodable item in front of the engine in a test.
    #[cfg(test)]
    pub(crate) fn enqueue_raw(&self, bytes: &[u8]) -> u64 {
        let mut s = self.0.lock();
        s.inbox_seq += 1;
        let n = s.inbox_seq;
        s.inbox.insert(n, bytes.to_vec());
        n
    }

    /// How many times a case was read ([`Store::get`]).
    #[cfg(test)]
    pub(crate) fn gets(&self) -> usize {
        self.0.lock().gets
    }
}

fn seq_of(id: &CaseId) -> u64 {
    id.as_str().trim_start_matches("VIG-").parse().unwrap_or(0)
}

impl Store for MemoryStore {
    fn admit(
        &self,
        alert: &Alert,
        group_key: &str,
        window: Duration,
        now: DateTime<Utc>,
        open: OpenFn<'_>,
        group: GroupFn<'_>,
    ) -> Result<Admission, StoreError> {
        let mut s = self.0.lock();
        if let Some(id) = s.alerts.get(&alert.id) {
            return Ok(Admission::Duplicate(id.clone()));
        }
        if let Some(id) = s.groups.get(group_key).cloned() {
            let n = seq_of(&id);
            let joins = s
                .cases
                .get(&n)
                .is_some_and(|c| c.state().is_open() && within_window(c.last_seen(), now, window));
            if joins {
                let item = encode_item(&group(&id))?;
                s.alerts.insert(alert.id.clone(), id.clone());
                s.inbox_seq += 1;
                let k = s.inbox_seq;
                s.inbox.insert(k, item);
                return Ok(Admission::Grouped(id));
            }
        }
        s.seq += 1;
        let id = CaseId::from_seq(s.seq);
        let case = open(id.clone());
        let n = s.seq;
        s.cases.insert(n, case.clone());
        s.by_id.insert(id.clone(), n);
        s.alerts.insert(alert.id.clone(), id.clone());
        s.groups.insert(group_key.to_string(), id);
        Ok(Admission::Opened(Box::new(case)))
    }

    fn get(&self, id: &CaseId) -> Result<Option<Case>, StoreError> {
        let mut s = self.0.lock();
        s.gets += 1;
        Ok(s.by_id.get(id).and_then(|n| s.cases.get(n)).cloned())
    }

    fn save(&self, case: &Case) -> Result<(), StoreError> {
        let mut s = self.0.lock();
        let n = seq_of(&case.id);
        if let Some(dm) = &case.dm {
            s.dms.entry(dm.channel.clone()).or_default().insert(n);
        }
        s.by_id.insert(case.id.clone(), n);
        s.cases.insert(n, case.clone());
        Ok(())
    }

    fn cases(&self) -> Result<Vec<Case>, StoreError> {
        Ok(self.0.lock().cases.values().cloned().collect())
    }

    fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.0.lock().cursors.get(name).cloned())
    }

    fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.0.lock().cursors.insert(name.into(), value.into());
        Ok(())
    }

    fn enqueue(&self, dedupe_keys: &[String], item: &InboundItem) -> Result<bool, StoreError> {
        let bytes = encode_item(item)?;
        let mut s = self.0.lock();
        if dedupe_keys.iter().any(|k| s.seen.contains_key(k)) {
            return Ok(false);
        }
        let now = Utc::now();
        for key in dedupe_keys {
            s.seen.insert(key.clone(), now);
        }
        s.inbox_seq += 1;
        let n = s.inbox_seq;
        s.inbox.insert(n, bytes);
        Ok(true)
    }

    fn remember(&self, key: &str) -> Result<bool, StoreError> {
        let mut s = self.0.lock();
        if s.seen.contains_key(key) {
            return Ok(false);
        }
        s.seen.insert(key.to_string(), Utc::now());
        Ok(true)
    }

    fn remembered(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.0.lock().seen.contains_key(key))
    }

    fn prune_seen(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut s = self.0.lock();
        let before = s.seen.len();
        s.seen.retain(|_, first_seen| *first_seen >= cutoff);
        Ok(before - s.seen.len())
    }

    fn dm_cases(&self, channel: &str) -> Result<Vec<CaseId>, StoreError> {
        Ok(self
            .0
            .lock()
            .dms
            .get(channel)
            .map(|ns| ns.iter().map(|n| CaseId::from_seq(*n)).collect())
            .unwrap_or_default())
    }

    fn inbound(&self) -> Result<Vec<(u64, Queued)>, StoreError> {
        Ok(self
            .0
            .lock()
            .inbox
            .iter()
            .map(|(k, v)| (*k, Queued::decode(v)))
            .collect())
    }

    fn finish(&self, seq: u64) -> Result<(), StoreError> {
        self.0.lock().inbox.remove(&seq);
        Ok(())
    }
}
