//! OAuth2 client credentials (`/oauth2/token`, `/oauth2/revoke`) and the bearer-token check
//! plus rate limit every other Falcon call goes through (vendor-apis §2.2–2.3).
//!
//! The token answer never carries `X-Cs-Region`: FalconPy would follow it to the real cloud.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use parking_lot::Mutex;
use rand::RngCore;
use serde_json::{Map, Value, json};

use super::super::Sandbox;
use super::super::args::{form_fields, header};
use super::super::limits::retry_after_secs;
use super::envelope::{Call, DEFAULT_API_LIMIT, GATEWAY, OAUTH2, RateInfo, UNAUTHENTICATED_LIMIT};
use super::request::Incoming;

/// Falcon's token lifetime in seconds (`expires_in`).
pub const TOKEN_LIFETIME_SECS: u64 = 1799;

/// Falcon's documented limit for `/oauth2/token` per source IP and minute.
const TOKEN_ENDPOINT_LIMIT: u64 = 300;

#[derive(Debug, Clone)]
struct Issued {
    client_id: String,
    at: Instant,
}

/// Live access tokens. Tokens are tied to the credentials, which a reset never changes, so they
/// survive `POST /_sandbox/reset` (like connections do); they die by expiry or revocation.
#[derive(Debug, Default)]
pub struct Tokens(Mutex<HashMap<String, Issued>>);

impl Tokens {
    /// Issues a new opaque token for `client_id`.
    pub fn issue(&self, client_id: &str) -> String {
        let mut bytes = [0u8; 48];
        rand::rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let mut all = self.0.lock();
        all.retain(|_, t| t.at.elapsed() < Duration::from_secs(2 * 86_400));
        all.insert(
            token.clone(),
            Issued {
                client_id: client_id.to_string(),
                at: Instant::now(),
            },
        );
        token
    }

    /// The client a live token belongs to; `None` for unknown or expired (older than
    /// `lifetime`) tokens.
    pub fn client_for(&self, token: &str, lifetime: Duration) -> Option<String> {
        let all = self.0.lock();
        let issued = all.get(token)?;
        (issued.at.elapsed() < lifetime).then(|| issued.client_id.clone())
    }

    /// Forgets a token; revoking an unknown token is not an error (RFC 7009).
    pub fn revoke(&self, token: &str) {
        self.0.lock().remove(token);
    }
}

/// The arguments of a token request: query string plus form body (Falcon takes form fields).
fn form_args(inc: &Incoming) -> Map<String, Value> {
    let mut args = inc
        .query
        .as_deref()
        .map(|q| form_fields(q.as_bytes()))
        .unwrap_or_default();
    let is_json = header(&inc.headers, "content-type").is_some_and(|c| c.contains("json"));
    if !is_json {
        args.extend(form_fields(&inc.body));
    }
    args
}

