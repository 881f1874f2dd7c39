//! The machine-readable runbook of an SOP page (SPEC §3.2): the `vigil-runbook` code macro of a
//! Confluence storage-format body, a JSON array of `{"tool", "args", "approval"?}` steps whose
//! argument values may name case entities as placeholders (`{{host}}`, `{{hash}}`, …).
//!
//! Invariant: a parsed [`Runbook`] names only known tools and known placeholders, and every
//! destructive tool's step requires approval whether or not the page says so; expanding it
//! against a case's [`Entities`] yields only concrete calls whose entity values are that
//! case's own, one per entity value.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::entities::{Entities, EntityKind};
use super::tools::ToolName;

/// Most steps a runbook may hold.
pub const MAX_STEPS: usize = 30;
/// Most concrete calls one step may expand to.
pub const MAX_CALLS_PER_STEP: usize = 20;

/// A case entity (or the alert name) a placeholder names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Placeholder {
    /// `{{host}}`: device ids, else host names.
    Host,
    /// `{{user}}`: accounts (logins, UPNs).
    User,
    /// `{{ip}}`: IP addresses.
    Ip,
    /// `{{domain}}`: domains.
    Domain,
    /// `{{url}}`: http(s) URLs.
    Url,
    /// `{{hash}}`: file hashes.
    Hash,
    /// `{{email}}`: email addresses, the sender included.
    Email,
    /// `{{sender}}`: the reported email's From address.
    Sender,
    /// `{{alert_name}}`: the alert's name, as text.
    AlertName,
}

impl Placeholder {
    fn from_name(name: &str) -> Option<Placeholder> {
        Some(match name {
            "host" => Placeholder::Host,
            "user" => Placeholder::User,
            "ip" => Placeholder::Ip,
            "domain" => Placeholder::Domain,
            "url" => Placeholder::Url,
            "hash" => Placeholder::Hash,
            "email" => Placeholder::Email,
            "sender" => Placeholder::Sender,
            "alert_name" => Placeholder::AlertName,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Placeholder::Host => "host",
            Placeholder::User => "user",
            Placeholder::Ip => "ip",
            Placeholder::Domain => "domain",
            Placeholder::Url => "url",
            Placeholder::Hash => "hash",
            Placeholder::Email => "email",
            Placeholder::Sender => "sender",
            Placeholder::AlertName => "alert_name",
        }
    }

    fn values(self, e: &Entities, alert_name: &str) -> Vec<String> {
        let list = |k| e.of(k).to_vec();
        match self {
            Placeholder::Host if !e.device_ids.is_empty() => e.device_ids.clone(),
            Placeholder::Host => list(EntityKind::Host),
            Placeholder::User => list(EntityKind::User),
            Placeholder::Ip => list(EntityKind::Ip),
            Placeholder::Domain => list(EntityKind::Domain),
            Placeholder::Url => list(EntityKind::Url),
            Placeholder::Hash => list(EntityKind::Hash),
            Placeholder::Email => list(EntityKind::Email),
            Placeholder::Sender => e.sender.clone().into_iter().collect(),
            Placeholder::AlertName => {
                let n = alert_name.trim();
                (!n.is_empty()).then(|| n.to_string()).into_iter().collect()
            }
        }
    }
}

/// One step: a tool, its argument templates, and whether it waits for an analyst.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunbookStep {
    /// The tool.
    pub tool: ToolName,
    /// Argument name → template (literal text with placeholders).
    pub args: BTreeMap<String, String>,
    /// True for destructive tools and for steps the page marks `approval: required`.
    pub approval_required: bool,
}

/// A page's runbook, in order. Stored on the case as it was read, so planning after a restart
/// follows the page version the case recorded, not a later edit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Runbook {
    /// The steps in the order the page lists them, which is the order they run.
    pub steps: Vec<RunbookStep>,
}

