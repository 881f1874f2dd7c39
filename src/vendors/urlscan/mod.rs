//! urlscan: config, client and the typed scan verdicts of urlscan.io.

pub mod client;
pub mod config;
pub mod models;
#[cfg(test)]
mod tests;
