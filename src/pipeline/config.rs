//! `[triage]`: grouping, owner timers, the no-owner policy and the priority rule table.

use std::time::Duration;

use serde::Deserialize;

use crate::case::flow::OwnerPolicy;
use crate::case::rules::{Rule, default_rules};

/// A field alerts are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupField {
    /// The device id (identity alerts: the account).
    Device,
    /// The MITRE technique id.
    Technique,
    /// The MITRE tactic.
    Tactic,
    /// The account.
    User,
    /// The detection name.
    Name,
}

pub use crate::case::flow::NoOwnerPolicy;

/// Triage settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageConfig {
    /// Alerts with equal values of these fields join one open case.
    #[serde(default = "default_group_by")]
    pub group_by: Vec<GroupField>,
    /// How long after a case's last alert a matching alert still joins it.
    #[serde(default = "default_window", with = "humantime_serde")]
    pub group_window: Duration,
    /// When the owner gets a reminder.
    #[serde(default = "default_reminder", with = "humantime_serde")]
    pub reminder_after: Duration,
    /// When owner silence escalates to a page.
    #[serde(default = "default_escalate", with = "humantime_serde")]
    pub escalate_after: Duration,
    /// Low-priority cases with no owner.
    #[serde(default)]
    pub no_owner: NoOwnerPolicy,
    /// How far back the first CrowdStrike poll looks.
    #[serde(default = "default_lookback", with = "humantime_serde")]
    pub initial_lookback: Duration,
    /// Cases processed at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// First match decides; no match is low.
    #[serde(default = "default_rules")]
    pub rules: Vec<Rule>,
}

impl TriageConfig {
    /// The part of the settings the case's own transitions obey (owner timers, no-owner
    /// policy), so `case/` reads no config type.
    pub fn owner_policy(&self) -> OwnerPolicy {
        OwnerPolicy {
            reminder_after: self.reminder_after,
            escalate_after: self.escalate_after,
            no_owner: self.no_owner,
        }
    }
}

impl Default for TriageConfig {
    fn default() -> Self {
        TriageConfig {
            group_by: default_group_by(),
            group_window: default_window(),
            reminder_after: default_reminder(),
            escalate_after: default_escalate(),
            no_owner: NoOwnerPolicy::default(),
            initial_lookback: default_lookback(),
            concurrency: default_concurrency(),
            rules: default_rules(),
        }
    }
}

fn default_group_by() -> Vec<GroupField> {
    vec![GroupField::Device, GroupField::Technique]
}

fn default_window() -> Duration {
    Duration::from_secs(3600)
}

fn default_reminder() -> Duration {
    Duration::from_secs(30 * 60)
}

fn default_escalate() -> Duration {
    Duration::from_secs(2 * 3600)
}

fn default_lookback() -> Duration {
    Duration::from_secs(3600)
}

fn default_concurrency() -> usize {
    32
}
