//! Evaluates `.aurora` job configuration files the way Aurora's client does, hermetically, and
//! turns the jobs they define into [`aurora_model::Job`]s.
//!
//! The pipeline: `prepass` rewrites Python 2 forms (`class X(Struct):`, `is`, imports, adjacent
//! strings, generator expressions, Python 2 methods) into Starlark without moving lines; `eval` runs
//! the file and its `include()`s in one Starlark module whose globals expose the Pystachio schema
//! (`starlark_glue`, `schema`, `value`) and Python 2's operators, built-ins and formatting
//! (`python2`, `pyformat`); `templating` resolves `{{references}}` with Pystachio's scoping; `job`
//! picks a job by key, type-checks it and converts it to the typed model.
//!
//! This crate reads no file but the config and its includes, never touches the network or the
//! clock, and learns of its environment only the user's name (`SourceLoader::user`, for
//! `getpass.getuser()`).

mod error;
mod eval;
mod helpers;
mod job;
pub mod prepass;
mod pyformat;
mod python2;
pub mod schema;
mod starlark_glue;
pub mod templating;
pub mod value;

pub use error::{ConfigError, Location};
pub use eval::{FsLoader, MemoryLoader, SourceLoader};
pub use job::{Bind, Config, ResolvedJob};
pub use templating::Unbound;
