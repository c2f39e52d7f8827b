//! Scheduling decisions as pure functions of (cluster view, time): *where* a task runs
//! (`placement`), *whether and when* an ended task is replaced (`reschedule`), and *when* a cron
//! job fires and what a firing does to a run still going (`cron`), *what a job update does
//! next* with each instance and as a whole (`update`), and *what must change* when an agent
//! registers with the tasks it still runs (`reconcile`).
//!
//! No IO, no async, no clock: callers pass the time in. The scheduler crate turns decisions into
//! store operations and agent commands.

pub mod cron;
pub mod placement;
pub mod reconcile;
pub mod reschedule;
pub mod update;
