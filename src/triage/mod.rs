//! triage: the domain layer of flow 2 (SPEC §3): what an alert is about ([`entities`]), what
//! kind of alert it is ([`classify`], [`llm_classify`]), what its SOP says to do ([`runbook`]),
//! the tools a step or the agent may call ([`tools`]) and whether a proposed call may run
//! ([`guard`]).
//!
//! Invariant: everything here is pure or talks only to the LLM client; it knows no Slack
//! blocks, no sled and no engine. The engine calls these with a case's `Alert` and config and
//! stores the typed results.

pub mod agent;
pub mod classify;
pub mod entities;
pub mod guard;
pub mod llm_classify;
pub mod runbook;
pub mod tools;
