//! abuseipdb: config, client and the typed `check` answer of AbuseIPDB API v2.

pub mod client;
pub mod config;
pub mod models;
#[cfg(test)]
mod tests;
