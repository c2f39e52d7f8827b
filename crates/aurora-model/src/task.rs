//! Task states and the one function that decides which transitions are legal, plus the small
//! records the scheduler keeps per task (id, events).
//!
//! The states, their names and numeric values are Aurora's (`api.thrift` `ScheduleStatus`). The
//! transition table follows Aurora's `TaskStateMachine`; side effects (rescheduling, kills) are
//! decided elsewhere (`aurora-sched`), this module only says what may follow what.

use crate::JobKey;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A task's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScheduleStatus {
    Init,
    Throttled,
    Pending,
    Assigned,
    Starting,
    Running,
    Finished,
    Preempting,
    Restarting,
    Draining,
    Failed,
    Killed,
    Killing,
    Lost,
    Partitioned,
}

use ScheduleStatus::*;

impl ScheduleStatus {
    /// Every state, for tables and exhaustive tests.
    pub const ALL: [ScheduleStatus; 15] = [
        Init,
        Throttled,
        Pending,
        Assigned,
        Starting,
        Running,
        Finished,
        Preempting,
        Restarting,
        Draining,
        Failed,
        Killed,
        Killing,
        Lost,
        Partitioned,
    ];

    /// Aurora's wire value.
    pub fn value(self) -> i32 {
        match self {
            Init => 11,
            Throttled => 16,
            Pending => 0,
            Assigned => 9,
            Starting => 1,
            Running => 2,
            Finished => 3,
            Preempting => 13,
            Restarting => 12,
            Draining => 17,
            Failed => 4,
            Killed => 5,
            Killing => 6,
            Lost => 7,
            Partitioned => 18,
        }
    }

    /// Aurora's name: `RUNNING`.
    pub fn name(self) -> &'static str {
        match self {
            Init => "INIT",
            Throttled => "THROTTLED",
            Pending => "PENDING",
            Assigned => "ASSIGNED",
            Starting => "STARTING",
            Running => "RUNNING",
            Finished => "FINISHED",
            Preempting => "PREEMPTING",
            Restarting => "RESTARTING",
            Draining => "DRAINING",
            Failed => "FAILED",
            Killed => "KILLED",
            Killing => "KILLING",
            Lost => "LOST",
            Partitioned => "PARTITIONED",
        }
    }

    /// FINISHED, FAILED, KILLED, LOST: the task will never run again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Finished | Failed | Killed | Lost)
    }

    /// Aurora's `ACTIVE_STATES`: the task holds its instance.
    pub fn is_active(self) -> bool {
        !self.is_terminal() && self != Init
    }

    /// The task has (or may have) processes on an agent: Aurora's `SLAVE_ASSIGNED_STATES`.
    pub fn is_on_agent(self) -> bool {
        matches!(
            self,
            Assigned
                | Starting
                | Running
                | Killing
                | Restarting
                | Draining
                | Preempting
                | Partitioned
        )
    }
}

impl fmt::Display for ScheduleStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A state name that is not one of Aurora's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task state '{0}'")]
pub struct UnknownStatus(pub String);

impl FromStr for ScheduleStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScheduleStatus::ALL
            .into_iter()
            .find(|st| st.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A transition that Aurora's state machine forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("illegal task transition {from} -> {to}")]
pub struct IllegalTransition {
    pub from: ScheduleStatus,
    pub to: ScheduleStatus,
}

/// What to do with a requested transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Record the new state.
    Apply,
    /// The task is already in that state (a repeated status update): change nothing.
    Noop,
}

/// The one function that decides which transitions are legal.
///
/// | from | to |
/// |---|---|
/// | INIT | PENDING, THROTTLED |
/// | THROTTLED | PENDING, KILLING |
/// | PENDING | ASSIGNED, KILLING |
/// | ASSIGNED | STARTING, RUNNING, FINISHED, FAILED, RESTARTING, DRAINING, KILLED, KILLING, LOST, PREEMPTING |
/// | STARTING | RUNNING, FINISHED, FAILED, RESTARTING, DRAINING, KILLING, KILLED, LOST, PREEMPTING, PARTITIONED |
/// | RUNNING | FINISHED, RESTARTING, DRAINING, FAILED, KILLING, KILLED, LOST, PREEMPTING, PARTITIONED |
/// | PARTITIONED | LOST, FAILED, FINISHED, RUNNING, ASSIGNED, STARTING, RESTARTING, DRAINING, PREEMPTING, KILLING |
/// | PREEMPTING, RESTARTING, DRAINING | FINISHED, FAILED, KILLING, KILLED, LOST, PARTITIONED |
/// | KILLING | FINISHED, FAILED, KILLED, LOST, PARTITIONED |
/// | FINISHED, FAILED, KILLED, LOST | (none) |
pub fn transition(
    from: ScheduleStatus,
    to: ScheduleStatus,
) -> Result<Transition, IllegalTransition> {
    if from == to {
        return Ok(Transition::Noop);
    }
    let legal = match from {
        Init => matches!(to, Pending | Throttled),
        Throttled => matches!(to, Pending | Killing),
        Pending => matches!(to, Assigned | Killing),
        Assigned => matches!(
            to,
            Starting
                | Running
                | Finished
                | Failed
                | Restarting
                | Draining
                | Killed
                | Killing
                | Lost
                | Preempting
        ),
        Starting => matches!(
            to,
            Running
                | Finished
                | Failed
                | Restarting
                | Draining
                | Killing
                | Killed
                | Lost
                | Preempting
                | Partitioned
        ),
        Running => matches!(
            to,
            Finished
                | Restarting
                | Draining
                | Failed
                | Killing
                | Killed
                | Lost
                | Preempting
                | Partitioned
        ),
        Partitioned => matches!(
            to,
            Lost | Failed
                | Finished
                | Running
                | Assigned
                | Starting
                | Restarting
                | Draining
                | Preempting
                | Killing
        ),
        Preempting | Restarting | Draining => matches!(
            to,
            Finished | Failed | Killing | Killed | Lost | Partitioned
        ),
        Killing => matches!(to, Finished | Failed | Killed | Lost | Partitioned),
        Finished | Failed | Killed | Lost => false,
    };
    if legal {
        Ok(Transition::Apply)
    } else {
        Err(IllegalTransition { from, to })
    }
}

