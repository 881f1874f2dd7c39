//! The sled [`Store`]: cases and their indexes in one database, changed together in
//! transactions and flushed before a write returns.
//!
//! Trees: `cases` (case number, big-endian → case JSON), `alerts` (alert id → case id),
//! `groups` (grouping key → case id), `meta` (`case_seq`, `inbox_seq`, `cursor:<name>`),
//! `seen` (inbound dedupe key → first-seen time), `inbox` (inbound number → item JSON).

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::{Admission, GroupFn, OpenFn, Store, StoreError, within_window};
use crate::case::{Alert, Case, CaseId};

/// The sled-backed store.
pub struct SledStore {
    db: sled::Db,
    commits: GroupCommit,
    cases: sled::Tree,
    alerts: sled::Tree,
    groups: sled::Tree,
    meta: sled::Tree,
    seen: sled::Tree,
    inbox: sled::Tree,
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

fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => io(e),
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
        let db = sled::Config::new()
            .path(path)
            .flush_every_ms(Some(200))
            .open()
            .map_err(|e| open_err(&e))?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| open_err(&e));
        let store = SledStore {
            cases: tree("cases")?,
            alerts: tree("alerts")?,
            groups: tree("groups")?,
            meta: tree("meta")?,
            seen: tree("seen")?,
            inbox: tree("inbox")?,
            db,
            commits: GroupCommit::default(),
        };
        store.check_readable()?;
        Ok(store)
    }

    /// Decodes every case once at open, so a damaged store stops `vigil run` at start.
    fn check_readable(&self) -> Result<(), StoreError> {
        self.cases().map(|_| ())
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
        Ok(case.state.is_open() && within_window(case.last_seen(), now, window))
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
    /// A flush is running.
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
                        inbox.insert(&n.to_be_bytes(), encode(&group(&id)).map_err(abort)?)?;
                        return Ok(Admission::Grouped(id));
                    }
                }
                let n = read_u64(meta.get("case_seq")?) + 1;
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

    fn enqueue(&self, dedupe_keys: &[String], item: &Value) -> Result<bool, StoreError> {
        let bytes = encode(item)?;
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

    fn inbound(&self) -> Result<Vec<(u64, Value)>, StoreError> {
        self.inbox
            .iter()
            .map(|item| {
                let (k, v) = item.map_err(io)?;
                let n = read_u64(Some(k));
                let value = serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    what: format!("inbound item #{n}"),
                    reason: e.to_string(),
                })?;
                Ok((n, value))
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