/// Why a page has no usable runbook; the case records it and the agent (if any) takes over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunbookError {
    /// No code macro titled `vigil-runbook`.
    #[error("the page has no vigil-runbook code macro")]
    NoRunbook,
    /// The macro's text is not a JSON array of steps.
    #[error("the vigil-runbook is not a list of steps: {0}")]
    Unparsable(String),
    /// A step names a tool Vigil does not have.
    #[error("step {step}: unknown tool `{tool}`")]
    UnknownTool {
        /// 1-based step number.
        step: usize,
        /// The name as written.
        tool: String,
    },
    /// A step names a placeholder that is not a case entity, or leaves one unclosed.
    #[error("step {step}: bad placeholder `{placeholder}`")]
    BadPlaceholder {
        /// 1-based step number.
        step: usize,
        /// The text as written.
        placeholder: String,
    },
    /// A step's `approval` is neither absent nor `required`.
    #[error("step {step}: approval must be \"required\" or absent, not `{value}`")]
    BadApproval {
        /// 1-based step number.
        step: usize,
        /// The value as written.
        value: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    tool: String,
    #[serde(default)]
    args: BTreeMap<String, String>,
    #[serde(default)]
    approval: Option<String>,
}

/// The text of the first code macro titled `vigil-runbook`, CDATA unwrapped.
fn macro_text(body: &str) -> Option<String> {
    const OPEN: &str = "<ac:structured-macro";
    const CLOSE: &str = "</ac:structured-macro>";
    let mut rest = body;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start..];
        let end = after
            .find(CLOSE)
            .map(|i| i + CLOSE.len())
            .unwrap_or(after.len());
        let m = &after[..end];
        rest = &after[end..];
        let head = m.split('>').next().unwrap_or_default();
        let is_code = head.contains("ac:name=\"code\"");
        let titled = m.contains("<ac:parameter ac:name=\"title\">vigil-runbook</ac:parameter>");
        if !(is_code && titled) {
            continue;
        }
        let text_start = m.find("<ac:plain-text-body>")? + "<ac:plain-text-body>".len();
        let text_end = m[text_start..].find("</ac:plain-text-body>")? + text_start;
        let text = m[text_start..text_end].trim();
        let text = text
            .strip_prefix("<![CDATA[")
            .and_then(|t| t.strip_suffix("]]>"))
            .map(str::to_string)
            .unwrap_or_else(|| {
                text.replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&amp;", "&")
            });
        return Some(text);
    }
    None
}

/// The placeholders of `template`, or the first bad one.
fn placeholders(template: &str) -> Result<Vec<Placeholder>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err(rest[i..].chars().take(40).collect());
        };
        let name = after[..j].trim();
        match Placeholder::from_name(name) {
            Some(p) => out.push(p),
            None => return Err(format!("{{{{{name}}}}}")),
        }
        rest = &after[j + 2..];
    }
    if rest.contains("}}") {
        return Err("}}".into());
    }
    Ok(out)
}

impl Runbook {
    /// Parses the runbook of a storage-format page body.
    pub fn from_storage(body: &str) -> Result<Runbook, RunbookError> {
        let text = macro_text(body).ok_or(RunbookError::NoRunbook)?;
        let raw: Vec<RawStep> =
            serde_json::from_str(&text).map_err(|e| RunbookError::Unparsable(e.to_string()))?;
        if raw.len() > MAX_STEPS {
            return Err(RunbookError::Unparsable(format!(
                "{} steps, more than {MAX_STEPS}",
                raw.len()
            )));
        }
        let mut steps = Vec::with_capacity(raw.len());
        for (i, s) in raw.into_iter().enumerate() {
            let step = i + 1;
            let tool = ToolName::from_name(&s.tool).ok_or_else(|| RunbookError::UnknownTool {
                step,
                tool: s.tool.clone(),
            })?;
            for template in s.args.values() {
                placeholders(template)
                    .map_err(|placeholder| RunbookError::BadPlaceholder { step, placeholder })?;
            }
            let marked = match s.approval.as_deref() {
                None => false,
                Some("required") => true,
                Some(other) => {
                    return Err(RunbookError::BadApproval {
                        step,
                        value: other.into(),
                    });
                }
            };
            steps.push(RunbookStep {
                tool,
                args: s.args,
                approval_required: marked || tool.destructive(),
            });
        }
        Ok(Runbook { steps })
    }