/// One recorded transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub status: ScheduleStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A task as the scheduler stores it. Small on purpose: the scheduler keeps every task in memory,
/// so the configuration is not copied here; it belongs to the job (`config_version` names which
/// of the job's configurations the task runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledTask {
    pub task_id: String,
    pub job: JobKey,
    pub instance: u32,
    pub status: ScheduleStatus,
    /// The agent the task was placed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Named ports assigned at placement.
    #[serde(default)]
    pub ports: Vec<(String, u16)>,
    /// Failures of this instance so far (carried to replacements).
    pub failure_count: u32,
    /// The task this one replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ancestor_id: Option<String>,
    /// How long this task was held THROTTLED before it became PENDING (flapping backoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty_ms: Option<u64>,
    pub events: Vec<TaskEvent>,
}

impl ScheduledTask {
    /// When the task entered its current state.
    pub fn since_ms(&self) -> i64 {
        self.events.last().map_or(0, |e| e.timestamp_ms)
    }

    /// When the task last became RUNNING, if it did.
    pub fn running_since_ms(&self) -> Option<i64> {
        self.events
            .iter()
            .rev()
            .find(|e| e.status == ScheduleStatus::Running)
            .map(|e| e.timestamp_ms)
    }
}

/// Aurora's task id: `<role>-<env>-<name>-<instance>-<unique>`. The unique part is given by the
/// caller (randomness stays outside the model).
pub fn task_id(job: &JobKey, instance: u32, unique: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        job.role, job.environment, job.name, instance, unique
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The legal pairs, written out independently of `transition`'s match.
    const LEGAL: &[(ScheduleStatus, &[ScheduleStatus])] = &[
        (Init, &[Pending, Throttled]),
        (Throttled, &[Pending, Killing]),
        (Pending, &[Assigned, Killing]),
        (
            Assigned,
            &[
                Starting, Running, Finished, Failed, Restarting, Draining, Killed, Killing, Lost,
                Preempting,
            ],
        ),
        (
            Starting,
            &[
                Running,
                Finished,
                Failed,
                Restarting,
                Draining,
                Killing,
                Killed,
                Lost,
                Preempting,
                Partitioned,
            ],
        ),
        (
            Running,
            &[
                Finished,
                Restarting,
                Draining,
                Failed,
                Killing,
                Killed,
                Lost,
                Preempting,
                Partitioned,
            ],
        ),
        (
            Partitioned,
            &[
                Lost, Failed, Finished, Running, Assigned, Starting, Restarting, Draining,
                Preempting, Killing,
            ],
        ),
        (
            Preempting,
            &[Finished, Failed, Killing, Killed, Lost, Partitioned],
        ),
        (
            Restarting,
            &[Finished, Failed, Killing, Killed, Lost, Partitioned],
        ),
        (
            Draining,
            &[Finished, Failed, Killing, Killed, Lost, Partitioned],
        ),
        (Killing, &[Finished, Failed, Killed, Lost, Partitioned]),
        (Finished, &[]),
        (Failed, &[]),
        (Killed, &[]),
        (Lost, &[]),
    ];

    #[test]
    fn every_pair_matches_the_table() {
        for from in ScheduleStatus::ALL {
            let allowed = LEGAL
                .iter()
                .find(|(f, _)| *f == from)
                .map(|(_, t)| *t)
                .expect("every state listed");
            for to in ScheduleStatus::ALL {
                let got = transition(from, to);
                if from == to {
                    assert_eq!(got, Ok(Transition::Noop));
                } else if allowed.contains(&to) {
                    assert_eq!(got, Ok(Transition::Apply), "{from} -> {to}");
                } else {
                    assert_eq!(got, Err(IllegalTransition { from, to }), "{from} -> {to}");
                }
            }
        }
    }

    #[test]
    fn terminal_states_go_nowhere_and_names_round_trip() {
        for s in ScheduleStatus::ALL {
            assert_eq!(s.name().parse::<ScheduleStatus>(), Ok(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.name().into())
            );
            if s.is_terminal() {
                assert!(
                    ScheduleStatus::ALL
                        .iter()
                        .all(|t| *t == s || transition(s, *t).is_err())
                );
                assert!(!s.is_active());
            }
        }
        assert_eq!(Pending.value(), 0);
        assert_eq!(Running.value(), 2);
        assert!("nope".parse::<ScheduleStatus>().is_err());
    }

    #[test]
    fn task_ids_follow_aurora() {
        let k = JobKey::new("www-data", "prod", "hello").unwrap();
        assert_eq!(task_id(&k, 3, "abc"), "www-data-prod-hello-3-abc");
    }
}
