//! virustotal: config, client and the typed verdicts of VirusTotal API v3.

pub mod client;
pub mod config;
pub mod models;
#[cfg(test)]
mod tests;
