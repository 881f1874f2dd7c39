//! The sled [`Store`]: cases and their indexes in one database, changed together in
//! transactions and flushed before a write returns.
//!
//! Trees: `cases` (case number, big-endian → case JSON), `alerts` (alert id → case id),
//! `groups` (grouping key → case id), `meta` (`case_seq`, `inbox_seq`, `cursor:<name>`),
//! `seen` (inbound dedupe key → first-seen time), `inbox` (inbound number → item JSON),
//! `dms` (IM channel, a zero byte, case number → nothing: the owner-DM index).
//!
//! Opening checks every record of every tree and refuses a store with a damaged one, naming
//! the path, the tree and the record. `case_seq` never goes backwards: a missing or lagging
//! counter is raised to the highest case number at open, and a new case never overwrites one
//! that exists.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::{Admission, GroupFn, OpenFn, Queued, Store, StoreError, encode_item, within_window};
use crate::case::{Alert, Case, CaseId};
use crate::pipeline::inbound::InboundItem;

/// The sled-backed store `vigil run` uses: one tree per index, transactions for admission,
/// and group commit so concurrent writers share an `fsync`.
pub struct SledStore {
    db: sled::Db,
    commits: GroupCommit,
    cases: sled::Tree,
    alerts: sled::Tree,
    groups: sled::Tree,
    meta: sled::Tree,
    seen: sled::Tree,
    inbox: sled::Tree,
    dms: sled::Tree,
    path: String,
}

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

fn case_key(id: &CaseId) -> Result<[u8; 8], StoreError> {
    let n: u64 = id
        .as_str()
        .strip_prefix("VIG-")
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| StoreError::Corrupt {
            what: format!("case id {id}"),
            reason: "not of the form VIG-<number>".into(),
        })?;
    Ok(n.to_be_bytes())
}

fn decode_case(bytes: &[u8], what: &str) -> Result<Case, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(io)
}

fn read_u64(bytes: Option<sled::IVec>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// A sequence counter in `meta` inside a transaction: absent is 0, anything but 8 bytes is an
/// error (reading it as 0 would reuse ids).
fn read_seq(bytes: Option<sled::IVec>, name: &str) -> Result<u64, StoreError> {
    match bytes {
        None => Ok(0),
        Some(b) => <[u8; 8]>::try_from(b.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError::Corrupt {
                what: format!("meta {name}"),
                reason: format!("{} bytes, expected 8", b.len()),
            }),
    }
}

/// The `dms` key of a case's DM channel: `channel`, a zero byte, the case number.
fn dm_key(channel: &str, n: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(channel.len() + 9);
    k.extend_from_slice(channel.as_bytes());
    k.push(0);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// A key as people can read it in an error.
fn readable(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if !s.chars().any(char::is_control) => format!("key {s:?}"),
        _ => format!("key 0x{}", hex::encode(key)),
    }
}

fn number_key(key: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(key).ok().map(u64::from_be_bytes)
}

fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => io(e),
    }
}

