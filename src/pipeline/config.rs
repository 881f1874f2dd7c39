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

/// `[remediation]`: flow 2's guardrail caps (SPEC §3.3), its prompts and the tools a page
/// without a runbook may use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationConfig {
    /// Tool calls per case (run or requested; refused ones do not count).
    #[serde(default = "default_max_calls")]
    pub max_calls: usize,
    /// Agent turns per case.
    #[serde(default = "default_max_turns")]
    pub max_turns: usize,
    /// Wall time from classification to the last call.
    #[serde(default = "default_max_time", with = "humantime_serde")]
    pub max_time: Duration,
    /// The allowlist of an SOP page that has no `vigil-runbook` (stable tool names, SPEC
    /// §3.2); empty means such a page allows nothing to run.
    #[serde(default = "default_allowlist")]
    pub default_allowlist: Vec<crate::triage::tools::ToolName>,
    /// Classifier system prompt file; the shipped `assets/prompts/classify.md` when unset.
    #[serde(default)]
    pub classify_prompt: Option<std::path::PathBuf>,
    /// Agent system prompt file; the shipped `assets/prompts/agent.md` when unset.
    #[serde(default)]
    pub agent_prompt: Option<std::path::PathBuf>,
}

impl RemediationConfig {
    /// Checks the caps' ranges and makes prompt paths absolute.
    pub fn resolve(&mut self, base: &std::path::Path) -> Result<(), crate::config::ConfigError> {
        in_range("remediation.max_calls", self.max_calls, 1, 100)?;
        in_range("remediation.max_turns", self.max_turns, 1, 50)?;
        within(
            "remediation.max_time",
            self.max_time,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        )?;
        for p in [&mut self.classify_prompt, &mut self.agent_prompt]
            .into_iter()
            .flatten()
        {
            *p = crate::config::secret::absolutize(base, p);
        }
        Ok(())
    }

    /// The caps as the guard takes them.
    pub fn caps(&self) -> crate::triage::guard::Caps {
        crate::triage::guard::Caps {
            max_calls: self.max_calls,
            max_turns: self.max_turns,
            max_time: self.max_time,
        }
    }
}

impl Default for RemediationConfig {
    fn default() -> Self {
        RemediationConfig {
            max_calls: default_max_calls(),
            max_turns: default_max_turns(),
            max_time: default_max_time(),
            default_allowlist: default_allowlist(),
            classify_prompt: None,
            agent_prompt: None,
        }
    }
}

fn default_max_calls() -> usize {
    15
}

fn default_max_turns() -> usize {
    8
}

fn default_max_time() -> Duration {
    Duration::from_secs(5 * 60)
}

/// Read-only look-ups: a page without a runbook can gather facts but change nothing unless
/// its operator lists more.
fn default_allowlist() -> Vec<crate::triage::tools::ToolName> {
    use crate::triage::tools::ToolName::*;
    vec![
        CrowdstrikeHostDetails,
        OktaGetUser,
        VirustotalFile,
        VirustotalUrl,
        VirustotalDomain,
        VirustotalIp,
        AbuseipdbCheckIp,
        EmailrepQuery,
        UrlscanScan,
        TavilySearch,
    ]
}

/// `[approvals]`: how destructive calls are approved (SPEC §3.3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsConfig {
    /// The person a call acts on (device owner, user to be suspended) may not approve it.
    #[serde(default = "default_true")]
    pub forbid_self: bool,
    /// How long an undecided approval stays open; the message then says it expired.
    #[serde(default = "default_expire_after", with = "humantime_serde")]
    pub expire_after: Duration,
}

impl ApprovalsConfig {
    /// Checks the expiry's range: a minute is too short to read the message, a day is an
    /// approval nobody remembers asking for.
    pub fn resolve(&self) -> Result<(), crate::config::ConfigError> {
        within(
            "approvals.expire_after",
            self.expire_after,
            Duration::from_secs(60),
            Duration::from_secs(24 * 3600),
        )
    }
}

fn in_range(key: &str, v: usize, lo: usize, hi: usize) -> Result<(), crate::config::ConfigError> {
    if (lo..=hi).contains(&v) {
        return Ok(());
    }
    Err(crate::config::ConfigError::Invalid {
        key: key.into(),
        expected: format!("a number from {lo} to {hi}"),
        got: v.to_string(),
    })
}

fn within(
    key: &str,
    v: Duration,
    lo: Duration,
    hi: Duration,
) -> Result<(), crate::config::ConfigError> {
    if v >= lo && v <= hi {
        return Ok(());
    }
    Err(crate::config::ConfigError::Invalid {
        key: key.into(),
        expected: format!(
            "a duration from {} to {}",
            humantime::format_duration(lo),
            humantime::format_duration(hi)
        ),
        got: humantime::format_duration(v).to_string(),
    })
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        ApprovalsConfig {
            forbid_self: true,
            expire_after: default_expire_after(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_expire_after() -> Duration {
    Duration::from_secs(30 * 60)
}
