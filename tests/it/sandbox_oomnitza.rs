//! Tests for the sandbox_oomnitza part of the sandbox.
