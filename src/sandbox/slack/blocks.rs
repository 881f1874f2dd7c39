//! Block Kit validation with Slack's real limits (placeholder until the Web API simulator lands).
