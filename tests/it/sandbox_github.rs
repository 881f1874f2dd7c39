//! Tests for the sandbox_github part of the sandbox.
