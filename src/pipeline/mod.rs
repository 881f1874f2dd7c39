//! Flow 1: ingest → dedupe/group → enrich → prioritise → ticket → card → owner or page, and
//! everything people answer afterwards. Cases are persisted state machines driven by the
//! [`engine::Engine`]; see `case/` for the model and `store/` for persistence.

pub mod admit;
pub mod authorize;
pub mod board;
pub mod config;
pub mod digest;
pub mod dm_index;
pub mod engine;
pub mod failpoint;
pub mod home;
pub mod inbound;
pub mod ingest;
pub mod poller;
pub mod runner;
pub mod stats;
pub mod steps;
pub mod test_alert;
pub mod tools;
pub mod webhook;

pub use engine::Engine;
