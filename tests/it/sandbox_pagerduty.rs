//! Tests for the sandbox_pagerduty part of the sandbox.
