//! Registration fixtures (`tests/data/reconcile`): the tasks the scheduler placed on an agent and
//! those the agent says it runs, in; what the registration changes (lost, killed, kill, relaunch),
//! in order, out.

mod common;

use aurora_model::task::ScheduleStatus;
use aurora_sched::reconcile::{Action, Placed, Running, on_register};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case shows, for people.
    #[allow(dead_code)]
    about: String,
    /// What the scheduler has on the agent (active tasks).
    #[serde(default)]
    placed: Vec<PlacedIn>,
    /// What the agent runs, with what the scheduler knows of each on this agent (`null`: nothing).
    #[serde(default)]
    running: Vec<RunningIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlacedIn {
    task: String,
    status: ScheduleStatus,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunningIn {
    task: String,
    known: Option<ScheduleStatus>,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Out {
    Lost(String),
    Killed(String),
    Kill(String),
    Relaunch(String),
    Resume(String),
}

#[derive(Serialize)]
struct Outcome {
    actions: Vec<Out>,
}

fn decide(case: Case) -> Outcome {
    let placed: Vec<Placed> = case
        .placed
        .iter()
        .map(|p| Placed {
            task_id: &p.task,
            status: p.status,
        })
        .collect();
    let running: Vec<Running> = case
        .running
        .iter()
        .map(|r| Running {
            task_id: &r.task,
            known: r.known,
        })
        .collect();
    let actions = on_register(&placed, &running)
        .into_iter()
        .map(|a| match a {
            Action::Lost(t) => Out::Lost(t.to_owned()),
            Action::Killed(t) => Out::Killed(t.to_owned()),
            Action::Kill(t) => Out::Kill(t.to_owned()),
            Action::Relaunch(t) => Out::Relaunch(t.to_owned()),
            Action::Resume(t) => Out::Resume(t.to_owned()),
        })
        .collect();
    Outcome { actions }
}

#[test]
fn reconcile_fixtures() {
    common::run("reconcile", decide);
}