    /// The SOP's allowlist: the tools its runbook names.
    pub fn allowlist(&self) -> Vec<ToolName> {
        let mut tools: Vec<ToolName> = self.steps.iter().map(|s| s.tool).collect();
        tools.sort();
        tools.dedup();
        tools
    }

    /// Each step's concrete calls against this case, in order.
    pub fn expand(&self, entities: &Entities, alert_name: &str) -> Vec<PlannedStep> {
        self.steps
            .iter()
            .map(|s| s.expand(entities, alert_name))
            .collect()
    }
}

/// A concrete call: every placeholder filled with one entity value.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCall {
    /// The tool.
    pub tool: ToolName,
    /// Concrete arguments.
    pub args: Map<String, Value>,
    /// Whether it waits for an analyst.
    pub approval_required: bool,
}

/// One step's calls, or why it has none (a placeholder with no entity in this case).
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    /// The step's tool.
    pub tool: ToolName,
    /// One call per combination of entity values (usually one per entity).
    pub calls: Vec<PlannedCall>,
    /// Set when the step has no calls: which placeholder had nothing to fill it.
    pub skipped: Option<String>,
}

impl RunbookStep {
    /// One call per entity value of the step's placeholders (a cartesian product when a step
    /// names two multi-valued kinds), capped at [`MAX_CALLS_PER_STEP`].
    pub fn expand(&self, entities: &Entities, alert_name: &str) -> PlannedStep {
        let mut used: Vec<Placeholder> = self
            .args
            .values()
            .flat_map(|t| placeholders(t).unwrap_or_default())
            .collect();
        used.sort();
        used.dedup();
        let mut combos: Vec<BTreeMap<Placeholder, String>> = vec![BTreeMap::new()];
        for p in used {
            let values = p.values(entities, alert_name);
            if values.is_empty() {
                return PlannedStep {
                    tool: self.tool,
                    calls: Vec::new(),
                    skipped: Some(format!("this case has no {{{{{}}}}}", p.name())),
                };
            }
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.insert(p, v.clone());
                        c
                    })
                })
                .take(MAX_CALLS_PER_STEP)
                .collect();
        }
        let calls = combos
            .into_iter()
            .map(|c| PlannedCall {
                tool: self.tool,
                args: self
                    .args
                    .iter()
                    .map(|(k, t)| (k.clone(), Value::String(fill(t, &c))))
                    .collect(),
                approval_required: self.approval_required,
            })
            .collect();
        PlannedStep {
            tool: self.tool,
            calls,
            skipped: None,
        }
    }
}

