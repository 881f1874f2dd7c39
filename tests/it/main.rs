//! Integration tests: one binary (one link) for every suite, each in its own module.

mod bot_socket_mode;
mod common;
mod crash;
mod flow;
mod fuzz;
mod sandbox_control;
mod sandbox_crowdstrike;
mod sandbox_github;
mod sandbox_oomnitza;
mod sandbox_pagerduty;
mod sandbox_slack_socket;
mod sandbox_slack_web;
mod slack_guards;
mod vendor_clients;
