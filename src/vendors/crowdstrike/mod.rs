//! crowdstrike: config, client and Falcon's wire models.

pub mod client;
pub mod config;
pub mod models;
#[cfg(test)]
mod tests;
