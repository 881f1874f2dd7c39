//! The CrowdStrike poller: alerts updated since the persisted cursor, page by page, each
//! admitted (duplicates are ignored by the store). The cursor only moves forward after every
//! alert up to it was admitted, so a crash or outage catches up without missing one.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::engine::Engine;
use super::ingest::alert_from_falcon;
use crate::vendors::crowdstrike::client::CrowdStrikeClient;
use crate::vendors::crowdstrike::models::updated_since_filter;

/// Name of the stored cursor.
pub const CURSOR: &str = "crowdstrike.updated_timestamp";
const PAGE: u32 = 500;

/// Polls forever at `interval`, until `stop` fires.
pub async fn run(
    engine: Arc<Engine>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = poll_once(&engine).await {
            tracing::warn!(error = %e, "crowdstrike poll failed; will retry at the next interval");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One poll: every page since the cursor. Returns how many alerts were seen.
pub async fn poll_once(engine: &Arc<Engine>) -> anyhow::Result<usize> {
    let Some(cs) = &engine.vendors.crowdstrike else {
        return Ok(0);
    };
    let since = cursor(engine)?;
    let filter = updated_since_filter(&since);
    let mut after: Option<String> = None;
    let mut newest = since;
    let mut seen = 0;
    loop {
        let page = cs
            .alerts_page(&filter, "updated_timestamp|asc", PAGE, after.as_deref())
            .await?;
        for raw in &page.alerts {
            seen += 1;
            if let Some(t) = updated_at(raw) {
                newest = newest.max(t);
            }
            match alert_from_falcon(raw) {
                Ok(alert) => {
                    engine.admit(alert)?;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "skipped a CrowdStrike alert that cannot become a case")
                }
            }
        }
        after = page.after.filter(|a| !a.is_empty());
        if after.is_none() {
            break;
        }
    }
    if newest > since {
        engine.store.set_cursor(CURSOR, &newest.to_rfc3339())?;
    }
    Ok(seen)
}

fn cursor(engine: &Engine) -> anyhow::Result<DateTime<Utc>> {
    let stored = engine.store.cursor(CURSOR)?;
    Ok(
        match stored.and_then(|s| DateTime::parse_from_rfc3339(&s).ok()) {
            Some(t) => t.with_timezone(&Utc),
            None => {
                Utc::now()
                    - chrono::Duration::from_std(engine.triage.initial_lookback).unwrap_or_default()
            }
        },
    )
}

fn updated_at(raw: &serde_json::Value) -> Option<DateTime<Utc>> {
    let s = raw.get("updated_timestamp")?.as_str()?;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether the poller has a client (for start-up logging).
pub fn enabled(cs: Option<&CrowdStrikeClient>) -> bool {
    cs.is_some()
}
