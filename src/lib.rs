//! Vigil: a Slack-first security-alert triage bot.
//!
//! The binary's commands live in `main.rs`; everything they run is here so tests drive the
//! same code. See the README's architecture section for the module map.

pub mod sandbox;
pub mod tls;
