//! The tool catalogue of flow 2 (SPEC §3.2): the stable names the runbook and the LLM use, the
//! typed arguments each takes, its JSON schema, whether it is destructive, and what it does.
//!
//! Invariant: one table serves the runbook runner, the agent's `tools` array and the
//! guardrails, so a name, schema or destructive flag can never differ between them. Arguments
//! are only ever read through [`ToolArgs::parse`], which rejects unknown, missing, empty and
//! oversized fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::entities::EntityKind;
use crate::vendors::llm::models::Tool;

/// Longest free-text argument (a search query, a notification).
pub const MAX_TEXT_ARG: usize = 500;
/// Longest entity argument (a URL is the longest entity).
pub const MAX_ENTITY_ARG: usize = 2048;

/// Every tool Vigil can run; the serde names are the stable names of SPEC §3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolName {
    /// CrowdStrike device details (hostname, OS, last seen, containment status): read-only.
    CrowdstrikeHostDetails,
    /// CrowdStrike network containment (destructive).
    CrowdstrikeContainHost,
    /// CrowdStrike lift containment: undoes a containment; not destructive, so no approval.
    CrowdstrikeLiftContainment,
    /// Okta user lookup (status, last login): read-only.
    OktaGetUser,
    /// Okta clear the user's sessions (destructive).
    OktaClearSessions,
    /// Okta suspend (destructive).
    OktaSuspendUser,
    /// Okta unsuspend: undoes a suspension; not destructive.
    OktaUnsuspendUser,
    /// VirusTotal file report by hash: detection counts.
    VirustotalFile,
    /// VirusTotal URL report.
    VirustotalUrl,
    /// VirusTotal domain report.
    VirustotalDomain,
    /// VirusTotal IP report.
    VirustotalIp,
    /// AbuseIPDB check: abuse confidence score and report count of an IP.
    AbuseipdbCheckIp,
    /// EmailRep query: reputation and suspicious flags of a sender address.
    EmailrepQuery,
    /// urlscan.io: submit a scan, then poll its result (verdict, screenshot link).
    UrlscanScan,
    /// Tavily web search: public write-ups about an indicator or alert name.
    TavilySearch,
    /// Post a note to the alerts channel (escaped; can never ping).
    SlackNotify,
}

/// What an argument holds: a case entity of some kind (checked against the case by the guard)
/// or free text (length-capped only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// Must be an entity of this case, of this kind.
    Entity(EntityKind),
    /// Free text, capped at [`MAX_TEXT_ARG`].
    Text,
}

impl ToolName {
    /// All tools, in catalogue order.
    pub const ALL: [ToolName; 16] = [
        ToolName::CrowdstrikeHostDetails,
        ToolName::CrowdstrikeContainHost,
        ToolName::CrowdstrikeLiftContainment,
        ToolName::OktaGetUser,
        ToolName::OktaClearSessions,
        ToolName::OktaSuspendUser,
        ToolName::OktaUnsuspendUser,
        ToolName::VirustotalFile,
        ToolName::VirustotalUrl,
        ToolName::VirustotalDomain,
        ToolName::VirustotalIp,
        ToolName::AbuseipdbCheckIp,
        ToolName::EmailrepQuery,
        ToolName::UrlscanScan,
        ToolName::TavilySearch,
        ToolName::SlackNotify,
    ];