fn arg(args: &Map<String, Value>, key: &str) -> Option<String> {
    args.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Counts a request in a per-IP window and starts a call reporting that window's numbers.
fn per_ip_call(sb: &Sandbox, service: &'static str, key: &str, limit: u64) -> Call {
    let remaining = sb.crowdstrike.window.hit(key, limit);
    Call::new(service, RateInfo { limit, remaining })
}

/// Rate numbers for the token endpoint (Falcon: 300/min per IP); refuses with 429 when an
/// `oauth2` limit rule is set and exceeded.
fn token_endpoint_call(sb: &Sandbox, inc: &Incoming) -> Result<Call, Box<Response>> {
    let call = per_ip_call(
        sb,
        OAUTH2,
        &format!("oauth2:{}", inc.ip),
        TOKEN_ENDPOINT_LIMIT,
    );
    match sb.limits.check("crowdstrike", "oauth2", &inc.ip) {
        Ok(()) => Ok(call),
        Err(wait) => Err(Box::new(call.rate_limited(retry_after_secs(wait)))),
    }
}

/// `POST /oauth2/token`: form `client_id`, `client_secret` → 201 with the token.
pub async fn token(State(sb): State<Sandbox>, req: Request) -> Response {
    let inc = match Incoming::read(req).await {
        Ok(i) => i,
        Err(e) => {
            return Call::new(OAUTH2, RateInfo::unmetered())
                .error(StatusCode::PAYLOAD_TOO_LARGE, e);
        }
    };
    let call = match token_endpoint_call(&sb, &inc) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let args = form_args(&inc);
    let (Some(id), Some(secret)) = (arg(&args, "client_id"), arg(&args, "client_secret")) else {
        return call.refuse(
            StatusCode::BAD_REQUEST,
            "client_id and client_secret are required form fields",
        );
    };
    let creds = &sb.credentials.crowdstrike;
    if id != creds.client_id || secret != creds.client_secret {
        return call.refuse(StatusCode::FORBIDDEN, "access denied, invalid client");
    }
    let access_token = sb.crowdstrike.tokens.issue(&id);
    let lifetime = sb.crowdstrike.knobs.lock().token_lifetime_secs;
    call.send(
        StatusCode::CREATED,
        json!({"access_token": access_token, "token_type": "bearer", "expires_in": lifetime}),
    )
}

/// Whether the request carries `Authorization: Basic base64(client_id:client_secret)`.
fn basic_auth_ok(sb: &Sandbox, inc: &Incoming) -> bool {
    let Some(value) = header(&inc.headers, "authorization") else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let creds = &sb.credentials.crowdstrike;
    decoded == format!("{}:{}", creds.client_id, creds.client_secret).as_bytes()
}

/// `POST /oauth2/revoke`: form `token`, Basic auth with the client id and secret → 200.
pub async fn revoke(State(sb): State<Sandbox>, req: Request) -> Response {
    let inc = match Incoming::read(req).await {
        Ok(i) => i,
        Err(e) => {
            return Call::new(OAUTH2, RateInfo::unmetered())
                .error(StatusCode::PAYLOAD_TOO_LARGE, e);
        }
    };
    let call = match token_endpoint_call(&sb, &inc) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if !basic_auth_ok(&sb, &inc) {
        return call.refuse(StatusCode::FORBIDDEN, "access denied, invalid client");
    }
    let Some(token) = arg(&form_args(&inc), "token") else {
        return call.refuse(StatusCode::BAD_REQUEST, "token is a required form field");
    };
    sb.crowdstrike.tokens.revoke(&token);
    call.ok(StatusCode::OK, json!([]), Map::new())
}

/// The configured per-client limit (`crowdstrike`/`api` rule), or Falcon's 6000 when off.
fn api_limit(sb: &Sandbox) -> u64 {
    sb.limits
        .list()
        .into_iter()
        .find(|l| l.service == "crowdstrike" && l.method == "api")
        .map(|l| u64::from(l.burst.unwrap_or(l.per_minute)))
        .unwrap_or(DEFAULT_API_LIMIT)
}

/// Checks the bearer token and the per-client rate limit. `Ok` is the call to answer through
/// (its headers carry the client's numbers); `Err` is the 401 or 429 to send as is.
pub fn authorize(
    sb: &Sandbox,
    inc: &Incoming,
    powered_by: &'static str,
) -> Result<Call, Box<Response>> {
    let lifetime = Duration::from_secs(sb.crowdstrike.knobs.lock().token_lifetime_secs);
    let client = super::super::args::bearer(&inc.headers)
        .and_then(|t| sb.crowdstrike.tokens.client_for(t, lifetime));
    let Some(client) = client else {
        return Err(Box::new(unauthenticated(sb, inc)));
    };
    let limit = api_limit(sb);
    let remaining = sb.crowdstrike.window.hit(&format!("api:{client}"), limit);
    let rate = RateInfo { limit, remaining };
    match sb.limits.check("crowdstrike", "api", &client) {
        Ok(()) => Ok(Call::new(powered_by, rate)),
        Err(wait) => Err(Box::new(
            Call::new(
                GATEWAY,
                RateInfo {
                    limit,
                    remaining: 0,
                },
            )
            .rate_limited(retry_after_secs(wait)),
        )),
    }
}

/// The gateway's answer to a missing, unknown or expired token: 401 (or 429 once the
/// per-IP `unauthenticated` rule, off unless set, is exceeded).
fn unauthenticated(sb: &Sandbox, inc: &Incoming) -> Response {
    let call = per_ip_call(
        sb,
        GATEWAY,
        &format!("ip:{}", inc.ip),
        UNAUTHENTICATED_LIMIT,
    );
    match sb.limits.check("crowdstrike", "unauthenticated", &inc.ip) {
        Ok(()) => call.refuse(
            StatusCode::UNAUTHORIZED,
            "access denied, invalid bearer token",
        ),
        Err(wait) => call.rate_limited(retry_after_secs(wait)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_after_their_lifetime() {
        let t = Tokens::default();
        let tok = t.issue("client");
        assert_eq!(
            t.client_for(&tok, Duration::from_secs(1799)).as_deref(),
            Some("client")
        );
        assert_eq!(t.client_for(&tok, Duration::ZERO), None, "expired");
        assert_eq!(t.client_for("nope", Duration::from_secs(1799)), None);
        t.revoke(&tok);
        assert_eq!(t.client_for(&tok, Duration::from_secs(1799)), None);
    }
}
