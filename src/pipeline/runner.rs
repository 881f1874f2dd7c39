//! Per-key sequential, cross-key concurrent execution (teloxide's `distribution_function`):
//! work for one case runs in order, one task at a time, while different cases run at once.
//!
//! `kick(key)` asks for the key to be processed. If a task is already processing it, the task
//! is told to go round once more before it stops, so a kick is never lost; otherwise a task is
//! spawned. A semaphore bounds how many keys run at once.
//!
//! A `work` future that panics is caught: the key is released (or run again if kicked), so a
//! bug in one case's work never freezes that case. Reporting the failure where people see it
//! is the caller's job (the engine catches finer-grained and writes it on the case).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use futures_util::FutureExt;
use parking_lot::Mutex;
use tokio::sync::Semaphore;

/// Which permits a run may take. The express lane exists for work that is due at a vendor's
/// pace (a storm's deferred GitHub issue at its slot): behind 32 runs waiting on the alerts
/// channel's 1 message/s it would miss its slot, and every missed slot is lost for good at a
/// fixed rate limit. An express run may take a normal permit or one of a few of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lane {
    /// Any work: waits for one of the `concurrency` permits.
    Normal,
    /// Paced work due now: also has [`EXPRESS_PERMITS`] permits no normal run can hold.
    Express,
}

/// Permits only express runs may hold.
pub const EXPRESS_PERMITS: usize = 4;

/// Runs `work(key)` for kicked keys, sequentially per key.
pub struct Runner<K> {
    /// Keys running or waiting for a permit; `Some(lane)` = run once more, in that lane.
    state: Arc<Mutex<HashMap<K, Option<Lane>>>>,
    permits: Arc<Semaphore>,
    express: Arc<Semaphore>,
}

impl<K> Clone for Runner<K> {
    fn clone(&self) -> Self {
        Runner {
            state: self.state.clone(),
            permits: self.permits.clone(),
            express: self.express.clone(),
        }
    }
}

impl<K: Eq + Hash + Clone + std::fmt::Debug + Send + Sync + 'static> Runner<K> {
    /// A runner allowing `concurrency` keys at once (and [`EXPRESS_PERMITS`] more in the
    /// express lane).
    pub fn new(concurrency: usize) -> Self {
        Runner {
            state: Arc::new(Mutex::new(HashMap::new())),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            express: Arc::new(Semaphore::new(EXPRESS_PERMITS)),
        }
    }

    /// Asks for `key` to be processed by `work` in the normal lane; returns at once.
    pub fn kick<F, Fut>(&self, key: K, work: F)
    where
        F: Fn(K) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.kick_in(key, Lane::Normal, move |k, _| work(k));
    }

    /// Asks for `key` to be processed by `work(key, lane)`; returns at once. A kick while the
    /// key runs makes it run once more (in the higher of the lanes asked for since), with a
    /// permit taken afresh for every run.
    pub fn kick_in<F, Fut>(&self, key: K, lane: Lane, work: F)
    where
        F: Fn(K, Lane) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        {
            let mut state = self.state.lock();
            if let Some(again) = state.get_mut(&key) {
                *again = Some(again.map_or(lane, |l| l.max(lane)));
                return;
            }
            state.insert(key.clone(), None);
        }
        let runner = self.clone();
        tokio::spawn(async move {
            let mut lane = lane;
            loop {
                let permit = runner.permit(lane).await;
                let run = std::panic::AssertUnwindSafe(async { work(key.clone(), lane).await });
                if let Err(panic) = run.catch_unwind().await {
                    tracing::error!(key = ?key, panic = %panic_message(panic.as_ref()), "work panicked; the key is released");
                }
                drop(permit);
                let mut s = runner.state.lock();
                match s.get_mut(&key) {
                    Some(again @ Some(_)) => {
                        lane = again.take().unwrap_or(Lane::Normal);
                    }
                    _ => {
                        s.remove(&key);
                        break;
                    }
                }
            }
        });
    }

    /// A permit for one run in `lane` (`None` only if a semaphore was closed, which never
    /// happens: the run then goes without one rather than never).
    async fn permit(&self, lane: Lane) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let normal = self.permits.clone().acquire_owned();
        match lane {
            Lane::Normal => normal.await.ok(),
            Lane::Express => tokio::select! {
                biased;
                p = self.express.clone().acquire_owned() => p.ok(),
                p = normal => p.ok(),
            },
        }
    }

    /// How many keys are being processed or waiting for a permit.
    pub fn busy(&self) -> usize {
        self.state.lock().len()
    }
}