/// How long `open` waits for the file lock: long enough for a just-stopped Vigil (or a dropped
/// handle whose flusher thread is still finishing) to let go, short enough that a second
/// `vigil run` on the same store fails at start with a reason.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens the sled database, retrying while another handle holds its lock, and then says who
/// is likely holding it.
fn open_waiting_for_lock(path: &Path) -> Result<sled::Db, String> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match sled::Config::new()
            .path(path)
            .flush_every_ms(Some(200))
            .open()
        {
            Ok(db) => return Ok(db),
            Err(e) if e.to_string().contains("could not acquire lock") => {
                if std::time::Instant::now() >= deadline {
                    return Err(format!(
                        "another process holds this store's lock (is another `vigil run` using it?): {e}"
                    ));
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

impl SledStore {
    /// Opens (or creates) the store in `path`. Fails with the path and what to do; it never
    /// starts empty over a store it could not read.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        let open_err = |e: &dyn std::fmt::Display| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(path).map_err(|e| open_err(&e))?;
        let db = open_waiting_for_lock(path).map_err(|e| open_err(&e))?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| open_err(&e));
        let store = SledStore {
            cases: tree("cases")?,
            alerts: tree("alerts")?,
            groups: tree("groups")?,
            meta: tree("meta")?,
            seen: tree("seen")?,
            inbox: tree("inbox")?,
            dms: tree("dms")?,
            path: path.display().to_string(),
            db,
            commits: GroupCommit::default(),
        };
        store.check_readable()?;
        Ok(store)
    }

    fn damaged(&self, tree: &'static str, record: String, reason: impl Into<String>) -> StoreError {
        StoreError::Damaged {
            path: self.path.clone(),
            tree,
            record,
            reason: reason.into(),
        }
    }

    /// Checks every record of every tree once at open, so a damaged store stops `vigil run`
    /// at start instead of stalling cases (or reusing ids) later. Also raises a missing or
    /// lagging `case_seq`/`inbox_seq` to the highest number in use and fills the DM index
    /// from the cases (a store written before the index existed).
    fn check_readable(&self) -> Result<(), StoreError> {
        let mut highest_case = 0;
        let mut dms = Vec::new();
        for item in self.cases.iter() {
            let (k, v) = item.map_err(io)?;
            let n = number_key(&k)
                .ok_or_else(|| self.damaged("cases", readable(&k), "not an 8-byte case number"))?;
            let case: Case = serde_json::from_slice(&v).map_err(|e| {
                self.damaged(
                    "cases",
                    format!("case VIG-{n}"),
                    format!("does not decode: {e}"),
                )
            })?;
            if case.id != CaseId::from_seq(n) {
                return Err(self.damaged(
                    "cases",
                    format!("case VIG-{n}"),
                    format!("holds case {} under another number", case.id),
                ));
            }
            if let Some(dm) = &case.dm {
                dms.push(dm_key(&dm.channel, n));
            }
            highest_case = n;
        }
        for (name, tree) in [("alerts", &self.alerts), ("groups", &self.groups)] {
            for item in tree.iter() {
                let (k, v) = item.map_err(io)?;
                let ok = std::str::from_utf8(&v)
                    .ok()
                    .is_some_and(|id| case_key(&CaseId(id.to_string())).is_ok());
                if !ok {
                    return Err(self.damaged(name, readable(&k), "the value is not a case id"));
                }
            }
        }
        let mut highest_item = 0;
        for item in self.inbox.iter() {
            let (k, v) = item.map_err(io)?;
            let n = number_key(&k)
                .ok_or_else(|| self.damaged("inbox", readable(&k), "not an 8-byte item number"))?;
            serde_json::from_slice::<serde::de::IgnoredAny>(&v).map_err(|e| {
                self.damaged(
                    "inbox",
                    format!("inbound item #{n}"),
                    format!("does not decode: {e}"),
                )
            })?;
            highest_item = n;
        }
        for item in self.seen.iter() {
            let (k, v) = item.map_err(io)?;
            if v.len() != 8 {
                return Err(self.damaged(
                    "seen",
                    readable(&k),
                    format!("first-seen time of {} bytes, expected 8", v.len()),
                ));
            }
        }
        for item in self.dms.iter() {
            let (k, _) = item.map_err(io)?;
            if k.len() < 9 || k[k.len() - 9] != 0 {
                return Err(self.damaged("dms", readable(&k), "not <channel>, 0, <case number>"));
            }
        }
        for item in self.meta.iter() {
            let (k, v) = item.map_err(io)?;
            let bad = match k.as_ref() {
                b"case_seq" | b"inbox_seq" => (v.len() != 8).then_some("not an 8-byte counter"),
                k if k.starts_with(b"cursor:") => std::str::from_utf8(&v)
                    .is_err()
                    .then_some("the cursor is not text"),
                _ => None,
            };
            if let Some(reason) = bad {
                return Err(self.damaged("meta", readable(&k), reason));
            }
        }
        let mut repaired = false;
        for (name, highest) in [("case_seq", highest_case), ("inbox_seq", highest_item)] {
            let at = read_seq(self.meta.get(name).map_err(io)?, name)?;
            if at < highest {
                tracing::warn!(
                    counter = name,
                    was = at,
                    now = highest,
                    "a store counter was behind the records it numbers; raised so no id is reused"
                );
                self.meta.insert(name, &highest.to_be_bytes()).map_err(io)?;
                repaired = true;
            }
        }
        for key in dms {
            if self.dms.insert(key, &[]).map_err(io)?.is_none() {
                repaired = true;
            }
        }
        if repaired {
            self.flush()?;
        }
        Ok(())
    }

    /// Makes every write made before the call durable (group commit, see [`GroupCommit`]).
    fn flush(&self) -> Result<(), StoreError> {
        self.commits
            .flush(|| self.db.flush().map(|_| ()).map_err(io))
    }

    fn joins_tx(
        cases: &TransactionalTree,
        id: &CaseId,
        now: DateTime<Utc>,
        window: Duration,
    ) -> TxResult<bool> {
        let key = case_key(id).map_err(abort)?;
        let Some(bytes) = cases.get(key)? else {
            return Ok(false);
        };
        let case = decode_case(&bytes, &format!("case {id}")).map_err(abort)?;
        Ok(case.state().is_open() && within_window(case.last_seen(), now, window))
    }
}

/// Group commit: writers that finish at the same time share one `fsync` instead of queueing
/// for one each (sled serialises `flush`, so under concurrency each writer would otherwise wait
/// for every flush ahead of it).
///
/// Invariant: a caller returns `Ok` only after a flush that *started* after its own write
/// completed has succeeded, so its write is durable. Each caller takes a ticket after writing;
/// a flush started when the last ticket handed out was `n` covers every ticket up to `n`.
/// While one flush runs, later callers wait and then one of them flushes for all of them.
#[derive(Default)]
struct GroupCommit {
    state: parking_lot::Mutex<CommitState>,
    done: parking_lot::Condvar,
}

#[derive(Default)]
struct CommitState {
    /// Tickets handed out (one per caller, after its write).
    issued: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    /// A flush is running; callers arriving now wait for the next one.
    flushing: bool,
}

impl GroupCommit {
    fn flush(&self, flush: impl Fn() -> Result<(), StoreError>) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        state.issued += 1;
        let ticket = state.issued;
        loop {
            if state.durable >= ticket {
                return Ok(());
            }
            if state.flushing {
                self.done.wait(&mut state);
                continue;
            }
            state.flushing = true;
            let covers = state.issued;
            drop(state);
            let result = flush();
            state = self.state.lock();
            state.flushing = false;
            if result.is_ok() {
                state.durable = state.durable.max(covers);
            }
            self.done.notify_all();
            // A failed flush fails its own caller; the others see nothing new and try again.
            result?;
        }
    }
}

