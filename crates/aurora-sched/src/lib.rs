//! Scheduling decisions as pure functions of (cluster view, time): *where* a task runs
//! (`placement`) and *whether and when* an ended task is replaced (`reschedule`).
//!
//! No IO, no async, no clock: callers pass the time in. The scheduler crate turns decisions into
//! store operations and agent commands.

pub mod placement;
pub mod reschedule;
