//! Evaluates `.aurora` job configuration files the way Aurora's client does, hermetically, and
//! turns the jobs they define into [`aurora_model::Job`]s.
//!
//! The pipeline: `prepass` rewrites Python 2 forms (`class X(Struct):`, `is`, imports) into
//! Starlark without moving lines; `eval` runs the file and its `include()`s in one Starlark module
//! whose globals (`starlark_glue`) expose the Pystachio schema (`schema`, `value`); `templating`
//! resolves `{{references}}` with Pystachio's scoping; `job` picks a job by key, type-checks it and
//! converts it to the typed model.
//!
//! This crate reads no file but the config and its includes, and never touches the network, the
//! environment or the clock.

mod error;
mod eval;
mod helpers;
mod job;
pub mod prepass;
pub mod schema;
mod starlark_glue;
pub mod templating;
pub mod value;

pub use error::{ConfigError, Location};
pub use eval::{FsLoader, MemoryLoader, SourceLoader};
pub use job::{Bind, Config, ResolvedJob};
pub use templating::Unbound;
