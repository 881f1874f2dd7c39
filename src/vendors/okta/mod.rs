//! okta: config, client and the user, factor and push-transaction models (flow 2's identity
//! tools: look a user up, clear sessions, suspend, ask for an Okta Verify push).

pub mod client;
pub mod config;
pub mod models;
#[cfg(test)]
mod tests;