impl Store for SledStore {
    fn admit(
        &self,
        alert: &Alert,
        group_key: &str,
        window: Duration,
        now: DateTime<Utc>,
        open: OpenFn<'_>,
        group: GroupFn<'_>,
    ) -> Result<Admission, StoreError> {
        let result = (
            &self.cases,
            &self.alerts,
            &self.groups,
            &self.meta,
            &self.inbox,
        )
            .transaction(|(cases, alerts, groups, meta, inbox)| {
                if let Some(existing) = alerts.get(alert.id.as_bytes())? {
                    let id = CaseId(String::from_utf8_lossy(&existing).into_owned());
                    return Ok(Admission::Duplicate(id));
                }
                if let Some(gid) = groups.get(group_key.as_bytes())? {
                    let id = CaseId(String::from_utf8_lossy(&gid).into_owned());
                    if Self::joins_tx(cases, &id, now, window)? {
                        alerts.insert(alert.id.as_bytes(), id.as_str().as_bytes())?;
                        let n = read_u64(meta.get("inbox_seq")?) + 1;
                        meta.insert("inbox_seq", &n.to_be_bytes())?;
                        inbox.insert(&n.to_be_bytes(), encode_item(&group(&id)).map_err(abort)?)?;
                        return Ok(Admission::Grouped(id));
                    }
                }
                let n = read_seq(meta.get("case_seq")?, "case_seq").map_err(abort)? + 1;
                if cases.get(n.to_be_bytes())?.is_some() {
                    return Err(abort(StoreError::Corrupt {
                        what: format!("meta case_seq ({})", n - 1),
                        reason: format!("case VIG-{n} already exists; refusing to overwrite it"),
                    }));
                }
                meta.insert("case_seq", &n.to_be_bytes())?;
                let id = CaseId::from_seq(n);
                let case = open(id.clone());
                cases.insert(&n.to_be_bytes(), encode(&case).map_err(abort)?)?;
                alerts.insert(alert.id.as_bytes(), id.as_str().as_bytes())?;
                groups.insert(group_key.as_bytes(), id.as_str().as_bytes())?;
                Ok(Admission::Opened(Box::new(case)))
            });
        let admission = result.map_err(tx_error)?;
        self.flush()?;
        Ok(admission)
    }

