//! `POST /v1/alerts`: alerts pushed by other systems, authenticated with HMAC-SHA256.
//!
//! Headers: `X-Vigil-Timestamp: <unix seconds>` and
//! `X-Vigil-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<body>")>`. Requests
//! older or newer than 5 minutes, with a bad signature, or replayed (the same signature twice)
//! get 401 and a log line. The body is a CrowdStrike alert object, or a generic
//! `{"id","name","severity","hostname","user","description"}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::engine::Engine;
use crate::config::Secret;
use crate::store::Admission;

/// Allowed clock difference.
pub const MAX_SKEW_SECS: i64 = 300;

/// What the webhook handler needs.
#[derive(Clone)]
pub struct WebhookState {
    /// The engine alerts go to.
    pub engine: Arc<Engine>,
    /// The shared secret.
    pub secret: Secret,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Headers missing or malformed.
    Malformed(&'static str),
    /// Timestamp outside the allowed window.
    Stale,
    /// Signature does not match.
    BadSignature,
}

/// Checks timestamp and signature.
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now: i64) -> Result<String, Refusal> {
    let ts = headers
        .get("x-vigil-timestamp")
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::Malformed("missing X-Vigil-Timestamp"))?;
    let ts_num: i64 = ts
        .trim()
        .parse()
        .map_err(|_| Refusal::Malformed("X-Vigil-Timestamp is not a number"))?;
    if (now - ts_num).abs() > MAX_SKEW_SECS {
        return Err(Refusal::Stale);
    }
    let sig = headers
        .get("x-vigil-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("sha256="))
        .ok_or(Refusal::Malformed("missing X-Vigil-Signature: sha256=…"))?;
    let given = hex::decode(sig).map_err(|_| Refusal::Malformed("signature is not hex"))?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| Refusal::BadSignature)?;
    mac.update(ts.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| Refusal::BadSignature)?;
    Ok(sig.to_ascii_lowercase())
}

/// Signs a body the way `verify` expects (for senders and tests).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn reject(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

