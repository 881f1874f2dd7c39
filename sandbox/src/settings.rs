//! Timing knobs tests may turn (SPEC §7.3 `POST /_sandbox/settings`).

use parking_lot::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The knobs, with Slack's and GitHub's real timings as defaults.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// How long a new or changed GitHub issue stays invisible to `/search/issues`.
    pub github_search_delay_ms: u64,
    /// How long Socket Mode waits for an ack before it counts the envelope unacked.
    pub slack_ack_timeout_ms: u64,
    /// When unacked `events_api` envelopes are delivered again (Slack: 3 s, 60 s, 5 min).
    pub slack_retry_delays_ms: Vec<u64>,
    /// How long a urlscan.io scan takes: its result answers 404 until then.
    pub urlscan_result_delay_ms: u64,
    /// AbuseIPDB's daily `check` quota per key (free plan: 1000).
    pub abuseipdb_daily_limit: u64,
    /// How long after a `warning` disconnect a socket gets its `refresh_requested` (Slack:
    /// about 10 s); until then it keeps receiving envelopes.
    pub slack_refresh_after_warning_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            github_search_delay_ms: 5_000,
            slack_ack_timeout_ms: 3_000,
            slack_retry_delays_ms: vec![3_000, 60_000, 300_000],
            urlscan_result_delay_ms: 10_000,
            abuseipdb_daily_limit: 1_000,
            slack_refresh_after_warning_ms: 10_000,
        }
    }
}

/// A partial update: only the fields present change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// See [`Settings::github_search_delay_ms`].
    pub github_search_delay_ms: Option<u64>,
    /// See [`Settings::slack_ack_timeout_ms`].
    pub slack_ack_timeout_ms: Option<u64>,
    /// See [`Settings::slack_retry_delays_ms`].
    pub slack_retry_delays_ms: Option<Vec<u64>>,
    /// See [`Settings::urlscan_result_delay_ms`].
    pub urlscan_result_delay_ms: Option<u64>,
    /// See [`Settings::abuseipdb_daily_limit`].
    pub abuseipdb_daily_limit: Option<u64>,
    /// See [`Settings::slack_refresh_after_warning_ms`].
    pub slack_refresh_after_warning_ms: Option<u64>,
}

/// The live settings of one sandbox.
#[derive(Debug, Default)]
pub struct SettingsCell(Mutex<Settings>);

impl SettingsCell {
    /// A copy of the current settings.
    pub fn get(&self) -> Settings {
        self.0.lock().clone()
    }

    /// Applies a patch and returns the result.
    pub fn apply(&self, patch: SettingsPatch) -> Settings {
        let mut s = self.0.lock();
        if let Some(v) = patch.github_search_delay_ms {
            s.github_search_delay_ms = v;
        }
        if let Some(v) = patch.slack_ack_timeout_ms {
            s.slack_ack_timeout_ms = v;
        }
        if let Some(v) = patch.slack_retry_delays_ms {
            s.slack_retry_delays_ms = v;
        }
        if let Some(v) = patch.urlscan_result_delay_ms {
            s.urlscan_result_delay_ms = v;
        }
        if let Some(v) = patch.abuseipdb_daily_limit {
            s.abuseipdb_daily_limit = v;
        }
        if let Some(v) = patch.slack_refresh_after_warning_ms {
            s.slack_refresh_after_warning_ms = v;
        }
        s.clone()
    }

    /// Back to defaults.
    pub fn reset(&self) {
        *self.0.lock() = Settings::default();
    }

    /// The GitHub search delay as a duration.
    pub fn github_search_delay(&self) -> Duration {
        Duration::from_millis(self.get().github_search_delay_ms)
    }
}
