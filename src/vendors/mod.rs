//! Vendor API clients, one folder each (`config.rs`, `client.rs`). They speak the vendors' real
//! wire formats against a configurable `base_url`, and know nothing of cases or Slack blocks.

pub mod abuseipdb;
pub mod confluence;
pub mod crowdstrike;
pub mod emailrep;
pub mod error;
pub mod github;
pub mod http;
pub mod llm;
pub mod okta;
pub mod oomnitza;
pub mod outbound;
pub mod pagerduty;
pub mod tavily;
#[cfg(test)]
pub(crate) mod test_support;
pub mod urlscan;
pub mod virustotal;

pub use error::VendorError;
