//! What must change when an agent registers (again) with the tasks it still runs: the reconciler,
//! apart from placement, as Nomad keeps it. Tasks the scheduler placed there that the agent no
//! longer runs are LOST (or KILLED, when they were being killed: KILLING, RESTARTING, DRAINING,
//! PREEMPTING); tasks it runs that the scheduler does not expect there are killed; kills and
//! launches that may have been lost on the way (either side restarted) are sent again.
//!
//! Pure: the scheduler's state says what it has on the agent, this says what to do, the state
//! applies it (status changes, agent commands).

use aurora_model::task::ScheduleStatus;

/// A task the scheduler has placed on the registering agent (active, not yet ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed<'a> {
    pub task_id: &'a str,
    pub status: ScheduleStatus,
}

/// A task the agent says it runs, with what the scheduler knows of it *on this agent*: `None`
/// when the scheduler does not know it, thinks it ended, or placed it elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running<'a> {
    pub task_id: &'a str,
    pub known: Option<ScheduleStatus>,
}

/// One thing to do on registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// The task is gone from its agent: LOST (and replaced as a lost task is).
    Lost(&'a str),
    /// The task is gone from its agent while being killed: the kill did what it was asked.
    Killed(&'a str),
    /// Tell the agent to kill the task.
    Kill(&'a str),
    /// Send the task's launch again: it may never have reached the agent.
    Relaunch(&'a str),
    /// The task was PARTITIONED (its agent had gone silent) and the agent, back, still runs it:
    /// RUNNING again.
    Resume(&'a str),
}

/// The message recorded on a task found gone from its agent.
pub const GONE: &str = "Task is gone from its agent";
/// The message recorded on a task found gone from its agent while it was being killed.
pub const GONE_WHILE_KILLING: &str = "Task is gone from its agent: killed";

/// Decides what a registration changes. Actions come in this order: tasks gone (in `placed`'s
/// order), kills (in `running`'s order), launches sent again, partitioned tasks resumed (both in
/// `placed`'s order).
pub fn on_register<'a>(placed: &[Placed<'a>], running: &[Running<'a>]) -> Vec<Action<'a>> {
    let runs = |id: &str| running.iter().any(|r| r.task_id == id);
    let mut actions = Vec::new();
    for p in placed {
        // ASSIGNED tasks may still be on their way to the agent: their launch is sent again below.
        if p.status != ScheduleStatus::Assigned && !runs(p.task_id) {
            actions.push(if p.status.is_being_killed() {
                Action::Killed(p.task_id)
            } else {
                Action::Lost(p.task_id)
            });
        }
    }
    for r in running {
        // Unknown tasks are killed; so are ours being killed: the kill sent before either side
        // restarted may never have reached the agent, or died with it mid-way.
        if r.known.is_none_or(ScheduleStatus::is_being_killed) {
            actions.push(Action::Kill(r.task_id));
        }
    }
    for p in placed {
        if p.status == ScheduleStatus::Assigned && !runs(p.task_id) {
            actions.push(Action::Relaunch(p.task_id));
        }
    }
    for p in placed {
        if p.status == ScheduleStatus::Partitioned && runs(p.task_id) {
            actions.push(Action::Resume(p.task_id));
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use ScheduleStatus::*;

    #[test]
    fn an_agent_that_runs_exactly_what_is_expected_changes_nothing() {
        let placed = [Placed {
            task_id: "a",
            status: Running,
        }];
        let running = [super::Running {
            task_id: "a",
            known: Some(Running),
        }];
        assert!(on_register(&placed, &running).is_empty());
    }

    #[test]
    fn a_running_task_on_an_agent_that_forgot_it_is_lost_and_an_assigned_one_relaunched() {
        let placed = [
            Placed {
                task_id: "a",
                status: Running,
            },
            Placed {
                task_id: "b",
                status: Assigned,
            },
            Placed {
                task_id: "c",
                status: Killing,
            },
        ];
        assert_eq!(
            on_register(&placed, &[]),
            vec![
                Action::Lost("a"),
                Action::Killed("c"),
                Action::Relaunch("b")
            ]
        );
    }
}
