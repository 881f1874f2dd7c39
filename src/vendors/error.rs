//! One error type for every vendor call: which vendor, which call, what happened, and whether
//! trying again can help. Its `Display` is written for the analyst who reads it on a case.

use std::time::Duration;

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
        /// HTTP status.
        status: u16,
        /// The vendor's own error text.
        message: String,
        /// How long the vendor asked us to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The vendor could not be reached or the connection broke.
    #[error("{vendor} {call}: could not reach the API: {message}")]
    Transport {
        /// Vendor name.
        vendor: &'static str,
        /// The call.
        call: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The vendor answered 2xx with something we could not read.
    #[error("{vendor} {call}: unexpected answer: {message}")]
    Decode {
        /// Vendor name.
        vendor: &'static str,
        /// The call.
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
            VendorError::Transport { .. } => true,
            VendorError::Decode { .. } => false,
        }
    }

    /// The wait the vendor asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            VendorError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, if the vendor answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            VendorError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}
