//! github: config, client and the issue/comment models.

pub mod client;
pub mod config;
pub mod models;
#[cfg(test)]
mod tests;