    /// The stable name (the runbook's `tool`, the LLM's function name).
    pub fn as_str(self) -> &'static str {
        match self {
            ToolName::CrowdstrikeHostDetails => "crowdstrike_host_details",
            ToolName::CrowdstrikeContainHost => "crowdstrike_contain_host",
            ToolName::CrowdstrikeLiftContainment => "crowdstrike_lift_containment",
            ToolName::OktaGetUser => "okta_get_user",
            ToolName::OktaClearSessions => "okta_clear_sessions",
            ToolName::OktaSuspendUser => "okta_suspend_user",
            ToolName::OktaUnsuspendUser => "okta_unsuspend_user",
            ToolName::VirustotalFile => "virustotal_file",
            ToolName::VirustotalUrl => "virustotal_url",
            ToolName::VirustotalDomain => "virustotal_domain",
            ToolName::VirustotalIp => "virustotal_ip",
            ToolName::AbuseipdbCheckIp => "abuseipdb_check_ip",
            ToolName::EmailrepQuery => "emailrep_query",
            ToolName::UrlscanScan => "urlscan_scan",
            ToolName::TavilySearch => "tavily_search",
            ToolName::SlackNotify => "slack_notify",
        }
    }

    /// The tool of a stable name; `None` for anything else (the caller reports it unknown).
    pub fn from_name(name: &str) -> Option<ToolName> {
        ToolName::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether the call changes something people rely on (SPEC §3.3): it always waits for an
    /// analyst, whatever the runbook says.
    pub fn destructive(self) -> bool {
        matches!(
            self,
            ToolName::CrowdstrikeContainHost
                | ToolName::OktaClearSessions
                | ToolName::OktaSuspendUser
        )
    }

    /// The single argument each tool takes and what it must hold.
    pub fn arg(self) -> (&'static str, ArgKind) {
        use EntityKind as E;
        match self {
            ToolName::CrowdstrikeHostDetails
            | ToolName::CrowdstrikeContainHost
            | ToolName::CrowdstrikeLiftContainment => ("device_id", ArgKind::Entity(E::Host)),
            ToolName::OktaGetUser
            | ToolName::OktaClearSessions
            | ToolName::OktaSuspendUser
            | ToolName::OktaUnsuspendUser => ("user", ArgKind::Entity(E::User)),
            ToolName::VirustotalFile => ("hash", ArgKind::Entity(E::Hash)),
            ToolName::VirustotalUrl | ToolName::UrlscanScan => ("url", ArgKind::Entity(E::Url)),
            ToolName::VirustotalDomain => ("domain", ArgKind::Entity(E::Domain)),
            ToolName::VirustotalIp | ToolName::AbuseipdbCheckIp => ("ip", ArgKind::Entity(E::Ip)),
            ToolName::EmailrepQuery => ("email", ArgKind::Entity(E::Email)),
            ToolName::TavilySearch => ("query", ArgKind::Text),
            ToolName::SlackNotify => ("text", ArgKind::Text),
        }
    }

    /// What the tool does, for the model and the README.
    pub fn description(self) -> &'static str {
        match self {
            ToolName::CrowdstrikeHostDetails => {
                "CrowdStrike Falcon: details of a device of this case (by device id)."
            }
            ToolName::CrowdstrikeContainHost => {
                "CrowdStrike Falcon: network-contain a device of this case. Destructive: waits for an analyst's approval."
            }
            ToolName::CrowdstrikeLiftContainment => {
                "CrowdStrike Falcon: lift network containment of a device of this case."
            }
            ToolName::OktaGetUser => "Okta: look up a user of this case (login or id).",
            ToolName::OktaClearSessions => {
                "Okta: clear every session of a user of this case. Destructive: waits for an analyst's approval."
            }
            ToolName::OktaSuspendUser => {
                "Okta: suspend a user of this case. Destructive: waits for an analyst's approval."
            }
            ToolName::OktaUnsuspendUser => "Okta: unsuspend a user of this case.",
            ToolName::VirustotalFile => "VirusTotal: file report for a hash of this case.",
            ToolName::VirustotalUrl => "VirusTotal: URL report for a URL of this case.",
            ToolName::VirustotalDomain => "VirusTotal: domain report for a domain of this case.",
            ToolName::VirustotalIp => "VirusTotal: IP address report for an IP of this case.",
            ToolName::AbuseipdbCheckIp => "AbuseIPDB: abuse reports for an IP of this case.",
            ToolName::EmailrepQuery => "EmailRep: reputation of an email address of this case.",
            ToolName::UrlscanScan => "urlscan.io: scan a URL of this case and read the verdict.",
            ToolName::TavilySearch => "Tavily: web search (threat intel on an indicator).",
            ToolName::SlackNotify => "Slack: post a short note to the alerts channel.",
        }
    }

    /// The JSON schema of the arguments: one required string, nothing else.
    pub fn schema(self) -> Value {
        let (name, kind) = self.arg();
        let max = match kind {
            ArgKind::Entity(_) => MAX_ENTITY_ARG,
            ArgKind::Text => MAX_TEXT_ARG,
        };
        json!({
            "type": "object",
            "properties": {name: {"type": "string", "minLength": 1, "maxLength": max}},
            "required": [name],
            "additionalProperties": false,
        })
    }
}

