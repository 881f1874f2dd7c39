//! pagerduty: config, client and the Events v2 / REST models.

pub mod client;
pub mod config;
pub mod models;
#[cfg(test)]
mod tests;
