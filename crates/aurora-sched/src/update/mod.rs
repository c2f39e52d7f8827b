//! Job update decisions, as pure functions of the stored update (`aurora_model::update::JobUpdate`)
//! and what runs: what one instance does next ([`step`], Aurora's `InstanceUpdater`), what the
//! update as a whole does next once its instances have stepped ([`round`]: batching, failure
//! limits, rollback, autopause, the end), how a pause/resume/abort/rollback request moves it
//! ([`control`]), and how it turns around ([`turn_around`]).
//!
//! The scheduler's state observes tasks, asks these, and carries the answers out (kills, new
//! tasks, events, storing the update). No IO and no clock: time comes in as `now_ms`.

mod round;
mod step;

pub use round::{Control, Round, control, pulse_expired, round, turn_around};
pub use step::{Goal, Observed, Step, step};
