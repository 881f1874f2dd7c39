//! Secrets the sandbox accepts. Generated at random when the sandbox starts and never changed
//! by a reset, so a wrong token is always rejected the way the real vendor rejects it.

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;

/// Every vendor's credentials, shaped as `GET /_sandbox/credentials` answers them (SPEC §7.2).
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    /// Slack bot and app-level tokens plus the workspace ids they belong to.
    pub slack: SlackCredentials,
    /// CrowdStrike OAuth2 API client (id and secret for `POST /oauth2/token`).
    pub crowdstrike: CrowdStrikeCredentials,
    /// Oomnitza API token (sent as `Authorization2`).
    pub oomnitza: OomnitzaCredentials,
    /// GitHub token and the repository it may write.
    pub github: GitHubCredentials,
    /// PagerDuty Events v2 routing key and REST API token.
    pub pagerduty: PagerDutyCredentials,
    /// VirusTotal API key (`x-apikey`).
    pub virustotal: ApiKeyCredentials,
    /// AbuseIPDB API key (`Key`).
    pub abuseipdb: ApiKeyCredentials,
    /// EmailRep API key (`Key`).
    pub emailrep: ApiKeyCredentials,
    /// urlscan.io API key (`API-Key`, a UUID).
    pub urlscan: ApiKeyCredentials,
    /// Tavily API key (`tvly-…`, bearer or `api_key` in the body).
    pub tavily: ApiKeyCredentials,
    /// Confluence Cloud account email and API token (HTTP Basic).
    pub confluence: ConfluenceCredentials,
    /// Okta API token (`Authorization: SSWS …`).
    pub okta: OktaCredentials,
    /// OpenAI-compatible endpoint key and the model it serves.
    pub llm: LlmCredentials,
}

/// Slack workspace, app and tokens.
#[derive(Debug, Clone, Serialize)]
pub struct SlackCredentials {
    /// `xoxb-…`, accepted by every Web API method but `apps.connections.open`.
    pub bot_token: String,
    /// `xapp-…`, accepted only by `apps.connections.open`.
    pub app_token: String,
    /// The workspace id (fixed `T0SANDBOX1`), as `auth.test` answers it.
    pub team_id: String,
    /// The app id, sent in Socket Mode `hello` and payloads.
    pub app_id: String,
    /// The bot's user id (fixed `U0VIGILBOT`): the author of the app's messages.
    pub bot_user_id: String,
    /// The bot id messages are posted as.
    pub bot_id: String,
}

/// CrowdStrike OAuth2 client credentials, the only ones `POST /oauth2/token` accepts.
#[derive(Debug, Clone, Serialize)]
pub struct CrowdStrikeCredentials {
    /// OAuth2 client id (32 hex characters, like Falcon's).
    pub client_id: String,
    /// OAuth2 client secret (40 characters).
    pub client_secret: String,
}

/// Oomnitza API token (sent in `Authorization2`).
#[derive(Debug, Clone, Serialize)]
pub struct OomnitzaCredentials {
    /// The token, 32 hex characters; any other value gets a 401.
    pub token: String,
}

/// GitHub personal access token and target repository.
#[derive(Debug, Clone, Serialize)]
pub struct GitHubCredentials {
    /// `ghp_…` token.
    pub token: String,
    /// `owner/name` of the repository issues go to.
    pub repo: String,
}

/// PagerDuty Events v2 routing key and REST token.
#[derive(Debug, Clone, Serialize)]
pub struct PagerDutyCredentials {
    /// 32-character integration key.
    pub routing_key: String,
    /// REST API token (`Authorization: Token token=…`).
    pub api_token: String,
}

/// A vendor whose only credential is one API key (VirusTotal, AbuseIPDB, EmailRep, urlscan.io,
/// Tavily).
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyCredentials {
    /// The key, in the vendor's format.
    pub api_key: String,
}

/// Confluence Cloud basic-auth credentials.
#[derive(Debug, Clone, Serialize)]
pub struct ConfluenceCredentials {
    /// The Atlassian account's email (the Basic user name).
    pub email: String,
    /// Classic API token (`ATATT3…`), the Basic password.
    pub api_token: String,
}

/// Okta API token, the only one the Okta simulator accepts.
#[derive(Debug, Clone, Serialize)]
pub struct OktaCredentials {
    /// The SSWS token (42 characters starting `00`, like Okta's).
    pub api_token: String,
}

/// OpenAI-compatible LLM key and model.
#[derive(Debug, Clone, Serialize)]
pub struct LlmCredentials {
    /// Bearer key (`sk-…`).
    pub api_key: String,
    /// The one model name the endpoint accepts.
    pub model: String,
}

fn alnum(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

fn hex(n: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdef";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| DIGITS[rng.random_range(0..16)] as char)
        .collect()
}

fn digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

impl Credentials {
    /// Fresh random credentials in each vendor's token format.
    pub fn generate() -> Self {
        let team_id = "T0SANDBOX1".to_string();
        let app_id = "A0VIGIL001".to_string();
        Credentials {
            slack: SlackCredentials {
                bot_token: format!("xoxb-{}-{}-{}", digits(12), digits(13), alnum(24)),
                app_token: format!("xapp-1-{}-{}-{}", app_id, digits(13), hex(64)),
                team_id,
                app_id,
                bot_user_id: "U0VIGILBOT".into(),
                bot_id: "B0VIGILBOT".into(),
            },
            crowdstrike: CrowdStrikeCredentials {
                client_id: hex(32),
                client_secret: alnum(40),
            },
            oomnitza: OomnitzaCredentials { token: hex(32) },
            github: GitHubCredentials {
                token: format!("ghp_{}", alnum(36)),
                repo: "acme/security".into(),
            },
            pagerduty: PagerDutyCredentials {
                routing_key: hex(32),
                api_token: format!("u+{}", alnum(18)),
            },
            virustotal: ApiKeyCredentials { api_key: hex(64) },
            abuseipdb: ApiKeyCredentials { api_key: hex(80) },
            emailrep: ApiKeyCredentials { api_key: alnum(48) },
            urlscan: ApiKeyCredentials {
                api_key: uuid::Uuid::new_v4().to_string(),
            },
            tavily: ApiKeyCredentials {
                api_key: format!("tvly-{}", alnum(32)),
            },
            confluence: ConfluenceCredentials {
                email: "vigil-bot@acme.example".into(),
                api_token: format!("ATATT3xFfGF0{}", alnum(48)),
            },
            okta: OktaCredentials {
                api_token: format!("00{}", alnum(40)),
            },
            llm: LlmCredentials {
                api_key: format!("sk-sandbox-{}", alnum(40)),
                model: "vigil-sandbox-1".into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_the_vendors() {
        let c = Credentials::generate();
        assert!(c.slack.bot_token.starts_with("xoxb-"));
        assert!(c.slack.app_token.starts_with("xapp-"));
        assert_eq!(c.pagerduty.routing_key.len(), 32);
        assert_eq!(c.crowdstrike.client_id.len(), 32);
        assert_ne!(
            Credentials::generate().github.token,
            c.github.token,
            "tokens are random per sandbox"
        );
    }
}
