//! The guardrails of SPEC §3.3 as one pure decision: may this proposed call run now, must it
//! wait for an analyst, or is it refused (and why)? The runbook runner and the agent loop both
//! ask it before every call, so the rules cannot differ between them.
//!
//! Invariant: `Allow` or `NeedsApproval` only for a tool on the SOP's allowlist, with arguments
//! of the tool's exact shape whose entity value is one of this case's entities (normalised,
//! exact match), within the call, turn and time caps; every destructive tool gets
//! `NeedsApproval`, never `Allow`. Nothing in the call (its text, its arguments) can widen the
//! allowlist or the entity set: both come from the caller.

use std::time::Duration;

use serde_json::{Map, Value};

use super::entities::{Entities, EntityKind};
use super::tools::{ArgError, ArgKind, ToolArgs, ToolName};

/// Per-case limits (SPEC §3.3 defaults: 15 calls, 8 turns, 5 minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Tool calls run or requested.
    pub max_calls: usize,
    /// Agent turns.
    pub max_turns: usize,
    /// Wall time since triage started.
    pub max_time: Duration,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_calls: 15,
            max_turns: 8,
            max_time: Duration::from_secs(5 * 60),
        }
    }
}

/// What the case has used so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// The agent turn proposing this call, 1-based (0 for the runbook runner).
    pub turns: usize,
    /// Time since triage started.
    pub elapsed: Duration,
}

/// A call already allowed or requested on this case (refused ones do not count).
#[derive(Debug, Clone, PartialEq)]
pub struct PastCall {
    /// The tool.
    pub tool: ToolName,
    /// Its arguments as run.
    pub args: Map<String, Value>,
}

/// What the call is checked against: the SOP's allowlist and the case's entities.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Tools the SOP allows (its runbook's, or the configured list for pages without one).
    pub allowlist: &'a [ToolName],
    /// This case's entities.
    pub entities: &'a Entities,
}

/// The verdict on one proposed call.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Run it.
    Allow(ToolName, ToolArgs),
    /// Destructive: ask an analyst, bound to exactly this call.
    NeedsApproval(ToolName, ToolArgs),
    /// Never run; recorded on the timeline with the reason.
    Refuse(Refusal),
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The name is no tool of Vigil's.
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
    /// A real tool the SOP does not allow.
    #[error("{0} is not on this SOP's allowlist")]
    NotAllowed(ToolName),
    /// Arguments not of the tool's shape.
    #[error("{0}")]
    BadArgs(ArgError),
    /// The entity argument is not one of this case's.
    #[error("{tool}: `{value}` is not a {kind:?} of this case")]
    OutOfScope {
        /// The tool.
        tool: ToolName,
        /// The kind it must be.
        kind: EntityKind,
        /// The value asked for (shortened).
        value: String,
    },
    /// The same call was already made on this case.
    #[error("{0} with these arguments was already called on this case")]
    Repeated(ToolName),
    /// The call cap is reached.
    #[error("the case reached its cap of {0} tool calls")]
    CallCap(usize),
    /// The turn cap is reached.
    #[error("the case reached its cap of {0} agent turns")]
    TurnCap(usize),
    /// The time cap is reached.
    #[error("the case reached its triage time cap of {}", humantime::format_duration(*.0))]
    TimeCap(Duration),
}

fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        return s.to_string();
    }
    let mut t: String = s.chars().take(MAX).collect();
    t.push('…');
    t
}

