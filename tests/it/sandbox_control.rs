//! Tests for the sandbox_control part of the sandbox.
