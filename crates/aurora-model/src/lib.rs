//! The domain vocabulary shared by every crate: job keys and the typed job configuration that a
//! `.aurora` file evaluates to.
//!
//! This crate owns plain data and its validation rules. It does no IO, knows nothing of Starlark,
//! HTTP or SQLite, and holds no async code: every other crate may depend on it.

pub mod auth;
pub mod config;
pub mod cron;
pub mod host;
pub mod ids;
pub mod instances;
pub mod job_key;
pub mod process;
pub mod task;
pub mod task_user;
pub mod template;
pub mod time;
pub mod update;

pub use config::Job;
pub use ids::{AgentId, ConfigDigest};
pub use job_key::{JobKey, JobKeyError, JobPath};
