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

/// Runs `work(key)` for kicked keys, sequentially per key.
pub struct Runner<K> {
    state: Arc<Mutex<HashMap<K, bool>>>,
    permits: Arc<Semaphore>,
}

impl<K> Clone for Runner<K> {
    fn clone(&self) -> Self {
        Runner {
            state: self.state.clone(),
            permits: self.permits.clone(),
        }
    }
}

impl<K: Eq + Hash + Clone + std::fmt::Debug + Send + Sync + 'static> Runner<K> {
    /// A runner allowing `concurrency` keys at once.
    pub fn new(concurrency: usize) -> Self {
        Runner {
            state: Arc::new(Mutex::new(HashMap::new())),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// Asks for `key` to be processed by `work`; returns at once.
    pub fn kick<F, Fut>(&self, key: K, work: F)
    where
        F: Fn(K) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        {
            let mut state = self.state.lock();
            if let Some(again) = state.get_mut(&key) {
                *again = true;
                return;
            }
            state.insert(key.clone(), false);
        }
        let state = self.state.clone();
        let permits = self.permits.clone();
        tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            loop {
                let run = std::panic::AssertUnwindSafe(async { work(key.clone()).await });
                if let Err(panic) = run.catch_unwind().await {
                    tracing::error!(key = ?key, panic = %panic_message(panic.as_ref()), "work panicked; the key is released");
                }
                let mut s = state.lock();
                match s.get_mut(&key) {
                    Some(again) if *again => *again = false,
                    _ => {
                        s.remove(&key);
                        break;
                    }
                }
            }
        });
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
