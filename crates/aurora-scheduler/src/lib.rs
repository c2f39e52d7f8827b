//! The scheduler process: durable state, the task lifecycle, agents, and the HTTP API.
pub mod state;
