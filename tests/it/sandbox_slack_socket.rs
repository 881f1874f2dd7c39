//! Tests for the sandbox_slack_socket part of the sandbox.
