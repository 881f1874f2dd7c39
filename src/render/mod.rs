//! Everything Vigil shows people: Slack cards, DMs, thread lines, modals and App Home, GitHub
//! issue text and the PagerDuty event. Pure functions of a case; every alert value goes through
//! `escape` on its way out.

pub mod approval;
pub mod card;
pub mod digest;
pub mod dm;
pub mod escape;
pub mod github;
pub mod home;
pub mod kit;
pub mod modals;
pub mod pagerduty;
pub mod remediation;
#[cfg(test)]
mod tests;
pub mod thread;
pub mod tools;
