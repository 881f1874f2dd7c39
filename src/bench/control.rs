//! What the bench needs besides the sandbox client (`vigil_sandbox::client::SandboxClient`):
//! the vendors it slows down, and Slack timestamps read as moments.

use chrono::{DateTime, Utc};

/// The five vendors Vigil calls in flow 1; each gets the injected latency.
pub const SERVICES: [&str; 5] = ["slack", "crowdstrike", "oomnitza", "github", "pagerduty"];

/// A Slack `ts` (`"1712345678.123456"`) as a moment; `None` if it is not one.
pub fn slack_ts(ts: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(6).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let micros: u32 = format!("{digits:0<6}").parse().ok()?;
    DateTime::from_timestamp(secs, micros.checked_mul(1000)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_ts_keeps_microseconds() {
        let t = slack_ts("1712345678.123456");
        assert_eq!(t.map(|t| t.timestamp()), Some(1_712_345_678));
        assert_eq!(t.map(|t| t.timestamp_subsec_micros()), Some(123_456));
        assert_eq!(
            slack_ts("1712345678.5").map(|t| t.timestamp_subsec_micros()),
            Some(500_000)
        );
        assert_eq!(
            slack_ts("1712345678").map(|t| t.timestamp()),
            Some(1_712_345_678)
        );
        assert!(slack_ts("abc.123").is_none());
        assert!(slack_ts("1.x").is_none());
    }
}
