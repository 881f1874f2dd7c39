//! One error type for every vendor call: which vendor, which call, what happened, and whether
//! trying again can help. Its `Display` is written for the analyst who reads it on a case.

use std::time::Duration;

/// The longest wait a vendor can make Vigil keep for one call (`Retry-After`,
/// `X-RateLimit-RetryAfter`): a header asking for a day, or a mistyped epoch, must not park a
/// step for that long, nor overflow the time it is added to.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// A failed vendor call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VendorError {
    /// The vendor answered with an error status.
    #[error("{vendor} {call}: HTTP {status}: {message}")]
    Status {
        /// Vendor name (`github`).
        vendor: &'static str,
        /// The call (`create issue`).
        call: &'static str,
        /// The HTTP status the vendor answered (4xx or 5xx).
        status: u16,
        /// The vendor's own error text.
        message: String,
        /// How long the vendor asked us to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The vendor refused the call for now because of a rate limit, with a status that alone
    /// would read as permanent (GitHub's 403 with `x-ratelimit-remaining: 0` or a secondary
    /// limit message). Kept apart from [`VendorError::Status`] so the real status is reported
    /// while the call is still retried.
    #[error("{vendor} {call}: HTTP {status} (rate limited): {message}")]
    RateLimited {
        /// Vendor name (`github`).
        vendor: &'static str,
        /// The call that was refused (`create issue`).
        call: &'static str,
        /// HTTP status the vendor answered (403 or 429).
        status: u16,
        /// The vendor's own error text.
        message: String,
        /// How long the vendor asked us to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The vendor could not be reached or the connection broke.
    #[error("{vendor} {call}: could not reach the API: {message}")]
    Transport {
        /// Vendor name (`github`), as in the timeline line.
        vendor: &'static str,
        /// The call that failed (`create issue`).
        call: &'static str,
        /// The transport error, with the URL left out (it may carry an indicator or key).
        message: String,
    },
    /// Vigil refused to send the call: its input breaks a documented vendor limit (a
    /// `dedup_key` over 255 characters, an event over 512 KB). Retrying cannot help.
    #[error("{vendor} {call}: not sent: {message}")]
    Invalid {
        /// Vendor name (`pagerduty`).
        vendor: &'static str,
        /// The call that was not sent (`trigger`).
        call: &'static str,
        /// Which limit the input broke.
        message: String,
    },
    /// The vendor answered 2xx with something we could not read.
    #[error("{vendor} {call}: unexpected answer: {message}")]
    Decode {
        /// Vendor name (`crowdstrike`).
        vendor: &'static str,
        /// The call whose answer could not be read.
        call: &'static str,
        /// What was wrong with it.
        message: String,
    },
}

impl VendorError {
    /// Whether retrying the same call later can succeed: rate limits, 5xx and transport errors.
    pub fn is_transient(&self) -> bool {
        match self {
            VendorError::Status { status, .. } => *status == 429 || *status >= 500,
            VendorError::RateLimited { .. } | VendorError::Transport { .. } => true,
            VendorError::Decode { .. } | VendorError::Invalid { .. } => false,
        }
    }

    /// The wait the vendor asked for, if any, cut to [`MAX_RETRY_AFTER`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            VendorError::Status { retry_after, .. }
            | VendorError::RateLimited { retry_after, .. } => {
                retry_after.map(|d| d.min(MAX_RETRY_AFTER))
            }
            _ => None,
        }
    }

    /// The HTTP status, if the vendor answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            VendorError::Status { status, .. } | VendorError::RateLimited { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// A few words on what kind of failure this was (`HTTP 502`, `unreachable`), for lines such
    /// as "GitHub create issue: HTTP 502, retried (2/5)" on a case timeline.
    pub fn kind(&self) -> String {
        match self {
            VendorError::Status { status, .. } | VendorError::RateLimited { status, .. } => {
                format!("HTTP {status}")
            }
            VendorError::Transport { .. } => "unreachable".to_string(),
            VendorError::Decode { .. } => "unexpected answer".to_string(),
            VendorError::Invalid { .. } => "not sent".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vendor_cannot_ask_for_more_than_the_cap() {
        let e = |secs| VendorError::Status {
            vendor: "github",
            call: "create issue",
            status: 429,
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(e(u64::MAX).retry_after(), Some(MAX_RETRY_AFTER));
        assert_eq!(e(86_400).retry_after(), Some(MAX_RETRY_AFTER));
        assert_eq!(e(30).retry_after(), Some(Duration::from_secs(30)));
    }
}