/// The handler.
pub async fn receive(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = chrono::Utc::now().timestamp();
    let signature = match verify(state.secret.expose(), &headers, &body, now) {
        Ok(s) => s,
        Err(r) => {
            tracing::warn!(reason = ?r, "webhook request rejected");
            return reject(StatusCode::UNAUTHORIZED, "invalid signature or timestamp");
        }
    };
    let used = format!("webhook:{signature}");
    match state.engine.store.remembered(&used) {
        Ok(false) => {}
        Ok(true) => {
            tracing::warn!("webhook replay rejected");
            return reject(StatusCode::UNAUTHORIZED, "replayed request");
        }
        Err(e) => return reject(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return reject(StatusCode::BAD_REQUEST, &format!("body is not JSON: {e}")),
    };
    let alert = match super::ingest::from_webhook(&value) {
        Ok(a) => a,
        Err(e) => return reject(StatusCode::BAD_REQUEST, &e),
    };
    let admission = match state.engine.admit(alert) {
        Ok(a) => a,
        Err(e) => return reject(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    // Admitted: only now is the signature used. Two copies racing both pass the check above;
    // the alert id dedupes them, and the one that loses here is the replay.
    match state.engine.store.remember(&used) {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("webhook replay rejected");
            return reject(StatusCode::UNAUTHORIZED, "replayed request");
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not remember a webhook signature; a replay would be answered as a duplicate")
        }
    }
    match admission {
        Admission::Opened(c) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"case": c.id.as_str(), "status": "opened"})),
        )
            .into_response(),
        Admission::Grouped(id) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"case": id.as_str(), "status": "grouped"})),
        )
            .into_response(),
        Admission::Duplicate(id) => (
            StatusCode::OK,
            axum::Json(json!({"case": id.as_str(), "status": "duplicate"})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Alert;
    use crate::store::Store;

    fn headers(ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-vigil-timestamp", ts.to_string().parse().unwrap());
        h.insert("x-vigil-signature", sig.parse().unwrap());
        h
    }

    #[test]
    fn good_signature_passes_and_tampering_fails() {
        let body = br#"{"id":"1"}"#;
        let sig = sign("s3cret-s3cret-s3cret", 1000, body);
        assert!(verify("s3cret-s3cret-s3cret", &headers(1000, &sig), body, 1010).is_ok());
        assert_eq!(
            verify(
                "s3cret-s3cret-s3cret",
                &headers(1000, &sig),
                br#"{"id":"2"}"#,
                1010
            ),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify("other-secret-xxxxxx", &headers(1000, &sig), body, 1010),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify("s3cret-s3cret-s3cret", &headers(1000, &sig), body, 2000),
            Err(Refusal::Stale)
        );
        assert!(matches!(
            verify("s", &HeaderMap::new(), body, 0),
            Err(Refusal::Malformed(_))
        ));
    }

    /// A store whose next `admit` fails, as a full disk or a sled I/O error would.
    struct FailingAdmit {
        inner: crate::store::MemoryStore,
        fail_next: std::sync::atomic::AtomicBool,
    }

    impl crate::store::Store for FailingAdmit {
        fn admit(
            &self,
            alert: &Alert,
            group_key: &str,
            window: chrono::Duration,
            now: chrono::DateTime<chrono::Utc>,
            open: crate::store::OpenFn<'_>,
            group: crate::store::GroupFn<'_>,
        ) -> Result<Admission, crate::store::StoreError> {
            if self
                .fail_next
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                return Err(crate::store::StoreError::Io("disk full".into()));
            }
            self.inner.admit(alert, group_key, window, now, open, group)
        }
        fn get(
            &self,
            id: &crate::case::CaseId,
        ) -> Result<Option<crate::case::Case>, crate::store::StoreError> {
            self.inner.get(id)
        }
        fn save(&self, case: &crate::case::Case) -> Result<(), crate::store::StoreError> {
            self.inner.save(case)
        }
        fn cases(&self) -> Result<Vec<crate::case::Case>, crate::store::StoreError> {
            self.inner.cases()
        }
        fn cursor(&self, name: &str) -> Result<Option<String>, crate::store::StoreError> {
            self.inner.cursor(name)
        }
        fn set_cursor(&self, name: &str, value: &str) -> Result<(), crate::store::StoreError> {
            self.inner.set_cursor(name, value)
        }
        fn enqueue(
            &self,
            dedupe_keys: &[String],
            item: &crate::pipeline::inbound::InboundItem,
        ) -> Result<bool, crate::store::StoreError> {
            self.inner.enqueue(dedupe_keys, item)
        }
        fn remember(&self, key: &str) -> Result<bool, crate::store::StoreError> {
            self.inner.remember(key)
        }
        fn remembered(&self, key: &str) -> Result<bool, crate::store::StoreError> {
            self.inner.remembered(key)
        }
        fn prune_seen(
            &self,
            cutoff: chrono::DateTime<chrono::Utc>,
        ) -> Result<usize, crate::store::StoreError> {
            self.inner.prune_seen(cutoff)
        }
        fn dm_cases(
            &self,
            channel: &str,
        ) -> Result<Vec<crate::case::CaseId>, crate::store::StoreError> {
            self.inner.dm_cases(channel)
        }
        fn inbound(&self) -> Result<Vec<(u64, crate::store::Queued)>, crate::store::StoreError> {
            self.inner.inbound()
        }
        fn finish(&self, seq: u64) -> Result<(), crate::store::StoreError> {
            self.inner.finish(seq)
        }
    }

    #[tokio::test]
    async fn a_refused_request_leaves_its_signature_unused_and_an_admitted_one_is_used() {
        let store = Arc::new(FailingAdmit {
            inner: crate::store::MemoryStore::new(),
            fail_next: std::sync::atomic::AtomicBool::new(true),
        });
        let state = WebhookState {
            engine: crate::pipeline::engine::tests::engine(store.clone()),
            secret: Secret::new("s3cret-s3cret-s3cret"),
        };
        let now = chrono::Utc::now().timestamp();
        let send = |body: &'static [u8]| {
            let state = state.clone();
            let sig = sign("s3cret-s3cret-s3cret", now, body);
            async move {
                receive(State(state), headers(now, &sig), Bytes::from_static(body))
                    .await
                    .status()
            }
        };
        let bad: &[u8] = br#"{"name": "no id"}"#;
        assert_eq!(send(bad).await, StatusCode::BAD_REQUEST);
        assert_eq!(
            send(bad).await,
            StatusCode::BAD_REQUEST,
            "the same request again is judged on its body, not refused as a replay"
        );
        let good: &[u8] = br#"{"id": "ext-9", "name": "Impossible travel"}"#;
        assert_eq!(
            send(good).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "the store failed"
        );
        assert_eq!(
            send(good).await,
            StatusCode::ACCEPTED,
            "the sender's retry after the store recovered is admitted"
        );
        assert_eq!(
            send(good).await,
            StatusCode::UNAUTHORIZED,
            "a replay of an admitted request is refused"
        );
        assert_eq!(store.inner.cases().map(|c| c.len()).unwrap_or(0), 1);
    }
}
