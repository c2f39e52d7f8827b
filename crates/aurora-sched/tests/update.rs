//! Job update fixtures, one folder per decision:
//! - `tests/data/update/step`: one instance's goal and the task it has now, in; its next step
//!   (kill, create, wait, succeeded, failed), out.
//! - `tests/data/update/round`: an update's state, settings, work list and each instance's phase,
//!   in; what the update does next, out. When it rolls back, also the progress after turning
//!   around and the round that follows.
//! - `tests/data/update/control`: a user's command (pause, resume, abort, rollback) and the states
//!   it is given in, in; the state each moves to, or the refusal, out.

mod common;

use aurora_model::JobKey;
use aurora_model::task::ScheduleStatus;
use aurora_model::update::{
    InstancePhase, InstanceProgress, JobUpdate, UpdateKind, UpdateSettings, UpdateStatus,
};
use aurora_sched::update::{
    Control, Goal, Observed, Round, Step, control, pulse_expired, round, step, turn_around,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

// --- step ---

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepCase {
    /// What the case shows, for people.
    #[allow(dead_code)]
    about: String,
    goal: GoalIn,
    /// The instance's active task; `null`: it has none.
    task: Option<TaskIn>,
    now_ms: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GoalIn {
    /// The configuration digest it should run; `null`: the instance is removed.
    target: Option<String>,
    /// A rolling restart's task to replace although it runs the target.
    #[serde(default)]
    replace: Option<String>,
    min_wait_in_running_ms: u64,
    #[serde(default)]
    failures: u32,
    max_failures: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskIn {
    task_id: String,
    digest: String,
    status: ScheduleStatus,
    #[serde(default)]
    running_since_ms: Option<i64>,
}

#[derive(Serialize)]
struct StepOut {
    step: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    until_ms: Option<Option<i64>>,
}

fn decide_step(case: StepCase) -> StepOut {
    let goal = Goal {
        target: case.goal.target.as_deref(),
        replace: case.goal.replace.as_deref(),
        min_wait_in_running_ms: case.goal.min_wait_in_running_ms,
        failures: case.goal.failures,
        max_failures: case.goal.max_failures,
    };
    let observed = case.task.as_ref().map(|t| Observed {
        task_id: &t.task_id,
        digest: &t.digest,
        status: t.status,
        running_since_ms: t.running_since_ms,
    });
    let (name, until_ms) = match step(goal, observed, case.now_ms) {
        Step::Kill => ("kill", None),
        Step::Create => ("create", None),
        Step::Wait { until_ms } => ("wait", Some(until_ms)),
        Step::Succeeded => ("succeeded", None),
        Step::Failed => ("failed", None),
    };
    StepOut {
        step: name,
        until_ms,
    }
}

#[test]
fn update_step_fixtures() {
    common::run("update/step", decide_step);
}

// --- round ---

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoundCase {
    /// What the case shows, for people.
    #[allow(dead_code)]
    about: String,
    status: UpdateStatus,
    /// As stored (`aurora_model::update::UpdateSettings`).
    settings: UpdateSettings,
    worklist: Vec<u32>,
    /// Each worklist instance's phase in the current direction: waiting, working, succeeded,
    /// failed.
    progress: BTreeMap<u32, InstancePhase>,
    #[serde(default)]
    groups_started: u32,
    /// The `groups_started` at which the update last paused itself (0: never).
    #[serde(default)]
    autopaused_at_group: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum RoundOut {
    RollBack {
        note: String,
    },
    Fail {
        note: String,
    },
    AutoPause,
    Start {
        instances: Vec<u32>,
        new_batch: bool,
    },
    Done(UpdateStatus),
    Wait,
}

impl From<Round> for RoundOut {
    fn from(r: Round) -> Self {
        match r {
            Round::RollBack { note } => RoundOut::RollBack { note },
            Round::Fail { note } => RoundOut::Fail { note },
            Round::AutoPause => RoundOut::AutoPause,
            Round::Start {
                instances,
                new_batch,
            } => RoundOut::Start {
                instances,
                new_batch,
            },
            Round::Done(s) => RoundOut::Done(s),
            Round::Wait => RoundOut::Wait,
        }
    }
}

#[derive(Serialize)]
struct RoundOutcome {
    round: RoundOut,
    /// After a roll back: the update turned around, and what it does next.
    #[serde(skip_serializing_if = "Option::is_none")]
    then: Option<TurnedAround>,
}

#[derive(Serialize)]
struct TurnedAround {
    status: UpdateStatus,
    progress: BTreeMap<u32, InstancePhase>,
    groups_started: u32,
    round: RoundOut,
}

/// An update around what the round looks at; the rest is filler.
fn job_update(status: UpdateStatus, settings: UpdateSettings, worklist: Vec<u32>) -> JobUpdate {
    JobUpdate {
        id: "update-1".into(),
        job: JobKey {
            role: "www-data".into(),
            environment: "prod".into(),
            name: "hello".into(),
        },
        kind: UpdateKind::Update,
        user: "alice".into(),
        settings,
        desired_config: "new".into(),
        desired_instances: 0,
        initial: BTreeMap::new(),
        initial_instances: 0,
        initial_config: None,
        worklist,
        status,
        progress: BTreeMap::new(),
        groups_started: 0,
        autopaused_at_group: 0,
        last_pulse_ms: None,
        metadata: BTreeMap::new(),
        events: Vec::new(),
        instance_events: Vec::new(),
    }
}

fn phases(u: &JobUpdate) -> BTreeMap<u32, InstancePhase> {
    u.progress.iter().map(|(i, p)| (*i, p.phase)).collect()
}

fn decide_round(case: RoundCase) -> RoundOutcome {
    let mut u = job_update(case.status, case.settings, case.worklist);
    u.groups_started = case.groups_started;
    u.autopaused_at_group = case.autopaused_at_group;
    u.progress = case
        .progress
        .into_iter()
        .map(|(i, phase)| {
            (
                i,
                InstanceProgress {
                    phase,
                    ..InstanceProgress::default()
                },
            )
        })
        .collect();
    let first = round(&u);
    // What the scheduler does with a roll back: turn around, then decide again.
    let then = matches!(first, Round::RollBack { .. }).then(|| {
        u.status = UpdateStatus::RollingBack;
        turn_around(&mut u);
        TurnedAround {
            status: u.status,
            progress: phases(&u),
            groups_started: u.groups_started,
            round: round(&u).into(),
        }
    });
    RoundOutcome {
        round: first.into(),
        then,
    }
}

#[test]
fn update_round_fixtures() {
    common::run("update/round", decide_round);
}

// --- control ---

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlCase {
    /// What the case shows, for people.
    #[allow(dead_code)]
    about: String,
    control: ControlIn,
    /// The states the command is given in.
    from: Vec<UpdateStatus>,
    /// A coordinated update's pulse: whether it is overdue decides where a resume goes.
    #[serde(default)]
    pulse: Option<PulseIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ControlIn {
    Pause,
    Resume,
    Abort,
    Rollback,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PulseIn {
    block_if_no_pulses_after_ms: u64,
    /// `null`: no pulse came yet.
    last_pulse_ms: Option<i64>,
    now_ms: i64,
}

#[derive(Serialize)]
struct ControlOutcome {
    /// Whether the pulse is overdue (`pulse_expired`); without a pulse, not.
    pulse_overdue: bool,
    /// Per state given: the state the command moves it to (itself: nothing to do), or the refusal.
    to: BTreeMap<UpdateStatus, ControlOut>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ControlOut {
    Moves(UpdateStatus),
    Refused { refused: String },
}

fn decide_control(case: ControlCase) -> ControlOutcome {
    let c = match case.control {
        ControlIn::Pause => Control::Pause,
        ControlIn::Resume => Control::Resume,
        ControlIn::Abort => Control::Abort,
        ControlIn::Rollback => Control::Rollback,
    };
    let pulse_overdue = case.pulse.is_some_and(|p| {
        let settings = UpdateSettings {
            strategy: aurora_model::update::Strategy::Queue { size: 1 },
            max_per_instance_failures: 0,
            max_failed_instances: 0,
            min_wait_in_running_ms: 0,
            rollback_on_failure: true,
            block_if_no_pulses_after_ms: Some(p.block_if_no_pulses_after_ms),
            update_only: None,
        };
        let mut u = job_update(UpdateStatus::RollForwardPaused, settings, Vec::new());
        u.last_pulse_ms = p.last_pulse_ms;
        pulse_expired(&u, p.now_ms)
    });
    let to = case
        .from
        .into_iter()
        .map(|from| {
            let out = match control(from, c, pulse_overdue) {
                Ok(to) => ControlOut::Moves(to),
                Err(refused) => ControlOut::Refused { refused },
            };
            (from, out)
        })
        .collect();
    ControlOutcome { pulse_overdue, to }
}

#[test]
fn update_control_fixtures() {
    common::run("update/control", decide_control);
}