    fn get(&self, id: &CaseId) -> Result<Option<Case>, StoreError> {
        let key = case_key(id)?;
        match self.cases.get(key).map_err(io)? {
            Some(bytes) => decode_case(&bytes, &format!("case {id}")).map(Some),
            None => Ok(None),
        }
    }

    fn save(&self, case: &Case) -> Result<(), StoreError> {
        let key = case_key(&case.id)?;
        // The index first: an entry whose case was not saved yet is checked against the case
        // when read, while a case saved without its entry could not be found.
        if let Some(dm) = &case.dm {
            self.dms
                .insert(dm_key(&dm.channel, u64::from_be_bytes(key)), &[])
                .map_err(io)?;
        }
        self.cases.insert(key, encode(case)?).map_err(io)?;
        self.flush()
    }

    fn cases(&self) -> Result<Vec<Case>, StoreError> {
        self.cases
            .iter()
            .map(|item| {
                let (k, v) = item.map_err(io)?;
                decode_case(&v, &format!("case #{}", read_u64(Some(k))))
            })
            .collect()
    }

    fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .meta
            .get(format!("cursor:{name}"))
            .map_err(io)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.meta
            .insert(format!("cursor:{name}"), value.as_bytes())
            .map_err(io)?;
        self.flush()
    }

    fn enqueue(&self, dedupe_keys: &[String], item: &InboundItem) -> Result<bool, StoreError> {
        let bytes = encode_item(item)?;
        let stamp = Utc::now().timestamp().to_be_bytes();
        let added = (&self.seen, &self.inbox, &self.meta)
            .transaction(|(seen, inbox, meta)| {
                for key in dedupe_keys {
                    if seen.get(key.as_bytes())?.is_some() {
                        return Ok(false);
                    }
                }
                for key in dedupe_keys {
                    seen.insert(key.as_bytes(), &stamp)?;
                }
                let n = read_u64(meta.get("inbox_seq")?) + 1;
                meta.insert("inbox_seq", &n.to_be_bytes())?;
                inbox.insert(&n.to_be_bytes(), bytes.as_slice())?;
                Ok(true)
            })
            .map_err(tx_error)?;
        if added {
            self.flush()?;
        }
        Ok(added)
    }

    fn remember(&self, key: &str) -> Result<bool, StoreError> {
        let stamp = Utc::now().timestamp().to_be_bytes();
        let previous = self
            .seen
            .compare_and_swap(
                key.as_bytes(),
                None as Option<&[u8]>,
                Some(stamp.as_slice()),
            )
            .map_err(io)?;
        if previous.is_ok() {
            self.flush()?;
        }
        Ok(previous.is_ok())
    }

    fn remembered(&self, key: &str) -> Result<bool, StoreError> {
        self.seen.contains_key(key.as_bytes()).map_err(io)
    }

    fn prune_seen(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let cutoff = cutoff.timestamp();
        let mut pruned = 0;
        for item in self.seen.iter() {
            let (k, v) = item.map_err(io)?;
            let first_seen = <[u8; 8]>::try_from(v.as_ref()).map(i64::from_be_bytes);
            if first_seen.is_ok_and(|t| t < cutoff) {
                self.seen.remove(k).map_err(io)?;
                pruned += 1;
            }
        }
        if pruned > 0 {
            self.flush()?;
        }
        Ok(pruned)
    }

    fn dm_cases(&self, channel: &str) -> Result<Vec<CaseId>, StoreError> {
        let mut prefix = channel.as_bytes().to_vec();
        prefix.push(0);
        self.dms
            .scan_prefix(&prefix)
            .map(|item| {
                let (k, _) = item.map_err(io)?;
                number_key(&k[prefix.len()..])
                    .map(CaseId::from_seq)
                    .ok_or_else(|| StoreError::Corrupt {
                        what: format!("dms {}", readable(&k)),
                        reason: "not <channel>, 0, <case number>".into(),
                    })
            })
            .collect()
    }

    fn inbound(&self) -> Result<Vec<(u64, Queued)>, StoreError> {
        self.inbox
            .iter()
            .map(|item| {
                let (k, v) = item.map_err(io)?;
                Ok((read_u64(Some(k)), Queued::decode(&v)))
            })
            .collect()
    }

    fn finish(&self, seq: u64) -> Result<(), StoreError> {
        self.inbox.remove(seq.to_be_bytes()).map_err(io)?;
        self.flush()
    }
}

