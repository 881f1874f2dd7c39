//! crowdstrike: config and client.

pub mod client;
pub mod config;
