//! LLM client tests (wiremock).
