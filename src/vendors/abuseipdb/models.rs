//! AbuseIPDB's `check` answer (vendor-apis §9). Only `ipAddress` and the score are always
//! there; private addresses come without a country or ISP.

use serde::Deserialize;

use crate::vendors::http::lenient_text;

/// AbuseIPDB wraps every answer in `{"data": {...}}`; this peels it off.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    pub data: IpReport,
}

/// What AbuseIPDB knows about one IP address.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpReport {
    /// The address as AbuseIPDB prints it.
    pub ip_address: String,
    /// 0 (no abuse reported) to 100 (certainly abusive).
    #[serde(default)]
    pub abuse_confidence_score: u8,
    /// Reports within `maxAgeInDays`.
    #[serde(default)]
    pub total_reports: u64,
    /// Distinct reporters among them.
    #[serde(default)]
    pub num_distinct_users: u64,
    /// ISO 3166 country code, when public.
    #[serde(default, deserialize_with = "lenient_text")]
    pub country_code: Option<String>,
    /// Network operator.
    #[serde(default, deserialize_with = "lenient_text")]
    pub isp: Option<String>,
    /// `Data Center/Web Hosting/Transit`, `Fixed Line ISP`, `Reserved`, ….
    #[serde(default, deserialize_with = "lenient_text")]
    pub usage_type: Option<String>,
    /// The operator's domain.
    #[serde(default, deserialize_with = "lenient_text")]
    pub domain: Option<String>,
    /// Whether the address is routable on the internet.
    #[serde(default)]
    pub is_public: Option<bool>,
    /// Whether AbuseIPDB whitelists it (a known-good service).
    #[serde(default)]
    pub is_whitelisted: Option<bool>,
    /// Whether it is a Tor exit node.
    #[serde(default)]
    pub is_tor: Option<bool>,
    /// The last report's time (ISO 8601).
    #[serde(default, deserialize_with = "lenient_text")]
    pub last_reported_at: Option<String>,
}
