//! urlscan.io's submission and result documents (vendor-apis §11), reduced to the verdict.
//! `verdicts.engines` is no longer populated by urlscan, so only `overall` is read.

use serde::Deserialize;
use serde_json::Value;

use crate::vendors::http::{lenient_list, lenient_text};

/// The answer to `POST /api/v1/scan/`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Submission {
    /// The scan's UUID: what `GET /api/v1/result/{uuid}/` takes.
    pub uuid: String,
    /// The visibility urlscan gave the scan; it may differ from the one asked for (urlscan
    /// forces `unlisted` when the URL carries personal data).
    #[serde(default, deserialize_with = "lenient_text")]
    pub visibility: Option<String>,
    /// The human-readable result page.
    #[serde(default, deserialize_with = "lenient_text")]
    pub result: Option<String>,
    /// The result API URL.
    #[serde(default, deserialize_with = "lenient_text")]
    pub api: Option<String>,
    /// The URL as urlscan will visit it.
    #[serde(default, deserialize_with = "lenient_text")]
    pub url: Option<String>,
    /// urlscan's message (`Submission successful`, plus why visibility changed).
    #[serde(default, deserialize_with = "lenient_text")]
    pub message: Option<String>,
}

/// A finished scan's result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScanResult {
    /// What was scanned.
    #[serde(default)]
    pub task: Task,
    /// The page that loaded.
    #[serde(default)]
    pub page: Page,
    /// urlscan's judgement.
    #[serde(default)]
    pub verdicts: Verdicts,
}

/// `task`: what was submitted and where its report and screenshot are.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// The scan's id.
    #[serde(default, deserialize_with = "lenient_text")]
    pub uuid: Option<String>,
    /// The submitted URL.
    #[serde(default, deserialize_with = "lenient_text")]
    pub url: Option<String>,
    /// The visibility it ran with.
    #[serde(default, deserialize_with = "lenient_text")]
    pub visibility: Option<String>,
    /// The report page for people.
    #[serde(default, deserialize_with = "lenient_text", rename = "reportURL")]
    pub report_url: Option<String>,
    /// `screenshotURL`: the PNG of the page as urlscan's browser saw it.
    #[serde(default, deserialize_with = "lenient_text", rename = "screenshotURL")]
    pub screenshot_url: Option<String>,
}

/// `page`: where the visit ended up (after redirects) and who served it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Page {
    /// Final URL after redirects.
    #[serde(default, deserialize_with = "lenient_text")]
    pub url: Option<String>,
    /// The final page's domain (may differ from the submitted URL's after redirects).
    #[serde(default, deserialize_with = "lenient_text")]
    pub domain: Option<String>,
    /// The IP that served the final page.
    #[serde(default, deserialize_with = "lenient_text")]
    pub ip: Option<String>,
    /// The serving IP's country, by urlscan's geolocation.
    #[serde(default, deserialize_with = "lenient_text")]
    pub country: Option<String>,
    /// The final page's `<title>` (attacker-controlled text).
    #[serde(default, deserialize_with = "lenient_text")]
    pub title: Option<String>,
}

/// `verdicts`, of which only `overall` is read (`engines` is no longer populated).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Verdicts {
    /// The verdict urlscan stands behind.
    #[serde(default)]
    pub overall: Overall,
}

/// `verdicts.overall`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overall {
    /// −100 (legitimate) to 100 (malicious).
    #[serde(default)]
    pub score: i64,
    /// Whether urlscan calls it malicious.
    #[serde(default)]
    pub malicious: bool,
    /// `phishing`, `malware`, ….
    #[serde(default, deserialize_with = "lenient_list")]
    pub categories: Vec<String>,
    /// Brands it imitates (objects or names, as urlscan sends them).
    #[serde(default)]
    pub brands: Vec<Value>,
    /// Verdict tags, free text from urlscan.
    #[serde(default, deserialize_with = "lenient_list")]
    pub tags: Vec<String>,
    /// Whether any verdict source had an opinion.
    #[serde(default)]
    pub has_verdicts: bool,
}

/// The end of a submit-then-wait: the result, or the scan still running when the wait ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanOutcome {
    /// The scan finished.
    Done {
        /// What was submitted and the visibility urlscan gave it.
        submission: Submission,
        /// The finished scan's result (boxed: it is much larger than a submission).
        result: Box<ScanResult>,
    },
    /// Not finished within `max_wait`; ask for the result later by the submission's uuid.
    Pending(Submission),
}
