//! confluence: config, client, the page models and the CQL Vigil sends (SOP look-ups, flow 2).

pub mod client;
pub mod config;
pub mod cql;
pub mod models;
#[cfg(test)]
mod tests;
