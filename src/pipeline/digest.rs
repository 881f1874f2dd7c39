//! Storms (SPEC §5): when alerts arrive faster than the alerts channel takes cards (~1
//! message/s), low-priority cases whose card would queue are folded into one digest message per
//! burst instead; high-priority cases always keep their own cards.
//!
//! Who owns what:
//! - The fold decision is a model of the channel's pace, not a measurement after the fact: each
//!   card that will be posted reserves the next slot on a virtual clock (one per second, the
//!   first [`BURST`] free). A low-priority case whose slot would lie more than [`BURST`] seconds
//!   ahead would queue, so it is folded; a high-priority case always reserves its slot.
//! - A digest is its own small persisted record (`digest:<id>` in the store's named values),
//!   not part of any case, so "only a case's runner changes a case" still holds: a folded case
//!   only records the digest id on itself. Every write of a digest record happens under one
//!   mutex (read, change, write), so joins from many case runners and the publisher never lose
//!   each other's changes.
//! - The digest's Slack message is posted and updated only by the digest's own runner key
//!   (one task per digest at a time). Posting is exactly-once like a card: the intent time is
//!   stored before `chat.postMessage`, the message carries metadata
//!   `{"event_type":"vigil_case","event_payload":{"case_id":"DIGEST-<id>","kind":"digest"}}`,
//!   and an intent without a `ts` is looked up in the channel history before posting again.
//! - A burst ends after [`QUIET`] without a fold, or when its digest is full
//!   ([`render::digest::MAX_ENTRIES`]); the next fold starts a new digest.
//!
//! A folded case stays fully operable: its owner DM and buttons work as usual, its thread
//! replies go in the digest's thread, and `/triage ack|resolve` act on it by id.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use slack_morphism::prelude::*;

use super::engine::Engine;
use super::runner::Runner;
use crate::case::{Case, Priority, SlackRef};
use crate::render;
use crate::render::digest::DigestLine;
use crate::slack::api::Tag;
use crate::store::StoreError;
use crate::vendors::VendorError;

/// Cards the channel takes at once before its 1/s pace bites: the burst `SlackApi`'s
/// per-channel limiter allows.
pub const BURST: u32 = 3;
/// A burst's digest stays open this long after its last fold.
pub const QUIET: Duration = Duration::from_secs(10);
/// How long a folded case's thread reply waits for its digest to be posted.
const POST_WAIT: Duration = Duration::from_secs(60);
/// Pause before a failed digest post or update is tried again.
const RETRY_PAUSE: Duration = Duration::from_secs(2);
/// Store key of the next digest id.
const NEXT_KEY: &str = "digest:next";

/// One digest message and the cases it lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestRecord {
    /// Digest id (from 1).
    pub id: u64,
    /// Channel it is posted in.
    pub channel: String,
    /// Folded cases, in the order they joined.
    pub lines: Vec<DigestLine>,
    /// The message, once posted.
    pub ts: Option<String>,
    /// When posting was about to happen (set before `chat.postMessage`).
    pub intent_at: Option<DateTime<Utc>>,
    /// How many lines the posted message shows (fewer than `lines`: an update is due).
    pub shown: usize,
}

/// The metadata tag of digest `id`'s message.
pub fn tag(id: u64) -> Tag {
    Tag {
        case_id: format!("DIGEST-{id}"),
        kind: "digest".into(),
    }
}

fn key(id: u64) -> String {
    format!("digest:{id}")
}

/// How a case is announced in the alerts channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    /// Its own card; `storm` when the channel is busy.
    Card {
        /// The channel has a queue or a burst is open.
        storm: bool,
    },
    /// A line in the burst's digest.
    Fold,
}

#[derive(Default)]
struct Pace {
    /// When the channel's next free card slot is, on the virtual clock.
    next_free: Option<Instant>,
    /// The open burst's digest and when a case last joined it.
    open: Option<(u64, Instant)>,
}

/// Storm folding and the digests' messages; one per engine.
pub struct Digests {
    engine: Weak<Engine>,
    pace: parking_lot::Mutex<Pace>,
    records: parking_lot::Mutex<()>,
    runner: Runner<u64>,
}

impl Digests {
    /// Folding for `engine` (a weak link: the engine owns this).
    pub fn new(engine: Weak<Engine>) -> Self {
        Digests {
            engine,
            pace: parking_lot::Mutex::new(Pace::default()),
            records: parking_lot::Mutex::new(()),
            runner: Runner::new(2),
        }
    }

