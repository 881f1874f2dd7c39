//! Vigil: a Slack-first security-alert triage bot.
//!
//! The binary's commands live in `main.rs`; everything they run is here so tests drive the
//! same code. See the README's architecture section for the module map.

pub mod bench;
pub mod bot;
pub mod case;
pub mod config;
pub mod demo;
pub mod doctor;
pub mod pipeline;
pub mod render;
pub mod run;
pub mod sandbox_config;
pub mod server;
pub mod slack;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod triage;
pub mod vendors;
