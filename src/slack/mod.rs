//! Everything Slack: the Web API client, the Socket Mode adapter and the `/triage` command.
//!
//! `socket` is a thin transport (decode, dedupe, hand off, ack) in the teloxide style; it never
//! calls a vendor. `commands` holds `/triage` as an enum whose one definition per subcommand is
//! both what parses and what help lists.

pub mod api;
pub mod client;
pub mod commands;
pub mod config;
pub mod socket;
