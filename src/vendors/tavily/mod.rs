//! tavily: config, client and the typed results of Tavily web search.

pub mod client;
pub mod config;
pub mod models;
#[cfg(test)]
mod tests;