/// The text of a caught panic (`panic!("…")` payloads are `&str` or `String`).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn one_key_never_runs_twice_at_once_and_no_kick_is_lost() {
        let runner = Runner::new(4);
        let running = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let work = {
            let (running, max_seen, runs) = (running.clone(), max_seen.clone(), runs.clone());
            move |_k: u32| {
                let (running, max_seen, runs) = (running.clone(), max_seen.clone(), runs.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    max_seen.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    runs.fetch_add(1, Ordering::SeqCst);
                }
            }
        };
        let work = Arc::new(work);
        for _ in 0..10 {
            let w = work.clone();
            runner.kick(7, move |k| w(k));
        }
        while runner.busy() > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(max_seen.load(Ordering::SeqCst), 1, "sequential per key");
        assert!(
            runs.load(Ordering::SeqCst) >= 2,
            "kicks during a run cause another run"
        );
    }

    #[tokio::test]
    async fn different_keys_run_concurrently() {
        let runner = Runner::new(4);
        let running = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        for k in 0..4u32 {
            let (running, max_seen) = (running.clone(), max_seen.clone());
            runner.kick(k, move |_k| {
                let (running, max_seen) = (running.clone(), max_seen.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    max_seen.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                }
            });
        }
        while runner.busy() > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert!(max_seen.load(Ordering::SeqCst) > 1);
    }

    #[tokio::test]
    async fn an_express_run_goes_while_every_normal_permit_is_held() {
        let runner = Runner::new(1);
        let release = Arc::new(tokio::sync::Notify::new());
        let held = Arc::new(AtomicUsize::new(0));
        {
            let (release, held) = (release.clone(), held.clone());
            runner.kick(1u32, move |_k| {
                let (release, held) = (release.clone(), held.clone());
                async move {
                    held.fetch_add(1, Ordering::SeqCst);
                    release.notified().await;
                }
            });
        }
        while held.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let express_ran = Arc::new(tokio::sync::Notify::new());
        {
            let express_ran = express_ran.clone();
            runner.kick_in(2u32, Lane::Express, move |_k, lane| {
                let express_ran = express_ran.clone();
                async move {
                    assert_eq!(lane, Lane::Express);
                    express_ran.notify_one();
                }
            });
        }
        // The express run finishing while key 1 still holds the only normal permit is the proof.
        tokio::time::timeout(Duration::from_secs(5), express_ran.notified())
            .await
            .expect("the express run waited for the normal permit");
        assert_eq!(
            held.load(Ordering::SeqCst),
            1,
            "key 1 still holds its permit"
        );
        release.notify_one();
        while runner.busy() > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    #[tokio::test]
    async fn work_that_panics_releases_its_key_and_a_later_kick_runs() {
        let runner = Runner::new(2);
        let runs = Arc::new(AtomicUsize::new(0));
        let work = {
            let runs = runs.clone();
            move |_k: u32| {
                let runs = runs.clone();
                async move {
                    if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                        panic!("first run fails");
                    }
                }
            }
        };
        let work = Arc::new(work);
        let w = work.clone();
        runner.kick(1, move |k| w(k));
        // The later kick is the proof: it runs only if the panicking run gave the key back.
        let started = std::time::Instant::now();
        while runs.load(Ordering::SeqCst) < 2 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the key stayed busy after its work panicked"
            );
            if runner.busy() == 0 {
                let w = work.clone();
                runner.kick(1, move |k| w(k));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        while runner.busy() > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
