//! Tests for the sandbox_slack_web part of the sandbox.
