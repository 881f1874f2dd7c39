//! llm: config, client and the chat-completion wire types of an OpenAI-compatible endpoint
//! (OpenAI, Ollama's `/v1`, vLLM, llama.cpp). A transport only: prompts, schemas and the agent
//! loop belong to the callers.

pub mod client;
pub mod config;
pub mod models;
#[cfg(test)]
mod tests;