/// Decides on the call `name(args)` proposed after `past` under `caps`.
pub fn decide(
    scope: Scope<'_>,
    past: &[PastCall],
    usage: Usage,
    caps: Caps,
    name: &str,
    args: &Map<String, Value>,
) -> Decision {
    let refuse = Decision::Refuse;
    if usage.elapsed >= caps.max_time {
        return refuse(Refusal::TimeCap(caps.max_time));
    }
    if usage.turns > caps.max_turns {
        return refuse(Refusal::TurnCap(caps.max_turns));
    }
    if past.len() >= caps.max_calls {
        return refuse(Refusal::CallCap(caps.max_calls));
    }
    let Some(tool) = ToolName::from_name(name) else {
        return refuse(Refusal::UnknownTool(shorten(name)));
    };
    if !scope.allowlist.contains(&tool) {
        return refuse(Refusal::NotAllowed(tool));
    }
    let typed = match ToolArgs::parse(tool, args) {
        Ok(t) => t,
        Err(e) => return refuse(Refusal::BadArgs(e)),
    };
    if let (_, ArgKind::Entity(kind)) = tool.arg()
        && !scope.entities.contains(kind, typed.value())
    {
        return refuse(Refusal::OutOfScope {
            tool,
            kind,
            value: shorten(typed.value()),
        });
    }
    if past
        .iter()
        .any(|p| p.tool == tool && ToolArgs::parse(tool, &p.args).as_ref() == Ok(&typed))
    {
        return refuse(Refusal::Repeated(tool));
    }
    if tool.destructive() {
        Decision::NeedsApproval(tool, typed)
    } else {
        Decision::Allow(tool, typed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn entities() -> Entities {
        let mut e = Entities::default();
        e.add(EntityKind::Host, "dev-1");
        e.device_ids.push("dev-1".into());
        e.add(EntityKind::User, "jdoe@corp.example");
        e.add(EntityKind::Ip, "203.0.113.9");
        e
    }

    const ALLOW: &[ToolName] = &[
        ToolName::CrowdstrikeHostDetails,
        ToolName::CrowdstrikeContainHost,
        ToolName::OktaSuspendUser,
        ToolName::AbuseipdbCheckIp,
        ToolName::TavilySearch,
    ];

    fn args(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn ask(past: &[PastCall], usage: Usage, name: &str, a: Value) -> Decision {
        let e = entities();
        let scope = Scope {
            allowlist: ALLOW,
            entities: &e,
        };
        decide(scope, past, usage, Caps::default(), name, &args(a))
    }

    #[test]
    fn in_scope_reads_run_and_destructive_calls_wait_for_approval() {
        assert!(matches!(
            ask(
                &[],
                Usage::default(),
                "abuseipdb_check_ip",
                json!({"ip": "203.0.113.9"})
            ),
            Decision::Allow(ToolName::AbuseipdbCheckIp, _)
        ));
        assert!(matches!(
            ask(
                &[],
                Usage::default(),
                "crowdstrike_contain_host",
                json!({"device_id": "DEV-1"})
            ),
            Decision::NeedsApproval(ToolName::CrowdstrikeContainHost, _)
        ));
    }

    #[test]
    fn injection_attempts_are_refused_with_a_reason() {
        let every = ask(
            &[],
            Usage::default(),
            "okta_suspend_user",
            json!({"user": "*"}),
        );
        assert!(
            matches!(
                &every,
                Decision::Refuse(Refusal::OutOfScope {
                    kind: EntityKind::User,
                    ..
                })
            ),
            "{every:?}"
        );
        let outside = ask(
            &[],
            Usage::default(),
            "crowdstrike_contain_host",
            json!({"device_id": "ceo-laptop"}),
        );
        match outside {
            Decision::Refuse(r) => assert!(r.to_string().contains("ceo-laptop"), "{r}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ask(
                &[],
                Usage::default(),
                "okta_clear_sessions",
                json!({"user": "jdoe@corp.example"})
            ),
            Decision::Refuse(Refusal::NotAllowed(ToolName::OktaClearSessions))
        );
        assert_eq!(
            ask(&[], Usage::default(), "shell", json!({})),
            Decision::Refuse(Refusal::UnknownTool("shell".into()))
        );
        assert!(matches!(
            ask(
                &[],
                Usage::default(),
                "okta_suspend_user",
                json!({"user": "jdoe@corp.example", "also": "all"})
            ),
            Decision::Refuse(Refusal::BadArgs(_))
        ));
    }

    #[test]
    fn caps_and_repeats_refuse() {
        let past = vec![
            PastCall {
                tool: ToolName::AbuseipdbCheckIp,
                args: args(json!({"ip": "203.0.113.9"})),
            };
            15
        ];
        assert_eq!(
            ask(
                &past,
                Usage::default(),
                "tavily_search",
                json!({"query": "x"})
            ),
            Decision::Refuse(Refusal::CallCap(15))
        );
        assert_eq!(
            ask(
                &past[..1],
                Usage::default(),
                "abuseipdb_check_ip",
                json!({"ip": "203.0.113.9"})
            ),
            Decision::Refuse(Refusal::Repeated(ToolName::AbuseipdbCheckIp))
        );
        let late = Usage {
            turns: 0,
            elapsed: Duration::from_secs(300),
        };
        assert!(matches!(
            ask(&[], late, "tavily_search", json!({"query": "x"})),
            Decision::Refuse(Refusal::TimeCap(_))
        ));
        let chatty = Usage {
            turns: 9,
            elapsed: Duration::ZERO,
        };
        assert_eq!(
            ask(&[], chatty, "tavily_search", json!({"query": "x"})),
            Decision::Refuse(Refusal::TurnCap(8))
        );
    }

    proptest! {
        #[test]
        fn no_call_outside_the_allowlist_or_entities_is_ever_allowed(
            tool in prop::sample::select(ToolName::ALL.to_vec()),
            value in "\\PC{1,60}",
        ) {
            let (field, kind) = tool.arg();
            let d = ask(&[], Usage::default(), tool.as_str(), json!({field: value.clone()}));
            if let Decision::Allow(t, a) | Decision::NeedsApproval(t, a) = &d {
                prop_assert!(ALLOW.contains(t));
                if let ArgKind::Entity(k) = kind {
                    prop_assert!(entities().contains(k, a.value()), "{d:?}");
                }
            }
            if let Decision::Allow(t, _) = &d {
                prop_assert!(!t.destructive());
            }
        }
    }
}
