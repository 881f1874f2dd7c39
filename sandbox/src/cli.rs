//! `vigil sandbox`: serve the simulators and print where each vendor is, until told to stop.
//!
//! Invariant: every prefix in [`crate::MOUNTS`] has at least one printed endpoint (checked by a
//! test), so what the command announces is what the router serves. What to do with the
//! address and secrets (write a client config, print hints) is the caller's, passed in as a
//! closure: this crate knows no client's config schema.

use std::future::Future;
use std::net::SocketAddr;

use crate::Served;

/// The endpoints `vigil sandbox` prints, `(label, path under the base URL)`, in print order.
pub const ENDPOINTS: [(&str, &str); 16] = [
    ("slack web api", "/slack/api"),
    ("slack socket mode", "/slack/socket"),
    ("crowdstrike", "/crowdstrike"),
    ("oomnitza", "/oomnitza"),
    ("github", "/github"),
    ("pagerduty events", "/pagerduty/events"),
    ("pagerduty rest", "/pagerduty/api"),
    ("virustotal", "/virustotal"),
    ("abuseipdb", "/abuseipdb"),
    ("emailrep", "/emailrep"),
    ("urlscan.io", "/urlscan"),
    ("tavily", "/tavily"),
    ("confluence", "/confluence"),
    ("okta", "/okta"),
    ("llm (openai api)", "/llm/v1"),
    ("control api", "/_sandbox"),
];

/// The announcement lines for a sandbox on `base`: the listening line, then one per endpoint.
pub fn announcement(base: &str) -> Vec<String> {
    let mut lines = vec![format!("vigil sandbox listening on {base}")];
    lines.extend(
        ENDPOINTS
            .iter()
            .map(|(name, path)| format!("  {name:<18} {base}{path}")),
    );
    lines
}

/// Serves on `listen` until `shutdown` resolves. Once listening it prints the endpoints and
/// hands what it serves to `on_listening` (an error there stops the sandbox and is returned).
pub async fn serve<F, S>(listen: SocketAddr, on_listening: F, shutdown: S) -> anyhow::Result<()>
where
    F: FnOnce(&Served) -> anyhow::Result<()>,
    S: Future<Output = ()>,
{
    let running = crate::start(listen)
        .await
        .map_err(|e| anyhow::anyhow!("--listen: cannot bind {listen}: {e}"))?;
    let served = running.served();
    for line in announcement(&served.base) {
        println!("{line}");
    }
    if let Err(e) = on_listening(&served) {
        running.shutdown().await;
        return Err(e);
    }
    shutdown.await;
    running.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mounted_vendor_prefix_is_announced() {
        let lines = announcement("http://h");
        for (prefix, _) in crate::MOUNTS {
            let url = format!("http://h{prefix}");
            assert!(
                lines
                    .iter()
                    .any(|l| l.ends_with(&url) || l.contains(&format!("{url}/"))),
                "{prefix} is mounted but not printed by `vigil sandbox`"
            );
        }
    }
}