/// Fills placeholders in one pass, so a value that itself reads `{{user}}` stays literal.
fn fill(template: &str, values: &BTreeMap<Placeholder, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let filled = after.find("}}").and_then(|j| {
            let p = Placeholder::from_name(after[..j].trim())?;
            Some((values.get(&p)?, j))
        });
        match filled {
            Some((v, j)) => {
                out.push_str(v);
                rest = &after[j + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vigil_sandbox::confluence::sops::{pages, runbook_macro};

    fn parse(steps: Value) -> Result<Runbook, RunbookError> {
        Runbook::from_storage(&format!("<p>x</p>{}", runbook_macro(&steps)))
    }

    #[test]
    fn every_seeded_sop_parses_with_its_destructive_step_gated() {
        for page in pages() {
            let rb = match Runbook::from_storage(&page.body) {
                Ok(r) => r,
                Err(e) => panic!("{}: {e}", page.title),
            };
            assert!(!rb.steps.is_empty(), "{}", page.title);
            for s in &rb.steps {
                assert_eq!(s.approval_required, s.tool.destructive(), "{}", page.title);
            }
        }
        let malware = Runbook::from_storage(&pages()[0].body).map(|r| r.allowlist());
        assert_eq!(
            malware,
            Ok(vec![
                ToolName::CrowdstrikeHostDetails,
                ToolName::CrowdstrikeContainHost,
                ToolName::VirustotalFile
            ])
        );
    }

    #[test]
    fn typed_errors_for_missing_unparsable_unknown_tool_and_bad_placeholder() {
        assert_eq!(
            Runbook::from_storage("<p>No runbook here</p>"),
            Err(RunbookError::NoRunbook)
        );
        let other_macro = "<ac:structured-macro ac:name=\"code\"><ac:parameter ac:name=\"title\">notes</ac:parameter><ac:plain-text-body><![CDATA[[]]]></ac:plain-text-body></ac:structured-macro>";
        assert_eq!(
            Runbook::from_storage(other_macro),
            Err(RunbookError::NoRunbook)
        );
        assert!(matches!(
            parse(json!({"tool": "x"})),
            Err(RunbookError::Unparsable(_))
        ));
        assert_eq!(
            parse(
                json!([{"tool": "okta_get_user", "args": {"user": "{{user}}"}}, {"tool": "rm_rf"}])
            ),
            Err(RunbookError::UnknownTool {
                step: 2,
                tool: "rm_rf".into()
            })
        );
        assert_eq!(
            parse(json!([{"tool": "okta_get_user", "args": {"user": "{{everyone}}"}}])),
            Err(RunbookError::BadPlaceholder {
                step: 1,
                placeholder: "{{everyone}}".into()
            })
        );
        assert!(matches!(
            parse(json!([{"tool": "okta_get_user", "args": {"user": "{{user"}}])),
            Err(RunbookError::BadPlaceholder { step: 1, .. })
        ));
        assert!(matches!(
            parse(json!([{"tool": "okta_get_user", "approval": "maybe"}])),
            Err(RunbookError::BadApproval { .. })
        ));
    }

    #[test]
    fn a_destructive_step_needs_approval_even_when_the_page_forgets() {
        let rb = parse(json!([{"tool": "okta_suspend_user", "args": {"user": "{{user}}"}}]));
        assert_eq!(rb.map(|r| r.steps[0].approval_required), Ok(true));
    }

    #[test]
    fn expansion_runs_once_per_entity_and_skips_a_step_with_none() {
        let rb = match Runbook::from_storage(&pages()[0].body) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        let mut e = Entities::default();
        e.add(EntityKind::Host, "dev1");
        e.device_ids.push("dev1".into());
        e.add(EntityKind::Hash, &"a".repeat(64));
        e.add(EntityKind::Hash, &"b".repeat(32));
        let plan = rb.expand(&e, "Malware");
        assert_eq!(plan[0].calls.len(), 1);
        assert_eq!(plan[0].calls[0].args["device_id"], json!("dev1"));
        let hashes: Vec<&Value> = plan[1].calls.iter().map(|c| &c.args["hash"]).collect();
        assert_eq!(hashes, [&json!("a".repeat(64)), &json!("b".repeat(32))]);
        assert!(plan[2].calls[0].approval_required);
        let none = rb.expand(&Entities::default(), "Malware");
        assert!(none[0].calls.is_empty());
        assert_eq!(
            none[0].skipped.as_deref(),
            Some("this case has no {{host}}")
        );
    }

    #[test]
    fn alert_name_fills_free_text_templates() {
        let rb = match Runbook::from_storage(&pages()[5].body) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        let plan = rb.expand(&Entities::default(), "Odd thing");
        let sneaky = rb.expand(&Entities::default(), "{{alert_name}}{{user}}");
        assert_eq!(
            sneaky[0].calls[0].args["query"],
            json!("{{alert_name}}{{user}}")
        );
        assert_eq!(
            plan[1].calls[0].args["text"],
            json!("Unclassified alert needs a human look: Odd thing")
        );
    }
}