impl std::fmt::Display for ToolName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{"device_id"}`: CrowdStrike device tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceArgs {
    /// Falcon device id (or host name of this case).
    pub device_id: String,
}

/// `{"user"}`: Okta tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserArgs {
    /// Okta login or id.
    pub user: String,
}

/// `{"hash"}`: VirusTotal file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashArgs {
    /// md5, sha1 or sha256 hex.
    pub hash: String,
}

/// `{"url"}`: VirusTotal URL, urlscan.io.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlArgs {
    /// http(s) URL.
    pub url: String,
}

/// `{"domain"}`: VirusTotal domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainArgs {
    /// Domain name.
    pub domain: String,
}

/// `{"ip"}`: VirusTotal IP, AbuseIPDB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpArgs {
    /// IPv4 or IPv6 address.
    pub ip: String,
}

/// `{"email"}`: EmailRep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailArgs {
    /// Email address.
    pub email: String,
}

/// `{"query"}`: Tavily.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryArgs {
    /// Search text.
    pub query: String,
}

/// `{"text"}`: Slack notify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextArgs {
    /// Message text (plain; escaped when posted).
    pub text: String,
}

/// A tool's arguments, typed: what the step runner hands to the vendor client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolArgs {
    /// `{"device_id"}`: the CrowdStrike device tools.
    Device(DeviceArgs),
    /// `{"user"}` (login or id): the Okta tools.
    User(UserArgs),
    /// `{"hash"}`: VirusTotal file.
    Hash(HashArgs),
    /// `{"url"}`: VirusTotal URL and urlscan.io.
    Url(UrlArgs),
    /// `{"domain"}`: VirusTotal domain.
    Domain(DomainArgs),
    /// `{"ip"}`: VirusTotal IP and AbuseIPDB.
    Ip(IpArgs),
    /// `{"email"}`: EmailRep.
    Email(EmailArgs),
    /// `{"query"}`: Tavily (free text, length-capped).
    Query(QueryArgs),
    /// `{"text"}`: Slack notify (free text, length-capped).
    Text(TextArgs),
}

/// Why arguments were not accepted; shown on the timeline as the refusal reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// Not the tool's shape (missing, unknown or non-string field).
    #[error("{tool}: arguments must be exactly {{\"{field}\": string}}: {message}")]
    Shape {
        /// The tool.
        tool: ToolName,
        /// Its one field.
        field: &'static str,
        /// What serde said.
        message: String,
    },
    /// The value is empty.
    #[error("{tool}: `{field}` is empty")]
    Empty {
        /// The tool.
        tool: ToolName,
        /// The field.
        field: &'static str,
    },
    /// The value is longer than the cap.
    #[error("{tool}: `{field}` is {len} characters, more than {max}")]
    TooLong {
        /// The tool.
        tool: ToolName,
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
}

fn typed<T: serde::de::DeserializeOwned>(
    tool: ToolName,
    field: &'static str,
    args: &Map<String, Value>,
) -> Result<T, ArgError> {
    serde_json::from_value(Value::Object(args.clone())).map_err(|e| ArgError::Shape {
        tool,
        field,
        message: e.to_string(),
    })
}

impl ToolArgs {
    /// Reads `args` as `tool`'s arguments: exactly its one string field, non-empty, capped.
    pub fn parse(tool: ToolName, args: &Map<String, Value>) -> Result<ToolArgs, ArgError> {
        let (field, kind) = tool.arg();
        let max = match kind {
            ArgKind::Entity(_) => MAX_ENTITY_ARG,
            ArgKind::Text => MAX_TEXT_ARG,
        };
        let parsed = match tool {
            ToolName::CrowdstrikeHostDetails
            | ToolName::CrowdstrikeContainHost
            | ToolName::CrowdstrikeLiftContainment => ToolArgs::Device(typed(tool, field, args)?),
            ToolName::OktaGetUser
            | ToolName::OktaClearSessions
            | ToolName::OktaSuspendUser
            | ToolName::OktaUnsuspendUser => ToolArgs::User(typed(tool, field, args)?),
            ToolName::VirustotalFile => ToolArgs::Hash(typed(tool, field, args)?),
            ToolName::VirustotalUrl | ToolName::UrlscanScan => {
                ToolArgs::Url(typed(tool, field, args)?)
            }
            ToolName::VirustotalDomain => ToolArgs::Domain(typed(tool, field, args)?),
            ToolName::VirustotalIp | ToolName::AbuseipdbCheckIp => {
                ToolArgs::Ip(typed(tool, field, args)?)
            }
            ToolName::EmailrepQuery => ToolArgs::Email(typed(tool, field, args)?),
            ToolName::TavilySearch => ToolArgs::Query(typed(tool, field, args)?),
            ToolName::SlackNotify => ToolArgs::Text(typed(tool, field, args)?),
        };
        let value = parsed.value();
        if value.trim().is_empty() {
            return Err(ArgError::Empty { tool, field });
        }
        let len = value.chars().count();
        if len > max {
            return Err(ArgError::TooLong {
                tool,
                field,
                len,
                max,
            });
        }
        Ok(parsed)
    }

    /// The one value the call carries.
    pub fn value(&self) -> &str {
        match self {
            ToolArgs::Device(a) => &a.device_id,
            ToolArgs::User(a) => &a.user,
            ToolArgs::Hash(a) => &a.hash,
            ToolArgs::Url(a) => &a.url,
            ToolArgs::Domain(a) => &a.domain,
            ToolArgs::Ip(a) => &a.ip,
            ToolArgs::Email(a) => &a.email,
            ToolArgs::Query(a) => &a.query,
            ToolArgs::Text(a) => &a.text,
        }
    }
}

/// The agent's `tools` array: the allowlisted tools only, so the model never even sees a tool
/// the SOP does not allow.
pub fn llm_tools(allowlist: &[ToolName]) -> Vec<Tool> {
    ToolName::ALL
        .into_iter()
        .filter(|t| allowlist.contains(t))
        .map(|t| Tool {
            name: t.as_str().into(),
            description: t.description().into(),
            parameters: t.schema(),
            strict: true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn names_round_trip_through_serde_and_from_name() {
        for t in ToolName::ALL {
            assert_eq!(ToolName::from_name(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).ok(), Some(json!(t.as_str())));
        }
        assert_eq!(ToolName::from_name("rm_rf"), None);
    }

    #[test]
    fn exactly_contain_suspend_and_clear_sessions_are_destructive() {
        let d: Vec<&str> = ToolName::ALL
            .into_iter()
            .filter(|t| t.destructive())
            .map(ToolName::as_str)
            .collect();
        assert_eq!(
            d,
            [
                "crowdstrike_contain_host",
                "okta_clear_sessions",
                "okta_suspend_user"
            ]
        );
    }

    #[test]
    fn args_parse_typed_and_reject_extra_missing_empty_and_huge() {
        assert_eq!(
            ToolArgs::parse(ToolName::OktaGetUser, &args(json!({"user": "a@x.com"}))),
            Ok(ToolArgs::User(UserArgs {
                user: "a@x.com".into()
            }))
        );
        let extra = ToolArgs::parse(
            ToolName::OktaGetUser,
            &args(json!({"user": "a", "all": true})),
        );
        assert!(matches!(extra, Err(ArgError::Shape { .. })), "{extra:?}");
        let missing = ToolArgs::parse(ToolName::VirustotalFile, &args(json!({})));
        assert!(matches!(missing, Err(ArgError::Shape { .. })));
        let empty = ToolArgs::parse(ToolName::VirustotalIp, &args(json!({"ip": " "})));
        assert!(matches!(empty, Err(ArgError::Empty { .. })));
        let huge = ToolArgs::parse(
            ToolName::TavilySearch,
            &args(json!({"query": "x".repeat(MAX_TEXT_ARG + 1)})),
        );
        assert!(matches!(huge, Err(ArgError::TooLong { .. })));
    }

    #[test]
    fn the_llm_tools_array_holds_only_the_allowlist_with_strict_schemas() {
        let tools = llm_tools(&[ToolName::OktaGetUser, ToolName::VirustotalUrl]);
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["okta_get_user", "virustotal_url"]);
        assert!(tools.iter().all(|t| t.strict));
        assert_eq!(tools[0].parameters["required"], json!(["user"]));
        assert_eq!(tools[0].parameters["additionalProperties"], json!(false));
    }
}
