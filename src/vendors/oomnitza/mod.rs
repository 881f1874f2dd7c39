//! oomnitza: config, client and the inventory's records.

pub mod client;
pub mod config;
pub mod models;
#[cfg(test)]
mod tests;
