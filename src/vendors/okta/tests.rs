//! Okta client tests (wiremock).
