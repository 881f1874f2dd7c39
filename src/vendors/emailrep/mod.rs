//! emailrep: config, client and the typed reputation of an email address.

pub mod client;
pub mod config;
pub mod models;
#[cfg(test)]
mod tests;
