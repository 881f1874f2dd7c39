//! VirusTotal v3 objects (vendor-apis §8), reduced to what a verdict needs. Every field is
//! optional on the wire: a file never analysed has no stats, an IP no threat label.

use serde::Deserialize;

use crate::vendors::http::{lenient_list, lenient_text};

/// Which collection an indicator lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndicatorKind {
    /// `/files/{md5|sha1|sha256}`.
    File,
    /// `/urls/{base64url}`.
    Url,
    /// `/domains/{domain}`.
    Domain,
    /// `/ip_addresses/{ip}`.
    IpAddress,
}

impl IndicatorKind {
    /// The collection's path segment.
    pub fn collection(self) -> &'static str {
        match self {
            IndicatorKind::File => "files",
            IndicatorKind::Url => "urls",
            IndicatorKind::Domain => "domains",
            IndicatorKind::IpAddress => "ip_addresses",
        }
    }
}

/// `last_analysis_stats`: how many engines put the indicator in each category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct AnalysisStats {
    /// Engines that call it malicious.
    #[serde(default)]
    pub malicious: u32,
    /// Engines that call it suspicious.
    #[serde(default)]
    pub suspicious: u32,
    /// Engines that call it harmless.
    #[serde(default)]
    pub harmless: u32,
    /// Engines that found nothing.
    #[serde(default)]
    pub undetected: u32,
    /// Engines that timed out.
    #[serde(default)]
    pub timeout: u32,
}

/// The verdict Vigil draws from the engine counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// At least one engine says malicious.
    Malicious,
    /// No engine says malicious, at least one suspicious.
    Suspicious,
    /// Engines looked and called it harmless.
    Harmless,
    /// No engine had an opinion.
    Undetected,
}

impl AnalysisStats {
    /// Malicious beats suspicious beats harmless; no opinion at all is "undetected".
    pub fn verdict(&self) -> Verdict {
        if self.malicious > 0 {
            Verdict::Malicious
        } else if self.suspicious > 0 {
            Verdict::Suspicious
        } else if self.harmless > 0 {
            Verdict::Harmless
        } else {
            Verdict::Undetected
        }
    }

    /// Engines that gave any answer, for "12/70 engines" lines.
    pub fn engines(&self) -> u32 {
        self.malicious + self.suspicious + self.harmless + self.undetected + self.timeout
    }
}

/// What VirusTotal knows about one indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The collection it was found in.
    pub kind: IndicatorKind,
    /// VirusTotal's object id (a file's SHA-256, a URL's SHA-256, the domain, the IP).
    pub id: String,
    /// Engine counts of the last analysis.
    pub stats: AnalysisStats,
    /// Community reputation (negative is bad).
    pub reputation: i64,
    /// Suggested threat label (files) or the first tag, when there is one.
    pub threat_label: Option<String>,
    /// Network owner of an IP (`as_owner`), registrar of a domain.
    pub owner: Option<String>,
    /// Country of an IP.
    pub country: Option<String>,
    /// When it was last analysed (Unix seconds).
    pub last_analysis_date: Option<i64>,
}

impl Report {
    /// The verdict from the engine counts.
    pub fn verdict(&self) -> Verdict {
        self.stats.verdict()
    }
}

/// The answer to a lookup: VirusTotal never seeing a hash or URL is a normal answer, not an
/// error, and a URL submitted for scanning may still be in the queue.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// VirusTotal has a report.
    Found(Report),
    /// VirusTotal has never seen it (`NotFoundError`).
    Unknown,
    /// Submitted for scanning; the analysis had not completed within the configured wait.
    Pending {
        /// The analysis id to ask about later (`GET /analyses/{id}`).
        analysis_id: String,
    },
}

/// VirusTotal wraps every answer in `{"data": {...}}`; this peels it off.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope<T> {
    pub data: T,
}

/// An object: `{"id","type","attributes"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Object {
    pub id: String,
    #[serde(default)]
    pub attributes: Attributes,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Attributes {
    #[serde(default)]
    pub last_analysis_stats: AnalysisStats,
    #[serde(default)]
    pub reputation: i64,
    #[serde(default)]
    pub last_analysis_date: Option<i64>,
    #[serde(default)]
    pub popular_threat_classification: Option<ThreatClassification>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub as_owner: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub registrar: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub country: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ThreatClassification {
    #[serde(default, deserialize_with = "lenient_text")]
    pub suggested_threat_label: Option<String>,
}

impl Object {
    pub(crate) fn into_report(self, kind: IndicatorKind) -> Report {
        let a = self.attributes;
        let threat_label = a
            .popular_threat_classification
            .and_then(|t| t.suggested_threat_label)
            .or_else(|| a.tags.into_iter().next());
        Report {
            kind,
            id: self.id,
            stats: a.last_analysis_stats,
            reputation: a.reputation,
            threat_label,
            owner: a.as_owner.or(a.registrar),
            country: a.country,
            last_analysis_date: a.last_analysis_date,
        }
    }
}

/// `POST /urls` answer: `{"data":{"type":"analysis","id"}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct AnalysisRef {
    pub id: String,
}

/// `GET /analyses/{id}` answer's `data`.
#[derive(Debug, Deserialize)]
pub(crate) struct Analysis {
    pub id: String,
    #[serde(default)]
    pub attributes: AnalysisAttributes,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AnalysisAttributes {
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: Option<String>,
    #[serde(default)]
    pub stats: AnalysisStats,
    #[serde(default)]
    pub date: Option<i64>,
}
