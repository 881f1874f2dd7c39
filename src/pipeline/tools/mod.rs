//! Flow 2's tool executor (SPEC §3.2): runs one typed tool call against its vendor and says
//! what came of it, in one line for people and a bounded object for the agent.
//!
//! Invariant: only [`run`] reaches a vendor for a tool call, and only with arguments that went
//! through [`ToolArgs::parse`]; the guard has already decided the call may run (the
//! `ToolCall` step checks the record first). A tool whose vendor is not configured fails
//! permanently with the config section to add. Every tool is a read or idempotent at its
//! vendor (contain, lift, suspend, unsuspend and clear sessions reach the same end state
//! when repeated) except Slack notify, whose step records its intent and is found by
//! message metadata after a crash.

mod crowdstrike;
mod okta;
mod reputation;
mod slack;
mod tavily;
mod urlscan;
mod virustotal;

use serde_json::{Map, Value};

use super::engine::Engine;
use crate::case::Case;
use crate::triage::tools::{ToolArgs, ToolName};
use crate::vendors::VendorError;

pub use slack::{find_notify, notify_tag};

/// Longest summary line kept.
pub const MAX_SUMMARY: usize = 300;
/// Longest text value in a detail object.
const MAX_DETAIL_TEXT: usize = 300;
/// Most items kept of a list in a detail object.
const MAX_DETAIL_ITEMS: usize = 10;
/// Most fields kept of an object in a detail object.
const MAX_DETAIL_FIELDS: usize = 24;

/// What a tool call found or did.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    /// One line for the timeline, the thread and the issue: verdict, score, counts.
    pub summary: String,
    /// The facts the agent reads next turn, bounded by [`bounded`].
    pub detail: Value,
}

impl ToolOutcome {
    /// An outcome with its summary clipped and its detail bounded.
    pub fn new(summary: impl Into<String>, detail: Value) -> ToolOutcome {
        ToolOutcome {
            summary: clip(&summary.into(), MAX_SUMMARY),
            detail: bounded(detail),
        }
    }
}

/// Runs `tool` with `args` for call `call` of `case`.
pub async fn run(
    engine: &Engine,
    case: &Case,
    call: u32,
    tool: ToolName,
    args: &ToolArgs,
) -> Result<ToolOutcome, VendorError> {
    let value = args.value();
    use ToolName as T;
    match tool {
        T::CrowdstrikeHostDetails | T::CrowdstrikeContainHost | T::CrowdstrikeLiftContainment => {
            crowdstrike::run(engine, tool, value).await
        }
        T::OktaGetUser | T::OktaClearSessions | T::OktaSuspendUser | T::OktaUnsuspendUser => {
            okta::run(engine, tool, value).await
        }
        T::VirustotalFile | T::VirustotalUrl | T::VirustotalDomain | T::VirustotalIp => {
            virustotal::run(engine, tool, value).await
        }
        T::AbuseipdbCheckIp => reputation::abuseipdb(engine, tool, value).await,
        T::EmailrepQuery => reputation::emailrep(engine, tool, value).await,
        T::UrlscanScan => urlscan::run(engine, tool, value).await,
        T::TavilySearch => tavily::run(engine, tool, value).await,
        T::SlackNotify => slack::notify(engine, case, call, value).await,
    }
}

/// The permanent error of a tool whose vendor has no config section.
pub(crate) fn not_configured(tool: ToolName, section: &'static str) -> VendorError {
    VendorError::Invalid {
        vendor: section,
        call: tool.as_str(),
        message: format!("not configured: add a [{section}] section to the config"),
    }
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push('…');
    t
}

/// A detail object the model can read in any turn: text clipped, lists and objects shortened,
/// nesting cut at four levels, so no vendor answer can fill the model's context.
pub fn bounded(v: Value) -> Value {
    bound(v, 0)
}

fn bound(v: Value, depth: usize) -> Value {
    match v {
        Value::String(s) => Value::String(clip(&s, MAX_DETAIL_TEXT)),
        Value::Array(a) if depth < 4 => Value::Array(
            a.into_iter()
                .take(MAX_DETAIL_ITEMS)
                .map(|x| bound(x, depth + 1))
                .collect(),
        ),
        Value::Object(m) if depth < 4 => Value::Object(
            m.into_iter()
                .take(MAX_DETAIL_FIELDS)
                .map(|(k, x)| (clip(&k, 60), bound(x, depth + 1)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(_) | Value::Object(_) => Value::String("…".into()),
        other => other,
    }
}

#[cfg(test)]
mod tests;