#[cfg(test)]
mod group_commit_tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    #[test]
    fn concurrent_callers_share_flushes() {
        let commits = Arc::new(GroupCommit::default());
        let flushes = Arc::new(AtomicUsize::new(0));
        let callers = 16;
        let barrier = Arc::new(std::sync::Barrier::new(callers));
        let threads: Vec<_> = (0..callers)
            .map(|_| {
                let (commits, flushes, barrier) =
                    (commits.clone(), flushes.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    commits.flush(|| {
                        flushes.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(30));
                        Ok(())
                    })
                })
            })
            .collect();
        for t in threads {
            assert!(matches!(t.join(), Ok(Ok(()))));
        }
        let n = flushes.load(Ordering::SeqCst);
        assert!(n >= 1 && n < callers, "{n} flushes for {callers} callers");
    }

    #[test]
    fn a_write_after_a_flush_started_waits_for_the_next_flush() {
        let commits = Arc::new(GroupCommit::default());
        let flushes = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(parking_lot::Mutex::new(release_rx));
        let flush = {
            let flushes = flushes.clone();
            move || {
                if flushes.fetch_add(1, Ordering::SeqCst) == 0 {
                    let _ = started_tx.send(());
                    let _ = release_rx.lock().recv();
                }
                Ok(())
            }
        };
        let flush = Arc::new(flush);
        let first = {
            let (commits, flush) = (commits.clone(), flush.clone());
            std::thread::spawn(move || commits.flush(|| flush()))
        };
        assert!(started_rx.recv().is_ok(), "the first flush started");
        let second = {
            let (commits, flush) = (commits.clone(), flush.clone());
            std::thread::spawn(move || commits.flush(|| flush()))
        };
        // The second caller is now waiting on the first flush (or about to); let it finish.
        while commits.state.lock().issued < 2 {
            std::thread::yield_now();
        }
        let _ = release_tx.send(());
        assert!(matches!(first.join(), Ok(Ok(()))));
        assert!(matches!(second.join(), Ok(Ok(()))));
        assert_eq!(
            flushes.load(Ordering::SeqCst),
            2,
            "the second write was not covered by the flush already running"
        );
    }

    #[test]
    fn a_failed_flush_fails_its_caller() {
        let commits = GroupCommit::default();
        let r = commits.flush(|| Err(StoreError::Io("disk full".into())));
        assert!(matches!(r, Err(StoreError::Io(_))));
        assert!(
            commits.flush(|| Ok(())).is_ok(),
            "a later flush still works"
        );
    }
}
