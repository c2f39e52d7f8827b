//! What a job update does as a whole once its instances in flight have stepped: Aurora's
//! `OneWayJobUpdater` policy. Too many failed instances roll the update back (or fail it); a queue
//! keeps up to its size in flight; a batch starts when the previous one is done, pausing between
//! batches when asked; an update with nothing left to do ends. Also the user's controls (pause,
//! resume, abort, rollback) and what turning around does to the instances' progress.
//!
//! Pure functions of the stored update; the scheduler's state carries the answers out.

use aurora_model::update::{InstancePhase, InstanceProgress, JobUpdate, Strategy, UpdateStatus};

/// What an update does next, given its instances' phases (after [`super::step`] ran on those in
/// flight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Round {
    /// More instances failed than tolerated, going forward with `rollback_on_failure`: turn around
    /// ([`turn_around`]) and decide again.
    RollBack { note: String },
    /// More instances failed than tolerated, and no rollback: the update failed.
    Fail { note: String },
    /// A batch is done and the strategy pauses after each batch: the update pauses (and notes
    /// `autopaused_at_group`, so that it pauses once per batch).
    AutoPause,
    /// Start these instances, in this order; `new_batch` when they begin a batch (the update's
    /// `groups_started` counts it). Decide again afterwards.
    Start {
        instances: Vec<u32>,
        new_batch: bool,
    },
    /// Nothing in flight and nothing waiting: the update ends in this state.
    Done(UpdateStatus),
    /// Instances are in flight: nothing to start until one of them changes.
    Wait,
}

/// Decides what `u` does next. Going back, instances are taken in the reverse of the worklist.
pub fn round(u: &JobUpdate) -> Round {
    let back = u.status.is_rolling_back();
    let (_, in_flight, failed) = u.counts();
    if failed as u32 > u.settings.max_failed_instances {
        let note = format!(
            "{failed} instance(s) failed, more than the {} tolerated",
            u.settings.max_failed_instances
        );
        return if !back && u.settings.rollback_on_failure {
            Round::RollBack {
                note: format!("{note}: rolling back"),
            }
        } else {
            Round::Fail { note }
        };
    }
    let is_waiting = |i: &u32| {
        u.progress
            .get(i)
            .is_some_and(|p| p.phase == InstancePhase::Waiting)
    };
    let waiting: Vec<u32> = if back {
        u.worklist
            .iter()
            .rev()
            .copied()
            .filter(is_waiting)
            .collect()
    } else {
        u.worklist.iter().copied().filter(is_waiting).collect()
    };
    let (start, new_batch) = match &u.settings.strategy {
        Strategy::Queue { size } => (
            waiting
                .into_iter()
                .take((*size as usize).saturating_sub(in_flight))
                .collect(),
            false,
        ),
        Strategy::Batch {
            autopause_after_batch,
            ..
        } if in_flight == 0 && !waiting.is_empty() => {
            if *autopause_after_batch && !back && u.groups_started > u.autopaused_at_group {
                return Round::AutoPause;
            }
            let size = u.settings.group_size(u.groups_started as usize) as usize;
            (waiting.into_iter().take(size).collect(), true)
        }
        Strategy::Batch { .. } => (Vec::new(), false),
    };
    if !start.is_empty() {
        return Round::Start {
            instances: start,
            new_batch,
        };
    }
    let nothing_left = u
        .progress
        .values()
        .all(|p| p.phase != InstancePhase::Waiting);
    if in_flight == 0 && nothing_left {
        Round::Done(if back {
            UpdateStatus::RolledBack
        } else {
            UpdateStatus::RolledForward
        })
    } else {
        Round::Wait
    }
}

/// Turns an update around for a rollback: the instances it touched are taken back, last first;
/// those it never reached are left alone.
pub fn turn_around(u: &mut JobUpdate) {
    u.progress.retain(|_, p| p.phase != InstancePhase::Waiting);
    for p in u.progress.values_mut() {
        *p = InstanceProgress::default();
    }
    u.groups_started = 0;
    u.autopaused_at_group = 0;
}

/// Whether a coordinated update has gone too long without a pulse.
pub fn pulse_expired(u: &JobUpdate, now_ms: i64) -> bool {
    match u.settings.block_if_no_pulses_after_ms {
        Some(every) => now_ms - u.last_pulse_ms.unwrap_or(i64::MIN / 2) >= every as i64,
        None => false,
    }
}

/// A user's command to an active update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Abort,
    Rollback,
}

/// The state `control` moves an update in state `from` to (`from` itself: nothing to do), or why
/// it cannot. A paused coordinated update whose pulse is overdue resumes into waiting for one.
pub fn control(
    from: UpdateStatus,
    control: Control,
    pulse_overdue: bool,
) -> Result<UpdateStatus, String> {
    Ok(match control {
        Control::Pause => from.paused(),
        Control::Resume if from.is_paused() => {
            if pulse_overdue {
                from.awaiting_pulse()
            } else {
                from.progressing()
            }
        }
        Control::Resume => return Err(format!("the update is {from}, not paused")),
        Control::Abort => UpdateStatus::Aborted,
        Control::Rollback if !from.is_rolling_back() => UpdateStatus::RollingBack,
        Control::Rollback => return Err(format!("the update is already rolling back ({from})")),
    })
}
