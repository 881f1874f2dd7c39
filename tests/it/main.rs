//! Integration tests: one binary (one link) for every suite, each in its own module.

mod bot_socket_mode;
mod common;
mod crash;
mod enrich;
mod flow;
mod fuzz;
mod robust;
mod sandbox_abuseipdb;
mod sandbox_confluence;
mod sandbox_control;
mod sandbox_crowdstrike;
mod sandbox_emailrep;
mod sandbox_github;
mod sandbox_llm;
mod sandbox_okta;
mod sandbox_oomnitza;
mod sandbox_pagerduty;
mod sandbox_slack_socket;
mod sandbox_slack_web;
mod sandbox_tavily;
mod sandbox_urlscan;
mod sandbox_virustotal;
mod slack_guards;
mod storm;
mod transport;
mod vendor_clients;
