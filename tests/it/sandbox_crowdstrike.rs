//! Tests for the sandbox_crowdstrike part of the sandbox.