    /// What to do with a case of `priority` about to be announced: fold it into the burst's
    /// digest (a low-priority card that would queue behind the channel's pace), or give it
    /// its own card, whose slot this reserves (`storm` when that slot is not free at once,
    /// so the card should not also wait for its GitHub issue).
    pub fn fold(&self, priority: Priority) -> Announce {
        let now = Instant::now();
        let burst = Duration::from_secs(u64::from(BURST));
        let mut pace = self.pace.lock();
        // Token bucket on a virtual clock: a quiet channel has BURST slots in hand, after
        // which each card takes the next second.
        let floor = now
            .checked_sub(burst - Duration::from_secs(1))
            .unwrap_or(now);
        let slot = pace.next_free.map_or(floor, |t| t.max(floor));
        let wait = slot.saturating_duration_since(now);
        // (Half a second of slack: calls a few microseconds apart share one second.)
        let would_queue = wait >= burst - Duration::from_millis(500);
        if would_queue && priority == Priority::Low {
            return Announce::Fold;
        }
        pace.next_free = Some(slot + Duration::from_secs(1));
        let storm = wait > Duration::ZERO
            || pace
                .open
                .is_some_and(|(_, last)| now.duration_since(last) < QUIET);
        Announce::Card { storm }
    }

    /// Lists `case` in the open burst's digest (a new one when none is open or it is full),
    /// records the digest on the case, and has the digest's message posted or updated.
    /// Joining again (a retry after a crash) does not list the case twice.
    pub fn join(&self, case: &mut Case, channel: &str) -> Result<u64, StoreError> {
        let engine = self
            .engine
            .upgrade()
            .ok_or_else(|| StoreError::Io("the engine is shutting down".into()))?;
        let now = Instant::now();
        let id = {
            let _w = self.records.lock();
            let mut pace = self.pace.lock();
            let mut current = pace
                .open
                .filter(|(_, last)| now.duration_since(*last) < QUIET)
                .map(|(id, _)| id);
            let mut record = match current {
                Some(id) => load(&engine, id)?,
                None => None,
            };
            if record
                .as_ref()
                .is_some_and(|r| r.lines.len() >= render::digest::MAX_ENTRIES)
            {
                record = None;
                current = None;
            }
            let mut record = match (record, current) {
                (Some(r), _) => r,
                _ => {
                    let id = engine
                        .store
                        .cursor(NEXT_KEY)?
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(1);
                    engine.store.set_cursor(NEXT_KEY, &(id + 1).to_string())?;
                    DigestRecord {
                        id,
                        channel: channel.to_string(),
                        lines: vec![],
                        ts: None,
                        intent_at: None,
                        shown: 0,
                    }
                }
            };
            if !record.lines.iter().any(|l| l.case_id == case.id.as_str()) {
                record.lines.push(DigestLine {
                    case_id: case.id.to_string(),
                    priority: case.priority().unwrap_or(Priority::Low).as_str().into(),
                    name: case.alert.name.clone(),
                });
            }
            save(&engine, &record)?;
            pace.open = Some((record.id, now));
            record.id
        };
        case.joined_digest(id);
        self.kick(&engine, id);
        Ok(id)
    }

    fn kick(&self, engine: &Arc<Engine>, id: u64) {
        let weak = Arc::downgrade(engine);
        self.runner.kick(id, move |id| {
            let weak = weak.clone();
            async move {
                if let Some(engine) = weak.upgrade() {
                    publish(&engine, id).await;
                }
            }
        });
    }

    /// The digest's message (for a folded case's thread replies), waiting up to a minute for
    /// it to be posted.
    pub async fn message(&self, id: u64) -> Result<SlackRef, VendorError> {
        let deadline = Instant::now() + POST_WAIT;
        loop {
            if let Some(found) = self.posted(id) {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                return Err(VendorError::Transport {
                    vendor: "slack",
                    call: "chat.postMessage",
                    message: format!("storm digest {id} is not posted yet"),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The digest's message if it is posted.
    pub fn posted(&self, id: u64) -> Option<SlackRef> {
        let engine = self.engine.upgrade()?;
        let r = load(&engine, id).ok().flatten()?;
        Some(SlackRef {
            channel: r.channel,
            ts: r.ts?,
        })
    }

    /// Every digest record (for `vigil bench` and tests).
    pub fn all(&self) -> Vec<DigestRecord> {
        let Some(engine) = self.engine.upgrade() else {
            return vec![];
        };
        let next = engine
            .store
            .cursor(NEXT_KEY)
            .ok()
            .flatten()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        (1..next)
            .filter_map(|id| load(&engine, id).ok().flatten())
            .collect()
    }

    /// Resumes digests whose message is not posted or not up to date (after a restart).
    pub fn recover(&self) {
        let Some(engine) = self.engine.upgrade() else {
            return;
        };
        for r in self.all() {
            if r.ts.is_none() || r.shown < r.lines.len() {
                self.kick(&engine, r.id);
            }
        }
    }

    /// Read, change and write a digest record under the records lock.
    fn modify(
        &self,
        engine: &Engine,
        id: u64,
        f: impl FnOnce(&mut DigestRecord),
    ) -> Result<Option<DigestRecord>, StoreError> {
        let _w = self.records.lock();
        let Some(mut r) = load(engine, id)? else {
            return Ok(None);
        };
        f(&mut r);
        save(engine, &r)?;
        Ok(Some(r))
    }
}

fn load(engine: &Engine, id: u64) -> Result<Option<DigestRecord>, StoreError> {
    let Some(raw) = engine.store.cursor(&key(id))? else {
        return Ok(None);
    };
    match serde_json::from_str(&raw) {
        Ok(r) => Ok(Some(r)),
        Err(e) => {
            tracing::error!(digest = id, error = %e, "unreadable storm digest record; ignoring it");
            Ok(None)
        }
    }
}

fn save(engine: &Engine, r: &DigestRecord) -> Result<(), StoreError> {
    let raw = serde_json::to_string(r).map_err(|e| StoreError::Io(e.to_string()))?;
    engine.store.set_cursor(&key(r.id), &raw)
}

/// Brings digest `id`'s message up to date: posts it once, then updates it in place until it
/// shows every line. A failure is logged and tried again shortly (the digest's runner key keeps
/// this one task per digest).
async fn publish(engine: &Arc<Engine>, id: u64) {
    for _ in 0..render::digest::MAX_ENTRIES + 4 {
        match publish_once(engine, id).await {
            Ok(true) => continue,
            Ok(false) => return,
            Err(PublishError::Vendor(e)) if !e.is_transient() => {
                // Retrying cannot help (e.g. the bot left the channel); folded cases' thread
                // replies then fail visibly on their timelines, naming this digest.
                tracing::error!(digest = id, error = %e, "storm digest cannot be published; giving up");
                return;
            }
            Err(e) => {
                tracing::warn!(digest = id, error = %e, "storm digest not published; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
    engine.digests.kick(engine, id);
}

#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error(transparent)]
    Vendor(#[from] VendorError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One post, lookup or update; `true` when there may be more to do.
async fn publish_once(engine: &Arc<Engine>, id: u64) -> Result<bool, PublishError> {
    let digests = &engine.digests;
    let Some(r) = load(engine, id)? else {
        return Ok(false);
    };
    let content = |lines: &[DigestLine]| {
        let (text, blocks) = render::digest::digest(lines);
        SlackMessageContent::new()
            .with_text(text)
            .with_blocks(blocks)
    };
    match &r.ts {
        None => {
            if let Some(at) = r.intent_at
                && let Some(ts) = engine
                    .slack
                    .find_top_level(&r.channel, at - chrono::Duration::minutes(2), &tag(id))
                    .await?
            {
                // Found after a crash: record it; an update then shows every line.
                digests.modify(engine, id, |d| d.ts = Some(ts))?;
                return Ok(true);
            }
            digests.modify(engine, id, |d| d.intent_at = Some(Utc::now()))?;
            let shown = r.lines.len();
            let posted = engine
                .slack
                .post(&r.channel, content(&r.lines), None, &tag(id))
                .await?;
            digests.modify(engine, id, |d| {
                d.ts = Some(posted.ts);
                d.shown = shown;
            })?;
            tracing::info!(digest = id, cases = shown, "storm digest posted");
            Ok(true)
        }
        Some(ts) if r.shown < r.lines.len() => {
            let shown = r.lines.len();
            engine
                .slack
                .update(&r.channel, ts, content(&r.lines))
                .await?;
            digests.modify(engine, id, |d| d.shown = d.shown.max(shown))?;
            Ok(true)
        }
        Some(_) => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lows_fold_once_cards_would_queue_and_highs_never_fold() {
        let d = Digests::new(Weak::new());
        let folds: Vec<Announce> = (0..6).map(|_| d.fold(Priority::Low)).collect();
        let card = |storm| Announce::Card { storm };
        // Three go at once, the next three would wait 1, 2 and 3 s: the last one folds.
        assert_eq!(
            folds,
            [
                card(false),
                card(false),
                card(false),
                card(true),
                card(true),
                Announce::Fold
            ]
        );
        assert_eq!(
            d.fold(Priority::High),
            card(true),
            "a high case always keeps its card"
        );
        assert_eq!(
            d.fold(Priority::Low),
            Announce::Fold,
            "and pushes the queue further back"
        );
    }
}
